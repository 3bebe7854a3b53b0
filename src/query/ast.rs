//! The expression tree a query becomes, backend-neutral: fields, values, conditions, free
//! text, and the search request around it (range, cursor, limit). The store's backends turn it
//! into their own SQL; the rules match it against events.

use crate::model::fields as f;
use std::borrow::Cow;

use super::parse::looks_like_field;

/// A field a query can name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    /// The peer address (`observer.ip`, `log.source.address`, alias `sender`).
    Sender,
    /// `host.name`.
    Host,
    /// `source.ip`.
    SourceIp,
    /// `destination.ip`.
    DestinationIp,
    /// `process.name`.
    Process,
    /// `process.pid`.
    Pid,
    /// `event.dataset`.
    Dataset,
    /// `log.syslog.severity.code`.
    Severity,
    /// `log.syslog.facility.code`.
    Facility,
    /// `log.syslog.msgid`.
    MsgId,
    /// One of [`ECS_FILTERS`], by its ECS name.
    Ecs(&'static str),
    /// Any other field, by its ECS name (kept with the event's other fields).
    Other(String),
}

/// The parsed fields with a column of their own besides the header ones.
pub const ECS_FILTERS: &[&str] = &[
    f::SOURCE_PORT,
    f::DESTINATION_PORT,
    f::NETWORK_TRANSPORT,
    f::EVENT_ACTION,
    f::EVENT_OUTCOME,
    f::EVENT_CATEGORY,
    f::EVENT_TYPE,
    f::EVENT_CODE,
    f::USER_NAME,
    f::RULE_ID,
    f::RULE_NAME,
    f::OBSERVER_VENDOR,
    f::OBSERVER_PRODUCT,
];

/// [`ECS_FILTERS`] that hold whole numbers.
const NUMERIC_ECS: &[&str] = &[f::SOURCE_PORT, f::DESTINATION_PORT];

impl Field {
    /// The field a query name refers to: a known one, another dotted ECS-style name, or None.
    pub fn from_name(name: &str) -> Option<Field> {
        Some(match name {
            "sender" | f::OBSERVER_IP | f::LOG_SOURCE_ADDRESS => Field::Sender,
            f::HOST_NAME | "host" => Field::Host,
            f::SOURCE_IP => Field::SourceIp,
            f::DESTINATION_IP => Field::DestinationIp,
            f::PROCESS_NAME => Field::Process,
            f::PROCESS_PID => Field::Pid,
            f::EVENT_DATASET => Field::Dataset,
            f::LOG_SYSLOG_SEVERITY | "severity" => Field::Severity,
            f::LOG_SYSLOG_FACILITY | "facility" => Field::Facility,
            f::LOG_SYSLOG_MSGID => Field::MsgId,
            other => match ECS_FILTERS.iter().find(|n| **n == other) {
                Some(n) => Field::Ecs(n),
                None if looks_like_field(other) => Field::Other(other.to_owned()),
                None => return None,
            },
        })
    }

    /// The ECS name.
    pub fn name(&self) -> &str {
        match self {
            Field::Sender => f::OBSERVER_IP,
            Field::Host => f::HOST_NAME,
            Field::SourceIp => f::SOURCE_IP,
            Field::DestinationIp => f::DESTINATION_IP,
            Field::Process => f::PROCESS_NAME,
            Field::Pid => f::PROCESS_PID,
            Field::Dataset => f::EVENT_DATASET,
            Field::Severity => f::LOG_SYSLOG_SEVERITY,
            Field::Facility => f::LOG_SYSLOG_FACILITY,
            Field::MsgId => f::LOG_SYSLOG_MSGID,
            Field::Ecs(n) => n,
            Field::Other(n) => n,
        }
    }

    /// True when the field holds whole numbers only.
    pub fn numeric(&self) -> bool {
        match self {
            Field::Pid | Field::Severity | Field::Facility => true,
            Field::Ecs(n) => NUMERIC_ECS.contains(n),
            _ => false,
        }
    }

    /// True when the field holds IP addresses (CIDR applies; values are normalised).
    pub fn address(&self) -> bool {
        match self {
            Field::Sender | Field::SourceIp | Field::DestinationIp => true,
            Field::Other(n) => n.ends_with(".ip"),
            _ => false,
        }
    }
}

/// A value in a condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A whole number.
    Int(i64),
    /// Text.
    Str(String),
}

impl Value {
    /// The value as text.
    pub fn text(&self) -> Cow<'_, str> {
        match self {
            Value::Int(n) => Cow::Owned(n.to_string()),
            Value::Str(s) => Cow::Borrowed(s),
        }
    }
}

/// One end of a range: the value and whether it is included.
pub type Bound = (Value, bool);

/// What a field must satisfy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cond {
    /// Equal to the value.
    Eq(Value),
    /// Matches the pattern (`*` any run of characters, `?` one), case-sensitive.
    Glob(String),
    /// An address inside the network.
    Cidr(ipnet::IpNet),
    /// Between the bounds; `None` is open.
    Range(Option<Bound>, Option<Bound>),
    /// Has any value.
    Exists,
}

/// A free-text term: consecutive message tokens, the last one a prefix when `prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    /// The tokens, lower-case, in order (at least one).
    pub tokens: Vec<String>,
    /// The last token need only start the message token.
    pub prefix: bool,
}

/// A query expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// All hold (an empty list is true).
    And(Vec<Expr>),
    /// Any holds.
    Or(Vec<Expr>),
    /// Does not hold.
    Not(Box<Expr>),
    /// Free text in the message.
    Text(Text),
    /// A condition on a field.
    Field(Field, Cond),
}

impl Expr {
    /// The expression that matches everything.
    pub fn all() -> Expr {
        Expr::And(Vec::new())
    }

    /// True for the expression that matches everything.
    pub fn is_all(&self) -> bool {
        matches!(self, Expr::And(v) if v.is_empty())
    }

    /// The free-text terms that every match must contain (the positive ones at the top level).
    pub fn required_texts(&self) -> Vec<&Text> {
        match self {
            Expr::Text(t) => vec![t],
            Expr::And(items) => items
                .iter()
                .filter_map(|e| match e {
                    Expr::Text(t) => Some(t),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The number of predicates in the tree.
    pub(super) fn size(&self) -> usize {
        match self {
            Expr::And(v) | Expr::Or(v) => v.iter().map(Expr::size).sum::<usize>() + 1,
            Expr::Not(e) => e.size() + 1,
            Expr::Text(_) | Expr::Field(..) => 1,
        }
    }
}

/// A position in the results, for keyset paging: strictly older than this (`@timestamp`, id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// `@timestamp`, microseconds.
    pub ts: i64,
    /// Event id.
    pub id: i64,
}

/// A parsed search.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchQuery {
    /// What matches.
    pub expr: Expr,
    /// Earliest `@timestamp` (inclusive), microseconds.
    pub from: Option<i64>,
    /// Latest `@timestamp` (exclusive), microseconds.
    pub to: Option<i64>,
    /// Only events older than this, in (`@timestamp`, id) order.
    pub before: Option<Cursor>,
    /// At most this many events, newest first.
    pub limit: usize,
}

impl Default for SearchQuery {
    fn default() -> Self {
        SearchQuery {
            expr: Expr::all(),
            from: None,
            to: None,
            before: None,
            limit: 0,
        }
    }
}
