//! Compressed sealed segments: the format, the compaction that writes it, and the reads.
//!
//! Why: a row table with its B-tree indexes took 2.18× the bytes received (each event's raw
//! line, its parsed columns, a JSON of the rest, and six indexes). A sealed segment is never
//! appended to again, so the indexer rewrites it once into `compact_segment.sql`'s layout:
//!
//! - events in blocks of [`BLOCK_ROWS`] consecutive ids, stored column by column, each column
//!   of a block one zstd frame (integers as deltas from the previous row): a column of host
//!   names or actions compresses to almost nothing, and a raw line shares most of its bytes with
//!   its neighbours';
//! - the full-text index, as before, plus one token per value of the filterable fields
//!   ([`KEYED`]: `_` + a letter + the value in hex, which no message token can be, since tokens
//!   never start with `_`). A field filter and a word search both find their rows' ids there;
//! - per-value counts of the dataset (`summary`), for the storage status.
//!
//! Reads decompress only the blocks that can hold a match (time range, full-text candidates)
//! into a temporary in-memory `events` table of the row layout, and run the same SQL as on an
//! uncompressed segment. Where the index answers a query exactly, counts, histograms and top
//! values decode only the one small column they need (`ts`, or the field's). The bytes of every event are kept exactly: a round trip returns the same row.
//! Event ids (segment, rowid) do not change.

use super::columns::{BASE, Kind, PROMOTED};
use super::db_err;
use super::segment;
use super::writer::fts_body;
use crate::query::{Cond, Expr, Field};
use crate::store::Error;
use crate::store::retention::ClassRule;
use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Events per block: large enough for zstd to find the repeats between lines, small enough that
/// a search for the newest few decompresses little.
pub const BLOCK_ROWS: usize = 4096;
/// zstd level: 3 keeps compaction well ahead of ingest on two cores (measured in docs/storage.md).
const LEVEL: i32 = 3;
const SCHEMA: &str = include_str!("../../../migrations/sqlite/compact_segment.sql");

/// Fields with a full-text token per value: a letter each, the column, and whether every value
/// gets one. Addresses are most often words of the message already (and would each add a term
/// to the index): they get a token only when the message does not hold the value as a word, and
/// a filter on them looks for the word or the token.
const KEYED: &[(char, &str, bool)] = &[
    ('s', "sender", true),
    ('h', "host", true),
    ('i', "source_ip", false),
    ('d', "destination_ip", false),
    ('t', "dataset", true),
    ('p', "app", true),
    ('a', "action", true),
    ('u', "user_name", true),
];
/// Values longer than this get no token (a filter on them scans the segment's blocks).
const MAX_KEYED_BYTES: usize = 48;

/// The stored columns in order (`id`, then the row layout's), with their SQL types.
fn layout() -> &'static [(&'static str, &'static str)] {
    static L: std::sync::LazyLock<Vec<(&'static str, &'static str)>> =
        std::sync::LazyLock::new(|| {
            let mut v = vec![("id", "INTEGER PRIMARY KEY")];
            for name in BASE {
                let ty = match name {
                    "ts" | "ingested" | "sender_port" | "facility" | "severity" | "msg_off"
                    | "flags" => "INTEGER",
                    "raw" => "BLOB",
                    _ => "TEXT",
                };
                v.push((name, ty));
            }
            for p in &PROMOTED {
                v.push((
                    p.column,
                    match p.kind {
                        Kind::Int => "INTEGER",
                        Kind::Text => "TEXT",
                    },
                ));
            }
            v
        });
    L.as_slice()
}

/// The position of a column in [`layout`].
pub(super) fn col(name: &str) -> usize {
    layout().iter().position(|(n, _)| *n == name).unwrap_or(0)
}

/// The columns a read needs only when it looks at the message, the raw bytes or other fields.
fn is_body(c: usize) -> bool {
    matches!(
        layout().get(c).map(|l| l.0),
        Some("raw" | "message" | "fields")
    )
}

// ---- value encoding -------------------------------------------------------------------------

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let b = *buf.get(*pos)?;
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(v);
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// One column of a block being written: tagged values, integers as deltas.
#[derive(Default)]
struct ColumnWriter {
    buf: Vec<u8>,
    prev: i64,
}

impl ColumnWriter {
    fn push(&mut self, v: ValueRef<'_>) {
        match v {
            ValueRef::Null => self.buf.push(0),
            ValueRef::Integer(i) => {
                self.buf.push(1);
                put_varint(&mut self.buf, zigzag(i.wrapping_sub(self.prev)));
                self.prev = i;
            }
            ValueRef::Real(x) => {
                self.buf.push(2);
                self.buf.extend_from_slice(&x.to_le_bytes());
            }
            ValueRef::Text(t) => {
                self.buf.push(3);
                put_varint(&mut self.buf, t.len() as u64);
                self.buf.extend_from_slice(t);
            }
            ValueRef::Blob(b) => {
                self.buf.push(4);
                put_varint(&mut self.buf, b.len() as u64);
                self.buf.extend_from_slice(b);
            }
        }
    }
}

/// Decodes `rows` values of one column.
fn decode_column(buf: &[u8], rows: usize) -> Option<Vec<ValueRef<'_>>> {
    let mut out = Vec::with_capacity(rows);
    let mut pos = 0usize;
    let mut prev = 0i64;
    for _ in 0..rows {
        let tag = *buf.get(pos)?;
        pos += 1;
        out.push(match tag {
            0 => ValueRef::Null,
            1 => {
                prev = prev.wrapping_add(unzigzag(get_varint(buf, &mut pos)?));
                ValueRef::Integer(prev)
            }
            2 => {
                let b: [u8; 8] = buf.get(pos..pos + 8)?.try_into().ok()?;
                pos += 8;
                ValueRef::Real(f64::from_le_bytes(b))
            }
            3 | 4 => {
                let n = usize::try_from(get_varint(buf, &mut pos)?).ok()?;
                let s = buf.get(pos..pos.checked_add(n)?)?;
                pos += n;
                if tag == 3 {
                    ValueRef::Text(s)
                } else {
                    ValueRef::Blob(s)
                }
            }
            _ => return None,
        });
    }
    Some(out)
}

/// A block's columns, decompressed (those asked for; the others empty).
pub(super) struct Decoded {
    cols: Vec<Option<Vec<u8>>>,
    rows: usize,
}

impl Decoded {
    /// Decompresses the columns `want` says yes to.
    fn new(data: &[u8], rows: usize, want: impl Fn(usize) -> bool) -> Result<Decoded, String> {
        let mut cols = Vec::with_capacity(layout().len());
        let mut pos = 0usize;
        for c in 0..layout().len() {
            let bad = || format!("block column {c} is damaged");
            let len = get_varint(data, &mut pos).ok_or_else(bad)? as usize;
            let raw_len = get_varint(data, &mut pos).ok_or_else(bad)? as usize;
            let frame = data.get(pos..pos + len).ok_or_else(bad)?;
            pos += len;
            if want(c) {
                let bytes = decompress(frame, raw_len)?;
                cols.push(Some(bytes));
            } else {
                cols.push(None);
            }
        }
        Ok(Decoded { cols, rows })
    }

    /// The values of column `c` (all NULL when it was not decompressed).
    fn column(&self, c: usize) -> Result<Vec<ValueRef<'_>>, String> {
        match self.cols.get(c).and_then(Option::as_ref) {
            Some(b) => {
                decode_column(b, self.rows).ok_or_else(|| format!("block column {c} is damaged"))
            }
            None => Ok(vec![ValueRef::Null; self.rows]),
        }
    }

    /// Every column's values.
    fn all(&self) -> Result<Vec<Vec<ValueRef<'_>>>, String> {
        (0..layout().len()).map(|c| self.column(c)).collect()
    }
}

/// Decompresses one frame with this thread's reused context (making one per frame was a few
/// percent of a histogram).
fn decompress(frame: &[u8], raw_len: usize) -> Result<Vec<u8>, String> {
    thread_local! {
        static CTX: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
            const { std::cell::RefCell::new(None) };
    }
    CTX.with(|c| {
        let mut g = c.borrow_mut();
        let d = match &mut *g {
            Some(d) => d,
            slot => slot.insert(zstd::bulk::Decompressor::new().map_err(|e| e.to_string())?),
        };
        d.decompress(frame, raw_len).map_err(|e| e.to_string())
    })
}

/// Builds one block's `data`: per column its compressed size, its raw size, the zstd frame.
fn encode_block(cols: &mut [ColumnWriter]) -> Result<Vec<u8>, String> {
    let mut data = Vec::new();
    for c in cols.iter_mut() {
        let frame = zstd::bulk::compress(&c.buf, LEVEL).map_err(|e| e.to_string())?;
        put_varint(&mut data, frame.len() as u64);
        put_varint(&mut data, c.buf.len() as u64);
        data.extend_from_slice(&frame);
        c.buf.clear();
        c.prev = 0;
    }
    Ok(data)
}

/// The full-text token of a field value (appended to `out` after a space), when it has one.
fn push_key_token(letter: char, v: ValueRef<'_>, out: &mut String) {
    let num;
    let bytes: &[u8] = match v {
        ValueRef::Text(t) => t,
        ValueRef::Integer(i) => {
            num = i.to_string();
            num.as_bytes()
        }
        _ => return,
    };
    if bytes.is_empty() || bytes.len() > MAX_KEYED_BYTES {
        return;
    }
    if !out.is_empty() {
        out.push(' ');
    }
    out.push('_');
    out.push(letter);
    for b in bytes {
        out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
}

/// The full-text body of one row (its values by column): the message's tokens, then a token per
/// keyed field. Compaction inserts it; forget-host repeats it to delete the entry.
fn body_of(vals: &[ValueRef<'_>], body: &mut String) {
    let raw = vals
        .get(col("raw"))
        .and_then(|v| v.as_blob().ok())
        .unwrap_or_default();
    let off = vals.get(col("msg_off")).and_then(|v| v.as_i64().ok());
    let msg = vals.get(col("message")).and_then(|v| v.as_str().ok());
    fts_body(raw, off, msg, body);
    let words = body.len();
    for (letter, name, always) in KEYED {
        if let Some(v) = vals.get(col(name)) {
            if !always {
                if let Some(word) = v.as_str().ok().filter(|w| is_word(w)) {
                    if body
                        .get(..words)
                        .unwrap_or_default()
                        .split(' ')
                        .any(|t| t == word)
                    {
                        continue;
                    }
                }
            }
            push_key_token(*letter, *v, body);
        }
    }
}

/// A block that cannot be encoded or decoded.
fn invalid(p: &Path, why: String) -> Error {
    Error::Io {
        path: p.display().to_string(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, why),
    }
}

// ---- compaction ------------------------------------------------------------------------------

/// The temporary file a compaction writes before it replaces the segment.
pub fn temp_path(p: &Path) -> PathBuf {
    p.with_extension("db.compacting")
}

/// What one compaction did: bytes before and after (all files), and the class files it wrote
/// besides the segment's own, with their classes.
pub struct Compacted {
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub classes: Vec<(PathBuf, String)>,
}

/// One file a compaction writes: a class's events, or the segment's bulk events.
struct Dest {
    path: PathBuf,
    tmp: PathBuf,
    conn: Connection,
    cols: Vec<ColumnWriter>,
    meta: BlockMeta,
    datasets: std::collections::HashMap<String, i64>,
    rows: u64,
    min_ts: i64,
    max_ts: i64,
}

impl Dest {
    fn create(path: PathBuf, columns: usize) -> Result<Dest, Error> {
        let tmp = temp_path(&path);
        match std::fs::remove_file(&tmp) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(Error::Io {
                    path: tmp.display().to_string(),
                    source,
                });
            }
        }
        let conn = {
            let te = db_err(&tmp);
            let conn = Connection::open(&tmp).map_err(&te)?;
            conn.execute_batch(
                "PRAGMA page_size = 4096; PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -2000;",
            )
            .map_err(&te)?;
            conn.execute_batch(SCHEMA).map_err(&te)?;
            conn.execute_batch("BEGIN; INSERT INTO fts(fts, rank) VALUES ('automerge', 0);")
                .map_err(&te)?;
            conn
        };
        Ok(Dest {
            path,
            tmp,
            conn,
            cols: (0..columns).map(|_| ColumnWriter::default()).collect(),
            meta: BlockMeta::default(),
            datasets: std::collections::HashMap::new(),
            rows: 0,
            min_ts: i64::MAX,
            max_ts: i64::MIN,
        })
    }

    fn push(&mut self, vals: &[ValueRef<'_>], body: &mut String) -> Result<(), Error> {
        let at = |c: usize| vals.get(c).and_then(|v| v.as_i64().ok()).unwrap_or(0);
        let (id, ts) = (at(0), at(col("ts")));
        self.meta.add(id, ts, at(col("ingested")));
        self.min_ts = self.min_ts.min(ts);
        self.max_ts = self.max_ts.max(ts);
        for (w, v) in self.cols.iter_mut().zip(vals.iter()) {
            w.push(*v);
        }
        body_of(vals, body);
        if !body.is_empty() {
            self.conn
                .prepare_cached("INSERT INTO fts(rowid, body) VALUES (?1, ?2)")
                .and_then(|mut st| st.execute(params![id, body.as_str()]))
                .map_err(db_err(&self.tmp))?;
        }
        if let Some(Ok(d)) = vals.get(col("dataset")).map(|v| v.as_str()) {
            match self.datasets.get_mut(d) {
                Some(n) => *n += 1,
                None => {
                    self.datasets.insert(d.to_owned(), 1);
                }
            }
        }
        self.rows += 1;
        if self.meta.rows as usize >= BLOCK_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Error> {
        if self.meta.rows == 0 {
            return Ok(());
        }
        let data = encode_block(&mut self.cols).map_err(|w| invalid(&self.tmp, w))?;
        let m = std::mem::take(&mut self.meta);
        self.conn
            .prepare_cached("INSERT INTO blocks(first_id, last_id, rows, min_ts, max_ts, max_ingested, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
            .and_then(|mut st| {
                st.execute(params![m.first_id, m.last_id, m.rows, m.min_ts, m.max_ts, m.max_ingested, data])
            })
            .map_err(db_err(&self.tmp))?;
        Ok(())
    }

    /// Writes the summary and the segment's facts (`meta`, with this file's own time range and
    /// row count), commits, and syncs the temporary file. `class` is recorded in `meta`.
    fn finish(&mut self, src_meta: &[(String, Value)], class: &str) -> Result<(), Error> {
        self.flush()?;
        let te = db_err(&self.tmp);
        let c = &self.conn;
        for (d, n) in &self.datasets {
            c.execute(
                "INSERT INTO summary(kind, value, events) VALUES ('dataset', ?1, ?2)",
                params![d, n],
            )
            .map_err(&te)?;
        }
        let put = "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)";
        for (k, v) in src_meta {
            c.execute(put, params![k, v]).map_err(&te)?;
        }
        c.execute(put, params!["state", "compact"]).map_err(&te)?;
        c.execute(put, params!["rows", self.rows as i64])
            .map_err(&te)?;
        if self.rows > 0 {
            c.execute(put, params!["min_ts", self.min_ts])
                .map_err(&te)?;
            c.execute(put, params!["max_ts", self.max_ts])
                .map_err(&te)?;
        } else {
            c.execute("DELETE FROM meta WHERE key IN ('min_ts', 'max_ts')", [])
                .map_err(&te)?;
        }
        if !class.is_empty() {
            c.execute(put, params!["class", class]).map_err(&te)?;
        }
        c.execute_batch("INSERT INTO fts(fts) VALUES ('optimize'); COMMIT;")
            .map_err(&te)?;
        // The index merge left free pages behind; the file is rewritten without them.
        c.execute_batch("VACUUM;").map_err(&te)?;
        std::fs::File::open(&self.tmp)
            .and_then(|f| f.sync_all())
            .map_err(|source| Error::Io {
                path: self.tmp.display().to_string(),
                source,
            })
    }
}

/// The class of each event of the sealed segment that a class rule picks (the first rule that
/// matches wins); events no rule picks are bulk events and are not listed.
fn assign(
    conn: &Connection,
    p: &Path,
    classes: &[ClassRule],
) -> Result<std::collections::HashMap<i64, usize>, Error> {
    let e = db_err(p);
    let mut out = std::collections::HashMap::new();
    if classes.is_empty() {
        return Ok(out);
    }
    super::sql::register(conn).map_err(&e)?;
    let target = super::sql::Target {
        indexed: false,
        required_done: false,
    };
    for (i, c) in classes.iter().enumerate() {
        let mut args = Vec::new();
        let cond = if c.expr.is_all() {
            "1".to_string()
        } else {
            super::sql::condition(&c.expr, target, &mut args)
        };
        let mut stmt = conn
            .prepare(&format!("SELECT id FROM events WHERE {cond}"))
            .map_err(&e)?;
        let ids = stmt
            .query_map(rusqlite::params_from_iter(args), |r| r.get::<_, i64>(0))
            .map_err(&e)?;
        for id in ids {
            out.entry(id.map_err(&e)?).or_insert(i);
        }
    }
    Ok(out)
}

/// Rewrites sealed segment `p` in the compressed layout and replaces it (an atomic rename).
/// Events a class rule picks go to their class's own file beside it (`seg-N.CLASS.db`, written
/// and renamed first: a crash before the segment's own rename leaves it sealed, and the class
/// files are removed and made again at the next start). The sealed file stays write-locked
/// meanwhile, so a concurrent forget-host waits and then finds the new files (see `forget.rs`).
pub fn compact(
    p: &Path,
    classes: &[ClassRule],
    interrupt: &Mutex<Option<rusqlite::InterruptHandle>>,
) -> Result<Compacted, Error> {
    rewrite(p, p, classes, interrupt)
}

/// Writes a compressed copy of row segment `p` to `out` (the archive), leaving `p` as it is.
pub fn compress_to(p: &Path, out: &Path) -> Result<u64, Error> {
    rewrite(p, out, &[], &Mutex::new(None)).map(|c| c.bytes_out)
}

fn rewrite(
    p: &Path,
    out: &Path,
    classes: &[ClassRule],
    interrupt: &Mutex<Option<rusqlite::InterruptHandle>>,
) -> Result<Compacted, Error> {
    let e = db_err(p);
    let bytes_in = super::retention::segment_bytes(p);
    let mut src = segment::open_read_write(p)?;
    // Read once, in order: a large cache only holds pages that are not read again.
    src.execute_batch("PRAGMA cache_size = -2000;")
        .map_err(&e)?;
    if let Ok(mut g) = interrupt.lock() {
        *g = Some(src.get_interrupt_handle());
    }
    let tx = src
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(&e)?;
    let (dir, id) = split_path(p);
    let names: Vec<&str> = layout().iter().map(|l| l.0).collect();
    // Slot 0 is the segment's own file; slot i + 1 class i's, made when it gets an event.
    let mut dests: Vec<Option<Dest>> = (0..=classes.len()).map(|_| None).collect();
    let result = (|| -> Result<Vec<(PathBuf, String)>, Error> {
        let picked = assign(&tx, p, classes)?;
        dests[0] = Some(Dest::create(out.to_path_buf(), names.len())?);
        let mut read = tx
            .prepare(&format!(
                "SELECT {} FROM events ORDER BY id",
                names.join(", ")
            ))
            .map_err(&e)?;
        let mut body = String::with_capacity(1024);
        let mut rows = read.query([]).map_err(&e)?;
        while let Some(r) = rows.next().map_err(&e)? {
            let mut vals: Vec<ValueRef<'_>> = Vec::with_capacity(names.len());
            for c in 0..names.len() {
                vals.push(r.get_ref(c).map_err(&e)?);
            }
            let id_of = vals.first().and_then(|v| v.as_i64().ok()).unwrap_or(0);
            let slot = picked.get(&id_of).map_or(0, |i| i + 1);
            let dest = match &mut dests[slot] {
                Some(d) => d,
                empty => {
                    let path = segment::class_path(&dir, id, &classes[slot - 1].name);
                    empty.insert(Dest::create(path, names.len())?)
                }
            };
            dest.push(&vals, &mut body)?;
        }
        drop(rows);
        drop(read);
        // The segment's own facts (range, checkpoint, disorder) carry over; a subset of the
        // events is no more out of order than all of them.
        let src_meta: Vec<(String, Value)> = tx
            .prepare("SELECT key, value FROM meta")
            .and_then(|mut st| {
                st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<Result<_, _>>()
            })
            .map_err(&e)?;
        let mut written = Vec::new();
        // Class files first, the segment's own file last: its rename is the commit point, so
        // the class files' renames are made durable before it.
        for slot in (0..dests.len()).rev() {
            let class = slot.checked_sub(1).map_or("", |i| classes[i].name.as_str());
            if let Some(d) = &mut dests[slot] {
                d.finish(&src_meta, class)?;
                if slot == 0 && !written.is_empty() {
                    sync_dir(&dir)?;
                }
                std::fs::rename(&d.tmp, &d.path).map_err(|source| Error::Io {
                    path: d.tmp.display().to_string(),
                    source,
                })?;
                if slot > 0 {
                    written.push((d.path.clone(), class.to_string()));
                }
            }
        }
        let _dir_sync =
            std::fs::File::open(out.parent().unwrap_or(&dir)).and_then(|d| d.sync_all());
        Ok(written)
    })();
    if let Ok(mut g) = interrupt.lock() {
        *g = None;
    }
    drop(tx);
    drop(src);
    let written = match result {
        Ok(w) => w,
        Err(err) => {
            for d in dests.into_iter().flatten() {
                let tmp = d.tmp.clone();
                drop(d);
                let _gone = std::fs::remove_file(tmp);
            }
            return Err(err);
        }
    };
    // The rolled-back sealed file's WAL and shared memory are no longer anyone's.
    if out == p {
        for ext in ["db-wal", "db-shm"] {
            let _gone = std::fs::remove_file(p.with_extension(ext));
        }
    }
    let bytes_out = super::retention::segment_bytes(out)
        + written
            .iter()
            .map(|(w, _)| super::retention::segment_bytes(w))
            .sum::<u64>();
    Ok(Compacted {
        bytes_in,
        bytes_out,
        classes: written,
    })
}

/// One compressed file to merge: its path, its segment id, and whether its ids are full
/// already (a merged file's are).
pub struct MergeSource<'a> {
    pub path: &'a Path,
    pub segment: u32,
    pub full_ids: bool,
}

/// Merges compressed files of one class, oldest first, into `out`, written beside it, synced and
/// renamed. A merged file holds events of several segments, so its ids are the events' full ids
/// (segment << 32 | row; every full id is above 2^32, no row id is), and `meta` records the
/// last segment it covers. Each source is write-locked meanwhile, so a concurrent forget-host
/// waits and then finds the merged file. Returns the merged file's bytes.
pub fn merge(srcs: &[MergeSource<'_>], out: &Path, class: &str, last: u32) -> Result<u64, Error> {
    let mut locks = Vec::with_capacity(srcs.len());
    for s in srcs {
        let c = Connection::open_with_flags(
            s.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(db_err(s.path))?;
        c.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(db_err(s.path))?;
        c.execute_batch("BEGIN IMMEDIATE;")
            .map_err(db_err(s.path))?;
        locks.push(c);
    }
    let mut dest = Dest::create(out.to_path_buf(), layout().len())?;
    let result = (|| -> Result<(), Error> {
        let mut body = String::with_capacity(1024);
        let mut meta: Vec<(String, Value)> = Vec::new();
        let (mut newest, mut disorder) = (i64::MIN, 0i64);
        let c_ts = col("ts");
        for s in srcs {
            let Some(c) = Compact::open(s.path)? else {
                return Err(invalid(s.path, "not a compressed segment".into()));
            };
            let base = i64::from(s.segment) << 32;
            for b in &c.blocks {
                let dec = c.decode(b, |_| true)?;
                let cols = dec.all().map_err(|w| c.damaged(w))?;
                for row in 0..dec.rows {
                    let mut vals: Vec<ValueRef<'_>> = cols
                        .iter()
                        .map(|col| col.get(row).copied().unwrap_or(ValueRef::Null))
                        .collect();
                    if let Some(first) = vals.first_mut() {
                        let id = first.as_i64().unwrap_or(0);
                        *first = ValueRef::Integer(if s.full_ids { id } else { base | id });
                    }
                    let ts = vals.get(c_ts).and_then(|v| v.as_i64().ok()).unwrap_or(0);
                    disorder = disorder.max(newest.saturating_sub(ts));
                    newest = newest.max(ts);
                    dest.push(&vals, &mut body)?;
                }
            }
            // The newest source's facts (its spool checkpoint) carry over.
            meta = c
                .conn
                .prepare("SELECT key, value FROM meta")
                .and_then(|mut st| {
                    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                        .collect::<Result<_, _>>()
                })
                .map_err(db_err(s.path))?;
        }
        meta.retain(|(k, _)| k != "disorder" && k != "last_segment");
        meta.push(("disorder".into(), Value::Integer(disorder)));
        meta.push(("last_segment".into(), Value::Integer(i64::from(last))));
        dest.finish(&meta, class)?;
        std::fs::rename(&dest.tmp, &dest.path).map_err(|source| Error::Io {
            path: dest.tmp.display().to_string(),
            source,
        })?;
        if let Some(parent) = out.parent() {
            let _dir_sync = std::fs::File::open(parent).and_then(|d| d.sync_all());
        }
        Ok(())
    })();
    let tmp = dest.tmp.clone();
    drop(dest);
    drop(locks);
    match result {
        Ok(()) => Ok(super::retention::segment_bytes(out)),
        Err(e) => {
            let _gone = std::fs::remove_file(tmp);
            Err(e)
        }
    }
}

/// Makes the renames in `dir` durable.
fn sync_dir(dir: &Path) -> Result<(), Error> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| Error::Io {
            path: dir.display().to_string(),
            source,
        })
}

/// The directory and segment id of a segment's own file.
fn split_path(p: &Path) -> (PathBuf, u32) {
    let dir = p.parent().map(Path::to_path_buf).unwrap_or_default();
    let id = p
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("seg-"))
        .and_then(|n| n.split('.').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    (dir, id)
}

/// What the `blocks` table says of one block.
#[derive(Debug, Clone, Copy)]
pub(super) struct BlockMeta {
    pub first_id: i64,
    pub last_id: i64,
    pub rows: i64,
    pub min_ts: i64,
    pub max_ts: i64,
    pub max_ingested: i64,
}

impl Default for BlockMeta {
    fn default() -> Self {
        BlockMeta {
            first_id: 0,
            last_id: 0,
            rows: 0,
            min_ts: i64::MAX,
            max_ts: i64::MIN,
            max_ingested: i64::MIN,
        }
    }
}

impl BlockMeta {
    fn add(&mut self, id: i64, ts: i64, ingested: i64) {
        if self.rows == 0 {
            self.first_id = id;
        }
        self.last_id = id;
        self.rows += 1;
        self.min_ts = self.min_ts.min(ts);
        self.max_ts = self.max_ts.max(ts);
        self.max_ingested = self.max_ingested.max(ingested);
    }
}

// ---- reading ---------------------------------------------------------------------------------

/// True when the opened segment is in the compressed layout.
pub(super) fn is_compact(conn: &Connection) -> bool {
    conn.query_row("SELECT value FROM meta WHERE key = 'state'", [], |r| {
        r.get::<_, String>(0)
    })
    .is_ok_and(|s| s == "compact")
}

/// True when the file at `p` is a compressed segment.
pub(super) fn is_compact_file(p: &Path) -> bool {
    segment::open_read_only(p).is_ok_and(|c| is_compact(&c))
}

/// A compressed segment opened for reading, with its block list.
pub(super) struct Compact {
    conn: Connection,
    path: PathBuf,
    /// Oldest first.
    pub blocks: Vec<BlockMeta>,
}

impl Compact {
    /// Opens `p` read-only (the temporary `events` table lives in memory).
    pub fn open(p: &Path) -> Result<Option<Compact>, Error> {
        let e = db_err(p);
        let conn = match Connection::open_with_flags(
            p,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        ) {
            Ok(c) => c,
            Err(_) if !p.exists() => return Ok(None),
            Err(err) => return Err(e(err)),
        };
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(&e)?;
        conn.execute_batch("PRAGMA temp_store = MEMORY; PRAGMA cache_size = -8000;")
            .map_err(&e)?;
        if !is_compact(&conn) {
            return Ok(None);
        }
        let defs: Vec<String> = layout().iter().map(|(n, t)| format!("{n} {t}")).collect();
        conn.execute_batch(&format!("CREATE TEMP TABLE events ({});", defs.join(", ")))
            .map_err(&e)?;
        super::sql::register(&conn).map_err(&e)?;
        let blocks = {
            let mut stmt = conn
                .prepare("SELECT first_id, last_id, rows, min_ts, max_ts, max_ingested FROM blocks ORDER BY first_id")
                .map_err(&e)?;
            stmt.query_map([], |r| {
                Ok(BlockMeta {
                    first_id: r.get(0)?,
                    last_id: r.get(1)?,
                    rows: r.get(2)?,
                    min_ts: r.get(3)?,
                    max_ts: r.get(4)?,
                    max_ingested: r.get(5)?,
                })
            })
            .map_err(&e)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(&e)?
        };
        Ok(Some(Compact {
            conn,
            path: p.to_path_buf(),
            blocks,
        }))
    }

    /// The connection: `events` is the temporary table [`Compact::load`] fills, `fts` the
    /// segment's own.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    fn data(&self, b: &BlockMeta) -> Result<Vec<u8>, Error> {
        self.conn
            .query_row(
                "SELECT data FROM blocks WHERE first_id = ?1",
                [b.first_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_err(&self.path))
            .map(Option::unwrap_or_default)
    }

    fn damaged(&self, why: String) -> Error {
        invalid(&self.path, why)
    }

    /// Decompresses a block's columns that `want` names.
    pub fn decode(&self, b: &BlockMeta, want: impl Fn(usize) -> bool) -> Result<Decoded, Error> {
        let data = self.data(b)?;
        Decoded::new(&data, usize::try_from(b.rows).unwrap_or(0), want).map_err(|w| self.damaged(w))
    }

    /// Replaces the temporary `events` table's rows with block `b`'s: only the ids in `ids`
    /// (sorted) when given, and without the message, raw bytes and other fields unless `body`.
    pub fn load(&self, b: &BlockMeta, ids: Option<&[i64]>, body: bool) -> Result<usize, Error> {
        let e = db_err(&self.path);
        self.conn
            .execute_batch("DELETE FROM temp.events;")
            .map_err(&e)?;
        let dec = self.decode(b, |c| body || !is_body(c))?;
        let cols = dec.all().map_err(|w| self.damaged(w))?;
        let n = layout().len();
        let marks: Vec<String> = (1..=n).map(|i| format!("?{i}")).collect();
        let mut ins = self
            .conn
            .prepare_cached(&format!(
                "INSERT INTO temp.events VALUES ({})",
                marks.join(", ")
            ))
            .map_err(&e)?;
        let idcol = cols.first().map(Vec::as_slice).unwrap_or_default();
        let mut loaded = 0usize;
        let mut want = ids.map(|v| v.iter().peekable());
        for (row, id) in idcol.iter().enumerate() {
            let id = id.as_i64().unwrap_or(0);
            if let Some(w) = want.as_mut() {
                while w.peek().is_some_and(|x| **x < id) {
                    w.next();
                }
                if w.peek().is_none_or(|x| **x != id) {
                    continue;
                }
            }
            let vals = cols.iter().map(|c| {
                rusqlite::types::ToSqlOutput::Borrowed(
                    c.get(row).copied().unwrap_or(ValueRef::Null),
                )
            });
            ins.execute(rusqlite::params_from_iter(vals)).map_err(&e)?;
            loaded += 1;
        }
        Ok(loaded)
    }

    /// Ids (ascending) of the rows whose full-text entry matches `fts` (an FTS5 query).
    pub fn fts_ids(&self, fts: &str) -> Result<Vec<i64>, Error> {
        let e = db_err(&self.path);
        let mut stmt = self
            .conn
            .prepare_cached("SELECT rowid FROM fts WHERE fts MATCH ?1 ORDER BY rowid")
            .map_err(&e)?;
        stmt.query_map([fts], |r| r.get(0))
            .map_err(&e)?
            .collect::<Result<Vec<i64>, _>>()
            .map_err(e)
    }

    /// Events per dataset, from the summary made at compaction.
    pub fn datasets(&self) -> Result<Vec<(String, i64)>, Error> {
        let e = db_err(&self.path);
        let mut stmt = self
            .conn
            .prepare("SELECT value, events FROM summary WHERE kind = 'dataset'")
            .map_err(&e)?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(&e)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(e)
    }

    /// Calls `f` with the value of column `c` of each row of block `b` that lies in
    /// `[from, to)` and, when `ids` is given (sorted), is among them.
    pub fn for_each_value(
        &self,
        b: &BlockMeta,
        c: usize,
        (from, to): (i64, i64),
        ids: Option<&[i64]>,
        f: &mut dyn FnMut(ValueRef<'_>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let (c_id, c_ts) = (0, col("ts"));
        // Ids need no decoding when the block's are consecutive (a segment's own file), and
        // times none when the whole block lies in the range.
        let consecutive = b.last_id - b.first_id + 1 == b.rows;
        let need_ids = ids.is_some() && !consecutive;
        let inside = b.min_ts >= from && b.max_ts < to;
        let dec = self.decode(b, |k| {
            k == c || (k == c_id && need_ids) || (k == c_ts && !inside)
        })?;
        let damaged = |w| self.damaged(w);
        let vals = dec.column(c).map_err(damaged)?;
        let tsv = if inside {
            Vec::new()
        } else {
            dec.column(c_ts).map_err(damaged)?
        };
        let in_range = |row: usize| {
            inside
                || tsv
                    .get(row)
                    .and_then(|t| t.as_i64().ok())
                    .is_some_and(|t| t >= from && t < to)
        };
        match ids {
            Some(ids) if consecutive => {
                for id in ids {
                    let Ok(row) = usize::try_from(id - b.first_id) else {
                        continue;
                    };
                    if let Some(v) = vals.get(row).filter(|_| in_range(row)) {
                        f(*v)?;
                    }
                }
            }
            Some(ids) => {
                let idv = dec.column(c_id).map_err(damaged)?;
                let mut want = ids.iter().peekable();
                for (row, (id, v)) in idv.iter().zip(vals.iter()).enumerate() {
                    let id = id.as_i64().unwrap_or(0);
                    while want.peek().is_some_and(|x| **x < id) {
                        want.next();
                    }
                    if want.peek().is_some_and(|x| **x == id) && in_range(row) {
                        f(*v)?;
                    }
                }
            }
            None => {
                for (row, v) in vals.iter().enumerate() {
                    if in_range(row) {
                        f(*v)?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// The column of a field in the stored layout, when it has one (not `fields` JSON).
pub(super) fn field_column(f: &Field) -> Option<usize> {
    super::sql::column_name(f).map(col)
}

/// True when `v` is one whole full-text token as the tokenizer makes it (so a message that
/// holds it as a word has exactly this token).
fn is_word(v: &str) -> bool {
    let mut n = 0;
    let mut same = false;
    crate::query::tokens::for_each_token(v, |t| {
        n += 1;
        same = t == v;
    });
    n == 1 && same
}

/// The keyed-field token letter of a field, and whether every value has one.
fn keyed_letter(f: &Field) -> Option<(char, bool)> {
    let c = field_column(f)?;
    let name = layout().get(c)?.0;
    KEYED
        .iter()
        .find(|(_, n, _)| *n == name)
        .map(|(l, _, a)| (*l, *a))
}

/// The full-text plan of a query on a compressed segment.
#[derive(Debug, Default)]
pub(super) struct FtsPlan {
    /// The FTS5 query every match satisfies (None: no such narrowing).
    pub matcher: Option<String>,
    /// True when a row matches the query exactly when it matches `matcher` (and the time
    /// range): counts need no block then.
    pub exact: bool,
}

/// What the index can say about `expr`: the terms every match has, and whether they are all
/// there is to it.
pub(super) fn fts_plan(expr: &Expr) -> FtsPlan {
    if expr.is_all() {
        return FtsPlan {
            matcher: None,
            exact: true,
        };
    }
    let items: Vec<&Expr> = match expr {
        Expr::And(v) => v.iter().collect(),
        other => vec![other],
    };
    let mut terms: Vec<String> = Vec::new();
    let mut exact = true;
    for item in items {
        match item {
            Expr::Text(t) => {
                for (i, tok) in t.tokens.iter().enumerate() {
                    let star = if t.prefix && i + 1 == t.tokens.len() {
                        "*"
                    } else {
                        ""
                    };
                    terms.push(format!("\"{tok}\"{star}"));
                }
                // A phrase also needs its words in order, which only the message can tell.
                exact &= t.tokens.len() == 1;
            }
            Expr::Field(f, Cond::Eq(v)) => match keyed_letter(f) {
                Some((letter, always)) => {
                    let text = v.text();
                    let mut tok = String::new();
                    push_key_token(letter, ValueRef::Text(text.as_bytes()), &mut tok);
                    if tok.is_empty() {
                        exact = false;
                    } else if always {
                        terms.push(format!("\"{tok}\""));
                    } else {
                        // The word may be any part of the message: candidates only.
                        exact = false;
                        if is_word(&text) {
                            terms.push(format!("(\"{text}\" OR \"{tok}\")"));
                        } else {
                            terms.push(format!("\"{tok}\""));
                        }
                    }
                }
                None => exact = false,
            },
            _ => exact = false,
        }
    }
    FtsPlan {
        matcher: (!terms.is_empty()).then(|| terms.join(" AND ")),
        exact,
    }
}

/// True when evaluating `expr` on a row needs its message, raw bytes or other fields.
pub(super) fn needs_body(expr: &Expr) -> bool {
    match expr {
        Expr::And(v) | Expr::Or(v) => v.iter().any(needs_body),
        Expr::Not(e) => needs_body(e),
        Expr::Text(_) => true,
        Expr::Field(f, _) => field_column(f).is_none(),
    }
}

/// The sorted ids of `ids` that block `b` holds.
pub(super) fn ids_in<'a>(ids: &'a [i64], b: &BlockMeta) -> &'a [i64] {
    let lo = ids.partition_point(|x| *x < b.first_id);
    let hi = ids.partition_point(|x| *x <= b.last_id);
    ids.get(lo..hi).unwrap_or_default()
}

// ---- forget-host -----------------------------------------------------------------------------

/// Removes every row whose sender or host is `host` from compressed segment `p`, block by
/// block (each block rewritten in its own transaction, the rows' full-text entries deleted with
/// them); returns the rows removed. `progress` gets the count so far after each block.
pub(super) fn forget(p: &Path, host: &str, progress: &mut dyn FnMut(u64)) -> Result<u64, Error> {
    let e = db_err(p);
    let Some(reader) = Compact::open(p)? else {
        return Ok(0);
    };
    let mut m = String::new();
    let hv = ValueRef::Text(host.as_bytes());
    let mut a = String::new();
    push_key_token('s', hv, &mut a);
    let mut b = String::new();
    push_key_token('h', hv, &mut b);
    if !a.is_empty() {
        m = format!("\"{a}\" OR \"{b}\"");
    }
    // A value too long for a token: every block is looked at.
    let ids = if m.is_empty() {
        None
    } else {
        Some(reader.fts_ids(&m)?)
    };
    let blocks: Vec<BlockMeta> = reader
        .blocks
        .iter()
        .filter(|b| ids.as_ref().is_none_or(|ids| !ids_in(ids, b).is_empty()))
        .copied()
        .collect();
    if blocks.is_empty() {
        return Ok(0);
    }
    // Not `segment::open_read_write`: that would turn the file to WAL mode.
    let mut conn = Connection::open_with_flags(
        p,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(&e)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(&e)?;
    conn.execute_batch("PRAGMA secure_delete = ON;")
        .map_err(&e)?;
    let (c_sender, c_host) = (col("sender"), col("host"));
    let mut removed = 0u64;
    let mut body = String::new();
    for b in blocks {
        let dec = reader.decode(&b, |_| true)?;
        let cols = dec.all().map_err(|w| reader.damaged(w))?;
        let rows = usize::try_from(b.rows).unwrap_or(0);
        let is_host = |v: Option<&ValueRef<'_>>| v.and_then(|v| v.as_str().ok()) == Some(host);
        let gone: Vec<usize> = (0..rows)
            .filter(|r| {
                is_host(cols.get(c_sender).and_then(|c| c.get(*r)))
                    || is_host(cols.get(c_host).and_then(|c| c.get(*r)))
            })
            .collect();
        if gone.is_empty() {
            continue;
        }
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&e)?;
        {
            let mut del_fts = tx
                .prepare_cached("INSERT INTO fts(fts, rowid, body) VALUES ('delete', ?1, ?2)")
                .map_err(&e)?;
            let mut less = tx
                .prepare_cached(
                    "UPDATE summary SET events = max(0, events - 1) WHERE kind = 'dataset' AND value = ?1",
                )
                .map_err(&e)?;
            let mut writers: Vec<ColumnWriter> = (0..layout().len())
                .map(|_| ColumnWriter::default())
                .collect();
            let mut meta = BlockMeta::default();
            let mut g = gone.iter().peekable();
            let mut vals = Vec::with_capacity(layout().len());
            for r in 0..rows {
                vals.clear();
                vals.extend(
                    cols.iter()
                        .map(|c| c.get(r).copied().unwrap_or(ValueRef::Null)),
                );
                let id = vals.first().and_then(|v| v.as_i64().ok()).unwrap_or(0);
                if g.peek() == Some(&&r) {
                    g.next();
                    body_of(&vals, &mut body);
                    if !body.is_empty() {
                        del_fts.execute(params![id, body.as_str()]).map_err(&e)?;
                    }
                    if let Some(ValueRef::Text(d)) = vals.get(col("dataset")) {
                        less.execute(params![String::from_utf8_lossy(d)])
                            .map_err(&e)?;
                    }
                    continue;
                }
                let ts = vals
                    .get(col("ts"))
                    .and_then(|v| v.as_i64().ok())
                    .unwrap_or(0);
                let ing = vals
                    .get(col("ingested"))
                    .and_then(|v| v.as_i64().ok())
                    .unwrap_or(0);
                meta.add(id, ts, ing);
                for (w, v) in writers.iter_mut().zip(vals.iter()) {
                    w.push(*v);
                }
            }
            tx.execute("DELETE FROM blocks WHERE first_id = ?1", [b.first_id])
                .map_err(&e)?;
            if meta.rows > 0 {
                let data = encode_block(&mut writers).map_err(|w| invalid(p, w))?;
                tx.execute(
                    "INSERT INTO blocks(first_id, last_id, rows, min_ts, max_ts, max_ingested, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![meta.first_id, meta.last_id, meta.rows, meta.min_ts, meta.max_ts, meta.max_ingested, data],
                )
                .map_err(&e)?;
            }
            tx.execute(
                "UPDATE meta SET value = max(0, value - ?1) WHERE key = 'rows'",
                [gone.len() as i64],
            )
            .map_err(&e)?;
        }
        tx.commit().map_err(&e)?;
        removed += gone.len() as u64;
        progress(removed);
    }
    Ok(removed)
}
