//! Detection rules: Sigma detection and correlation rules from `rules/`, evaluated on every
//! event as it passes, plus Picket's one extension, *absence* (see `absence.rs`).
//!
//! Rules are parsed by `rsigma-parser` and compiled and evaluated by `rsigma-eval` (sliding
//! windows per rule and group key, bounded state). Before compiling, the processing pipeline
//! `rules/pipelines/picket-ecs.yml` maps Sigma's taxonomy (logsources, generic field names) to
//! Picket's datasets and ECS fields; users extend it with their own pipeline files there.
//!
//! Time is always given by the caller ([`Rules::process`] takes `now`), so the collector uses
//! arrival time, `picket rules test` uses each line's own timestamp, and tests need no sleeps.
//!
//! The rooms: `load.rs` reads rule files and pipelines, `set.rs` is the compiled set,
//! `compile.rs` the matchers, `eval.rs` evaluates an event, `window.rs` and `absence.rs` hold
//! the window state, and `run.rs` is the thread that feeds it stored events and records firings.

pub mod absence;
pub mod compile;
mod eval;
mod load;
pub mod run;
mod set;
pub mod window;

pub use load::{DEFAULT_PIPELINE, STARTER_RULES};
pub use set::{RuleMeta, Rules};

/// The firing and its level are shared with the alert side (`model::alert`).
pub use crate::model::alert::{Firing, Level};
use std::path::PathBuf;

/// Settings of `[rules]`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Evaluate rules at all.
    pub enabled: bool,
    /// The rules folder (`*.yml`/`*.yaml`, recursively; `pipelines/` holds mapping pipelines).
    pub dir: PathBuf,
    /// Window state kept per rule and group key, across all rules; past it the stalest keys
    /// are evicted (and counted).
    pub max_keys: usize,
    /// After an alert, further matches of the same rule and group key update it for this long
    /// instead of raising a new one.
    pub suppress_secs: u64,
    /// Raise an unacknowledged alert's severity after this long (0: never).
    pub escalate_after_secs: u64,
    /// Raise an alert's severity when its count reaches this multiple of the count it was
    /// raised with (0: never).
    pub escalate_count_factor: u64,
    /// Matching event ids kept per alert.
    pub max_linked_events: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            enabled: true,
            dir: PathBuf::from("rules"),
            max_keys: 100_000,
            suppress_secs: 600,
            escalate_after_secs: 3600,
            escalate_count_factor: 10,
            max_linked_events: 50,
        }
    }
}

/// A problem with one rule file; the other files still load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file.
    pub file: String,
    /// What is wrong.
    pub reason: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "rule file {}: {}", self.file, self.reason)
    }
}

/// Why a rule does not load (the other rules still do); it becomes a [`Problem`]'s reason. The
/// text is the user's: what to change in the rule.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RuleError {
    /// Sigma that Picket does not evaluate (a modifier, a keyword form, a correlation feature).
    #[error("{0}")]
    Unsupported(String),
    /// The rule contradicts itself or names something that is not there.
    #[error("{0}")]
    Invalid(String),
    /// The YAML, or a mapping pipeline applied to it, could not be read.
    #[error("{0}")]
    Sigma(String),
    /// A pattern did not compile.
    #[error(transparent)]
    Pattern(#[from] regex::Error),
}

impl RuleError {
    /// The same error, said of `what` (a detection's or rule's name).
    pub fn within(self, what: &str) -> RuleError {
        match self {
            RuleError::Unsupported(m) => RuleError::Unsupported(format!("{what}: {m}")),
            RuleError::Invalid(m) => RuleError::Invalid(format!("{what}: {m}")),
            RuleError::Sigma(m) => RuleError::Sigma(format!("{what}: {m}")),
            RuleError::Pattern(e) => RuleError::Invalid(format!("{what}: {e}")),
        }
    }
}

/// A Sigma level as Picket's (medium when missing or unknown).
fn level_from_sigma(l: Option<&rsigma_parser::Level>) -> Level {
    l.and_then(|l| Level::parse(l.as_str()))
        .unwrap_or(Level::Medium)
}

#[cfg(test)]
mod tests;
