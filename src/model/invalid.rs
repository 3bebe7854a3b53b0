//! A configuration value that cannot be used, as each section's own validation reports it: the
//! key (`retention.max_age`, `snmp.user[0].auth`) and what is wrong. `config.rs` adds the file.

/// A key whose value cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct Invalid {
    /// The key, dotted, with list positions (`enrich.asset[2].network`).
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl Invalid {
    /// `key` with what is wrong with it.
    pub fn new(key: impl Into<String>, message: impl std::fmt::Display) -> Invalid {
        Invalid {
            key: key.into(),
            message: message.to_string(),
        }
    }
}
