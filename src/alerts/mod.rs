//! Alerts and their lifecycle, and the notification outbox, in `<data>/alerts.db`.
//!
//! An alert is what a rule firing becomes: rule, group key, first and last event time, count,
//! links to the matching events, severity, and a state `open` → `acknowledged` → `resolved`
//! (with who and why). Every change of state is kept in an audit trail.
//!
//! Notifications go through the **outbox** table, written in the same transaction as the alert
//! change that causes them: an alert raised just before a crash is delivered after it. The
//! notifier (`crate::notify`) delivers them at least once, retrying with back-off, and
//! dead-letters what fails for good.
//!
//! Replays are idempotent: an alert remembers the id of the last event that fed it, and a
//! firing whose completing event is not newer than that is ignored, so rebuilding the rules'
//! windows from the store after a restart never fires twice.

mod rules_state;

use crate::model::alert::{Firing, Level};
pub use rules_state::{Filter, RuleRecord};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::{Path, PathBuf};

const SCHEMA: &str = include_str!("../../migrations/sqlite/alerts.sql");

/// Errors of the alert store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("alerts database {path}: {source}")]
    Db {
        path: String,
        source: rusqlite::Error,
    },
    #[error("no alert {0}")]
    NotFound(i64),
    #[error("alert {id} is {from}; it cannot become {to}")]
    Transition { id: i64, from: String, to: String },
    #[error("unknown state {0:?} (open, acknowledged, resolved)")]
    State(String),
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
    pub fn parse(s: &str) -> Result<State, Error> {
        match s {
            "open" => Ok(State::Open),
            "acknowledged" | "ack" => Ok(State::Acknowledged),
            "resolved" => Ok(State::Resolved),
            other => Err(Error::State(other.into())),
        }
    }
}

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

/// The alert store.
pub struct Alerts {
    conn: Connection,
    path: PathBuf,
}

pub(crate) use crate::model::clock::now_micros;

impl Alerts {
    /// Opens (creating) `<data_dir>/alerts.db`.
    pub fn open(data_dir: &Path) -> Result<Alerts, Error> {
        let path = data_dir.join("alerts.db");
        let e = |source| Error::Db {
            path: path.display().to_string(),
            source,
        };
        let conn = Connection::open(&path).map_err(e)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(e)?;
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")
            .map_err(e)?;
        conn.execute_batch(SCHEMA).map_err(e)?;
        Ok(Alerts { conn, path })
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> Error + '_ {
        move |source| Error::Db {
            path: self.path.display().to_string(),
            source,
        }
    }

    /// Records a firing: a new alert, or an update of the open one for the same rule and group
    /// within `suppress_us`. Queues notifications for a new alert.
    pub fn record(
        &mut self,
        f: &Firing,
        suppress_us: i64,
        max_events: usize,
        router: &dyn Router,
    ) -> Result<Recorded, Error> {
        let group = f.group_text();
        let e = |source| Error::Db {
            path: self.path.display().to_string(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(e)?;
        // A replay: this completing event was already counted.
        if f.trigger != 0 {
            let seen: Option<i64> = tx
                .query_row(
                    "SELECT id FROM alerts WHERE rule_id = ?1 AND group_key = ?2 AND last_event_id >= ?3 LIMIT 1",
                    params![f.rule_id, group, f.trigger],
                    |r| r.get(0),
                )
                .optional()
                .map_err(e)?;
            if seen.is_some() {
                return Ok(Recorded::Ignored);
            }
        }
        let existing: Option<i64> = tx
            .query_row(
                "SELECT id FROM alerts WHERE rule_id = ?1 AND group_key = ?2 AND state != 'resolved' AND last_seen >= ?3 ORDER BY id DESC LIMIT 1",
                params![f.rule_id, group, f.at.saturating_sub(suppress_us)],
                |r| r.get(0),
            )
            .optional()
            .map_err(e)?;
        let (id, out) = match existing {
            Some(id) => {
                // One more match (a correlation re-fires once per further event).
                tx.execute(
                    "UPDATE alerts SET count = count + 1, last_seen = max(last_seen, ?2), last_event_id = max(last_event_id, ?3) WHERE id = ?1",
                    params![id, f.at, f.trigger],
                )
                .map_err(e)?;
                (id, Recorded::Updated(id))
            }
            None => {
                let tags = serde_json::to_string(&f.tags).unwrap_or_else(|_| "[]".into());
                tx.execute(
                    "INSERT INTO alerts (rule_id, title, kind, group_key, level, state, first_seen, last_seen, count, raised_count, last_event_id, tags, escalated)
                     VALUES (?1, ?2, ?3, ?4, ?5, 'open', ?6, ?6, ?7, ?7, ?8, ?9, 0)",
                    params![f.rule_id, f.title, f.kind, group, f.level.as_str(), f.at, f.count as i64, f.trigger, tags],
                )
                .map_err(e)?;
                let id = tx.last_insert_rowid();
                tx.execute(
                    "INSERT INTO alert_audit (alert_id, at, actor, action, to_state, comment) VALUES (?1, ?2, 'picket', 'raised', 'open', ?3)",
                    params![id, now_micros(), format!("rule {} fired for {group}", f.rule_id)],
                )
                .map_err(e)?;
                (id, Recorded::Raised(id))
            }
        };
        {
            let mut link = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO alert_events (alert_id, event_id) VALUES (?1, ?2)",
                )
                .map_err(e)?;
            let have: i64 = tx
                .query_row(
                    "SELECT count(*) FROM alert_events WHERE alert_id = ?1",
                    [id],
                    |r| r.get(0),
                )
                .map_err(e)?;
            let room = (max_events as i64).saturating_sub(have).max(0) as usize;
            // The newest matter most when there is little room.
            let skip = f.events.len().saturating_sub(room);
            for ev in f.events.iter().skip(skip) {
                link.execute(params![id, ev]).map_err(e)?;
            }
        }
        if let Recorded::Raised(_) = out {
            let alert = get_in(&tx, id).map_err(e)?.ok_or(Error::NotFound(id))?;
            enqueue(&tx, &alert, Notice::Raised, router).map_err(e)?;
        }
        tx.commit().map_err(e)?;
        Ok(out)
    }

    /// Raises the level of open alerts not acknowledged within `after_us`, or whose count
    /// reached `factor` times the count they were raised with; queues escalation notices.
    /// Returns how many were escalated.
    pub fn escalate(
        &mut self,
        now: i64,
        after_us: i64,
        factor: i64,
        router: &dyn Router,
    ) -> Result<usize, Error> {
        let e = |source| Error::Db {
            path: self.path.display().to_string(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(e)?;
        let ids: Vec<(i64, String)> = {
            let mut q = tx
                .prepare(
                    "SELECT id, level FROM alerts WHERE state = 'open' AND escalated = 0
                     AND ((?2 > 0 AND first_seen <= ?1 - ?2) OR (?3 > 0 AND count >= raised_count * ?3))",
                )
                .map_err(e)?;
            q.query_map(params![now, after_us, factor], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .map_err(e)?
            .collect::<Result<_, _>>()
            .map_err(e)?
        };
        for (id, level) in &ids {
            let raised = Level::parse(level).unwrap_or(Level::Medium).raised();
            tx.execute(
                "UPDATE alerts SET escalated = 1, level = ?2 WHERE id = ?1",
                params![id, raised.as_str()],
            )
            .map_err(e)?;
            tx.execute(
                "INSERT INTO alert_audit (alert_id, at, actor, action, comment) VALUES (?1, ?2, 'picket', 'escalated', ?3)",
                params![id, now_micros(), format!("level {level} -> {}", raised.as_str())],
            )
            .map_err(e)?;
            let alert = get_in(&tx, *id).map_err(e)?.ok_or(Error::NotFound(*id))?;
            enqueue(&tx, &alert, Notice::Escalated, router).map_err(e)?;
        }
        tx.commit().map_err(e)?;
        Ok(ids.len())
    }

    /// Moves an alert to `to` (acknowledge, resolve, reopen), by `actor` with a comment.
    pub fn set_state(
        &mut self,
        id: i64,
        to: State,
        actor: &str,
        comment: Option<&str>,
        router: &dyn Router,
    ) -> Result<Alert, Error> {
        let e = |source| Error::Db {
            path: self.path.display().to_string(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(e)?;
        let alert = get_in(&tx, id).map_err(e)?.ok_or(Error::NotFound(id))?;
        let from = State::parse(&alert.state)?;
        let allowed = matches!(
            (from, to),
            (State::Open, State::Acknowledged)
                | (State::Open, State::Resolved)
                | (State::Acknowledged, State::Resolved)
                | (State::Acknowledged, State::Open)
                | (State::Resolved, State::Open)
        );
        if !allowed {
            return Err(Error::Transition {
                id,
                from: from.as_str().into(),
                to: to.as_str().into(),
            });
        }
        tx.execute(
            "UPDATE alerts SET state = ?2 WHERE id = ?1",
            params![id, to.as_str()],
        )
        .map_err(e)?;
        let action = match to {
            State::Acknowledged => "acknowledged",
            State::Resolved => "resolved",
            State::Open => "reopened",
        };
        tx.execute(
            "INSERT INTO alert_audit (alert_id, at, actor, action, from_state, to_state, comment) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![id, now_micros(), actor, action, from.as_str(), to.as_str(), comment],
        )
        .map_err(e)?;
        let alert = get_in(&tx, id).map_err(e)?.ok_or(Error::NotFound(id))?;
        if to == State::Resolved {
            enqueue(&tx, &alert, Notice::Resolved, router).map_err(e)?;
        }
        tx.commit().map_err(e)?;
        Ok(alert)
    }

    /// Adds a comment to an alert's history without changing its state.
    pub fn comment(&mut self, id: i64, actor: &str, comment: &str) -> Result<Alert, Error> {
        let e = self.err();
        let alert = get_in(&self.conn, id)
            .map_err(&e)?
            .ok_or(Error::NotFound(id))?;
        self.conn
            .execute(
                "INSERT INTO alert_audit (alert_id, at, actor, action, from_state, to_state, comment) VALUES (?1, ?2, ?3, 'commented', ?4, ?4, ?5)",
                params![id, now_micros(), actor, alert.state, comment],
            )
            .map_err(&e)?;
        Ok(alert)
    }

    /// One alert.
    pub fn get(&self, id: i64) -> Result<Option<Alert>, Error> {
        get_in(&self.conn, id).map_err(self.err())
    }

    /// Alerts, newest first, optionally in one state.
    pub fn list(&self, state: Option<State>, limit: usize) -> Result<Vec<Alert>, Error> {
        self.list_filtered(
            &Filter {
                state,
                ..Filter::default()
            },
            limit,
        )
    }

    /// The audit trail of an alert, oldest first.
    pub fn audit(&self, id: i64) -> Result<Vec<Audit>, Error> {
        let e = self.err();
        let mut q = self
            .conn
            .prepare("SELECT at, actor, action, from_state, to_state, comment FROM alert_audit WHERE alert_id = ?1 ORDER BY id")
            .map_err(&e)?;
        q.query_map([id], |r| {
            Ok(Audit {
                at: r.get(0)?,
                actor: r.get(1)?,
                action: r.get(2)?,
                from_state: r.get(3)?,
                to_state: r.get(4)?,
                comment: r.get(5)?,
            })
        })
        .map_err(&e)?
        .collect::<Result<_, _>>()
        .map_err(&e)
    }

    /// Queues a test message to `channel`.
    pub fn enqueue_test(&mut self, channel: &str) -> Result<i64, Error> {
        let payload = serde_json::json!({
            "test": true,
            "title": "Picket test notification",
            "level": "informational",
            "group": "-",
            "rule_id": "picket-test",
        });
        self.conn
            .execute(
                "INSERT INTO outbox (channel, alert_id, notice, payload, attempts, next_at, state, created_at) VALUES (?1, NULL, 'test', ?2, 0, 0, 'pending', ?3)",
                params![channel, payload.to_string(), now_micros()],
            )
            .map_err(self.err())?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Pending messages due at `now`, oldest first.
    pub fn due(&self, now: i64, limit: usize) -> Result<Vec<Outgoing>, Error> {
        self.outbox_where("state = 'pending' AND next_at <= ?1", now, limit)
    }

    /// Dead-lettered messages, newest first.
    pub fn dead_letters(&self, limit: usize) -> Result<Vec<Outgoing>, Error> {
        self.outbox_where("state = 'dead' AND ?1 = ?1 ORDER BY id DESC", 0, limit)
    }

    /// Every outbox message of one alert.
    pub fn outbox_of(&self, alert_id: i64) -> Result<Vec<Outgoing>, Error> {
        self.outbox_where("alert_id = ?1", alert_id, 1000)
    }

    /// The time the next pending message is due, if any.
    pub fn next_due(&self) -> Result<Option<i64>, Error> {
        self.conn
            .query_row(
                "SELECT min(next_at) FROM outbox WHERE state = 'pending'",
                [],
                |r| r.get(0),
            )
            .map_err(self.err())
    }

    fn outbox_where(&self, cond: &str, arg: i64, limit: usize) -> Result<Vec<Outgoing>, Error> {
        let e = self.err();
        let order = if cond.contains("ORDER BY") {
            ""
        } else {
            " ORDER BY id"
        };
        let mut q = self
            .conn
            .prepare(&format!(
                "SELECT id, channel, alert_id, notice, payload, attempts, state, last_error, next_at FROM outbox WHERE {cond}{order} LIMIT ?2"
            ))
            .map_err(&e)?;
        q.query_map(params![arg, limit as i64], |r| {
            Ok(Outgoing {
                id: r.get(0)?,
                channel: r.get(1)?,
                alert_id: r.get(2)?,
                notice: r.get(3)?,
                payload: r.get(4)?,
                attempts: r.get(5)?,
                state: r.get(6)?,
                last_error: r.get(7)?,
                next_at: r.get(8)?,
            })
        })
        .map_err(&e)?
        .collect::<Result<_, _>>()
        .map_err(&e)
    }

    /// Marks a message delivered.
    pub fn sent(&self, id: i64) -> Result<(), Error> {
        self.conn
            .execute(
                "UPDATE outbox SET state = 'sent', attempts = attempts + 1, sent_at = ?2, last_error = NULL WHERE id = ?1",
                params![id, now_micros()],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Records a failed attempt: retried at `next_at`, or dead-lettered when `next_at` is None.
    pub fn failed(&self, id: i64, error: &str, next_at: Option<i64>) -> Result<(), Error> {
        match next_at {
            Some(t) => self.conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_at = ?3 WHERE id = ?1",
                params![id, error, t],
            ),
            None => self.conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, state = 'dead' WHERE id = ?1",
                params![id, error],
            ),
        }
        .map_err(self.err())?;
        Ok(())
    }

    /// Postpones a message without counting an attempt (rate limit).
    pub fn postpone(&self, id: i64, next_at: i64) -> Result<(), Error> {
        self.conn
            .execute(
                "UPDATE outbox SET next_at = ?2 WHERE id = ?1",
                params![id, next_at],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Puts a dead-lettered message back in the queue.
    pub fn retry_dead(&self, id: i64) -> Result<bool, Error> {
        let n = self
            .conn
            .execute(
                "UPDATE outbox SET state = 'pending', attempts = 0, next_at = 0 WHERE id = ?1 AND state = 'dead'",
                [id],
            )
            .map_err(self.err())?;
        Ok(n == 1)
    }
}

fn enqueue(
    conn: &Connection,
    alert: &Alert,
    notice: Notice,
    router: &dyn Router,
) -> rusqlite::Result<()> {
    let payload = serde_json::to_string(alert).unwrap_or_default();
    for ch in router.channels(alert, notice) {
        conn.execute(
            "INSERT INTO outbox (channel, alert_id, notice, payload, attempts, next_at, state, created_at) VALUES (?1, ?2, ?3, ?4, 0, 0, 'pending', ?5)",
            params![ch, alert.id, notice.as_str(), payload, now_micros()],
        )?;
    }
    Ok(())
}

fn get_in(conn: &Connection, id: i64) -> rusqlite::Result<Option<Alert>> {
    let a = conn
        .query_row(
            "SELECT id, rule_id, title, kind, group_key, level, state, first_seen, last_seen, count, tags, escalated FROM alerts WHERE id = ?1",
            [id],
            |r| {
                let tags: String = r.get(10)?;
                Ok(Alert {
                    id: r.get(0)?,
                    rule_id: r.get(1)?,
                    title: r.get(2)?,
                    kind: r.get(3)?,
                    group: r.get(4)?,
                    level: r.get(5)?,
                    state: r.get(6)?,
                    first_seen: r.get(7)?,
                    last_seen: r.get(8)?,
                    count: r.get(9)?,
                    tags: serde_json::from_str(&tags).unwrap_or_default(),
                    escalated: r.get::<_, i64>(11)? != 0,
                    events: Vec::new(),
                })
            },
        )
        .optional()?;
    let Some(mut a) = a else {
        return Ok(None);
    };
    let mut q = conn.prepare_cached(
        "SELECT event_id FROM alert_events WHERE alert_id = ?1 ORDER BY event_id",
    )?;
    a.events = q.query_map([id], |r| r.get(0))?.collect::<Result<_, _>>()?;
    Ok(Some(a))
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

impl Alerts {
    /// The (alert, event) links whose event id lies in `lo..=hi` (one segment), at most
    /// `per_alert` per alert counting what the alert already keeps, newest events first.
    pub fn links_in(&self, lo: i64, hi: i64, per_alert: usize) -> Result<Vec<(i64, i64)>, Error> {
        kept_db::links_in(&self.conn, lo, hi, per_alert).map_err(self.err())
    }

    /// Stores copies of evidence events (idempotent: a copy repeated after a crash is ignored);
    /// returns how many rows were new.
    pub fn keep(&mut self, kept: &[(i64, Kept)]) -> Result<u64, Error> {
        let path = self.path.display().to_string();
        kept_db::keep(&mut self.conn, kept).map_err(|source| Error::Db { path, source })
    }

    /// The events an alert keeps itself, newest first.
    pub fn evidence(&self, alert_id: i64) -> Result<Vec<Kept>, Error> {
        kept_db::evidence(&self.conn, alert_id).map_err(self.err())
    }

    /// A kept copy of an event, if some alert keeps it.
    pub fn kept_event(&self, event_id: i64) -> Result<Option<Kept>, Error> {
        kept_db::kept_event(&self.conn, event_id).map_err(self.err())
    }

    /// Bytes the kept evidence takes (what `retention.max_bytes` counts of alerts.db).
    pub fn evidence_bytes(&self) -> Result<u64, Error> {
        kept_db::evidence_bytes(&self.conn).map_err(self.err())
    }

    /// Removes the oldest kept copies (by `@timestamp`) until the evidence takes at most
    /// `max_bytes`; returns how many went.
    pub fn trim_evidence(&mut self, max_bytes: u64) -> Result<u64, Error> {
        let path = self.path.display().to_string();
        kept_db::trim_evidence(&mut self.conn, max_bytes)
            .map_err(|source| Error::Db { path, source })
    }

    /// Removes kept copies of a forgotten sender (address or host name); returns how many.
    pub fn forget_evidence(&mut self, host: &str) -> Result<u64, Error> {
        let path = self.path.display().to_string();
        kept_db::forget_evidence(&mut self.conn, host).map_err(|source| Error::Db { path, source })
    }

    /// Retention of the alert store: resolved alerts whose last change is before
    /// `alerts_before` go with their links, history and evidence; delivered or dead
    /// notifications queued before `outbox_before` go. Returns (alerts, outbox rows) removed.
    pub fn prune(&mut self, alerts_before: i64, outbox_before: i64) -> Result<(u64, u64), Error> {
        let path = self.path.display().to_string();
        kept_db::prune(&mut self.conn, alerts_before, outbox_before)
            .map_err(|source| Error::Db { path, source })
    }
}

mod kept_db {
    use super::Kept;
    use rusqlite::{Connection, OptionalExtension, params};

    /// The (alert, event) links whose event id lies in `lo..=hi` (one segment), at most
    /// `per_alert` per alert counting what the alert already keeps, newest events first.
    pub(super) fn links_in(
        conn: &Connection,
        lo: i64,
        hi: i64,
        per_alert: usize,
    ) -> rusqlite::Result<Vec<(i64, i64)>> {
        let mut q = conn.prepare_cached(
            "SELECT l.alert_id, l.event_id, \
               (SELECT count(*) FROM alert_evidence k WHERE k.alert_id = l.alert_id) \
             FROM alert_events l WHERE l.event_id BETWEEN ?1 AND ?2 \
             ORDER BY l.alert_id, l.event_id DESC",
        )?;
        let rows = q.query_map(params![lo, hi], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        let mut current = (i64::MIN, 0usize);
        for row in rows {
            let (alert, event, kept) = row?;
            if current.0 != alert {
                current = (alert, usize::try_from(kept).unwrap_or(0));
            }
            if current.1 < per_alert {
                current.1 += 1;
                out.push((alert, event));
            }
        }
        Ok(out)
    }

    /// Stores copies of evidence events (idempotent: a copy repeated after a crash is ignored);
    /// returns how many rows were new.
    pub(super) fn keep(conn: &mut Connection, kept: &[(i64, Kept)]) -> rusqlite::Result<u64> {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut n = 0u64;
        {
            let mut put = tx.prepare_cached(
                "INSERT OR IGNORE INTO alert_evidence (alert_id, event_id, ts, sender, fields, raw) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for (alert, k) in kept {
                n += put.execute(params![alert, k.event_id, k.ts, k.sender, k.fields, k.raw])?
                    as u64;
            }
        }
        tx.commit()?;
        Ok(n)
    }

    /// The events an alert keeps itself, newest first.
    pub(super) fn evidence(conn: &Connection, alert_id: i64) -> rusqlite::Result<Vec<Kept>> {
        let mut q = conn.prepare_cached(
            "SELECT event_id, ts, sender, fields, raw FROM alert_evidence WHERE alert_id = ?1 \
             ORDER BY event_id DESC",
        )?;
        let rows = q.query_map([alert_id], super::kept_row)?;
        rows.collect()
    }

    /// A kept copy of an event, if some alert keeps it.
    pub(super) fn kept_event(conn: &Connection, event_id: i64) -> rusqlite::Result<Option<Kept>> {
        let mut q = conn.prepare_cached(
            "SELECT event_id, ts, sender, fields, raw FROM alert_evidence WHERE event_id = ?1 LIMIT 1",
        )?;
        q.query_row([event_id], super::kept_row).optional()
    }

    /// Bytes the kept evidence takes (what `retention.max_bytes` counts of alerts.db).
    pub(super) fn evidence_bytes(conn: &Connection) -> rusqlite::Result<u64> {
        let n: i64 = conn.query_row(
            "SELECT coalesce(sum(length(fields) + length(raw) + 40), 0) FROM alert_evidence",
            [],
            |r| r.get(0),
        )?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// See [`Alerts::trim_evidence`]: the oldest copies go, a thousand per transaction.
    pub(super) fn trim_evidence(conn: &mut Connection, max_bytes: u64) -> rusqlite::Result<u64> {
        let mut removed = 0u64;
        while evidence_bytes(conn)? > max_bytes {
            let n = conn.execute(
                "DELETE FROM alert_evidence WHERE (alert_id, event_id) IN \
                 (SELECT alert_id, event_id FROM alert_evidence ORDER BY ts LIMIT 1000)",
                [],
            )?;
            if n == 0 {
                break;
            }
            removed += n as u64;
        }
        Ok(removed)
    }

    /// Removes kept copies of a forgotten sender (address or host name); returns how many.
    pub(super) fn forget_evidence(conn: &mut Connection, host: &str) -> rusqlite::Result<u64> {
        let n = conn.execute(
            "DELETE FROM alert_evidence WHERE sender = ?1 OR json_extract(fields, '$.\"host.name\"') = ?1",
            [host],
        )?;
        Ok(n as u64)
    }

    /// Retention of the alert store: resolved alerts whose last change is before
    /// `alerts_before` go with their links, history and evidence; delivered or dead
    /// notifications queued before `outbox_before` go. Returns (alerts, outbox rows) removed.
    pub(super) fn prune(
        conn: &mut Connection,
        alerts_before: i64,
        outbox_before: i64,
    ) -> rusqlite::Result<(u64, u64)> {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let gone = "SELECT id FROM alerts WHERE state = 'resolved' AND last_seen < ?1 \
                    AND NOT EXISTS (SELECT 1 FROM alert_audit t WHERE t.alert_id = alerts.id AND t.at >= ?1)";
        tx.execute(
            &format!("DELETE FROM alert_events WHERE alert_id IN ({gone})"),
            [alerts_before],
        )?;
        tx.execute(
            &format!("DELETE FROM alert_evidence WHERE alert_id IN ({gone})"),
            [alerts_before],
        )?;
        tx.execute(
            &format!("DELETE FROM alert_audit WHERE alert_id IN ({gone})"),
            [alerts_before],
        )?;
        let alerts = tx.execute(
            "DELETE FROM alerts WHERE state = 'resolved' AND last_seen < ?1 \
             AND NOT EXISTS (SELECT 1 FROM alert_audit t WHERE t.alert_id = alerts.id)",
            [alerts_before],
        )?;
        let outbox = tx.execute(
            "DELETE FROM outbox WHERE state IN ('sent', 'dead') AND created_at < ?1",
            [outbox_before],
        )?;
        tx.commit()?;
        Ok((alerts as u64, outbox as u64))
    }
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

fn kept_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Kept> {
    Ok(Kept {
        event_id: r.get(0)?,
        ts: r.get(1)?,
        sender: r.get(2)?,
        fields: r.get(3)?,
        raw: r.get(4)?,
    })
}

#[cfg(test)]
mod tests;
