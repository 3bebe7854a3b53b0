//! The registry of senders (`<store>/registry.db`): every peer that sent events, with first
//! and last seen, events per day, and the listener, parser, dataset and host name it was last
//! seen with. The writer folds each batch into one small upsert per sender.

use super::db_err;
use crate::model::Event;
use crate::store::{Error, SenderInfo};
use rusqlite::{Connection, OpenFlags, params};
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS senders (
    sender     TEXT PRIMARY KEY,   -- observer.ip
    first_seen INTEGER NOT NULL,   -- event.ingested, microseconds
    last_seen  INTEGER NOT NULL,
    events     INTEGER NOT NULL,
    listener   TEXT,
    parser     TEXT,
    dataset    TEXT,
    host       TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sender_days (
    sender TEXT NOT NULL,
    day    INTEGER NOT NULL,        -- days since 1970-01-01 (UTC)
    events INTEGER NOT NULL,
    PRIMARY KEY (sender, day)
) WITHOUT ROWID;";

/// What one batch says about one sender.
struct Seen<'a> {
    first: i64,
    last: i64,
    events: i64,
    days: Vec<(i64, i64)>,
    listener: &'a str,
    parser: &'a str,
    dataset: &'a str,
    host: Option<&'a str>,
}

/// The writer's side: one connection, one transaction per batch.
pub struct Registry {
    conn: Connection,
    path: PathBuf,
    /// The overview's counters, folded in every few seconds.
    stats: super::stats::Stats,
}

const DAY_US: i64 = 86_400_000_000;

impl Registry {
    /// Opens (creating) the registry.
    pub fn open(dir: &Path) -> Result<Registry, Error> {
        let p = super::registry_path(dir);
        let mut conn = Connection::open(&p).map_err(db_err(&p))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(db_err(&p))?;
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")
            .map_err(db_err(&p))?;
        super::migrate::apply(&mut conn, &p, super::migrate::REGISTRY)?;
        Ok(Registry {
            conn,
            path: p,
            stats: super::stats::Stats::default(),
        })
    }

    /// Folds a batch of events into the registry.
    pub fn record<'a>(
        &mut self,
        events: impl Iterator<Item = &'a Event>,
        listener_name: impl Fn(u16) -> &'a str,
    ) -> Result<(), Error> {
        let mut seen: HashMap<IpAddr, Seen<'a>> = HashMap::new();
        for ev in events {
            self.stats.count(ev);
            let day = ev.ingested.div_euclid(DAY_US);
            let s = seen.entry(ev.peer.ip()).or_insert_with(|| Seen {
                first: ev.ingested,
                last: ev.ingested,
                events: 0,
                days: Vec::new(),
                listener: "",
                parser: "",
                dataset: "",
                host: None,
            });
            s.first = s.first.min(ev.ingested);
            s.last = s.last.max(ev.ingested);
            s.events += 1;
            match s.days.iter_mut().find(|(d, _)| *d == day) {
                Some((_, n)) => *n += 1,
                None => s.days.push((day, 1)),
            }
            s.listener = listener_name(ev.listener);
            if ev.parser != "none" || s.parser.is_empty() {
                s.parser = ev.parser;
                s.dataset = ev.dataset.as_ref();
            }
            if let Some(h) = ev.host.as_deref() {
                s.host = Some(h);
            }
        }
        if seen.is_empty() {
            return Ok(());
        }
        let e = db_err(&self.path);
        let tx = self.conn.transaction().map_err(&e)?;
        {
            let mut up = tx
                .prepare_cached(
                    "INSERT INTO senders (sender, first_seen, last_seen, events, listener, parser, dataset, host)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                     ON CONFLICT(sender) DO UPDATE SET
                       first_seen = min(first_seen, excluded.first_seen),
                       last_seen = max(last_seen, excluded.last_seen),
                       events = events + excluded.events,
                       listener = excluded.listener,
                       parser = CASE WHEN excluded.parser = 'none' THEN parser ELSE excluded.parser END,
                       dataset = CASE WHEN excluded.parser = 'none' THEN dataset ELSE excluded.dataset END,
                       host = coalesce(excluded.host, host)",
                )
                .map_err(&e)?;
            let mut day = tx
                .prepare_cached(
                    "INSERT INTO sender_days (sender, day, events) VALUES (?1, ?2, ?3)
                     ON CONFLICT(sender, day) DO UPDATE SET events = events + excluded.events",
                )
                .map_err(&e)?;
            for (ip, s) in &seen {
                let ip = ip.to_string();
                up.execute(params![
                    ip, s.first, s.last, s.events, s.listener, s.parser, s.dataset, s.host
                ])
                .map_err(&e)?;
                for (d, n) in &s.days {
                    day.execute(params![ip, d, n]).map_err(&e)?;
                }
            }
        }
        if self.stats.due() {
            self.stats
                .flush(&tx, chrono::Utc::now().timestamp_micros())
                .map_err(&e)?;
        }
        tx.commit().map_err(&e)
    }

    /// Folds waiting counters into the tables once they are due (called while ingest is idle,
    /// so a burst's counts do not wait for the next batch).
    pub fn maintain(&mut self) -> Result<(), Error> {
        if self.stats.due() {
            self.flush()?;
        }
        Ok(())
    }

    /// Gives the connection's page cache back (ingest is idle).
    pub fn release_memory(&self) {
        let _best_effort = self.conn.execute_batch("PRAGMA shrink_memory;");
    }

    /// Folds the counters still in memory into the tables and trims every finished hour
    /// (on close).
    pub fn close(&mut self) -> Result<(), Error> {
        self.stats.compact_all_next();
        self.flush()
    }

    /// Folds the counters still in memory into the tables.
    pub fn flush(&mut self) -> Result<(), Error> {
        let e = db_err(&self.path);
        let tx = self.conn.transaction().map_err(&e)?;
        self.stats
            .flush(&tx, chrono::Utc::now().timestamp_micros())
            .map_err(&e)?;
        tx.commit().map_err(&e)
    }

    /// Values the counters could not keep (see `stats::MAX_VALUES`).
    pub fn stats_overflow(&self) -> u64 {
        self.stats.overflow
    }
}

/// Every sender, most recently seen first, with its events on each of the last `days` days.
pub fn list(dir: &Path, days: i64) -> Result<Vec<SenderInfo>, Error> {
    let p = super::registry_path(dir);
    if !p.exists() {
        return Ok(Vec::new());
    }
    let e = db_err(&p);
    let conn = Connection::open_with_flags(&p, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(&e)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(&e)?;
    super::migrate::refuse_newer(&conn, &p, super::migrate::REGISTRY)?;
    let mut stmt = conn
        .prepare("SELECT sender, first_seen, last_seen, events, listener, parser, dataset, host FROM senders ORDER BY last_seen DESC")
        .map_err(&e)?;
    let mut per_day = conn
        .prepare("SELECT day, events FROM sender_days WHERE sender = ?1 AND day >= ?2 ORDER BY day")
        .map_err(&e)?;
    let today = chrono::Utc::now().timestamp_micros().div_euclid(DAY_US);
    let rows = stmt
        .query_map([], |r| {
            Ok(SenderInfo {
                sender: r.get(0)?,
                first_seen: r.get(1)?,
                last_seen: r.get(2)?,
                events: r.get(3)?,
                listener: r.get(4)?,
                parser: r.get(5)?,
                dataset: r.get(6)?,
                host: r.get(7)?,
                per_day: Vec::new(),
            })
        })
        .map_err(&e)?;
    let mut out = Vec::new();
    for r in rows {
        let mut s = r.map_err(&e)?;
        s.per_day = per_day
            .query_map(params![s.sender, today - days + 1], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .map_err(&e)?
            .collect::<Result<_, _>>()
            .map_err(&e)?;
        out.push(s);
    }
    Ok(out)
}

/// Removes every sender whose address or last host name is `host`; returns how many.
pub fn forget(dir: &Path, host: &str) -> Result<usize, Error> {
    let p = super::registry_path(dir);
    if !p.exists() {
        return Ok(0);
    }
    let e = db_err(&p);
    let mut conn = Connection::open(&p).map_err(&e)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(&e)?;
    conn.execute_batch("PRAGMA secure_delete = ON;")
        .map_err(&e)?;
    super::migrate::apply(&mut conn, &p, super::migrate::REGISTRY)?;
    let tx = conn.transaction().map_err(&e)?;
    let addresses: Vec<String> = {
        let mut st = tx
            .prepare("SELECT sender FROM senders WHERE sender = ?1 OR host = ?1")
            .map_err(&e)?;
        st.query_map([host], |r| r.get(0))
            .map_err(&e)?
            .collect::<Result<_, _>>()
            .map_err(&e)?
    };
    for a in addresses.iter().map(String::as_str).chain([host]) {
        super::stats::forget(&tx, a).map_err(&e)?;
    }
    tx.execute(
        "DELETE FROM sender_days WHERE sender IN (SELECT sender FROM senders WHERE sender = ?1 OR host = ?1) OR sender = ?1",
        [host],
    )
    .map_err(&e)?;
    let n = tx
        .execute("DELETE FROM senders WHERE sender = ?1 OR host = ?1", [host])
        .map_err(&e)?;
    tx.commit().map_err(&e)?;
    Ok(n)
}
