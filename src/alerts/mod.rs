//! Alerts and their lifecycle, and the notification outbox: the room the rules hand firings to,
//! the notifier reads, and the dashboard and CLI work with.
//!
//! An alert is what a rule firing becomes: rule, group key, first and last event time, count,
//! links to the matching events, severity, and a state `open` → `acknowledged` → `resolved`
//! (with who and why). Every change of state is kept in an audit trail. Notifications go through
//! the outbox, written in the same transaction as the alert change that causes them; the
//! notifier (`crate::notify`) delivers them at least once and dead-letters what fails for good.
//!
//! The data types are in `model::alert`, the operations are the store's [`AlertBook`] and
//! [`Outbox`] traits, and the SQL is in `store/sqlite/alerts/`. This module picks the backend
//! and re-exports what callers need, so they name `alerts::…` and never a backend. Its tests
//! run against the traits: a second backend passes the same ones.

pub use crate::model::alert::{
    Alert, Audit, Filter, Kept, NoRoutes, Notice, Outgoing, Recorded, Router, RuleRecord, State,
};
pub use crate::store::alerts::{AlertBook, AlertStore, Error, Outbox};
use std::path::Path;

/// The alert book and outbox of one data directory, whatever the backend.
pub type Alerts = Box<dyn AlertStore>;

/// Opens (creating or migrating) the alert book of `data_dir`.
pub fn open(data_dir: &Path) -> Result<Alerts, Error> {
    Ok(Box::new(crate::store::sqlite::alerts::SqliteAlerts::open(
        data_dir,
    )?))
}

#[cfg(test)]
mod tests;
