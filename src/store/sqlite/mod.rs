//! The SQLite backend: time-ordered segment files under `<data>/store/`.
//!
//! Why segments (see `docs/storage.md` for the measurements): SQLite keeps B-tree and FTS5
//! indexes up to date row by row, which caps a naive table near 32,000 rows/s on this class of
//! machine. Picket appends to a *hot* segment that has no secondary index (one B-tree append
//! per event), and when the segment is full or old enough it is *sealed*: a background thread
//! builds its indexes in bulk (one sort per index) and its full-text index from Picket's own
//! distinct tokens. Searches read indexed segments through their indexes and scan only the
//! hot and not-yet-indexed ones, which are bounded in size.
//!
//! One thread (`picket-store-writer`) owns the only read-write connection to the hot segment;
//! `picket-store-indexer` owns sealed ones while it indexes them; readers open read-only
//! connections with `query_only`.

mod aggregate;
pub mod alerts;
pub mod archive;
mod columns;
mod compact;
pub mod devices;
mod forget;
mod merge;
pub mod migrate;
mod queries;
mod registry;
pub mod retention;
mod segment;
pub mod sql;
mod stats;
pub mod users;
mod writer;

pub use forget::{ForgetOptions, ForgetReport};
pub use segment::{SegmentInfo, SegmentState};
pub use writer::SqliteWriter;

use super::{Error, EventReader, StoredEvent};
use crate::model::Checkpoint;
use crate::query::SearchQuery;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Settings of the SQLite store.
#[derive(Debug, Clone)]
pub struct Options {
    /// Seal the hot segment at this many events.
    pub segment_max_events: u64,
    /// Seal the hot segment when it is this old (and not empty).
    pub segment_max_age: Duration,
    /// The writer commits nothing while less than this is free on the store's file system
    /// (0: no check); what is left is for alerts, the outbox and the security log.
    pub reserve_bytes: u64,
    /// Rewrite sealed segments compressed (`compact.rs`); off keeps the row table and its
    /// B-tree indexes.
    pub compress: bool,
    /// Retention classes, first match wins: a compressed segment's events that a rule picks
    /// are kept in that class's own file (needs `compress`).
    pub classes: Vec<crate::store::retention::ClassRule>,
    /// The archive (`retention.archive_dir`), which forget-host reaches too.
    pub archive_dir: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            segment_max_events: 262_144,
            segment_max_age: Duration::from_secs(600),
            reserve_bytes: 0,
            compress: true,
            classes: Vec::new(),
            archive_dir: None,
        }
    }
}

/// The segments a store has, shared by its writer, indexer and readers.
pub type Catalog = Arc<RwLock<Vec<SegmentInfo>>>;

/// An opened store directory.
pub struct SqliteStore {
    dir: PathBuf,
    catalog: Catalog,
    options: Options,
    /// Held by the indexer while it writes a sealed segment and by retention while it removes
    /// one, so that neither opens a file the other is deleting.
    files: Arc<std::sync::Mutex<()>>,
}

impl SqliteStore {
    /// Opens (creating if needed) the store in `dir` and reads its segments' state.
    pub fn open(dir: &Path, options: Options) -> Result<Self, Error> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.display().to_string(),
            source,
        })?;
        let segments = segment::scan(dir, false)?;
        Ok(SqliteStore {
            dir: dir.to_path_buf(),
            catalog: Arc::new(RwLock::new(segments)),
            options,
            files: Arc::default(),
        })
    }

    /// Where the spool should resume: the checkpoint committed with the newest events.
    pub fn checkpoint(&self) -> Checkpoint {
        read_catalog(&self.catalog)
            .iter()
            .map(|s| s.checkpoint)
            .max()
            .unwrap_or_default()
    }

    /// The writer (with its indexer thread). Only one may exist per directory.
    pub fn writer(
        &self,
        listener_names: Vec<String>,
        metrics: Arc<crate::telemetry::Metrics>,
    ) -> Result<SqliteWriter, Error> {
        // The writing process settles what a crash left behind, and starts from what is left.
        retention::remove_strays(&self.dir);
        let settled = segment::scan(&self.dir, true)?;
        *self.catalog.write().unwrap_or_else(|e| e.into_inner()) = settled;
        SqliteWriter::open(
            &self.dir,
            self.catalog.clone(),
            self.options.clone(),
            self.files.clone(),
            listener_names,
            metrics,
        )
    }

    /// Applies the retention policy once (see `retention.rs`): removes whole segments, oldest
    /// first, calling `before_remove` for each first (it returns the alert evidence events it
    /// kept). `extra_bytes` is what else `max_bytes` counts.
    pub fn apply_retention(
        &self,
        policy: &crate::store::retention::Policy,
        extra_bytes: u64,
        space: impl Fn() -> Option<crate::disk::Space>,
        now_us: i64,
        before_remove: impl FnMut(&SegmentInfo) -> Result<u64, Error>,
    ) -> Result<retention::RunReport, Error> {
        retention::apply(
            &self.dir,
            &self.catalog,
            &self.files,
            policy,
            extra_bytes,
            space,
            now_us,
            before_remove,
        )
    }

    /// What the next retention pass would remove, without removing anything.
    pub fn retention_dry_run(
        &self,
        policy: &crate::store::retention::Policy,
        extra_bytes: u64,
        space: Option<crate::disk::Space>,
        now_us: i64,
    ) -> Vec<retention::Removed> {
        let snapshot = self.segments();
        let (planned, _) =
            retention::plan(&snapshot, policy, extra_bytes, &self.dir, space, now_us);
        planned.into_iter().map(|(r, _)| r).collect()
    }

    /// Bytes of the store directory.
    pub fn bytes(&self) -> u64 {
        retention::dir_bytes(&self.dir)
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Waits (bounded) until no sealed segment is waiting for its indexes; true if none is.
    /// For tests, benchmarks and the generator.
    pub fn wait_indexed(&self, max: Duration) -> bool {
        let deadline = std::time::Instant::now() + max;
        loop {
            if read_catalog(&self.catalog)
                .iter()
                .all(|s| s.state != SegmentState::Sealed)
            {
                return true;
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The segments as the store sees them now.
    pub fn segments(&self) -> Vec<SegmentInfo> {
        read_catalog(&self.catalog)
    }

    /// Deletes every event whose sender address or host name is `host`, and its registry
    /// entry, in small batches that let a running collector go on storing (see `forget.rs`).
    pub fn forget_host(
        &self,
        host: &str,
        opts: &ForgetOptions,
        progress: impl FnMut(u64),
    ) -> Result<ForgetReport, Error> {
        let mut r = forget::forget(&self.dir, &self.segments(), host, opts, progress)?;
        if let Some(a) = &self.options.archive_dir {
            r.archived = forget::forget_archive(a, host)?;
        }
        Ok(r)
    }

    /// A reader sharing this store's view of its segments.
    pub fn reader(&self) -> SqliteReader {
        SqliteReader {
            catalog: self.catalog.clone(),
            dir: self.dir.clone(),
            archive: self.options.archive_dir.clone(),
        }
    }
}

/// Read access: searches across segments.
#[derive(Clone)]
pub struct SqliteReader {
    catalog: Catalog,
    dir: PathBuf,
    archive: Option<PathBuf>,
}

impl EventReader for SqliteReader {
    fn search(&self, query: &SearchQuery) -> Result<Vec<StoredEvent>, Error> {
        queries::search(&read_catalog(&self.catalog), query)
    }

    fn senders(&self, days: i64) -> Result<Vec<crate::store::SenderInfo>, Error> {
        registry::list(&self.dir, days)
    }

    fn get(&self, id: i64) -> Result<Option<StoredEvent>, Error> {
        queries::get(&read_catalog(&self.catalog), id)
    }

    fn get_many(&self, ids: &[i64]) -> Result<Vec<StoredEvent>, Error> {
        queries::get_many(&read_catalog(&self.catalog), ids)
    }

    fn received_since(&self, since: i64, limit: usize) -> Result<Vec<StoredEvent>, Error> {
        queries::received_since(&read_catalog(&self.catalog), since, limit)
    }

    fn activity(&self, since: i64, top: usize) -> Result<crate::store::Activity, Error> {
        stats::activity(&self.dir, since, top)
    }

    fn aggregate(
        &self,
        query: &SearchQuery,
        agg: &crate::store::aggregate::Aggregation,
    ) -> Result<crate::store::aggregate::AggResult, Error> {
        aggregate::aggregate(&read_catalog(&self.catalog), query, agg)
    }

    fn histogram(&self, query: &SearchQuery, bucket_us: i64) -> Result<Vec<(i64, u64)>, Error> {
        aggregate::histogram(&read_catalog(&self.catalog), query, bucket_us)
    }

    fn forget(&self, host: &str) -> Result<(u64, usize), Error> {
        let r = forget::forget(
            &self.dir,
            &read_catalog(&self.catalog),
            host,
            &ForgetOptions::default(),
            |_| {},
        )?;
        let archived = match &self.archive {
            Some(a) => forget::forget_archive(a, host)?,
            None => 0,
        };
        Ok((r.events + archived, r.senders))
    }

    fn count(&self) -> Result<u64, Error> {
        Ok(read_catalog(&self.catalog).iter().map(|s| s.rows).sum())
    }
}

fn read_catalog(c: &Catalog) -> Vec<SegmentInfo> {
    match c.read() {
        Ok(g) => g.clone(),
        Err(e) => e.into_inner().clone(),
    }
}

/// The file that holds the registry of senders, the overview's counters and the retention run
/// log (`registry.rs`, `stats.rs`, `retention.rs` share it).
fn registry_path(dir: &Path) -> PathBuf {
    dir.join("registry.db")
}

fn db_err(path: &Path) -> impl Fn(rusqlite::Error) -> Error + '_ {
    move |source| Error::Db {
        path: path.display().to_string(),
        source: Box::new(source),
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod compact_tests;
