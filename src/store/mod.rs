//! The event store behind narrow traits, so a PostgreSQL backend can follow the SQLite one.
//!
//! Only model types cross these traits. The batching loop ([`run_writer`]) is the same for any
//! backend: it blocks for the first batch, keeps taking batches until the batch is full or a
//! deadline set by its first item passes, writes them in one transaction together with the
//! spool checkpoint, and flushes the rest when its input closes (Vector's batcher).

pub mod aggregate;
pub mod alerts;
pub mod devices;
pub mod retention;
pub mod sqlite;
pub mod users;

use crate::model::{Checkpoint, Event};
use crate::query::SearchQuery;
use crate::telemetry::Metrics;
use std::sync::Arc;
use std::sync::atomic::Ordering::{self};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};

/// A backend's own error (SQLite's, PostgreSQL's), kept as the cause without naming its crate.
pub type BackendError = Box<dyn std::error::Error + Send + Sync>;

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database reported an error.
    #[error("database {path}: {source}")]
    Db {
        /// The database file.
        path: String,
        /// The backend's own error.
        source: BackendError,
    },
    /// A file or directory of the store could not be used.
    #[error("store I/O on {path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The requested item does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The file system has less free space than the store keeps in reserve: nothing was
    /// written; the batch is retried once space returns.
    #[error("the disk is full: {free} bytes free, {reserve} kept in reserve")]
    DiskFull {
        /// Bytes free.
        free: u64,
        /// Bytes the writer leaves free.
        reserve: u64,
    },
    /// Copying alert evidence out of a segment before its removal failed (the segment stays).
    #[error("keeping alert evidence: {0}")]
    Evidence(String),
    /// The store was written by a newer Picket.
    #[error(
        "database {path} has schema version {found}, newer than this Picket knows ({known}); refusing to downgrade"
    )]
    TooNew {
        /// The database file.
        path: String,
        /// Its version.
        found: i64,
        /// The newest this build knows.
        known: i64,
    },
}

/// A stored event with its id.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    /// The event's stable id.
    pub id: i64,
    /// The listener's name when it was stored.
    pub listener: String,
    /// The event.
    pub event: Event,
}

/// The write side.
pub trait EventWriter: Send {
    /// Writes the events of every part, in order, and the spool checkpoint after the last of
    /// them, in one transaction. Returns the id of the first event; the others follow it
    /// consecutively (0 when there were none).
    fn write_parts(&mut self, parts: &[&[Event]], checkpoint: Checkpoint) -> Result<i64, Error>;
    /// Writes events and the spool checkpoint after the last of them, in one transaction.
    fn write_batch(&mut self, events: &[Event], checkpoint: Checkpoint) -> Result<i64, Error> {
        self.write_parts(&[events], checkpoint)
    }
    /// Periodic housekeeping while idle (sealing a segment that reached its age).
    fn maintain(&mut self) -> Result<(), Error>;
    /// Flushes and closes.
    fn close(self: Box<Self>) -> Result<(), Error>;
}

/// One sender in the registry.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SenderInfo {
    /// Its address (`observer.ip`).
    pub sender: String,
    /// First event received, microseconds since the epoch.
    pub first_seen: i64,
    /// Last event received.
    pub last_seen: i64,
    /// Events received in all.
    pub events: i64,
    /// The listener it last used.
    pub listener: Option<String>,
    /// The body parser that last matched its messages (`none` if none ever did).
    pub parser: Option<String>,
    /// The dataset of those messages.
    pub dataset: Option<String>,
    /// The host name its messages last carried.
    pub host: Option<String>,
    /// (day since 1970-01-01, events) for the recent days requested.
    pub per_day: Vec<(i64, i64)>,
}

/// One of the heaviest values of a kind (sender, source address, action) over a period.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Top {
    /// The value.
    pub value: String,
    /// Events with it.
    pub events: i64,
    /// For source addresses, the country (ISO code) when known.
    pub extra: Option<String>,
}

/// What arrived over a period, from the pre-aggregated counters.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Activity {
    /// (minute start in microseconds, severity 0..7 or 8 for none, events), oldest first.
    pub per_minute: Vec<(i64, u8, i64)>,
    /// The busiest senders.
    pub senders: Vec<Top>,
    /// The most frequent source addresses.
    pub source_ips: Vec<Top>,
    /// The most frequent actions (`event.action`).
    pub actions: Vec<Top>,
}

/// The read side.
pub trait EventReader: Send + Sync {
    /// Events received since `since` (microseconds), per minute by severity, and the `top`
    /// heaviest senders, source addresses and actions, from pre-aggregated counters (they
    /// trail ingest by a few seconds).
    fn activity(&self, since: i64, top: usize) -> Result<Activity, Error>;
    /// Matches of the query (its time range, cursor and limit ignored but for the range)
    /// per `bucket_us` of `@timestamp`: (bucket start, events), oldest first.
    fn histogram(&self, query: &SearchQuery, bucket_us: i64) -> Result<Vec<(i64, u64)>, Error>;
    /// An exact aggregation of the query's matches within its time range (see `aggregate.rs`).
    fn aggregate(
        &self,
        query: &SearchQuery,
        agg: &aggregate::Aggregation,
    ) -> Result<aggregate::AggResult, Error>;
    /// Events matching the query, newest `@timestamp` first.
    fn search(&self, query: &SearchQuery) -> Result<Vec<StoredEvent>, Error>;
    /// Number of events stored.
    fn count(&self) -> Result<u64, Error>;
    /// Every sender seen, most recently seen first, with events per day for the last `days`.
    fn senders(&self, days: i64) -> Result<Vec<SenderInfo>, Error>;
    /// One event by its id.
    fn get(&self, id: i64) -> Result<Option<StoredEvent>, Error>;
    /// The events of these ids that exist, in no particular order (one pass per segment and
    /// block, where `get` for each would open and decode them again and again).
    fn get_many(&self, ids: &[i64]) -> Result<Vec<StoredEvent>, Error> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.extend(self.get(*id)?);
        }
        Ok(out)
    }
    /// Events received at or after `since` (`event.ingested`), oldest first, the newest
    /// `limit` of them (the rules replay their windows from this after a restart).
    fn received_since(&self, since: i64, limit: usize) -> Result<Vec<StoredEvent>, Error>;
    /// Deletes every event of a sender (address or host name) and its registry entry, in
    /// small transactions beside the running writer; returns (events, senders) removed.
    fn forget(&self, host: &str) -> Result<(u64, usize), Error>;
}

/// Writes one batch, retrying while it fails (see [`run_writer`]).
fn commit(
    writer: &mut dyn EventWriter,
    parts: &[&[Event]],
    checkpoint: Checkpoint,
    metrics: &Metrics,
    stop: &std::sync::atomic::AtomicBool,
) -> Result<i64, Error> {
    static LIMIT: crate::telemetry::events::RateLimit =
        crate::telemetry::events::RateLimit::new(10);
    let mut pause = Duration::from_millis(50);
    let mut tries_after_stop = 0;
    loop {
        match writer.write_parts(parts, checkpoint) {
            Ok(id) => {
                if metrics.store_failing.set(false) {
                    tracing::info!("The store writes again.");
                }
                return Ok(id);
            }
            Err(e) => {
                metrics.store_write_errors.inc_by(1);
                metrics.store_failing.set(true);
                if let Some(more) = LIMIT.occurred() {
                    tracing::error!(error = %e, suppressed = more, "Could not store a batch; it stays in the spool and is tried again.");
                }
                if stop.load(Ordering::Relaxed) {
                    tries_after_stop += 1;
                    if tries_after_stop > 3 {
                        return Err(e);
                    }
                }
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_secs(5));
                // Keep the writer's idle duties (sealing, counters) going meanwhile.
                let _ignored = writer.maintain();
            }
        }
    }
}

/// A batch of parsed events and the spool checkpoint after the last one.
#[derive(Debug, Default)]
pub struct EventBatch {
    /// The events.
    pub events: Vec<Event>,
    /// Where the spool is once these are stored.
    pub checkpoint: Checkpoint,
    /// Spool bytes these events took (for the backlog gauge).
    pub spool_bytes: u64,
}

/// When a write batch closes.
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    /// Close the batch at this many events.
    pub max_events: usize,
    /// Close the batch this long after its first event arrived.
    pub max_wait: Duration,
}

/// Events just stored, with the id of the first (the rest follow consecutively): what the
/// rules thread reads.
pub struct StoredBatch {
    /// The events.
    pub events: Vec<Event>,
    /// The store id of `events[0]`.
    pub first_id: i64,
}

/// The writer thread's loop: batches by count and time, writes, reports each commit.
/// Returns when `rx` closes, after writing everything it received.
///
/// Written events go back through `recycle` when it has room: the thread that built them
/// frees them (cheaper in its own allocator arena) and reuses the vector, and the writer, the
/// pipeline's busiest stage, spends its time writing.
///
/// A batch that cannot be committed (a full disk, a dead database) is retried with a growing
/// pause, up to 5 s, for as long as it takes: the writer takes no more batches meanwhile, so the
/// spool holds the backlog and, once it cannot grow, TCP senders wait. Once `stop` is set (the
/// collector is shutting down), it gives up after three more tries and returns the error; the
/// events stay in the spool for the next start.
#[allow(clippy::too_many_arguments)]
pub fn run_writer(
    mut writer: Box<dyn EventWriter>,
    rx: Receiver<EventBatch>,
    recycle: Option<SyncSender<Vec<Event>>>,
    stored: Option<SyncSender<StoredBatch>>,
    limits: BatchLimits,
    metrics: Arc<Metrics>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    mut on_commit: impl FnMut(Checkpoint, u64),
) -> Result<(), Error> {
    // The batches as received: merged by reference, never moved event by event.
    let mut pending: Vec<Vec<Event>> = Vec::new();
    let tick = Duration::from_secs(1);
    loop {
        let first = match rx.recv_timeout(tick) {
            Ok(b) => b,
            Err(RecvTimeoutError::Timeout) => {
                if let Err(e) = writer.maintain() {
                    static LIMIT: crate::telemetry::events::RateLimit =
                        crate::telemetry::events::RateLimit::new(10);
                    if let Some(more) = LIMIT.occurred() {
                        tracing::error!(error = %e, suppressed = more, "Store housekeeping failed; tried again shortly.");
                    }
                }
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let deadline = Instant::now() + limits.max_wait;
        let mut checkpoint = first.checkpoint;
        let mut spool_bytes = first.spool_bytes;
        let mut count = first.events.len();
        pending.push(first.events);
        let mut closed = false;
        while count < limits.max_events {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            match rx.recv_timeout(deadline - now) {
                Ok(b) => {
                    checkpoint = b.checkpoint;
                    spool_bytes += b.spool_bytes;
                    count += b.events.len();
                    pending.push(b.events);
                }
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => {
                    closed = true;
                    break;
                }
            }
        }
        let started = Instant::now();
        let parts: Vec<&[Event]> = pending.iter().map(Vec::as_slice).collect();
        let mut next_id = commit(&mut *writer, &parts, checkpoint, &metrics, &stop)?;
        metrics
            .batch_seconds
            .observe(started.elapsed().as_secs_f64());
        metrics.stored.inc_by(count as u64);
        on_commit(checkpoint, spool_bytes);
        for done in pending.drain(..) {
            let first_id = next_id;
            next_id += done.len() as i64;
            match &stored {
                // The rules see each batch after it is stored, with the events' ids. A full
                // queue means the rules fall behind: the batch skips them, counted.
                Some(rules) => {
                    use std::sync::mpsc::TrySendError;
                    let batch = StoredBatch {
                        events: done,
                        first_id,
                    };
                    let back_to_parse = match rules.try_send(batch) {
                        Ok(()) => None,
                        Err(TrySendError::Full(b)) => {
                            metrics.rules_dropped.inc_by(b.events.len() as u64);
                            Some(b.events)
                        }
                        Err(TrySendError::Disconnected(b)) => Some(b.events),
                    };
                    if let (Some(back), Some(events)) = (&recycle, back_to_parse) {
                        let _unsent = back.try_send(events);
                    }
                }
                None => {
                    if let Some(back) = &recycle {
                        // Full or gone: this thread frees them after all.
                        let _unsent = back.try_send(done);
                    }
                }
            }
        }
        if closed {
            break;
        }
    }
    writer.close()
}
