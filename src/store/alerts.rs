//! The alert side of the store behind narrow traits: the alert book ([`AlertBook`]: alerts,
//! their history, kept evidence and per-rule settings) and the notification [`Outbox`]. SQLite
//! fills them in `store/sqlite/alerts/`; a PostgreSQL backend adds another implementation and
//! nothing above changes. Only `model::alert` types cross them.
//!
//! What every backend must keep, whatever its SQL:
//! - a firing, its links and the notifications it queues are written in one transaction, so an
//!   alert raised just before a crash is still delivered after it;
//! - a replay (a firing whose completing event is not newer than the alert's last) is ignored;
//! - state changes follow `open → acknowledged → resolved` (and back to `open`), each recorded in
//!   the alert's history with who and why.

use crate::model::alert::{
    Alert, Audit, Filter, Firing, Kept, Outgoing, Recorded, Router, RuleRecord, State, UnknownState,
};
use std::collections::{HashMap, HashSet};

/// Errors of the alert book and the outbox.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The backend failed.
    #[error(transparent)]
    Store(#[from] super::Error),
    /// No such alert.
    #[error("no alert {0}")]
    NotFound(i64),
    /// The change is not allowed from the alert's state.
    #[error("alert {id} is {from}; it cannot become {to}")]
    Transition { id: i64, from: String, to: String },
    /// A state name that is none of them.
    #[error(transparent)]
    State(#[from] UnknownState),
}

/// Alerts, their history and evidence, and which rules are switched off.
pub trait AlertBook: Send {
    /// Records a firing: a new alert, or an update of the open one for the same rule and group
    /// within `suppress_us`, linking at most `max_events` events. Queues notifications (to the
    /// channels `router` names) for a new alert in the same transaction.
    fn record(
        &mut self,
        f: &Firing,
        suppress_us: i64,
        max_events: usize,
        router: &dyn Router,
    ) -> Result<Recorded, Error>;

    /// Raises the level of open alerts not acknowledged within `after_us`, or whose count
    /// reached `factor` times the count they were raised with; queues escalation notices.
    /// Returns how many were escalated.
    fn escalate(
        &mut self,
        now: i64,
        after_us: i64,
        factor: i64,
        router: &dyn Router,
    ) -> Result<usize, Error>;

    /// Moves an alert to `to` (recording who, when and why); queues the resolved notice where
    /// a route asks for it. Refuses a change its state does not allow.
    fn set_state(
        &mut self,
        id: i64,
        to: State,
        actor: &str,
        comment: Option<&str>,
        router: &dyn Router,
    ) -> Result<Alert, Error>;

    /// Adds a comment to an alert's history without changing its state.
    fn comment(&mut self, id: i64, actor: &str, comment: &str) -> Result<Alert, Error>;

    /// One alert.
    fn get(&self, id: i64) -> Result<Option<Alert>, Error>;

    /// Alerts matching the filter, newest first.
    fn list_filtered(&self, f: &Filter, limit: usize) -> Result<Vec<Alert>, Error>;

    /// Alerts, newest first, optionally in one state.
    fn list(&self, state: Option<State>, limit: usize) -> Result<Vec<Alert>, Error> {
        self.list_filtered(
            &Filter {
                state,
                ..Filter::default()
            },
            limit,
        )
    }

    /// The audit trail of an alert, oldest first.
    fn audit(&self, id: i64) -> Result<Vec<Audit>, Error>;

    /// The (alert, event) links whose event id lies in `lo..=hi` (one segment), at most
    /// `per_alert` per alert counting what the alert already keeps, newest events first.
    fn links_in(&self, lo: i64, hi: i64, per_alert: usize) -> Result<Vec<(i64, i64)>, Error>;

    /// Stores copies of evidence events (idempotent: a copy repeated after a crash is ignored);
    /// returns how many rows were new.
    fn keep(&mut self, kept: &[(i64, Kept)]) -> Result<u64, Error>;

    /// The events an alert keeps itself, newest first.
    fn evidence(&self, alert_id: i64) -> Result<Vec<Kept>, Error>;

    /// A kept copy of an event, if some alert keeps it.
    fn kept_event(&self, event_id: i64) -> Result<Option<Kept>, Error>;

    /// Bytes the kept evidence takes (what `retention.max_bytes` counts of it).
    fn evidence_bytes(&self) -> Result<u64, Error>;

    /// Removes the oldest kept copies (by `@timestamp`) until the evidence takes at most
    /// `max_bytes`; returns how many went.
    fn trim_evidence(&mut self, max_bytes: u64) -> Result<u64, Error>;

    /// Removes kept copies of a forgotten sender (address or host name); returns how many.
    fn forget_evidence(&mut self, host: &str) -> Result<u64, Error>;

    /// Retention of the alert book: resolved alerts whose last change is before
    /// `alerts_before` go with their links, history and evidence; delivered or dead
    /// notifications queued before `outbox_before` go. Returns (alerts, outbox rows) removed.
    fn prune(&mut self, alerts_before: i64, outbox_before: i64) -> Result<(u64, u64), Error>;

    /// Ids of the rules switched off.
    fn disabled_rules(&self) -> Result<HashSet<String>, Error>;

    /// Switches a rule on or off (remembering who and when).
    fn set_rule_enabled(&self, rule: &str, enabled: bool, user: &str) -> Result<(), Error>;

    /// Per rule id: alerts raised, matches, last fired.
    fn rule_records(&self) -> Result<HashMap<String, RuleRecord>, Error>;
}

/// Notifications waiting for delivery, delivered at least once by `notify`.
pub trait Outbox: Send {
    /// Queues a test message to `channel`.
    fn enqueue_test(&mut self, channel: &str) -> Result<i64, Error>;

    /// Pending messages due at `now`, oldest first.
    fn due(&self, now: i64, limit: usize) -> Result<Vec<Outgoing>, Error>;

    /// Dead-lettered messages, newest first.
    fn dead_letters(&self, limit: usize) -> Result<Vec<Outgoing>, Error>;

    /// Every outbox message of one alert.
    fn outbox_of(&self, alert_id: i64) -> Result<Vec<Outgoing>, Error>;

    /// The time the next pending message is due, if any.
    fn next_due(&self) -> Result<Option<i64>, Error>;

    /// Marks a message delivered.
    fn sent(&self, id: i64) -> Result<(), Error>;

    /// Records a failed attempt: retried at `next_at`, or dead-lettered when `None`.
    fn failed(&self, id: i64, error: &str, next_at: Option<i64>) -> Result<(), Error>;

    /// Moves a pending message to `next_at` without counting an attempt.
    fn postpone(&self, id: i64, next_at: i64) -> Result<(), Error>;

    /// Queues a dead letter again; false if it is not dead.
    fn retry_dead(&self, id: i64) -> Result<bool, Error>;
}

/// Both, on one database: what `alerts::open` returns.
pub trait AlertStore: AlertBook + Outbox {}

impl<T: AlertBook + Outbox> AlertStore for T {}
