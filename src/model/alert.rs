//! The alert side's plain data: what a rule hands to the alert book when it fires (the
//! [`Firing`] and its [`Level`]), an alert as stored, its history, kept evidence and outbox
//! messages, and the [`Router`] that picks channels. They live here, below every room that
//! uses them, so that `rules` (which makes firings), the store's alert traits and backends,
//! `alerts`, `notify`, the retention thread and `web` share them without importing each
//! other.

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

/// An alert's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Open,
    Acknowledged,
    Resolved,
}

impl State {
    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Open => "open",
            State::Acknowledged => "acknowledged",
            State::Resolved => "resolved",
        }
    }

    /// Parses a name.
    pub fn parse(s: &str) -> Result<State, UnknownState> {
        match s {
            "open" => Ok(State::Open),
            "acknowledged" | "ack" => Ok(State::Acknowledged),
            "resolved" => Ok(State::Resolved),
            other => Err(UnknownState(other.into())),
        }
    }
}

/// A state name that is none of them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown state {0:?} (open, acknowledged, resolved)")]
pub struct UnknownState(pub String);

/// One alert as stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Alert {
    pub id: i64,
    pub rule_id: String,
    pub title: String,
    pub kind: String,
    /// `field=value, ...`.
    pub group: String,
    pub level: String,
    pub state: String,
    /// First and last matching time (microseconds).
    pub first_seen: i64,
    pub last_seen: i64,
    /// Matching events (or firings for absence rules).
    pub count: i64,
    pub tags: Vec<String>,
    pub escalated: bool,
    /// Linked event ids, oldest first.
    pub events: Vec<i64>,
}

/// One entry of the audit trail.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Audit {
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub from_state: Option<String>,
    pub to_state: Option<String>,
    pub comment: Option<String>,
}

/// What a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Notice {
    Raised,
    Escalated,
    Resolved,
    Test,
}

impl Notice {
    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Notice::Raised => "raised",
            Notice::Escalated => "escalated",
            Notice::Resolved => "resolved",
            Notice::Test => "test",
        }
    }
}

/// Which channels a notice about an alert goes to.
pub trait Router {
    /// The channel names for `notice` about `alert`.
    fn channels(&self, alert: &Alert, notice: Notice) -> Vec<String>;
}

/// Routes nothing (no `[[notify.route]]`).
pub struct NoRoutes;

impl Router for NoRoutes {
    fn channels(&self, _: &Alert, _: Notice) -> Vec<String> {
        Vec::new()
    }
}

/// What recording a firing did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// A new alert.
    Raised(i64),
    /// Folded into an existing alert (suppression).
    Updated(i64),
    /// Already recorded (a replay after a restart).
    Ignored,
}

/// A message waiting in the outbox.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Outgoing {
    pub id: i64,
    pub channel: String,
    pub alert_id: Option<i64>,
    pub notice: String,
    /// The alert as it was when the notice was queued (JSON).
    pub payload: String,
    pub attempts: i64,
    pub state: String,
    pub last_error: Option<String>,
    pub next_at: i64,
}

/// An event kept with an alert after retention removed its segment.
#[derive(Debug, Clone, PartialEq)]
pub struct Kept {
    /// The id it had in the event store (links and URLs keep using it).
    pub event_id: i64,
    /// `@timestamp`, microseconds.
    pub ts: i64,
    /// `observer.ip`.
    pub sender: String,
    /// The event as flat ECS JSON.
    pub fields: String,
    /// The bytes as received.
    pub raw: Vec<u8>,
}

impl Kept {
    /// The kept event's flat ECS fields (empty if the stored JSON cannot be read).
    pub fn flat(&self) -> serde_json::Map<String, serde_json::Value> {
        match serde_json::from_str(&self.fields) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        }
    }

    /// Its message.
    pub fn message(&self) -> String {
        self.flat()
            .get("message")
            .and_then(|m| m.as_str())
            .unwrap_or_default()
            .to_owned()
    }
}

/// What a rule has raised.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RuleRecord {
    /// Alerts raised.
    pub alerts: i64,
    /// Matches folded into them.
    pub matches: i64,
    /// The newest match, microseconds (0: never).
    pub last_fired: i64,
}

/// Which alerts to list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// In this state.
    pub state: Option<State>,
    /// At this level.
    pub level: Option<String>,
    /// From this rule.
    pub rule: Option<String>,
}
