//! `picket forget-host`: removes every event of one sender (by address or host name) from
//! every segment, and the sender from the registry.
//!
//! It runs beside a live collector without blocking it: matching row ids are collected with a
//! read transaction (which never blocks the writer in WAL mode), then deleted in small write
//! transactions with a pause between them, so the writer waits at most one small batch.
//! Deleted pages are zeroed (`secure_delete`). An indexed segment's full-text index is
//! contentless, so SQLite cannot find a deleted row's tokens by itself: each row's tokens are
//! recomputed exactly as the indexer made them and removed with FTS5's `delete` command, so no
//! token of the forgotten sender remains searchable.

use super::segment::{self, SegmentInfo};
use super::writer::fts_body;
use super::{db_err, registry};
use crate::store::Error;
use rusqlite::{Connection, ErrorCode, TransactionBehavior, params};
use std::path::Path;
use std::time::Duration;

/// What a forget removed.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ForgetReport {
    /// Events deleted.
    pub events: u64,
    /// Segments that held some of them.
    pub segments: usize,
    /// Registry entries removed.
    pub senders: usize,
    /// Events deleted from the archive.
    pub archived: u64,
}

/// How a forget proceeds.
#[derive(Debug, Clone)]
pub struct ForgetOptions {
    /// Rows deleted per write transaction.
    pub batch: usize,
    /// Pause between two batches, leaving the write lock to ingest.
    pub pause: Duration,
}

impl Default for ForgetOptions {
    fn default() -> Self {
        ForgetOptions {
            batch: 2000,
            pause: Duration::from_millis(5),
        }
    }
}

/// Deletes every event whose sender address or host name is `host`, segment by segment.
/// `progress` is called after each batch with the events deleted so far.
pub fn forget(
    dir: &Path,
    segments: &[SegmentInfo],
    host: &str,
    opts: &ForgetOptions,
    mut progress: impl FnMut(u64),
) -> Result<ForgetReport, Error> {
    let mut report = ForgetReport::default();
    let mut files: Vec<std::path::PathBuf> = segments.iter().map(|s| s.path.clone()).collect();
    let mut i = 0;
    while let Some(p) = files.get(i).cloned() {
        i += 1;
        // A hot segment may receive new events from the sender meanwhile: look again until a
        // pass finds none (bounded; the collector may keep storing what the sender still sends).
        let mut found_here = false;
        for _ in 0..3 {
            let n = forget_in_segment(&p, host, opts, &mut |d| progress(report.events + d))?;
            report.events += n;
            found_here |= n > 0;
            if n == 0 {
                break;
            }
        }
        report.segments += usize::from(found_here);
        // A compaction or merge that ran meanwhile may have written files not listed yet
        // (class files of a split, a merged file).
        if i == files.len() {
            for extra in segment_files(dir) {
                if !files.contains(&extra) {
                    files.push(extra);
                }
            }
        }
    }
    report.senders = registry::forget(dir, host)?;
    Ok(report)
}

/// Deletes `host`'s events from every archived segment file (see `archive.rs`); returns how
/// many went.
pub fn forget_archive(dir: &Path, host: &str) -> Result<u64, Error> {
    let mut n = 0;
    for p in super::archive::files(dir) {
        n += forget_in_segment(&p, host, &ForgetOptions::default(), &mut |_| {})?;
    }
    Ok(n)
}

/// The segment files in the store directory now.
fn segment_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(segment::is_segment_name)
        })
        .collect()
}

/// Forgets in one segment, in whichever layout it is. The indexer may replace a sealed file
/// with its compressed copy meanwhile (it holds the sealed file's write lock while it copies, so
/// a delete lands either before the copy or in the old file): when the file changed under the
/// pass, the pass runs again on the new one.
fn forget_in_segment(
    p: &Path,
    host: &str,
    opts: &ForgetOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<u64, Error> {
    use std::os::unix::fs::MetadataExt;
    let inode = || std::fs::metadata(p).map(|m| m.ino()).ok();
    let mut total = 0u64;
    for _ in 0..3 {
        let Some(before) = inode() else {
            return Ok(total);
        };
        let compressed = match segment::open_read_only(p) {
            Ok(conn) => super::compact::is_compact(&conn),
            Err(_) if !p.exists() => return Ok(total),
            Err(e) => return Err(e),
        };
        let pass = if compressed {
            super::compact::forget(p, host, progress)
        } else {
            forget_rows(p, host, opts, progress)
        };
        let changed = inode() != Some(before);
        match pass {
            Ok(n) => total += n,
            Err(_) if changed => {}
            Err(e) => return Err(e),
        }
        if !changed {
            break;
        }
    }
    Ok(total)
}

fn forget_rows(
    p: &Path,
    host: &str,
    opts: &ForgetOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<u64, Error> {
    if !p.exists() {
        return Ok(0);
    }
    let e = db_err(p);
    let mut conn = segment::open_read_write(p)?;
    conn.execute_batch("PRAGMA secure_delete = ON;")
        .map_err(&e)?;
    // `sender` and `host` each have an index once the segment is indexed; the OR becomes a
    // union of two index lookups there and a scan of a bounded hot segment elsewhere.
    let ids: Vec<i64> = {
        let mut stmt = conn
            .prepare("SELECT id FROM events WHERE sender = ?1 OR host = ?1")
            .map_err(&e)?;
        stmt.query_map([host], |r| r.get(0))
            .map_err(&e)?
            .collect::<Result<_, _>>()
            .map_err(&e)?
    };
    let mut deleted = 0u64;
    let mut body = String::with_capacity(1024);
    for chunk in ids.chunks(opts.batch.max(1)) {
        deleted += with_retry(|| delete_batch(&mut conn, chunk, &mut body)).map_err(&e)?;
        progress(deleted);
        std::thread::sleep(opts.pause);
    }
    if deleted > 0 {
        conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE);")
            .map_err(&e)?;
    }
    Ok(deleted)
}

/// One write transaction: each row's full-text entry (when the segment is indexed), the row,
/// and the segment's row count.
fn delete_batch(conn: &mut Connection, ids: &[i64], body: &mut String) -> rusqlite::Result<u64> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut n = 0u64;
    {
        // Read inside the write transaction: the indexer may have finished meanwhile.
        let state: String = tx
            .query_row("SELECT value FROM meta WHERE key = 'state'", [], |r| {
                r.get(0)
            })
            .unwrap_or_default();
        let indexed = state == "indexed";
        // Only an indexed segment has the full-text table.
        let mut fts = if indexed {
            Some((
                tx.prepare_cached("SELECT raw, msg_off, message FROM events WHERE id = ?1")?,
                tx.prepare_cached("INSERT INTO fts(fts, rowid, body) VALUES ('delete', ?1, ?2)")?,
            ))
        } else {
            None
        };
        let mut del = tx.prepare_cached("DELETE FROM events WHERE id = ?1")?;
        for id in ids {
            if let Some((read, fts)) = &mut fts {
                let row = read.query_row([id], |r| {
                    let raw: Vec<u8> = r.get(0)?;
                    let off: Option<i64> = r.get(1)?;
                    let msg: Option<String> = r.get(2)?;
                    Ok((raw, off, msg))
                });
                match row {
                    Ok((raw, off, msg)) => {
                        fts_body(&raw, off, msg.as_deref(), body);
                        if !body.is_empty() {
                            fts.execute(params![id, body.as_str()])?;
                        }
                    }
                    Err(rusqlite::Error::QueryReturnedNoRows) => continue,
                    Err(err) => return Err(err),
                }
            }
            n += del.execute([id])? as u64;
        }
        // The live writer keeps its own count for the hot segment; sealed ones are only
        // written here and by the indexer.
        if state != "hot" && n > 0 {
            tx.execute(
                "UPDATE meta SET value = max(0, value - ?1) WHERE key = 'rows'",
                [n as i64],
            )?;
        }
    }
    tx.commit()?;
    Ok(n)
}

/// Retries a write that found the database locked for longer than the busy timeout (the
/// indexer holds one long transaction while it builds a segment's indexes).
fn with_retry<T>(mut f: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let mut attempts = 0;
    loop {
        match f() {
            Err(rusqlite::Error::SqliteFailure(err, _))
                if matches!(
                    err.code,
                    ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked
                ) && attempts < 12 =>
            {
                attempts += 1;
                std::thread::sleep(Duration::from_millis(250));
            }
            other => return other,
        }
    }
}
