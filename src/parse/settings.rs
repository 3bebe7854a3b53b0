//! The `[parse]` section of `picket.toml` as written, and its check into [`Hint`]s (a sender
//! network or a listener, and the parser to try first). `config.rs` only places it.

use super::Hint;
use crate::model::Invalid;
use serde::Deserialize;
use std::path::PathBuf;

/// `[parse]`: the user parsers' folder, whether bodies are parsed, and the hints.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawParse {
    /// Folder of user-defined parser files.
    pub dir: Option<PathBuf>,
    /// Parse message bodies (vendor formats, CEF, JSON …); false keeps header fields only.
    pub body: Option<bool>,
    #[serde(default)]
    pub hint: Vec<RawHint>,
}

/// One `[[parse.hint]]`: a sender network or a listener, and the parser to try first.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHint {
    pub sender: Option<String>,
    pub listener: Option<String>,
    pub parser: String,
}

impl RawParse {
    /// The hints, checked; `listeners` are the listener names in id order.
    pub fn hints(&self, listeners: &[&str]) -> Result<Vec<Hint>, Invalid> {
        let mut hints = Vec::new();
        for (i, h) in self.hint.iter().enumerate() {
            let key = format!("parse.hint[{i}]");
            let sender = match &h.sender {
                Some(s) => Some(
                    crate::model::cidr::parse(s)
                        .map_err(|e| Invalid::new(format!("{key}.sender"), e))?,
                ),
                None => None,
            };
            let listener = match &h.listener {
                Some(name) => Some(
                    listeners
                        .iter()
                        .position(|l| l == name)
                        .and_then(|i| u16::try_from(i).ok())
                        .ok_or_else(|| {
                            Invalid::new(
                                format!("{key}.listener"),
                                format!("no listener named `{name}`"),
                            )
                        })?,
                ),
                None => None,
            };
            if sender.is_none() && listener.is_none() {
                return Err(Invalid::new(key, "needs `sender` or `listener`"));
            }
            hints.push(Hint {
                sender,
                listener,
                parser: h.parser.clone(),
            });
        }
        Ok(hints)
    }
}
