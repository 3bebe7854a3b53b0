//! What a rule hands to the alert book when it fires: the [`Firing`] and its [`Level`]. They
//! live here, below both, so that `rules` (which makes them) and `alerts`, `notify` and the
//! retention thread (which use them) share them without the alert side importing the rules.

/// Alert severity, Sigma's levels in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Level {
    /// The level's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Informational => "informational",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }

    /// Parses a level name.
    pub fn parse(s: &str) -> Option<Level> {
        Some(match s.to_ascii_lowercase().as_str() {
            "informational" | "info" => Level::Informational,
            "low" => Level::Low,
            "medium" => Level::Medium,
            "high" => Level::High,
            "critical" => Level::Critical,
            _ => return None,
        })
    }

    /// The next level up (critical stays critical).
    pub fn raised(self) -> Level {
        match self {
            Level::Informational => Level::Low,
            Level::Low => Level::Medium,
            Level::Medium => Level::High,
            Level::High | Level::Critical => Level::Critical,
        }
    }
}

/// What a rule says about a rule that fired.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Firing {
    /// The rule's id (or title when it has none).
    pub rule_id: String,
    /// The rule's title.
    pub title: String,
    /// Its level.
    pub level: Level,
    /// Its tags.
    pub tags: Vec<String>,
    /// `detection`, `correlation` or `absence`.
    pub kind: &'static str,
    /// The group key: (field, value) pairs.
    pub group: Vec<(String, String)>,
    /// Ids of the matching events known (the completing one last).
    pub events: Vec<i64>,
    /// The count that triggered it (events, distinct values, or 1).
    pub count: u64,
    /// When, on the engine's clock (microseconds).
    pub at: i64,
    /// The completing event's id (0 for absence).
    pub trigger: i64,
}

impl Firing {
    /// The group key as one string (`field=value, ...`), `-` when there is none.
    pub fn group_text(&self) -> String {
        if self.group.is_empty() {
            return "-".into();
        }
        self.group
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}
