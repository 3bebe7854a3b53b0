//! The column layout of the `events` table, shared by the writer and the queries.

use crate::model::{FieldValue, fields as f};

/// The type a promoted column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Whole numbers (`FieldValue::Int`).
    Int,
    /// Text (`FieldValue::Str`).
    Text,
}

/// An ECS field stored in a column of its own (migration 0002).
#[derive(Debug)]
pub struct Promoted {
    /// The ECS name.
    pub field: &'static str,
    /// The column.
    pub column: &'static str,
    /// What it holds.
    pub kind: Kind,
}

/// Every promoted field, in column order.
pub const PROMOTED: [Promoted; 13] = [
    p(f::SOURCE_PORT, "source_port", Kind::Int),
    p(f::DESTINATION_PORT, "destination_port", Kind::Int),
    p(f::NETWORK_TRANSPORT, "net_transport", Kind::Text),
    p(f::EVENT_ACTION, "action", Kind::Text),
    p(f::EVENT_OUTCOME, "outcome", Kind::Text),
    p(f::EVENT_CATEGORY, "category", Kind::Text),
    p(f::EVENT_TYPE, "event_type", Kind::Text),
    p(f::EVENT_CODE, "code", Kind::Text),
    p(f::USER_NAME, "user_name", Kind::Text),
    p(f::RULE_ID, "rule_id", Kind::Text),
    p(f::RULE_NAME, "rule_name", Kind::Text),
    p(f::OBSERVER_VENDOR, "obs_vendor", Kind::Text),
    p(f::OBSERVER_PRODUCT, "obs_product", Kind::Text),
];

const fn p(field: &'static str, column: &'static str, kind: Kind) -> Promoted {
    Promoted {
        field,
        column,
        kind,
    }
}

/// The position in [`PROMOTED`] of the field named `name` (a `match`, which the compiler turns
/// into length and byte comparisons: this runs for every field of every event stored).
pub fn promoted(name: &str) -> Option<usize> {
    Some(match name {
        f::SOURCE_PORT => 0,
        f::DESTINATION_PORT => 1,
        f::NETWORK_TRANSPORT => 2,
        f::EVENT_ACTION => 3,
        f::EVENT_OUTCOME => 4,
        f::EVENT_CATEGORY => 5,
        f::EVENT_TYPE => 6,
        f::EVENT_CODE => 7,
        f::USER_NAME => 8,
        f::RULE_ID => 9,
        f::RULE_NAME => 10,
        f::OBSERVER_VENDOR => 11,
        f::OBSERVER_PRODUCT => 12,
        _ => return None,
    })
}

/// The slot of `value` under `name` when it has a column and its type fits that column.
pub fn slot_for(name: &str, value: &FieldValue) -> Option<usize> {
    let i = promoted(name)?;
    let fits = matches!(
        (&PROMOTED.get(i)?.kind, value),
        (Kind::Int, FieldValue::Int(_)) | (Kind::Text, FieldValue::Str(_))
    );
    fits.then_some(i)
}

/// The columns every event has, in the order the writer binds and the queries read them.
pub const BASE: [&str; 21] = [
    "ts",
    "ingested",
    "sender",
    "sender_port",
    "listener",
    "transport",
    "facility",
    "severity",
    "host",
    "app",
    "pid",
    "msgid",
    "dataset",
    "parser",
    "source_ip",
    "destination_ip",
    "msg_off",
    "message",
    "fields",
    "flags",
    "raw",
];

/// `INSERT INTO events (...) VALUES (?1, ...)` over [`BASE`] then [`PROMOTED`].
pub fn insert_sql() -> String {
    let names: Vec<&str> = BASE
        .iter()
        .copied()
        .chain(PROMOTED.iter().map(|p| p.column))
        .collect();
    let marks: Vec<String> = (1..=names.len()).map(|i| format!("?{i}")).collect();
    format!(
        "INSERT INTO events ({}) VALUES ({})",
        names.join(", "),
        marks.join(", ")
    )
}

/// `id` then [`BASE`] then [`PROMOTED`], for SELECT.
pub fn select_list() -> String {
    std::iter::once("id")
        .chain(BASE.iter().copied())
        .chain(PROMOTED.iter().map(|p| p.column))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn promoted_lookup_agrees_with_the_table() {
        for (i, p) in PROMOTED.iter().enumerate() {
            assert_eq!(promoted(p.field), Some(i), "{}", p.field);
        }
        assert_eq!(promoted("source.ip"), None);
        assert_eq!(promoted("source.nat.port"), None);
    }

    #[test]
    fn every_searchable_parsed_field_has_a_column() {
        for name in crate::query::ECS_FILTERS {
            assert!(promoted(name).is_some(), "{name}");
        }
    }

    #[test]
    fn the_migration_adds_every_promoted_column() {
        let sql = include_str!("../../../migrations/sqlite/0002_promoted_fields.sql");
        for p in &PROMOTED {
            assert!(
                sql.contains(&format!("ADD COLUMN {} ", p.column)),
                "{}",
                p.column
            );
        }
    }
}
