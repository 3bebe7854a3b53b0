//! The SQLite alert book and outbox, in `<data>/alerts.db` (schema: `migrations/sqlite/alerts.sql`,
//! versioned by `store::sqlite::migrate`).
//!
//! An alert is what a rule firing becomes: rule, group key, first and last event time, count,
//! links to the matching events, severity, and a state `open` → `acknowledged` → `resolved`
//! (with who and why). Every change of state is kept in an audit trail.
//!
//! Notifications go through the **outbox** table, written in the same transaction as the alert
//! change that causes them: an alert raised just before a crash is delivered after it.
//!
//! Replays are idempotent: an alert remembers the id of the last event that fed it, and a
//! firing whose completing event is not newer than that is ignored, so rebuilding the rules'
//! windows from the store after a restart never fires twice.

mod evidence;

use crate::model::alert::{
    Alert, Audit, Filter, Firing, Kept, Level, Notice, Outgoing, Recorded, Router, RuleRecord,
    State,
};
use crate::model::clock::now_micros;
use crate::store::alerts::{AlertBook, Error, Outbox};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// A SQLite error as the alert book's, naming the file.
fn db(path: &Path) -> impl Fn(rusqlite::Error) -> Error + Copy + '_ {
    move |source| {
        Error::Store(crate::store::Error::Db {
            path: path.display().to_string(),
            source: Box::new(source),
        })
    }
}

/// The alert book and outbox on `alerts.db`.
pub struct SqliteAlerts {
    conn: Connection,
    path: PathBuf,
}

impl SqliteAlerts {
    /// Opens (creating or migrating) `<data_dir>/alerts.db`.
    pub fn open(data_dir: &Path) -> Result<SqliteAlerts, Error> {
        let path = data_dir.join("alerts.db");
        let e = db(&path);
        let mut conn = Connection::open(&path).map_err(e)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(e)?;
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")
            .map_err(e)?;
        crate::store::sqlite::migrate::apply(
            &mut conn,
            &path,
            crate::store::sqlite::migrate::ALERTS,
        )?;
        Ok(SqliteAlerts { conn, path })
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> Error + Copy + '_ {
        db(&self.path)
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
}

impl AlertBook for SqliteAlerts {
    /// Records a firing: a new alert, or an update of the open one for the same rule and group
    /// within `suppress_us`. Queues notifications for a new alert.
    fn record(
        &mut self,
        f: &Firing,
        suppress_us: i64,
        max_events: usize,
        router: &dyn Router,
    ) -> Result<Recorded, Error> {
        let group = f.group_text();
        let e = db(&self.path);
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
    fn escalate(
        &mut self,
        now: i64,
        after_us: i64,
        factor: i64,
        router: &dyn Router,
    ) -> Result<usize, Error> {
        let e = db(&self.path);
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
    fn set_state(
        &mut self,
        id: i64,
        to: State,
        actor: &str,
        comment: Option<&str>,
        router: &dyn Router,
    ) -> Result<Alert, Error> {
        let e = db(&self.path);
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
    fn comment(&mut self, id: i64, actor: &str, comment: &str) -> Result<Alert, Error> {
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
    fn get(&self, id: i64) -> Result<Option<Alert>, Error> {
        get_in(&self.conn, id).map_err(self.err())
    }

    /// The audit trail of an alert, oldest first.
    fn audit(&self, id: i64) -> Result<Vec<Audit>, Error> {
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

    fn links_in(&self, lo: i64, hi: i64, per_alert: usize) -> Result<Vec<(i64, i64)>, Error> {
        evidence::links_in(&self.conn, lo, hi, per_alert).map_err(self.err())
    }

    fn keep(&mut self, kept: &[(i64, Kept)]) -> Result<u64, Error> {
        evidence::keep(&mut self.conn, kept).map_err(db(&self.path))
    }

    fn evidence(&self, alert_id: i64) -> Result<Vec<Kept>, Error> {
        evidence::evidence(&self.conn, alert_id).map_err(self.err())
    }

    fn kept_event(&self, event_id: i64) -> Result<Option<Kept>, Error> {
        evidence::kept_event(&self.conn, event_id).map_err(self.err())
    }

    fn evidence_bytes(&self) -> Result<u64, Error> {
        evidence::evidence_bytes(&self.conn).map_err(self.err())
    }

    fn trim_evidence(&mut self, max_bytes: u64) -> Result<u64, Error> {
        evidence::trim_evidence(&mut self.conn, max_bytes).map_err(db(&self.path))
    }

    fn forget_evidence(&mut self, host: &str) -> Result<u64, Error> {
        evidence::forget_evidence(&mut self.conn, host).map_err(db(&self.path))
    }

    fn prune(&mut self, alerts_before: i64, outbox_before: i64) -> Result<(u64, u64), Error> {
        evidence::prune(&mut self.conn, alerts_before, outbox_before).map_err(db(&self.path))
    }

    /// Ids of the rules switched off.
    fn disabled_rules(&self) -> Result<HashSet<String>, Error> {
        let e = self.err();
        let mut st = self
            .conn
            .prepare("SELECT rule_id FROM rule_settings WHERE enabled = 0")
            .map_err(&e)?;
        st.query_map([], |r| r.get(0))
            .map_err(&e)?
            .collect::<Result<_, _>>()
            .map_err(e)
    }

    /// Switches a rule on or off (remembering who and when).
    fn set_rule_enabled(&self, rule: &str, enabled: bool, user: &str) -> Result<(), Error> {
        self.conn
            .execute(
                "INSERT INTO rule_settings (rule_id, enabled, changed_by, changed_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(rule_id) DO UPDATE SET enabled = excluded.enabled,
                   changed_by = excluded.changed_by, changed_at = excluded.changed_at",
                params![rule, enabled, user, now_micros()],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Per rule id: alerts raised, matches, last fired.
    fn rule_records(&self) -> Result<HashMap<String, RuleRecord>, Error> {
        let e = self.err();
        let mut st = self
            .conn
            .prepare(
                "SELECT rule_id, count(*), sum(count), max(last_seen) FROM alerts GROUP BY rule_id",
            )
            .map_err(&e)?;
        st.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                RuleRecord {
                    alerts: r.get(1)?,
                    matches: r.get(2)?,
                    last_fired: r.get(3)?,
                },
            ))
        })
        .map_err(&e)?
        .collect::<Result<_, _>>()
        .map_err(e)
    }

    /// Alerts matching the filter, newest first.
    fn list_filtered(&self, f: &Filter, limit: usize) -> Result<Vec<Alert>, Error> {
        let e = self.err();
        let ids: Vec<i64> = {
            let mut q = self
                .conn
                .prepare(
                    "SELECT id FROM alerts WHERE (?1 IS NULL OR state = ?1) AND (?2 IS NULL OR level = ?2)
                     AND (?3 IS NULL OR rule_id = ?3) ORDER BY id DESC LIMIT ?4",
                )
                .map_err(&e)?;
            q.query_map(
                params![
                    f.state.map(State::as_str),
                    f.level,
                    f.rule,
                    i64::try_from(limit).unwrap_or(i64::MAX)
                ],
                |r| r.get(0),
            )
            .map_err(&e)?
            .collect::<Result<_, _>>()
            .map_err(&e)?
        };
        let mut out = Vec::new();
        for id in ids {
            if let Some(a) = get_in(&self.conn, id).map_err(&e)? {
                out.push(a);
            }
        }
        Ok(out)
    }
}

impl Outbox for SqliteAlerts {
    /// Queues a test message to `channel`.
    fn enqueue_test(&mut self, channel: &str) -> Result<i64, Error> {
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
    fn due(&self, now: i64, limit: usize) -> Result<Vec<Outgoing>, Error> {
        self.outbox_where("state = 'pending' AND next_at <= ?1", now, limit)
    }

    /// Dead-lettered messages, newest first.
    fn dead_letters(&self, limit: usize) -> Result<Vec<Outgoing>, Error> {
        self.outbox_where("state = 'dead' AND ?1 = ?1 ORDER BY id DESC", 0, limit)
    }

    /// Every outbox message of one alert.
    fn outbox_of(&self, alert_id: i64) -> Result<Vec<Outgoing>, Error> {
        self.outbox_where("alert_id = ?1", alert_id, 1000)
    }

    /// The time the next pending message is due, if any.
    fn next_due(&self) -> Result<Option<i64>, Error> {
        self.conn
            .query_row(
                "SELECT min(next_at) FROM outbox WHERE state = 'pending'",
                [],
                |r| r.get(0),
            )
            .map_err(self.err())
    }

    /// Marks a message delivered.
    fn sent(&self, id: i64) -> Result<(), Error> {
        self.conn
            .execute(
                "UPDATE outbox SET state = 'sent', attempts = attempts + 1, sent_at = ?2, last_error = NULL WHERE id = ?1",
                params![id, now_micros()],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Records a failed attempt: retried at `next_at`, or dead-lettered when `next_at` is None.
    fn failed(&self, id: i64, error: &str, next_at: Option<i64>) -> Result<(), Error> {
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
    fn postpone(&self, id: i64, next_at: i64) -> Result<(), Error> {
        self.conn
            .execute(
                "UPDATE outbox SET next_at = ?2 WHERE id = ?1",
                params![id, next_at],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Puts a dead-lettered message back in the queue.
    fn retry_dead(&self, id: i64) -> Result<bool, Error> {
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
