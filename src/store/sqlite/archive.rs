//! The archive (`[retention] archive_dir`): a segment file that retention removes is first
//! written there, compressed, under the same name, so that `picket search --archive DIR` reads
//! it with the store's own code. The archive has its own cap (`archive_max_bytes`): past it,
//! the oldest archived files go.
//!
//! An archived file is a compressed segment (`compact.rs`): a file already compressed is copied,
//! a row segment is compressed on the way. Each copy is written beside its final name, synced,
//! and renamed, so the archive never holds half a file; the segment is removed only after.

use super::segment::SegmentInfo;
use crate::store::Error;
use std::path::{Path, PathBuf};

/// Suffix of a copy being written.
const PARTIAL: &str = "archiving";

fn io(p: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: p.display().to_string(),
        source,
    }
}

/// Writes `seg` into the archive `dir`; returns the bytes it takes there. A file of the same
/// name from an earlier store (ids start again in a new store) is not overwritten: the copy then
/// goes into a subdirectory named after the current second, which `--archive` reads on its own.
pub fn write(seg: &SegmentInfo, dir: &Path, now_us: i64) -> Result<u64, Error> {
    let name = seg.path.file_name().unwrap_or_default();
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut target = dir.join(name);
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).ok();
    // The same file, archived by a pass that a crash stopped before the segment was removed.
    if super::compact::is_compact_file(&seg.path) && size(&target) == size(&seg.path) {
        return Ok(size(&target).unwrap_or(0));
    }
    if target.exists() {
        let sub = dir.join(format!("{}", now_us / 1_000_000));
        std::fs::create_dir_all(&sub).map_err(io(&sub))?;
        target = sub.join(name);
    }
    let partial = target.with_extension(format!("db.{PARTIAL}"));
    let _stale = std::fs::remove_file(&partial);
    let compressed = match super::segment::open_read_only(&seg.path) {
        Ok(conn) => super::compact::is_compact(&conn),
        Err(e) => return Err(e),
    };
    let result = if compressed {
        // A read transaction keeps a concurrent forget-host from rewriting the file mid-copy.
        let guard = super::segment::open_read_only(&seg.path)?;
        guard
            .execute_batch("BEGIN; SELECT count(*) FROM meta;")
            .map_err(super::db_err(&seg.path))?;
        let copied = std::fs::copy(&seg.path, &partial)
            .map_err(io(&partial))
            .map(|_| ());
        drop(guard);
        copied
    } else {
        super::compact::compress_to(&seg.path, &partial).map(|_| ())
    };
    let done = result.and_then(|()| {
        std::fs::File::open(&partial)
            .and_then(|f| f.sync_all())
            .map_err(io(&partial))?;
        std::fs::rename(&partial, &target).map_err(io(&target))?;
        if let Some(parent) = target.parent() {
            let _dir_sync = std::fs::File::open(parent).and_then(|d| d.sync_all());
        }
        Ok(())
    });
    if let Err(e) = done {
        let _gone = std::fs::remove_file(&partial);
        return Err(e);
    }
    Ok(std::fs::metadata(&target).map_or(0, |m| m.len()))
}

/// The archived segment files: in `dir` and its subdirectories one level down.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let list = |d: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(d)
            .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default()
    };
    let is_seg = |p: &PathBuf| {
        p.is_file()
            && p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(super::segment::is_segment_name)
    };
    let mut out = Vec::new();
    for p in list(dir) {
        if p.is_dir() {
            out.extend(list(&p).into_iter().filter(is_seg));
        } else if is_seg(&p) {
            out.push(p);
        }
    }
    out
}

/// Bytes the archive takes.
pub fn bytes(dir: &Path) -> u64 {
    files(dir)
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

/// Removes the oldest archived files (by modification time: when they were archived) while the
/// archive is over `cap`; returns how many went.
pub fn trim(dir: &Path, cap: u64) -> Result<usize, Error> {
    let mut all: Vec<(std::time::SystemTime, u64, PathBuf)> = files(dir)
        .into_iter()
        .filter_map(|p| {
            let m = std::fs::metadata(&p).ok()?;
            Some((m.modified().ok()?, m.len(), p))
        })
        .collect();
    all.sort();
    let mut total: u64 = all.iter().map(|f| f.1).sum();
    let mut removed = 0;
    for (_, len, p) in all {
        if total <= cap {
            break;
        }
        std::fs::remove_file(&p).map_err(io(&p))?;
        total = total.saturating_sub(len);
        removed += 1;
        // An emptied subdirectory goes too.
        if let Some(parent) = p.parent().filter(|d| *d != dir) {
            let _empty = std::fs::remove_dir(parent);
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{events, store_with, writer};
    use super::*;
    use crate::model::Checkpoint;
    use crate::query::SearchQuery;
    use crate::store::{EventReader, EventWriter};

    /// Row segments are compressed on their way into the archive and read back alike; a second
    /// file of the same name goes into a subdirectory; the cap removes the oldest first.
    #[test]
    fn archived_segments_read_back_and_the_cap_removes_the_oldest() {
        let (d, a) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let st = store_with(d.path(), 1000, false);
        let mut w = writer(&st);
        for chunk in events(3000, 1_000_000).chunks(1000) {
            w.write_batch(chunk, Checkpoint::default()).unwrap();
        }
        assert!(st.wait_indexed(std::time::Duration::from_secs(30)));
        let sealed: Vec<SegmentInfo> = st
            .segments()
            .into_iter()
            .filter(|s| s.state != super::super::SegmentState::Hot)
            .collect();
        assert!(sealed.len() >= 2);
        let mut total = 0;
        for s in &sealed {
            total += write(s, a.path(), 1_000_000).unwrap();
        }
        assert_eq!(total, bytes(a.path()));
        let archived = super::super::SqliteStore::open(a.path(), Default::default()).unwrap();
        assert!(
            archived
                .segments()
                .iter()
                .all(|s| s.state == super::super::SegmentState::Compact)
        );
        let q = SearchQuery::parse("", 10_000).unwrap();
        let ids = |r: Vec<crate::store::StoredEvent>| {
            r.into_iter()
                .map(|e| (e.id, e.event.raw.to_vec()))
                .collect::<Vec<_>>()
        };
        let want: Vec<_> = ids(st.reader().search(&q).unwrap())
            .into_iter()
            .filter(|(id, _)| sealed.iter().any(|s| i64::from(s.id) == id >> 32))
            .collect();
        assert_eq!(ids(archived.reader().search(&q).unwrap()), want);
        // The same name again (a new store starting its ids again): a subdirectory.
        write(&sealed[0], a.path(), 2_000_000).unwrap();
        assert!(
            a.path()
                .join("2")
                .join(sealed[0].path.file_name().unwrap())
                .exists()
        );
        assert_eq!(files(a.path()).len(), sealed.len() + 1);
        // Over the cap: the oldest archived files go until it is met.
        let one = std::fs::metadata(&sealed[0].path).map_or(0, |m| m.len());
        let before = bytes(a.path());
        let n = trim(a.path(), before - 1).unwrap();
        assert_eq!(n, 1, "{one}");
        assert!(!a.path().join(sealed[0].path.file_name().unwrap()).exists());
        assert_eq!(trim(a.path(), 0).unwrap(), sealed.len());
        assert!(files(a.path()).is_empty());
        assert!(!a.path().join("2").exists());
        w.close().unwrap();
    }
}
