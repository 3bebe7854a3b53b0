//! Pre-aggregated counters for the overview (in `registry.db`): events per minute by
//! severity, and per hour the events of each sender, source address (with its country) and
//! action. The writer counts in memory and folds the counts into the tables every few seconds,
//! in the registry's transaction, so the overview reads a few thousand rows instead of
//! scanning a day of events.

use super::db_err;
use crate::model::{Event, FieldValue, fields as f};
use crate::store::{Activity, Error, Top};
use rusqlite::{Connection, OpenFlags, Transaction, params};
use rustc_hash::FxHashMap;
use std::fmt::Write;
use std::path::Path;
use std::time::{Duration, Instant};

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS minute_counts (
    minute   INTEGER NOT NULL,      -- event.ingested / 60 s
    severity INTEGER NOT NULL,      -- 0..7, 8 when the event has none
    events   INTEGER NOT NULL,
    PRIMARY KEY (minute, severity)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS hour_top (
    hour   INTEGER NOT NULL,        -- event.ingested / 3600 s
    kind   INTEGER NOT NULL,        -- 0 sender, 1 source.ip, 2 event.action
    value  TEXT NOT NULL,
    events INTEGER NOT NULL,
    extra  TEXT,                    -- source.ip: its country (source.geo.country_iso_code)
    PRIMARY KEY (hour, kind, value)
) WITHOUT ROWID;";

const MINUTE_US: i64 = 60_000_000;
const HOUR_US: i64 = 3_600_000_000;
/// Counters older than this are removed.
const KEEP_US: i64 = 32 * 86_400_000_000;
/// Counts are folded into the tables this often...
const FLUSH_EVERY: Duration = Duration::from_secs(5);
/// ...or once this many distinct values wait.
const FLUSH_VALUES: usize = 20_000;
/// Values beyond this many per flush are not counted (a scan from millions of addresses
/// must not grow memory); the overview's top lists only need the heavy hitters.
const MAX_VALUES: usize = 100_000;

/// Values kept per hour and kind once the hour is over: the heaviest ones, so a day's top
/// lists read a few thousand rows however many addresses a scan brought.
const KEEP_PER_HOUR: i64 = 100;

/// The hour in progress is trimmed to [`KEEP_CURRENT`] values per kind once it holds more than
/// twice that many (a scan from many addresses): heavy hitters stay, one-off values go.
const KEEP_CURRENT: i64 = 1000;

/// Kinds of `hour_top` rows.
const SENDER: u8 = 0;
const SOURCE_IP: u8 = 1;
const ACTION: u8 = 2;

/// Per value: events and the extra (country).
type Values = FxHashMap<String, (i64, Option<String>)>;

/// Counts not yet in the tables.
pub struct Stats {
    minutes: FxHashMap<(i64, u8), i64>,
    tops: FxHashMap<(i64, u8), Values>,
    values: usize,
    last_flush: Instant,
    /// Hours before this one are compacted to [`KEEP_PER_HOUR`] values per kind.
    compacted_before: i64,
    /// Reused to format sender addresses.
    sender_buf: String,
    /// Values not counted because [`MAX_VALUES`] was reached.
    pub overflow: u64,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            minutes: FxHashMap::default(),
            tops: FxHashMap::default(),
            values: 0,
            last_flush: Instant::now(),
            compacted_before: i64::MIN,
            sender_buf: String::new(),
            overflow: 0,
        }
    }
}

impl Stats {
    /// Counts one stored event.
    pub fn count(&mut self, ev: &Event) {
        let minute = ev.ingested.div_euclid(MINUTE_US);
        let hour = ev.ingested.div_euclid(HOUR_US);
        *self
            .minutes
            .entry((minute, ev.severity.filter(|s| *s < 8).unwrap_or(8)))
            .or_insert(0) += 1;
        // The sender's address is formatted into a buffer kept across events: no allocation
        // per event on the writer's path.
        let mut sender = std::mem::take(&mut self.sender_buf);
        sender.clear();
        if write!(sender, "{}", ev.peer.ip()).is_ok() {
            self.add(hour, SENDER, &sender, None);
        }
        self.sender_buf = sender;
        if let Some(FieldValue::Str(ip)) = ev.field(f::SOURCE_IP) {
            let country = match ev.field("source.geo.country_iso_code") {
                Some(FieldValue::Str(c)) => Some(c.as_str()),
                _ => None,
            };
            self.add(hour, SOURCE_IP, ip, country);
        }
        if let Some(FieldValue::Str(a)) = ev.field(f::EVENT_ACTION) {
            self.add(hour, ACTION, a, None);
        }
    }

    fn add(&mut self, hour: i64, kind: u8, value: &str, extra: Option<&str>) {
        let values = self.tops.entry((hour, kind)).or_default();
        if let Some(slot) = values.get_mut(value) {
            slot.0 += 1;
            if extra.is_some() && slot.1.is_none() {
                slot.1 = extra.map(str::to_owned);
            }
            return;
        }
        if self.values >= MAX_VALUES {
            self.overflow += 1;
            return;
        }
        self.values += 1;
        values.insert(value.to_owned(), (1, extra.map(str::to_owned)));
    }

    /// True when the counts should be folded into the tables now.
    pub fn due(&self) -> bool {
        !self.minutes.is_empty()
            && (self.values >= FLUSH_VALUES || self.last_flush.elapsed() >= FLUSH_EVERY)
    }

    /// Folds the counts into the tables (in the caller's transaction) and clears them.
    pub fn flush(&mut self, tx: &Transaction<'_>, now_us: i64) -> rusqlite::Result<()> {
        self.last_flush = Instant::now();
        let mut m = tx.prepare_cached(
            "INSERT INTO minute_counts (minute, severity, events) VALUES (?1, ?2, ?3)
             ON CONFLICT(minute, severity) DO UPDATE SET events = events + excluded.events",
        )?;
        for ((minute, sev), n) in self.minutes.drain() {
            m.execute(params![minute, sev, n])?;
        }
        let mut t = tx.prepare_cached(
            "INSERT INTO hour_top (hour, kind, value, events, extra) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(hour, kind, value) DO UPDATE SET
               events = events + excluded.events, extra = coalesce(excluded.extra, extra)",
        )?;
        for ((hour, kind), values) in self.tops.drain() {
            for (value, (n, extra)) in values {
                t.execute(params![hour, kind, value, n, extra])?;
            }
        }
        self.values = 0;
        self.compact(tx, now_us)?;
        Self::trim_current(tx, now_us)?;
        let old = now_us - KEEP_US;
        tx.execute(
            "DELETE FROM minute_counts WHERE minute < ?1",
            [old.div_euclid(MINUTE_US)],
        )?;
        tx.execute(
            "DELETE FROM hour_top WHERE hour < ?1",
            [old.div_euclid(HOUR_US)],
        )?;
        Ok(())
    }
}

impl Stats {
    /// Makes the next flush trim every finished hour, not only those since the last hour
    /// change (on close, after a backfill or replay wrote old hours).
    pub fn compact_all_next(&mut self) {
        self.compacted_before = i64::MIN;
    }

    /// Trims every finished hour not trimmed yet to its heaviest values per kind (events of
    /// later arrivals for an old hour are still added, and trimmed at the next hour change).
    fn compact(&mut self, tx: &Transaction<'_>, now_us: i64) -> rusqlite::Result<()> {
        let current = now_us.div_euclid(HOUR_US);
        if self.compacted_before >= current {
            return Ok(());
        }
        let from = if self.compacted_before == i64::MIN {
            i64::MIN
        } else {
            // Late events may have been counted into the last hours: look back a little.
            self.compacted_before - 2
        };
        let groups: Vec<(i64, i64)> = {
            let mut st = tx.prepare(
                "SELECT hour, kind FROM hour_top WHERE hour >= ?1 AND hour < ?2
                 GROUP BY hour, kind HAVING count(*) > ?3",
            )?;
            st.query_map(params![from, current, KEEP_PER_HOUR], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<Result<_, _>>()?
        };
        let mut trim = tx.prepare_cached(
            "DELETE FROM hour_top WHERE hour = ?1 AND kind = ?2 AND value NOT IN
               (SELECT value FROM hour_top WHERE hour = ?1 AND kind = ?2 ORDER BY events DESC LIMIT ?3)",
        )?;
        for (hour, kind) in groups {
            trim.execute(params![hour, kind, KEEP_PER_HOUR])?;
        }
        self.compacted_before = current;
        Ok(())
    }

    /// Trims the hour in progress when one kind holds more than twice [`KEEP_CURRENT`] values.
    fn trim_current(tx: &Transaction<'_>, now_us: i64) -> rusqlite::Result<()> {
        let current = now_us.div_euclid(HOUR_US);
        let kinds: Vec<i64> = {
            let mut st = tx.prepare_cached(
                "SELECT kind FROM hour_top WHERE hour = ?1 GROUP BY kind HAVING count(*) > ?2",
            )?;
            st.query_map(params![current, 2 * KEEP_CURRENT], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        let mut trim = tx.prepare_cached(
            "DELETE FROM hour_top WHERE hour = ?1 AND kind = ?2 AND value NOT IN
               (SELECT value FROM hour_top WHERE hour = ?1 AND kind = ?2 ORDER BY events DESC LIMIT ?3)",
        )?;
        for kind in kinds {
            trim.execute(params![current, kind, KEEP_CURRENT])?;
        }
        Ok(())
    }
}

/// The activity since `since` (microseconds): events per minute by severity and the `top`
/// heaviest senders, source addresses and actions.
pub fn activity(dir: &Path, since: i64, top: usize) -> Result<Activity, Error> {
    let p = super::registry_path(dir);
    let mut out = Activity::default();
    if !p.exists() {
        return Ok(out);
    }
    let e = db_err(&p);
    let conn = Connection::open_with_flags(&p, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(&e)?;
    conn.busy_timeout(Duration::from_secs(5)).map_err(&e)?;
    super::migrate::refuse_newer(&conn, &p, super::migrate::REGISTRY)?;
    let mut stmt = conn
        .prepare(
            "SELECT minute, severity, events FROM minute_counts WHERE minute >= ?1 ORDER BY minute",
        )
        .map_err(&e)?;
    out.per_minute = stmt
        .query_map([since.div_euclid(MINUTE_US)], |r| {
            Ok((r.get::<_, i64>(0)? * MINUTE_US, r.get(1)?, r.get(2)?))
        })
        .map_err(&e)?
        .collect::<Result<_, _>>()
        .map_err(&e)?;
    let mut tops = conn
        .prepare(
            "SELECT value, sum(events), max(extra) FROM hour_top WHERE hour >= ?1 AND kind = ?2
             GROUP BY value ORDER BY 2 DESC LIMIT ?3",
        )
        .map_err(&e)?;
    let hour = since.div_euclid(HOUR_US);
    let limit = i64::try_from(top).unwrap_or(i64::MAX);
    for (kind, slot) in [
        (SENDER, &mut out.senders),
        (SOURCE_IP, &mut out.source_ips),
        (ACTION, &mut out.actions),
    ] {
        *slot = tops
            .query_map(params![hour, kind, limit], |r| {
                Ok(Top {
                    value: r.get(0)?,
                    events: r.get(1)?,
                    extra: r.get(2)?,
                })
            })
            .map_err(&e)?
            .collect::<Result<_, _>>()
            .map_err(&e)?;
    }
    Ok(out)
}

/// Removes a sender's own counters (forget-host).
pub fn forget(tx: &Transaction<'_>, sender: &str) -> rusqlite::Result<()> {
    tx.execute(
        "DELETE FROM hour_top WHERE kind = 0 AND value = ?1",
        [sender],
    )?;
    Ok(())
}
