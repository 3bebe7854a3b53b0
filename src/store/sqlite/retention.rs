//! Applying the retention policy (`store::retention`) to SQLite segments: a segment is the
//! unit of removal, so the oldest data goes as whole files and no row is deleted one by one.
//! Every pass that removes something is recorded in `registry.db` (`retention_runs`).
//!
//! Order of a removal, chosen so that a `kill -9` at any point loses nothing that should stay:
//! 1. the caller's `before_remove` copies what must outlive the segment (alert evidence) and
//!    commits it elsewhere: a crash after it repeats the copy, which is idempotent;
//! 2. the segment leaves the catalog, so no new search opens it (open ones finish on the file);
//! 3. the `.db` file is unlinked, then its `-wal`/`-shm`: a segment is either whole or gone,
//!    and stray `-wal`/`-shm` files without a `.db` are removed at the next start;
//! 4. the run is logged.

use super::segment::{SegmentInfo, SegmentState};
use super::{Catalog, db_err, read_catalog};
use crate::disk::Space;
use crate::store::Error;
use crate::store::retention::{self, Plan, Policy, Slice};
use rusqlite::{Connection, params};
use std::path::{Path, PathBuf};

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS retention_runs (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,   -- microseconds
    reason      TEXT    NOT NULL,   -- max_age | max_bytes | min_free (the first segment's)
    segments    INTEGER NOT NULL,
    events      INTEGER NOT NULL,
    bytes       INTEGER NOT NULL,
    evidence    INTEGER NOT NULL,   -- alert evidence events copied out first
    oldest_left INTEGER,            -- @timestamp of the oldest event left, microseconds
    pending     INTEGER,            -- the segment being removed (set before its unlink)
    pending_events INTEGER,
    pending_bytes  INTEGER
);";

/// One segment removed (or, in a dry run, to be removed).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Removed {
    /// The segment's id.
    pub segment: u32,
    /// The retention class of the file (`"bulk"`, `"audit"` or an override's name).
    pub class: String,
    /// Why.
    pub reason: &'static str,
    /// Events in it.
    pub events: u64,
    /// Bytes it took.
    pub bytes: u64,
    /// Its oldest and newest `@timestamp`.
    pub min_ts: i64,
    pub max_ts: i64,
}

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct RunReport {
    /// Segments removed, oldest first.
    pub removed: Vec<Removed>,
    /// Alert evidence events copied out first.
    pub evidence: u64,
    /// Store bytes after the pass.
    pub store_bytes: u64,
    /// The oldest `@timestamp` left (None: no events).
    pub oldest_left: Option<i64>,
    /// `min_free` could not be restored by removing bulk data.
    pub short_of_space: bool,
    /// Segment files written to the archive first, and their bytes there.
    pub archived: u64,
    pub archived_bytes: u64,
    /// Archived files removed for the archive's cap.
    pub archive_trimmed: u64,
}

/// Bytes a segment takes on disk: its file, WAL and shared-memory file.
pub fn segment_bytes(path: &Path) -> u64 {
    companions(path)
        .iter()
        .chain(std::iter::once(&path.to_path_buf()))
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

fn companions(path: &Path) -> [PathBuf; 2] {
    let s = path.as_os_str().to_string_lossy();
    [
        PathBuf::from(format!("{s}-wal")),
        PathBuf::from(format!("{s}-shm")),
    ]
}

/// Bytes of the whole store directory (segments, registry, anything else in it).
pub fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// Removes `-wal`/`-shm` files whose segment file is gone (a crash between the unlinks).
pub fn remove_strays(dir: &Path) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for p in rd.filter_map(Result::ok).map(|e| e.path()) {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let base = name
            .strip_suffix("-wal")
            .or_else(|| name.strip_suffix("-shm"));
        if let Some(base) = base.filter(|b| b.starts_with("seg-") && b.ends_with(".db")) {
            if !dir.join(base).exists() {
                if let Err(e) = std::fs::remove_file(&p) {
                    tracing::warn!(path = %p.display(), error = %e, "Could not remove a stray segment file.");
                }
            }
        }
    }
}

/// What the policy would remove from the store as it is now, oldest first, each with the
/// segment it is; and whether `min_free` stays out of reach. Used by a pass and by `--dry-run`.
pub fn plan<'a>(
    catalog: &'a [SegmentInfo],
    policy: &Policy,
    extra_bytes: u64,
    dir: &Path,
    space: Option<Space>,
    now_us: i64,
) -> (Vec<(Removed, &'a SegmentInfo)>, bool) {
    let classes = !(policy.audit_queries.is_empty() && policy.overrides.is_empty());
    let slices: Vec<Slice> = catalog
        .iter()
        .map(|s| Slice {
            id: s.id,
            class: s.class.clone(),
            bytes: segment_bytes(&s.path),
            rows: s.rows,
            min_ts: s.min_ts,
            max_ts: s.max_ts,
            // With classes, a segment is only removable once it is split by class: before,
            // its file may still hold audit and override events.
            active: s.state == SegmentState::Hot
                || (classes && s.class.is_empty() && s.state != SegmentState::Compact),
        })
        .collect();
    let Plan {
        remove,
        short_of_space,
    } = retention::plan(policy, &slices, dir_bytes(dir) + extra_bytes, space, now_us);
    let removed = remove
        .iter()
        .filter_map(|(i, reason)| {
            let (seg, slice) = (catalog.get(*i)?, slices.get(*i)?);
            let r = Removed {
                segment: seg.id,
                class: class_label(&seg.class).to_string(),
                reason: reason.as_str(),
                events: seg.rows,
                bytes: slice.bytes,
                min_ts: seg.min_ts,
                max_ts: seg.max_ts,
            };
            Some((r, seg))
        })
        .collect();
    (removed, short_of_space)
}

/// How a class is named in the run log and the CLI.
pub fn class_label(class: &str) -> &str {
    if class.is_empty() { "bulk" } else { class }
}

/// The oldest `@timestamp` left in the catalog.
fn oldest(catalog: &Catalog) -> Option<i64> {
    read_catalog(catalog)
        .iter()
        .filter(|s| s.rows > 0)
        .map(|s| s.min_ts)
        .min()
}

/// Applies the policy once. `extra_bytes` is what else the cap counts (kept alert evidence);
/// `before_remove` runs before each segment goes and returns the evidence events it kept.
/// `lock` is held while a segment's files are removed (the indexer holds it while it writes
/// a segment, so neither opens a file the other is deleting).
#[allow(clippy::too_many_arguments)]
pub fn apply(
    dir: &Path,
    catalog: &Catalog,
    lock: &std::sync::Mutex<()>,
    policy: &Policy,
    extra_bytes: u64,
    space: impl Fn() -> Option<Space>,
    now_us: i64,
    mut before_remove: impl FnMut(&SegmentInfo) -> Result<u64, Error>,
) -> Result<RunReport, Error> {
    let snapshot = read_catalog(catalog);
    let (planned, short_of_space) = plan(&snapshot, policy, extra_bytes, dir, space(), now_us);
    let mut report = RunReport {
        short_of_space,
        ..RunReport::default()
    };
    // The run is logged before the first removal and updated after each, so that a crash
    // mid-run leaves an exact record of what went.
    reconcile(dir, catalog)?;
    let log = if planned.is_empty() {
        None
    } else {
        Some(start_record(dir, now_us)?)
    };
    for (removed, seg) in planned {
        report.evidence += before_remove(seg)?;
        if let Some(archive) = &policy.archive_dir {
            report.archived_bytes += super::archive::write(seg, archive, now_us)?;
            report.archived += 1;
        }
        if let Some((conn, p, row)) = &log {
            conn.execute(
                "UPDATE retention_runs SET pending = ?2, pending_events = ?3, pending_bytes = ?4, pending_class = ?5 WHERE id = ?1",
                params![
                    row,
                    i64::from(removed.segment),
                    removed.events as i64,
                    removed.bytes as i64,
                    seg.path
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default()
                ],
            )
            .map_err(db_err(p))?;
        }
        {
            let _held = lock.lock().unwrap_or_else(|e| e.into_inner());
            {
                let mut g = catalog.write().unwrap_or_else(|e| e.into_inner());
                g.retain(|s| s.path != seg.path);
            }
            remove_files(&seg.path)?;
        }
        report.removed.push(removed);
        report.oldest_left = oldest(catalog);
        if let Some((conn, p, row)) = &log {
            update_record(conn, p, *row, &report)?;
        }
    }
    report.oldest_left = oldest(catalog);
    report.store_bytes = dir_bytes(dir) + extra_bytes;
    if let (Some(archive), Some(cap)) = (&policy.archive_dir, policy.archive_max_bytes) {
        report.archive_trimmed = super::archive::trim(archive, cap)? as u64;
    }
    Ok(report)
}

pub(super) fn remove_files(path: &Path) -> Result<(), Error> {
    let gone = |p: &Path| match std::fs::remove_file(p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(Error::Io {
            path: p.display().to_string(),
            source,
        }),
    };
    gone(path)?;
    for c in companions(path) {
        gone(&c)?;
    }
    Ok(())
}

fn open_log(dir: &Path) -> Result<(Connection, PathBuf), Error> {
    let p = super::registry_path(dir);
    let mut conn = Connection::open(&p).map_err(db_err(&p))?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(db_err(&p))?;
    super::migrate::apply(&mut conn, &p, super::migrate::REGISTRY)?;
    Ok((conn, p))
}

/// Settles runs a crash interrupted between announcing a removal and logging it: a segment
/// that is gone is counted, one that is still there is not.
fn reconcile(dir: &Path, catalog: &Catalog) -> Result<(), Error> {
    let (conn, p) = open_log(dir)?;
    let e = db_err(&p);
    let pending: Vec<(i64, i64, String)> = conn
        .prepare("SELECT id, pending, coalesce(pending_class, '') FROM retention_runs WHERE pending IS NOT NULL")
        .map_err(&e)?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .map_err(&e)?
        .collect::<Result<_, _>>()
        .map_err(&e)?;
    let listed = read_catalog(catalog);
    for (row, seg, name) in pending {
        let id = u32::try_from(seg).unwrap_or(0);
        let file = if name.ends_with(".db") && !name.contains('/') {
            dir.join(&name)
        } else {
            super::segment::path(dir, id)
        };
        let gone = !listed.iter().any(|s| s.path == file) && !file.exists();
        let sql = if gone {
            "UPDATE retention_runs SET segments = segments + 1, events = events + pending_events, \
             bytes = bytes + pending_bytes, pending = NULL WHERE id = ?1"
        } else {
            "UPDATE retention_runs SET pending = NULL WHERE id = ?1"
        };
        conn.execute(sql, [row]).map_err(&e)?;
    }
    Ok(())
}

fn start_record(dir: &Path, now_us: i64) -> Result<(Connection, PathBuf, i64), Error> {
    let (conn, p) = open_log(dir)?;
    conn.execute(
        "INSERT INTO retention_runs(at, reason, segments, events, bytes, evidence) \
         VALUES (?1, '', 0, 0, 0, 0)",
        [now_us],
    )
    .map_err(db_err(&p))?;
    let row = conn.last_insert_rowid();
    Ok((conn, p, row))
}

fn update_record(conn: &Connection, p: &Path, row: i64, r: &RunReport) -> Result<(), Error> {
    let reason = r.removed.first().map_or("", |x| x.reason);
    conn.execute(
        "UPDATE retention_runs SET reason = ?2, segments = ?3, events = ?4, bytes = ?5, \
         evidence = ?6, oldest_left = ?7, pending = NULL WHERE id = ?1",
        params![
            row,
            reason,
            r.removed.len() as i64,
            r.removed.iter().map(|x| x.events as i64).sum::<i64>(),
            r.removed.iter().map(|x| x.bytes as i64).sum::<i64>(),
            r.evidence as i64,
            r.oldest_left,
        ],
    )
    .map_err(db_err(p))?;
    Ok(())
}

/// One logged retention pass.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LoggedRun {
    pub at: i64,
    pub reason: String,
    pub segments: i64,
    pub events: i64,
    pub bytes: i64,
    pub evidence: i64,
    pub oldest_left: Option<i64>,
}

/// The newest `limit` logged passes, newest first.
pub fn runs(dir: &Path, limit: usize) -> Result<Vec<LoggedRun>, Error> {
    let (conn, p) = open_log(dir)?;
    let e = db_err(&p);
    let mut stmt = conn
        .prepare(
            "SELECT at, reason, segments, events, bytes, evidence, oldest_left FROM retention_runs \
             WHERE segments > 0 ORDER BY id DESC LIMIT ?1",
        )
        .map_err(&e)?;
    let rows = stmt
        .query_map([limit as i64], |r| {
            Ok(LoggedRun {
                at: r.get(0)?,
                reason: r.get(1)?,
                segments: r.get(2)?,
                events: r.get(3)?,
                bytes: r.get(4)?,
                evidence: r.get(5)?,
                oldest_left: r.get(6)?,
            })
        })
        .map_err(&e)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(&e)
}

/// Events and an estimate of bytes per `event.dataset` (each segment's bytes shared out by its
/// rows), largest first.
pub fn datasets(catalog: &[SegmentInfo]) -> Result<Vec<(String, u64, u64)>, Error> {
    let mut by: std::collections::HashMap<String, (u64, f64)> = std::collections::HashMap::new();
    for seg in catalog.iter().filter(|s| s.rows > 0) {
        let e = db_err(&seg.path);
        let rows: Vec<(String, i64)> = match super::queries::open_any(seg)? {
            None => continue,
            Some(super::queries::Opened::Compact(c)) => c.datasets()?,
            Some(super::queries::Opened::Rows(conn)) => {
                let mut stmt = conn
                    .prepare("SELECT dataset, count(*) FROM events GROUP BY dataset")
                    .map_err(&e)?;
                stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
                    .map_err(&e)?
                    .collect::<Result<_, _>>()
                    .map_err(&e)?
            }
        };
        let bytes = segment_bytes(&seg.path) as f64;
        let per_row = bytes / seg.rows.max(1) as f64;
        for (d, n) in rows {
            let n = u64::try_from(n).unwrap_or(0);
            let slot = by.entry(d).or_insert((0, 0.0));
            slot.0 += n;
            slot.1 += per_row * n as f64;
        }
    }
    let mut out: Vec<(String, u64, u64)> =
        by.into_iter().map(|(d, (n, b))| (d, n, b as u64)).collect();
    out.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
    Ok(out)
}

/// Bytes the store grew by per day, from the segments sealed in the last week (by their
/// newest event); 0 when there is too little history to tell.
pub fn bytes_per_day(catalog: &[SegmentInfo], now_us: i64) -> f64 {
    const WEEK: i64 = 7 * 86_400_000_000;
    let recent: Vec<&SegmentInfo> = catalog
        .iter()
        .filter(|s| s.rows > 0 && s.max_ts >= now_us - WEEK)
        .collect();
    let Some(oldest) = recent.iter().map(|s| s.min_ts).min() else {
        return 0.0;
    };
    let span_days = (now_us - oldest.max(now_us - WEEK)) as f64 / 86_400_000_000.0;
    if span_days < 1.0 / 24.0 {
        return 0.0;
    }
    let bytes: u64 = recent.iter().map(|s| segment_bytes(&s.path)).sum();
    bytes as f64 / span_days
}
