//! Merging small segments: a quiet sender seals a segment every `segment_max_age` (10 min) with
//! a few events in it, which would leave thousands of tiny files a month. The indexer thread,
//! when ingest is idle, merges runs of small compressed files of one class into one file (see
//! `compact::merge`), so a store keeps a few files a day however quiet it is.
//!
//! What is merged:
//! - compressed files of the same class (bulk, audit or an override), adjacent in id order;
//! - each "small": fewer than half of `segment_max_events` events;
//! - only once a run has [`MIN_RUN`] of them, so an event is rewritten a few times at most;
//! - at most `segment_max_events` events and [`MAX_SPAN_US`] of `@timestamp` in one file, so
//!   retention still removes old data in slices of at most a day;
//! - never across a segment not yet split by class (its class events are not placed yet).
//!
//! The merged file is named after the first and last segment it covers and stores full event
//! ids, so ids, alert links and cursors keep working. It is written and renamed first; the
//! catalog then swaps the files; the sources are unlinked last. A crash in between leaves both,
//! and the next start removes the sources the merged file covers.

use super::compact::{self, MergeSource};
use super::segment::{self, SegmentInfo, SegmentState};
use super::{Catalog, read_catalog};
use crate::store::Error;
use std::path::Path;

/// Small files a run needs before it is merged.
pub const MIN_RUN: usize = 8;
/// Most `@timestamp` span of one merged file: a day.
pub const MAX_SPAN_US: i64 = 86_400_000_000;

/// The next files to merge (oldest first, one class), if any.
pub fn next(catalog: &[SegmentInfo], max_events: u64) -> Option<Vec<SegmentInfo>> {
    // Segments whose events are not placed in their class files yet, and the hot one.
    let unsettled: Vec<u32> = catalog
        .iter()
        .filter(|s| s.class.is_empty() && s.state != SegmentState::Compact)
        .map(|s| s.id)
        .collect();
    let mut classes: Vec<&str> = catalog.iter().map(|s| s.class.as_str()).collect();
    classes.sort_unstable();
    classes.dedup();
    let small = |s: &SegmentInfo| s.state == SegmentState::Compact && s.rows < max_events / 2;
    for class in classes {
        let mut run: Vec<&SegmentInfo> = Vec::new();
        for s in catalog.iter().filter(|s| s.class == class) {
            let joins = small(s)
                && run
                    .last()
                    .is_none_or(|prev| !unsettled.iter().any(|u| prev.id <= *u && *u <= s.last));
            if !joins {
                if let Some(m) = pick(&run, max_events) {
                    return Some(m);
                }
                run.clear();
                if !small(s) {
                    continue;
                }
            }
            run.push(s);
        }
        if let Some(m) = pick(&run, max_events) {
            return Some(m);
        }
    }
    None
}

/// From a run of small files, the first stretch that fits one merged file, once the run is
/// long enough.
fn pick(run: &[&SegmentInfo], max_events: u64) -> Option<Vec<SegmentInfo>> {
    if run.len() < MIN_RUN {
        return None;
    }
    for start in 0..run.len() - 1 {
        let (mut rows, mut lo, mut hi) = (0u64, i64::MAX, i64::MIN);
        let mut take = Vec::new();
        for s in &run[start..] {
            let (l, h) = if s.rows > 0 {
                (lo.min(s.min_ts), hi.max(s.max_ts))
            } else {
                (lo, hi)
            };
            if rows + s.rows > max_events || (h > l && h - l > MAX_SPAN_US) {
                break;
            }
            rows += s.rows;
            (lo, hi) = (l, h);
            take.push((*s).clone());
        }
        if take.len() >= 2 {
            return Some(take);
        }
    }
    None
}

/// Merges the next run, if there is one; true when it merged something. `files` is the lock
/// the indexer and retention hold while they write or remove segment files.
pub fn run(
    dir: &Path,
    catalog: &Catalog,
    files: &std::sync::Mutex<()>,
    max_events: u64,
) -> Result<bool, Error> {
    // Planned under the lock the indexer holds while it compacts and lists a segment's files,
    // so the plan sees every file of each segment it spans.
    let _held = files.lock().unwrap_or_else(|e| e.into_inner());
    let now = read_catalog(catalog);
    let Some(plan) = next(&now, max_events) else {
        return Ok(false);
    };
    let (Some(first), Some(last)) = (plan.first(), plan.last()) else {
        return Ok(false);
    };
    let class = first.class.clone();
    // Every file of the class in the range is in the plan, and no file of the range is on disk
    // but missing from the catalog (one the indexer could not read back): the merged file will
    // cover the range, and the files it covers are removed at the next start.
    let in_range = |s: &SegmentInfo| s.class == class && s.id >= first.id && s.last <= last.last;
    if now
        .iter()
        .filter(|s| in_range(s))
        .any(|s| !plan.iter().any(|p| p.path == s.path))
    {
        return Ok(false);
    }
    for id in first.id..=last.last {
        let p = segment::class_path(dir, id, &class);
        if p.exists() && !plan.iter().any(|x| x.path == p) {
            return Ok(false);
        }
    }
    let out = segment::merged_path(dir, first.id, last.last, &class);
    let srcs: Vec<MergeSource<'_>> = plan
        .iter()
        .map(|s| MergeSource {
            path: &s.path,
            segment: s.id,
            full_ids: s.merged(),
        })
        .collect();
    compact::merge(&srcs, &out, &class, last.last)?;
    let info = segment::open_read_only(&out)
        .and_then(|c| segment::read_info(&c, first.id, &class, &out))?;
    {
        let mut g = catalog.write().unwrap_or_else(|e| e.into_inner());
        g.retain(|s| !plan.iter().any(|p| p.path == s.path));
        g.push(info);
        g.sort_by(|a, b| (a.id, &a.class).cmp(&(b.id, &b.class)));
    }
    for p in &plan {
        super::retention::remove_files(&p.path)?;
    }
    tracing::debug!(
        files = plan.len(),
        first = first.id,
        last = last.last,
        class = %class,
        "Merged small segments."
    );
    Ok(true)
}
