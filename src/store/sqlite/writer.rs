//! The write side: appends to the hot segment, seals it, and indexes sealed segments on a
//! background thread.

use super::columns::{self, PROMOTED};
use super::segment::{self, INDEXES, SegmentInfo, SegmentState};
use super::{Catalog, Options, db_err};
use crate::model::{Checkpoint, Event, FieldValue, MessageText, fields as f};
use crate::query::tokens;
use crate::store::{Error, EventWriter};
use crate::telemetry::Metrics;
use rusqlite::{Connection, params};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

/// Owns the hot segment's read-write connection.
pub struct SqliteWriter {
    dir: PathBuf,
    catalog: Catalog,
    options: Options,
    listener_names: Vec<String>,
    conn: Connection,
    seg: SegmentInfo,
    opened: Instant,
    indexer: Option<Indexer>,
    json: String,
    /// The registry of senders.
    registry: super::registry::Registry,
    metrics: Arc<Metrics>,
    /// The INSERT statement (built once from the column table).
    insert_sql: String,
    /// Free space on the store's file system.
    disk: crate::disk::Watch,
    /// The connections' caches were given back since the last write (see `maintain`).
    released: bool,
}

/// A batch this large means ingest is under load: the indexer then waits, so that a burst is
/// stored at full speed and indexed once it has passed.
const BUSY_BATCH: usize = 5000;
/// Sealed segments the indexer may leave waiting while ingest is busy; past this it indexes
/// regardless, so that searches never scan more than this many unindexed segments.
const MAX_DEFERRED: usize = 8;

struct Indexer {
    tx: SyncSender<u32>,
    busy: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    interrupt: Arc<Mutex<Option<rusqlite::InterruptHandle>>>,
    thread: JoinHandle<()>,
}

impl SqliteWriter {
    pub(super) fn open(
        dir: &Path,
        catalog: Catalog,
        options: Options,
        files: Arc<Mutex<()>>,
        listener_names: Vec<String>,
        metrics: Arc<Metrics>,
    ) -> Result<Self, Error> {
        let snapshot = super::read_catalog(&catalog);
        let checkpoint = snapshot
            .iter()
            .map(|s| s.checkpoint)
            .max()
            .unwrap_or_default();
        // Continue the newest segment if it is still hot, else start the next one.
        // The newest segment id in use, merged files included.
        let newest = snapshot.iter().map(|s| s.last).max();
        let hot = snapshot
            .iter()
            .any(|s| s.class.is_empty() && s.state == SegmentState::Hot && Some(s.last) == newest);
        let (conn, seg) = match newest {
            Some(id) if hot => segment::create(dir, id, checkpoint)?,
            Some(id) => segment::create(dir, id + 1, checkpoint)?,
            None => segment::create(dir, 1, checkpoint)?,
        };
        upsert(&catalog, seg.clone());
        let compress = options.compress;
        let indexer = Indexer::spawn(
            dir.to_path_buf(),
            catalog.clone(),
            files,
            metrics.clone(),
            options.clone(),
        )?;
        // Segments a previous run left sealed, and, once compression is on, those an older
        // Picket indexed without it.
        let todo = |s: &&SegmentInfo| {
            s.class.is_empty()
                && (s.state == SegmentState::Sealed
                    || (compress && s.state == SegmentState::Indexed))
        };
        for s in snapshot.iter().filter(todo) {
            // A full queue only delays indexing to the next start.
            if indexer.tx.try_send(s.id).is_err() {
                tracing::debug!(
                    segment = s.id,
                    "Index queue full; indexing this segment at next start."
                );
            }
        }
        Ok(SqliteWriter {
            dir: dir.to_path_buf(),
            catalog,
            options,
            listener_names,
            conn,
            seg,
            opened: Instant::now(),
            indexer: Some(indexer),
            json: String::new(),
            registry: super::registry::Registry::open(dir)?,
            metrics,
            insert_sql: columns::insert_sql(),
            disk: crate::disk::Watch::new(dir),
            released: false,
        })
    }

    /// Seals, logging (rate-limited) instead of failing: the segment then stays hot a while
    /// longer, which costs nothing but a larger scan.
    fn try_seal(&mut self) {
        if let Err(e) = self.seal() {
            static LIMIT: crate::telemetry::events::RateLimit =
                crate::telemetry::events::RateLimit::new(10);
            if let Some(more) = LIMIT.occurred() {
                tracing::error!(error = %e, suppressed = more, "Could not seal the hot segment; it stays hot and sealing is tried again.");
            }
        }
    }

    /// Seals the hot segment, hands it to the indexer and starts the next one. The next file is
    /// created first, so a failure leaves everything as it was.
    fn seal(&mut self) -> Result<(), Error> {
        let p = self.seg.path.clone();
        let (conn, next) = segment::create(&self.dir, self.seg.id + 1, self.seg.checkpoint)?;
        if let Err(e) = segment::set_state(&self.conn, &p, SegmentState::Sealed) {
            // Not sealed after all: the new file goes again (it holds nothing yet).
            drop(conn);
            for f in [
                next.path.clone(),
                PathBuf::from(format!("{}-wal", next.path.display())),
            ] {
                std::fs::remove_file(&f).unwrap_or(());
            }
            return Err(e);
        }
        let old = std::mem::replace(&mut self.conn, conn);
        drop(old);
        let mut sealed = std::mem::replace(&mut self.seg, next.clone());
        sealed.state = SegmentState::Sealed;
        let id = sealed.id;
        upsert(&self.catalog, sealed);
        upsert(&self.catalog, next);
        self.opened = Instant::now();
        if let Some(ix) = &self.indexer {
            // The queue is large; if it were ever full the segment is indexed at next start.
            if ix.tx.try_send(id).is_err() {
                tracing::debug!(
                    segment = id,
                    "Index queue full; indexing this segment at next start."
                );
            }
        }
        Ok(())
    }
}

impl EventWriter for SqliteWriter {
    fn write_parts(&mut self, parts: &[&[Event]], checkpoint: Checkpoint) -> Result<i64, Error> {
        let count: usize = parts.iter().map(|p| p.len()).sum();
        self.released = false;
        if self.options.reserve_bytes > 0 {
            if let Some(space) = self.disk.get() {
                if space.free < self.options.reserve_bytes {
                    return Err(Error::DiskFull {
                        free: space.free,
                        reserve: self.options.reserve_bytes,
                    });
                }
            }
        }
        let p = self.seg.path.clone();
        let e = db_err(&p);
        let tx = self.conn.transaction().map_err(&e)?;
        let (mut min_ts, mut max_ts) = (self.seg.min_ts, self.seg.max_ts);
        let mut disorder = self.seg.disorder;
        let first_id;
        {
            let mut stmt = tx.prepare_cached(&self.insert_sql).map_err(&e)?;
            let mut sender = String::with_capacity(48);
            for ev in parts.iter().flat_map(|p| p.iter()) {
                use std::fmt::Write as _;
                sender.clear();
                write!(sender, "{}", ev.peer.ip()).unwrap_or(());
                let (msg_off, message): (Option<i64>, Option<&str>) = match &ev.message {
                    MessageText::RawSuffix(off) => (Some(*off as i64), None),
                    MessageText::Owned(s) => (None, Some(s.as_str())),
                };
                let mut source_ip = None;
                let mut destination_ip = None;
                let mut promoted: [Option<&FieldValue>; PROMOTED.len()] = [None; PROMOTED.len()];
                // The other fields as one JSON object, written straight into a reused buffer
                // (a map per event cost more than the insert itself).
                self.json.clear();
                for (k, v) in &ev.fields {
                    match k.as_ref() {
                        f::SOURCE_IP => source_ip = Some(v.as_text()),
                        f::DESTINATION_IP => destination_ip = Some(v.as_text()),
                        name => {
                            if let Some(slot) = columns::slot_for(name, v)
                                .and_then(|i| promoted.get_mut(i))
                                .filter(|s| s.is_none())
                            {
                                *slot = Some(v);
                                continue;
                            }
                            self.json.push(if self.json.is_empty() { '{' } else { ',' });
                            json_str(&mut self.json, name);
                            self.json.push(':');
                            match v {
                                FieldValue::Str(s) => json_str(&mut self.json, s),
                                FieldValue::Int(n) => {
                                    self.json.push_str(itoa::Buffer::new().format(*n))
                                }
                                FieldValue::Bool(b) => {
                                    self.json.push_str(if *b { "true" } else { "false" })
                                }
                            }
                        }
                    }
                }
                if let Some(orig) = ev.clamped_from {
                    self.json.push(if self.json.is_empty() { '{' } else { ',' });
                    json_str(&mut self.json, f::PICKET_CLAMPED_TIMESTAMP);
                    self.json.push(':');
                    self.json.push_str(itoa::Buffer::new().format(orig));
                }
                if !self.json.is_empty() {
                    self.json.push('}');
                }
                let fields = (!self.json.is_empty()).then_some(self.json.as_str());
                let flags = i64::from(ev.truncated)
                    | (i64::from(ev.invalid_utf8) << 1)
                    | (i64::from(ev.clamped_from.is_some()) << 2);
                let listener = self
                    .listener_names
                    .get(usize::from(ev.listener))
                    .map_or("unknown", String::as_str);
                // Bound one by one (a `params!` slice goes through `dyn ToSql` per value).
                let bind = |stmt: &mut rusqlite::CachedStatement<'_>| -> rusqlite::Result<()> {
                    stmt.raw_bind_parameter(1, ev.timestamp)?;
                    stmt.raw_bind_parameter(2, ev.ingested)?;
                    stmt.raw_bind_parameter(3, sender.as_str())?;
                    stmt.raw_bind_parameter(4, ev.peer.port())?;
                    stmt.raw_bind_parameter(5, listener)?;
                    stmt.raw_bind_parameter(6, ev.transport.as_str())?;
                    stmt.raw_bind_parameter(7, ev.facility)?;
                    stmt.raw_bind_parameter(8, ev.severity)?;
                    stmt.raw_bind_parameter(9, ev.host.as_deref())?;
                    stmt.raw_bind_parameter(10, ev.app.as_deref())?;
                    stmt.raw_bind_parameter(11, ev.pid.as_deref())?;
                    stmt.raw_bind_parameter(12, ev.msgid.as_deref())?;
                    stmt.raw_bind_parameter(13, ev.dataset.as_ref())?;
                    stmt.raw_bind_parameter(14, ev.parser)?;
                    stmt.raw_bind_parameter(15, source_ip.as_deref())?;
                    stmt.raw_bind_parameter(16, destination_ip.as_deref())?;
                    stmt.raw_bind_parameter(17, msg_off)?;
                    stmt.raw_bind_parameter(18, message)?;
                    stmt.raw_bind_parameter(19, fields)?;
                    stmt.raw_bind_parameter(20, flags)?;
                    stmt.raw_bind_parameter(21, ev.raw.as_ref())?;
                    for (i, v) in promoted.iter().enumerate() {
                        let at = columns::BASE.len() + 1 + i;
                        match v {
                            Some(FieldValue::Int(n)) => stmt.raw_bind_parameter(at, *n)?,
                            Some(FieldValue::Str(s)) => stmt.raw_bind_parameter(at, s.as_str())?,
                            _ => stmt.raw_bind_parameter(at, rusqlite::types::Null)?,
                        }
                    }
                    stmt.raw_execute().map(|_| ())
                };
                bind(&mut stmt).map_err(&e)?;
                min_ts = min_ts.min(ev.timestamp);
                max_ts = max_ts.max(ev.timestamp);
                disorder = disorder.max(max_ts.saturating_sub(ev.timestamp));
            }
            // One writer, one transaction: the rowids of this batch are consecutive.
            first_id = if count > 0 {
                (i64::from(self.seg.id) << 32) | (tx.last_insert_rowid() - count as i64 + 1)
            } else {
                0
            };
            let rows = self.seg.rows + count as u64;
            let mut put = tx
                .prepare_cached("INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)")
                .map_err(&e)?;
            put.execute(params!["spool_file", checkpoint.file as i64])
                .map_err(&e)?;
            put.execute(params!["spool_offset", checkpoint.offset as i64])
                .map_err(&e)?;
            if count > 0 {
                put.execute(params!["min_ts", min_ts]).map_err(&e)?;
                put.execute(params!["max_ts", max_ts]).map_err(&e)?;
                put.execute(params!["disorder", disorder]).map_err(&e)?;
                put.execute(params!["rows", rows as i64]).map_err(&e)?;
            }
        }
        tx.commit().map_err(&e)?;
        // The registry follows the events (a crash between the two loses only statistics).
        // Its failure (a full disk) is logged, never returned: the events are committed and a
        // retry of the batch would store them twice.
        let names = &self.listener_names;
        if let Err(e) = self
            .registry
            .record(parts.iter().flat_map(|p| p.iter()), |i| {
                names.get(usize::from(i)).map_or("unknown", String::as_str)
            })
        {
            static LIMIT: crate::telemetry::events::RateLimit =
                crate::telemetry::events::RateLimit::new(10);
            if let Some(more) = LIMIT.occurred() {
                tracing::error!(error = %e, suppressed = more, "Could not update the sender registry; its statistics miss this batch.");
            }
        }
        crate::telemetry::count_up_to(&self.metrics.stats_overflow, self.registry.stats_overflow());
        if let Some(ix) = &self.indexer {
            ix.busy.store(count >= BUSY_BATCH, Relaxed);
        }
        self.seg.rows += count as u64;
        if count > 0 {
            self.seg.min_ts = min_ts;
            self.seg.max_ts = max_ts;
            self.seg.disorder = disorder;
        }
        self.seg.checkpoint = checkpoint;
        upsert(&self.catalog, self.seg.clone());
        if self.seg.rows >= self.options.segment_max_events {
            // A failure (no room for the next file) leaves this segment hot; sealing is tried
            // again after the next batch or while idle.
            self.try_seal();
        }
        Ok(first_id)
    }

    fn maintain(&mut self) -> Result<(), Error> {
        // Called when no events came for a while: ingest is idle.
        if let Some(ix) = &self.indexer {
            ix.busy.store(false, Relaxed);
        }
        if let Err(e) = self.registry.maintain() {
            static LIMIT: crate::telemetry::events::RateLimit =
                crate::telemetry::events::RateLimit::new(10);
            if let Some(more) = LIMIT.occurred() {
                tracing::error!(error = %e, suppressed = more, "Could not fold the overview counters in; tried again shortly.");
            }
        }
        if self.seg.rows > 0
            && (self.opened.elapsed() >= self.options.segment_max_age
                || self.seg.rows >= self.options.segment_max_events)
        {
            self.try_seal();
        }
        // Idle after a burst: the page caches filled by it go back (up to 12 MB on the hot
        // segment); the next batch reads the few pages an append needs again.
        if !self.released {
            self.released = true;
            let _best_effort = self.conn.execute_batch("PRAGMA shrink_memory;");
            self.registry.release_memory();
        }
        Ok(())
    }

    fn close(mut self: Box<Self>) -> Result<(), Error> {
        if let Some(ix) = self.indexer.take() {
            ix.stop.store(true, Relaxed);
            if let Ok(g) = ix.interrupt.lock() {
                if let Some(h) = g.as_ref() {
                    h.interrupt();
                }
            }
            drop(ix.tx);
            if ix.thread.join().is_err() {
                tracing::error!("The indexer thread panicked.");
            }
        }
        self.registry.close()?;
        let p = self.seg.path.clone();
        self.conn
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .map_err(db_err(&p))?;
        Ok(())
    }
}

/// Appends `s` as a JSON string literal: runs that need no escaping are copied whole.
fn json_str(out: &mut String, s: &str) {
    out.push('"');
    let mut plain = 0;
    for (i, b) in s.bytes().enumerate() {
        let esc = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..0x20 => "",
            _ => continue,
        };
        out.push_str(s.get(plain..i).unwrap_or_default());
        if esc.is_empty() {
            out.push_str("\\u00");
            for d in [b >> 4, b & 15] {
                out.push(char::from_digit(u32::from(d), 16).unwrap_or('0'));
            }
        } else {
            out.push_str(esc);
        }
        plain = i + 1;
    }
    out.push_str(s.get(plain..).unwrap_or_default());
    out.push('"');
}

fn upsert(catalog: &Catalog, info: SegmentInfo) {
    let mut g = match catalog.write() {
        Ok(g) => g,
        Err(e) => e.into_inner(),
    };
    match g
        .iter_mut()
        .find(|s| s.id == info.id && s.class == info.class)
    {
        Some(slot) => *slot = info,
        None => {
            g.push(info);
            g.sort_by(|a, b| (a.id, &a.class).cmp(&(b.id, &b.class)));
        }
    }
}

impl Indexer {
    fn spawn(
        dir: PathBuf,
        catalog: Catalog,
        files: Arc<Mutex<()>>,
        metrics: Arc<Metrics>,
        options: Options,
    ) -> Result<Indexer, Error> {
        let (tx, rx) = sync_channel::<u32>(4096);
        let stop = Arc::new(AtomicBool::new(false));
        let busy = Arc::new(AtomicBool::new(false));
        let interrupt = Arc::new(Mutex::new(None));
        let (s, i, b) = (stop.clone(), interrupt.clone(), busy.clone());
        let thread = std::thread::Builder::new()
            .name("picket-store-indexer".into())
            .spawn(move || {
                crate::priority::background();
                index_loop(dir, catalog, files, rx, s, i, b, metrics, options)
            })
            .map_err(|source| Error::Io {
                path: "picket-store-indexer thread".into(),
                source,
            })?;
        Ok(Indexer {
            tx,
            busy,
            stop,
            interrupt,
            thread,
        })
    }
}

#[allow(clippy::too_many_arguments)]
fn index_loop(
    dir: PathBuf,
    catalog: Catalog,
    files: Arc<Mutex<()>>,
    rx: Receiver<u32>,
    stop: Arc<AtomicBool>,
    interrupt: Arc<Mutex<Option<rusqlite::InterruptHandle>>>,
    busy: Arc<AtomicBool>,
    metrics: Arc<Metrics>,
    options: Options,
) {
    let compress = options.compress;
    // Segments whose indexing failed (a full disk), tried again every 30 s.
    let mut retry: Vec<(u32, Instant)> = Vec::new();
    loop {
        let id = match rx.recv_timeout(std::time::Duration::from_secs(1)) {
            Ok(id) => id,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                match retry
                    .iter()
                    .position(|(_, at)| at.elapsed() >= std::time::Duration::from_secs(30))
                {
                    Some(i) => retry.swap_remove(i).0,
                    None => {
                        // Idle: merge small segments, one run per second.
                        if compress && !busy.load(Relaxed) {
                            merge_once(&dir, &catalog, &files, options.segment_max_events);
                        }
                        continue;
                    }
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
        };
        // Let a burst be stored first, within the bound on unindexed segments.
        while busy.load(Relaxed) && !stop.load(Relaxed) && waiting(&catalog) < MAX_DEFERRED {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        if stop.load(Relaxed) {
            return;
        }
        let p = segment::path(&dir, id);
        let started = Instant::now();
        // Retention may have removed it meanwhile; the lock keeps it from doing so now.
        let _held = files.lock().unwrap_or_else(|e| e.into_inner());
        let listed = super::read_catalog(&catalog).iter().any(|s| {
            s.id == id
                && s.class.is_empty()
                && (s.state == SegmentState::Sealed
                    || (compress && s.state == SegmentState::Indexed))
        });
        if !listed || !p.exists() {
            continue;
        }
        let done = if compress {
            super::compact::compact(&p, &options.classes, &interrupt).map(|c| {
                metrics.compact_bytes_in.inc_by(c.bytes_in);
                metrics.compact_bytes_out.inc_by(c.bytes_out);
                c.classes
            })
        } else {
            index_segment(&p, &interrupt).map(|()| Vec::new())
        };
        match done {
            Ok(classes) => {
                let secs = started.elapsed().as_secs_f64();
                metrics.index_seconds.observe(secs);
                metrics.segments_indexed.inc_by(1);
                {
                    let mut g = match catalog.write() {
                        Ok(g) => g,
                        Err(e) => e.into_inner(),
                    };
                    if let Some(s) = g.iter_mut().find(|s| s.id == id && s.class.is_empty()) {
                        s.state = if compress {
                            SegmentState::Compact
                        } else {
                            SegmentState::Indexed
                        };
                    }
                }
                // The files as they are now: the split moved events (and time range) out of
                // the segment's own file into its class files.
                for (path, class) in std::iter::once((p.clone(), String::new())).chain(classes) {
                    match segment::open_read_only(&path)
                        .and_then(|c| segment::read_info(&c, id, &class, &path))
                    {
                        Ok(info) => upsert(&catalog, info),
                        Err(e) => {
                            tracing::warn!(segment = id, error = %e, "Could not read a segment just indexed; it is read again at next start.")
                        }
                    }
                }
                tracing::debug!(segment = id, seconds = secs, "Indexed a sealed segment.");
            }
            Err(e) if stop.load(Relaxed) => {
                tracing::info!(segment = id, error = %e, "Stopped indexing a segment at shutdown; it is indexed at next start.");
                return;
            }
            Err(e) => {
                static LIMIT: crate::telemetry::events::RateLimit =
                    crate::telemetry::events::RateLimit::new(10);
                if let Some(more) = LIMIT.occurred() {
                    tracing::error!(segment = id, error = %e, suppressed = more, "Could not index a sealed segment; searches scan it meanwhile, and it is tried again in 30 s.");
                }
                if retry.len() < 4096 {
                    retry.push((id, Instant::now()));
                }
            }
        }
    }
}

/// Merges one run of small segments (see `merge.rs`), logging a failure (rate-limited): the
/// files stay as they are and the merge is tried again.
fn merge_once(dir: &Path, catalog: &Catalog, files: &Mutex<()>, max_events: u64) {
    if let Err(e) = super::merge::run(dir, catalog, files, max_events) {
        static LIMIT: crate::telemetry::events::RateLimit =
            crate::telemetry::events::RateLimit::new(10);
        if let Some(more) = LIMIT.occurred() {
            tracing::error!(error = %e, suppressed = more, "Could not merge small segments; they stay as they are and merging is tried again.");
        }
    }
}

/// Sealed segments waiting for their indexes.
fn waiting(catalog: &Catalog) -> usize {
    super::read_catalog(catalog)
        .iter()
        .filter(|s| s.state == SegmentState::Sealed)
        .count()
}

/// Builds a sealed segment's indexes and full-text index, then marks it indexed.
fn index_segment(
    p: &Path,
    interrupt: &Mutex<Option<rusqlite::InterruptHandle>>,
) -> Result<(), Error> {
    let e = db_err(p);
    let mut conn = segment::open_read_write(p)?;
    conn.execute_batch("PRAGMA cache_size = -8000;")
        .map_err(&e)?;
    if let Ok(mut g) = interrupt.lock() {
        *g = Some(conn.get_interrupt_handle());
    }
    let tx = conn.transaction().map_err(&e)?;
    tx.execute_batch(INDEXES).map_err(&e)?;
    // One bulk load with no incremental merging (measured: a quarter of the build time, and
    // no query-time gain at segment sizes).
    tx.execute_batch("INSERT INTO fts(fts) VALUES ('delete-all'); INSERT INTO fts(fts, rank) VALUES ('automerge', 0);")
        .map_err(&e)?;
    {
        let mut read = tx
            .prepare("SELECT id, raw, msg_off, message FROM events")
            .map_err(&e)?;
        let mut insert = tx
            .prepare("INSERT INTO fts(rowid, body) VALUES (?1, ?2)")
            .map_err(&e)?;
        let mut rows = read.query([]).map_err(&e)?;
        let mut body = String::with_capacity(1024);

        while let Some(row) = rows.next().map_err(&e)? {
            let id: i64 = row.get(0).map_err(&e)?;
            let raw = row.get_ref(1).map_err(&e)?.as_blob().unwrap_or_default();
            let off: Option<i64> = row.get(2).map_err(&e)?;
            let msg: Option<String> = row.get(3).map_err(&e)?;
            fts_body(raw, off, msg.as_deref(), &mut body);
            if !body.is_empty() {
                insert.execute(params![id, body]).map_err(&e)?;
            }
        }
    }

    segment::set_state(&tx, p, SegmentState::Indexed)?;
    tx.commit().map_err(&e)?;
    if let Ok(mut g) = interrupt.lock() {
        *g = None;
    }
    // A sealed segment is never written again: fold the WAL back so readers need no -shm.
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .map_err(&e)?;
    if let Err(err) = conn.execute_batch("PRAGMA journal_mode = DELETE;") {
        tracing::debug!(error = %err, "Segment stays in WAL mode (a reader had it open).");
    }
    Ok(())
}

/// The full-text body of one stored row (its message's distinct tokens): what the indexer
/// inserts, and what a delete from a contentless index must repeat exactly.
pub(super) fn fts_body(raw: &[u8], msg_off: Option<i64>, message: Option<&str>, body: &mut String) {
    body.clear();
    match (message, msg_off) {
        (Some(m), _) => tokens::index_text(m, body),
        (None, Some(off)) => {
            let bytes = raw
                .get(usize::try_from(off).unwrap_or(0)..)
                .unwrap_or_default();
            tokens::index_text(&String::from_utf8_lossy(bytes), body);
        }
        (None, None) => {}
    }
}
