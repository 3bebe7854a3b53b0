//! One segment file: creating it with the schema, reading its state, opening connections.

use super::db_err;
use crate::model::Checkpoint;
use crate::store::Error;
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};

/// Indexes built when a segment is sealed.
pub const INDEXES: &str = include_str!("../../../migrations/sqlite/segment_indexes.sql");

/// Where a segment is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentState {
    /// Being appended to; no secondary indexes.
    Hot,
    /// Full; waiting for its indexes.
    Sealed,
    /// Indexes and full-text index built.
    Indexed,
    /// Rewritten compressed, with its full-text index (see `compact.rs`).
    Compact,
}

impl SegmentState {
    fn as_str(self) -> &'static str {
        match self {
            SegmentState::Hot => "hot",
            SegmentState::Sealed => "sealed",
            SegmentState::Indexed => "indexed",
            SegmentState::Compact => "compact",
        }
    }

    fn parse(s: &str) -> SegmentState {
        match s {
            "indexed" => SegmentState::Indexed,
            "compact" => SegmentState::Compact,
            "sealed" => SegmentState::Sealed,
            _ => SegmentState::Hot,
        }
    }
}

/// What the store knows about one segment.
#[derive(Debug, Clone)]
pub struct SegmentInfo {
    /// Sequence number; the high 32 bits of its events' ids.
    pub id: u32,
    /// The last segment whose events it holds: `id` itself, or a later one when small segments
    /// were merged into this file (see `merge.rs`; such a file stores full ids).
    pub last: u32,
    /// The retention class its events belong to (`""`: bulk events). A sealed segment is split
    /// by class when it is compressed: `seg-N.db` keeps the bulk events, `seg-N.CLASS.db` those
    /// of each class (see `compact.rs`), with the same ids, so each class can go whole.
    pub class: String,
    /// The file.
    pub path: PathBuf,
    /// Earliest `@timestamp` in it (microseconds); `i64::MAX` when empty.
    pub min_ts: i64,
    /// Latest `@timestamp` in it; `i64::MIN` when empty.
    pub max_ts: i64,
    /// Events in it.
    pub rows: u64,
    /// Its state.
    pub state: SegmentState,
    /// The spool checkpoint committed with its last batch.
    pub checkpoint: Checkpoint,
    /// How far (microseconds) any event's `@timestamp` lies below the latest one stored before
    /// it: 0 when events arrived in time order. Lets a newest-first search walk rowids
    /// backwards and stop exactly (see `queries.rs`). `i64::MAX` when unknown.
    pub disorder: i64,
}

/// The file name of segment `id`.
pub fn path(dir: &Path, id: u32) -> PathBuf {
    dir.join(format!("seg-{id:08}.db"))
}

impl SegmentInfo {
    /// True when it holds events of segment `seg`.
    pub fn covers(&self, seg: u32) -> bool {
        self.id <= seg && seg <= self.last
    }

    /// True when it is a merged file (its rows hold full event ids).
    pub fn merged(&self) -> bool {
        self.last > self.id
    }

    /// The key its rows are stored under for event `id`: the full id in a merged file, the row
    /// id (low 32 bits) otherwise.
    pub fn key(&self, id: i64) -> i64 {
        if self.merged() { id } else { id & 0xFFFF_FFFF }
    }
}

/// The file of segments `id..=last` merged, of class `class`.
pub fn merged_path(dir: &Path, id: u32, last: u32, class: &str) -> PathBuf {
    if class.is_empty() {
        dir.join(format!("seg-{id:08}-{last:08}.db"))
    } else {
        dir.join(format!("seg-{id:08}-{last:08}.{class}.db"))
    }
}

/// The file of segment `id`'s events of retention class `class` (`""`: the segment's own file).
pub fn class_path(dir: &Path, id: u32, class: &str) -> PathBuf {
    if class.is_empty() {
        path(dir, id)
    } else {
        dir.join(format!("seg-{id:08}.{class}.db"))
    }
}

/// True when `name` is a segment file's name (own, class or merged).
pub fn is_segment_name(name: &str) -> bool {
    parse_name(name).is_some()
}

/// The segment ids and class a file name names: `seg-00000005.db`, `seg-00000005.auth.db`,
/// or merged `seg-00000005-00000009[.auth].db`.
fn parse_name(name: &str) -> Option<(u32, u32, String)> {
    let rest = name.strip_prefix("seg-")?.strip_suffix(".db")?;
    let (num, class) = match rest.split_once('.') {
        Some((n, c)) if crate::store::retention::valid_class(c) => (n, c),
        Some(_) => return None,
        None => (rest, ""),
    };
    let (first, last) = match num.split_once('-') {
        Some((a, b)) => (a.parse().ok()?, b.parse().ok()?),
        None => {
            let id = num.parse().ok()?;
            (id, id)
        }
    };
    (first <= last).then(|| (first, last, class.to_string()))
}

/// Reads the state of every segment in `dir`, oldest first. Files a crash left behind (a
/// compaction or merge cut short, a file created without its schema) are left out; with
/// `cleanup` they are also removed, which only the process that writes the store may do: a
/// reader beside a running collector would find the files of a compaction in progress.
pub fn scan(dir: &Path, cleanup: bool) -> Result<Vec<SegmentInfo>, Error> {
    let io = |source| Error::Io {
        path: dir.display().to_string(),
        source,
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let p = entry.map_err(io)?.path();
        // A compaction cut short (a crash, a full disk): the sealed file it read is still there.
        if p.extension().is_some_and(|x| x == "compacting") {
            if cleanup {
                let _gone = std::fs::remove_file(&p);
            }
            continue;
        }
        let named = p.file_name().and_then(|n| n.to_str()).and_then(parse_name);
        if let Some((id, last, class)) = named {
            // A file without the segment schema (cut short by a full disk while it was being
            // created, before it could hold any event) is set aside, not fatal.
            match open_read_only(&p).and_then(|conn| read_info(&conn, id, &class, &p)) {
                Ok(info) => out.push(SegmentInfo { last, ..info }),
                Err(e) if e.to_string().contains("no such table") && !cleanup => {
                    tracing::debug!(path = %p.display(), error = %e, "A segment file cannot be read yet; left out.");
                }
                Err(e) if e.to_string().contains("no such table") => {
                    let aside = p.with_extension("db.unreadable");
                    tracing::error!(path = %p.display(), error = %e, moved_to = %aside.display(), "A segment file cannot be read; it is set aside and the store opens without it.");
                    std::fs::rename(&p, &aside).map_err(|source| Error::Io {
                        path: p.display().to_string(),
                        source,
                    })?;
                }
                Err(e) => return Err(e),
            }
        }
    }
    // A class file whose segment is not compressed yet is from a split that a crash cut short:
    // the segment still holds those events and is split again.
    let unsplit: std::collections::HashSet<u32> = out
        .iter()
        .filter(|s| s.class.is_empty() && s.state != SegmentState::Compact)
        .map(|s| s.id)
        .collect();
    // A file whose segments a merged file of its class covers is from a merge that a crash cut
    // short before the merged sources were removed: the merged file holds its events.
    let merged: Vec<(u32, u32, String)> = out
        .iter()
        .filter(|s| s.merged())
        .map(|s| (s.id, s.last, s.class.clone()))
        .collect();
    out.retain(|s| {
        let unsplit = !s.class.is_empty() && unsplit.contains(&s.id);
        let covered = merged.iter().any(|(a, b, c)| {
            *c == s.class && *a <= s.id && s.last <= *b && (*a, *b) != (s.id, s.last)
        });
        if cleanup && (unsplit || covered) {
            let _gone = std::fs::remove_file(&s.path);
        }
        !(unsplit || covered)
    });
    out.sort_by(|a, b| (a.id, &a.class).cmp(&(b.id, &b.class)));
    Ok(out)
}

/// Opens a read-only connection.
pub fn open_read_only(p: &Path) -> Result<Connection, Error> {
    let conn = Connection::open_with_flags(
        p,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(db_err(p))?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(db_err(p))?;
    conn.execute_batch("PRAGMA query_only = 1; PRAGMA cache_size = -8000;")
        .map_err(db_err(p))?;
    Ok(conn)
}

/// Opens an existing segment read-write with the write-side pragmas. It never creates the
/// file: a segment that retention removed meanwhile is an error, not a new empty file.
pub fn open_read_write(p: &Path) -> Result<Connection, Error> {
    open_with(
        p,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
}

fn open_with(p: &Path, flags: OpenFlags) -> Result<Connection, Error> {
    let conn = Connection::open_with_flags(p, flags).map_err(db_err(p))?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(db_err(p))?;
    // Journal mode is per database and cannot change inside a transaction, so it is set here,
    // outside the migrations. WAL lets readers run beside the writer; NORMAL sync is safe
    // with WAL, and the spool holds what a power cut could lose.
    //
    // No automatic checkpoints, not even on close: copying the WAL back into the database
    // took a third of the writer thread's time. A hot segment's WAL grows until the segment is
    // sealed, and the indexer thread checkpoints it once, when it indexes the segment.
    // The cache holds a whole write batch, so no page is spilled to the WAL mid-transaction.
    conn.execute_batch(
        "PRAGMA page_size = 16384; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -12000; \
         PRAGMA wal_autocheckpoint = 0; PRAGMA temp_store = FILE;",
    )
    .map_err(db_err(p))?;
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
        true,
    )
    .map_err(db_err(p))?;
    Ok(conn)
}

/// Creates segment `id` (or opens it if it exists) and applies pending migrations.
pub fn create(
    dir: &Path,
    id: u32,
    checkpoint: Checkpoint,
) -> Result<(Connection, SegmentInfo), Error> {
    let p = path(dir, id);
    let mut conn = open_with(
        &p,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    super::migrate::apply(&mut conn, &p, super::migrate::SEGMENT)?;
    let tx = conn.transaction().map_err(db_err(&p))?;
    {
        let mut put = tx
            .prepare_cached("INSERT OR IGNORE INTO meta(key, value) VALUES (?1, ?2)")
            .map_err(db_err(&p))?;
        put.execute(rusqlite::params!["state", "hot"])
            .map_err(db_err(&p))?;
        put.execute(rusqlite::params!["spool_file", checkpoint.file as i64])
            .map_err(db_err(&p))?;
        put.execute(rusqlite::params!["spool_offset", checkpoint.offset as i64])
            .map_err(db_err(&p))?;
    }
    tx.commit().map_err(db_err(&p))?;
    let info = read_info(&conn, id, "", &p)?;
    Ok((conn, info))
}

/// What a segment file's `meta` table says of it.
pub fn read_info(conn: &Connection, id: u32, class: &str, p: &Path) -> Result<SegmentInfo, Error> {
    use rusqlite::types::Value;
    let e = db_err(p);
    let mut meta = std::collections::HashMap::new();
    let mut stmt = conn.prepare("SELECT key, value FROM meta").map_err(&e)?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Value>(1)?)))
        .map_err(&e)?;
    for row in rows {
        let (k, v) = row.map_err(&e)?;
        meta.insert(k, v);
    }
    let int = |key: &str, d: i64| match meta.get(key) {
        Some(Value::Integer(i)) => *i,
        _ => d,
    };
    let rows = u64::try_from(int("rows", 0)).unwrap_or(0);
    let last = match meta.get("last_segment") {
        Some(Value::Integer(l)) => u32::try_from(*l).unwrap_or(id).max(id),
        _ => id,
    };
    Ok(SegmentInfo {
        id,
        last,
        class: class.to_string(),
        path: p.to_path_buf(),
        min_ts: int("min_ts", i64::MAX),
        max_ts: int("max_ts", i64::MIN),
        rows,
        state: match meta.get("state") {
            Some(Value::Text(s)) => SegmentState::parse(s),
            _ => SegmentState::Hot,
        },
        checkpoint: Checkpoint {
            file: u64::try_from(int("spool_file", 0)).unwrap_or(0),
            offset: u64::try_from(int("spool_offset", 0)).unwrap_or(0),
        },
        // A segment with rows but no recorded bound predates it: treat it as unordered.
        disorder: int("disorder", if rows > 0 { i64::MAX } else { 0 }),
    })
}

/// Writes the segment's state.
pub fn set_state(conn: &Connection, p: &Path, state: SegmentState) -> Result<(), Error> {
    conn.execute(
        "INSERT OR REPLACE INTO meta(key, value) VALUES ('state', ?1)",
        [state.as_str()],
    )
    .map_err(db_err(p))?;
    Ok(())
}
