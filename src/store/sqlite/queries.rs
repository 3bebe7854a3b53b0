//! Searches across segments, newest first. Every value reaches SQL as a bound parameter.
//!
//! Segments are visited from the newest `max_ts` down; each gives its own newest `limit`
//! matches, which are merged. Once `limit` events are in hand, a segment whose newest event
//! is older than the oldest kept one cannot contribute, and the search stops.

use super::columns::{self, PROMOTED};
use super::compact::{self, Compact};
use super::db_err;
use super::segment::{self, SegmentInfo, SegmentState};
use super::sql;
use crate::model::{Event, FieldValue, MessageText, Transport};
use crate::query::{Expr, SearchQuery};
use crate::store::{Error, StoredEvent};
use rusqlite::OptionalExtension;
use rusqlite::types::Value;
use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::net::{IpAddr, SocketAddr};

/// The select list: `id`, the base columns, the promoted ones (see `columns`).
fn select_list() -> &'static str {
    static LIST: std::sync::LazyLock<String> = std::sync::LazyLock::new(columns::select_list);
    LIST.as_str()
}

/// Runs `q` over the segments of `catalog`.
pub fn search(catalog: &[SegmentInfo], q: &SearchQuery) -> Result<Vec<StoredEvent>, Error> {
    let (from, to) = bounds(q);
    let mut segs: Vec<&SegmentInfo> = catalog
        .iter()
        .filter(|s| s.rows > 0 && s.max_ts >= from && s.min_ts < to)
        .collect();
    segs.sort_by_key(|s| std::cmp::Reverse(s.max_ts));
    let mut top = TopK::new(q.limit);
    if q.limit == 0 {
        return Ok(Vec::new());
    }
    for seg in segs {
        if top.kth().is_some_and(|(ts, _)| seg.max_ts < ts) {
            break;
        }
        search_segment(seg, q, from, to, &mut top)?;
    }
    Ok(top.into_sorted())
}

/// A segment opened read-only, or None when it was removed since the catalog was read
/// (forget-host, retention): nothing to find there.
pub(super) fn open(seg: &SegmentInfo) -> Result<Option<rusqlite::Connection>, Error> {
    match segment::open_read_only(&seg.path) {
        Ok(c) => Ok(Some(c)),
        Err(_) if !seg.path.exists() => Ok(None),
        Err(err) => Err(err),
    }
}

/// A segment opened for reading, in either layout.
pub(super) enum Opened {
    /// The row table (hot, sealed, or indexed without compression).
    Rows(rusqlite::Connection),
    /// The compressed layout.
    Compact(Compact),
}

/// Opens a segment in whichever layout its file has now (the catalog may lag a compaction
/// that just replaced it), or None when it was removed.
pub(super) fn open_any(seg: &SegmentInfo) -> Result<Option<Opened>, Error> {
    let Some(conn) = open(seg)? else {
        return Ok(None);
    };
    if !compact::is_compact(&conn) {
        return Ok(Some(Opened::Rows(conn)));
    }
    drop(conn);
    Ok(Compact::open(&seg.path)?.map(Opened::Compact))
}

/// The query's `[from, to)` in microseconds, `to` capped by the cursor: nothing newer than
/// the cursor's time can come after it.
pub(super) fn bounds(q: &SearchQuery) -> (i64, i64) {
    let from = q.from.unwrap_or(i64::MIN);
    let to = q.to.unwrap_or(i64::MAX);
    match q.before {
        Some(c) => (from, to.min(c.ts.saturating_add(1))),
        None => (from, to),
    }
}

/// The `k` newest events seen so far, by (`@timestamp`, id).
struct TopK {
    k: usize,
    heap: BinaryHeap<Reverse<Ranked>>,
    /// Ids held, so that a plan that revisits rows adds each once.
    ids: HashSet<i64>,
}

struct Ranked(i64, i64, StoredEvent);

impl PartialEq for Ranked {
    fn eq(&self, o: &Self) -> bool {
        (self.0, self.1) == (o.0, o.1)
    }
}
impl Eq for Ranked {}
impl PartialOrd for Ranked {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Ranked {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.0, self.1).cmp(&(o.0, o.1))
    }
}

impl TopK {
    fn new(k: usize) -> Self {
        TopK {
            k,
            heap: BinaryHeap::with_capacity(k.min(4096) + 1),
            ids: HashSet::new(),
        }
    }

    fn push(&mut self, e: StoredEvent) {
        if self.ids.contains(&e.id) {
            return;
        }
        let r = Ranked(e.event.timestamp, e.id, e);
        if self.heap.len() < self.k {
            self.ids.insert(r.1);
            self.heap.push(Reverse(r));
        } else if self.heap.peek().is_some_and(|Reverse(min)| r > *min) {
            if let Some(Reverse(out)) = self.heap.pop() {
                self.ids.remove(&out.1);
            }
            self.ids.insert(r.1);
            self.heap.push(Reverse(r));
        }
    }

    /// The k-th newest (timestamp, id) once k events are held.
    fn kth(&self) -> Option<(i64, i64)> {
        if self.heap.len() < self.k {
            return None;
        }
        self.heap.peek().map(|Reverse(r)| (r.0, r.1))
    }

    /// True when no event older than or as old as `ts_bound` can enter any more.
    fn full_above(&self, ts_bound: i64) -> bool {
        self.kth().is_some_and(|(ts, _)| ts > ts_bound)
    }

    fn into_sorted(self) -> Vec<StoredEvent> {
        let mut v: Vec<Ranked> = self.heap.into_iter().map(|Reverse(r)| r).collect();
        v.sort_by(|a, b| b.cmp(a));
        v.into_iter().map(|r| r.2).collect()
    }
}

/// Full-text candidates examined newest-first before falling back to the set-based plan.
const STREAM_CANDIDATES: usize = 20_000;

fn search_segment(
    seg: &SegmentInfo,
    q: &SearchQuery,
    from: i64,
    to: i64,
    top: &mut TopK,
) -> Result<(), Error> {
    let e = db_err(&seg.path);
    let conn = match open_any(seg)? {
        None => return Ok(()),
        Some(Opened::Compact(c)) => return search_compact(seg, &c, q, from, to, top),
        Some(Opened::Rows(conn)) => conn,
    };
    sql::register(&conn).map_err(&e)?;
    let mut args: Vec<Value> = vec![Value::Integer(from), Value::Integer(to)];
    let mut cond = String::from("ts >= ?1 AND ts < ?2");
    cursor_condition(seg, q, &mut cond, &mut args);
    let indexed = seg.state == SegmentState::Indexed;
    let ordered = seg.disorder != i64::MAX;
    let seg_id = seg.id;
    if !indexed && ordered {
        // No secondary index here: walk rows newest-first and stop as soon as no older row
        // can rank among the k newest (see `SegmentInfo::disorder`).
        let target = sql::Target {
            indexed,
            required_done: false,
        };
        push_condition(&q.expr, target, &mut cond, &mut args);
        let sql = format!(
            "SELECT {} FROM events WHERE {cond} ORDER BY id DESC",
            select_list()
        );
        let mut stmt = conn.prepare(&sql).map_err(&e)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(args)).map_err(&e)?;
        while let Some(r) = rows.next().map_err(&e)? {
            let ev = row_to_event(r, seg_id).map_err(&e)?;
            let bound = ev.event.timestamp.saturating_add(seg.disorder);
            top.push(ev);
            if top.full_above(bound) || bound < from {
                break;
            }
        }
        return Ok(());
    }
    let required = q.expr.required_texts();
    if indexed && ordered && !required.is_empty() {
        let mut lookup_cond = cond.clone();
        let mut lookup_args = args.clone();
        let target = sql::Target {
            indexed,
            required_done: true,
        };
        push_condition(&q.expr, target, &mut lookup_cond, &mut lookup_args);
        let m = sql::fts_match(&required);
        if stream_fts(&conn, seg, &m, &lookup_cond, &lookup_args, from, top).map_err(&e)? {
            return Ok(());
        }
    }
    let target = sql::Target {
        indexed,
        required_done: false,
    };
    let sql = newest_sql(q, target, top.k, &mut cond, &mut args);
    let mut stmt = conn.prepare(&sql).map_err(&e)?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(args), |r| {
            row_to_event(r, seg_id)
        })
        .map_err(&e)?;
    for r in rows {
        top.push(r.map_err(&e)?);
    }
    Ok(())
}

/// A search in a compressed segment: the blocks that can hold a match (time range, full-text
/// candidates), newest first, each loaded and queried with the row plan until no older block
/// can rank among the k newest.
fn search_compact(
    seg: &SegmentInfo,
    c: &Compact,
    q: &SearchQuery,
    from: i64,
    to: i64,
    top: &mut TopK,
) -> Result<(), Error> {
    let e = db_err(&seg.path);
    let plan = compact::fts_plan(&q.expr);
    let ids = match &plan.matcher {
        Some(m) => Some(c.fts_ids(m)?),
        None => None,
    };
    let mut blocks = compact_blocks(c, ids.as_deref(), from, to);
    blocks.sort_by_key(|b| Reverse(b.max_ts));
    let mut args: Vec<Value> = vec![Value::Integer(from), Value::Integer(to)];
    let mut cond = String::from("ts >= ?1 AND ts < ?2");
    cursor_condition(seg, q, &mut cond, &mut args);
    let target = sql::Target {
        indexed: false,
        required_done: false,
    };
    let sql = newest_sql(q, target, top.k, &mut cond, &mut args);
    for b in blocks {
        if top.full_above(b.max_ts) {
            break;
        }
        c.load(&b, ids.as_deref().map(|i| compact::ids_in(i, &b)), true)?;
        let mut stmt = c.conn().prepare_cached(&sql).map_err(&e)?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args.iter()), |r| {
                row_to_event(r, seg.id)
            })
            .map_err(&e)?;
        for r in rows {
            top.push(r.map_err(&e)?);
        }
    }
    Ok(())
}

/// The blocks of a compressed segment that overlap `[from, to)` and hold one of `ids` (when
/// given), oldest first.
pub(super) fn compact_blocks(
    c: &Compact,
    ids: Option<&[i64]>,
    from: i64,
    to: i64,
) -> Vec<compact::BlockMeta> {
    c.blocks
        .iter()
        .filter(|b| b.max_ts >= from && b.min_ts < to)
        .filter(|b| ids.is_none_or(|ids| !compact::ids_in(ids, b).is_empty()))
        .copied()
        .collect()
}

/// The newest `k` rows matching `cond` (range and cursor so far) and the query, newest first;
/// the query's parameters and `k` are appended to `args`.
fn newest_sql(
    q: &SearchQuery,
    target: sql::Target,
    k: usize,
    cond: &mut String,
    args: &mut Vec<Value>,
) -> String {
    push_condition(&q.expr, target, cond, args);
    args.push(Value::Integer(i64::try_from(k).unwrap_or(i64::MAX)));
    format!(
        "SELECT {} FROM events WHERE {cond} ORDER BY ts DESC, id DESC LIMIT ?{}",
        select_list(),
        args.len()
    )
}

/// Appends ` AND (expr)` unless the expression matches everything.
pub(super) fn push_condition(
    expr: &Expr,
    t: sql::Target,
    cond: &mut String,
    args: &mut Vec<Value>,
) {
    if !expr.is_all() {
        let c = sql::condition(expr, t, args);
        cond.push_str(" AND ");
        cond.push_str(&c);
    }
}

/// Keyset paging: rows strictly before the cursor in (`@timestamp`, id) order. Ids order by
/// segment first, so in an older segment every row at the cursor's time comes before it, in a
/// newer one none does, and in the cursor's own segment the rowid decides.
pub(super) fn cursor_condition(
    seg: &SegmentInfo,
    q: &SearchQuery,
    cond: &mut String,
    args: &mut Vec<Value>,
) {
    let Some(c) = q.before else { return };
    let cseg = c.id >> 32;
    let crow = c.id & 0xFFFF_FFFF;
    args.push(Value::Integer(c.ts));
    let ts = args.len();
    if seg.merged() {
        // Full ids here: they compare with the cursor's directly.
        args.push(Value::Integer(c.id));
        cond.push_str(&format!(
            " AND (ts < ?{ts} OR (ts = ?{ts} AND id < ?{}))",
            args.len()
        ));
        return;
    }
    match i64::from(seg.id).cmp(&cseg) {
        std::cmp::Ordering::Less => {}
        std::cmp::Ordering::Greater => cond.push_str(&format!(" AND ts < ?{ts}")),
        std::cmp::Ordering::Equal => {
            args.push(Value::Integer(crow));
            cond.push_str(&format!(
                " AND (ts < ?{ts} OR (ts = ?{ts} AND id < ?{}))",
                args.len()
            ));
        }
    }
}

/// Full-text matches newest-first (FTS5 yields rowids in descending order cheaply), each
/// checked against the other conditions by primary key. Returns false when the answer is not
/// settled within `STREAM_CANDIDATES` candidates (a common term with a selective filter); the
/// caller then runs the set-based plan, and the events already pushed are matches either way.
fn stream_fts(
    conn: &rusqlite::Connection,
    seg: &SegmentInfo,
    matcher: &str,
    cond: &str,
    args: &[Value],
    from: i64,
    top: &mut TopK,
) -> rusqlite::Result<bool> {
    let mut cands = conn.prepare("SELECT rowid FROM fts WHERE fts MATCH ?1 ORDER BY rowid DESC")?;
    let mut ids = cands.query([matcher])?;
    let mut one_args: Vec<Value> = args.to_vec();
    one_args.push(Value::Integer(0));
    let id_param = one_args.len();
    let mut lookup = conn.prepare(&format!(
        "SELECT {} FROM events WHERE id = ?{id_param} AND {cond}",
        select_list()
    ))?;
    let mut n = 0usize;
    while let Some(r) = ids.next()? {
        n += 1;
        if n > STREAM_CANDIDATES {
            return Ok(false);
        }
        let id: i64 = r.get(0)?;
        if let Some(v) = one_args.last_mut() {
            *v = Value::Integer(id);
        }
        let mut rows = lookup.query(rusqlite::params_from_iter(one_args.iter()))?;
        if let Some(row) = rows.next()? {
            let ev = row_to_event(row, seg.id)?;
            let bound = ev.event.timestamp.saturating_add(seg.disorder);
            top.push(ev);
            if top.full_above(bound) || bound < from {
                return Ok(true);
            }
        }
    }
    Ok(true)
}

fn row_to_event(r: &rusqlite::Row<'_>, seg: u32) -> rusqlite::Result<StoredEvent> {
    let rowid: i64 = r.get(0)?;
    let sender: String = r.get(3)?;
    let port: i64 = r.get(4)?;
    let ip: IpAddr = sender.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let transport = Transport::from_name(r.get_ref(6)?.as_str().unwrap_or_default());
    let small = |v: Option<i64>| v.and_then(|v| u8::try_from(v).ok());
    let msg_off: Option<i64> = r.get(17)?;
    let message: Option<String> = r.get(18)?;
    let flags: i64 = r.get(20)?;
    let raw: Vec<u8> = r.get(21)?;
    let mut fields: Vec<(Cow<'static, str>, FieldValue)> = Vec::new();
    for (i, name) in [
        (15, crate::model::fields::SOURCE_IP),
        (16, crate::model::fields::DESTINATION_IP),
    ] {
        if let Some(v) = r.get::<_, Option<String>>(i)? {
            fields.push((Cow::Borrowed(name), FieldValue::Str(v)));
        }
    }
    let base = 1 + columns::BASE.len();
    for (i, p) in PROMOTED.iter().enumerate() {
        match r.get_ref(base + i)? {
            rusqlite::types::ValueRef::Integer(n) => {
                fields.push((Cow::Borrowed(p.field), FieldValue::Int(n)))
            }
            rusqlite::types::ValueRef::Text(t) => fields.push((
                Cow::Borrowed(p.field),
                FieldValue::Str(String::from_utf8_lossy(t).into_owned()),
            )),
            _ => {}
        }
    }
    let mut clamped_from = None;
    if let Some(json) = r.get::<_, Option<String>>(19)? {
        if let Ok(serde_json::Value::Object(m)) = serde_json::from_str(&json) {
            for (k, v) in m {
                if k == crate::model::fields::PICKET_CLAMPED_TIMESTAMP {
                    clamped_from = v.as_i64();
                    continue;
                }
                let fv = match v {
                    serde_json::Value::String(s) => FieldValue::Str(s),
                    serde_json::Value::Bool(b) => FieldValue::Bool(b),
                    serde_json::Value::Number(n) => match n.as_i64() {
                        Some(i) => FieldValue::Int(i),
                        None => FieldValue::Str(n.to_string()),
                    },
                    other => FieldValue::Str(other.to_string()),
                };
                fields.push((Cow::Owned(k), fv));
            }
        }
    }
    let event = Event {
        timestamp: r.get(1)?,
        ingested: r.get(2)?,
        peer: SocketAddr::new(ip, u16::try_from(port).unwrap_or(0)),
        listener: 0,
        transport,
        facility: small(r.get(7)?),
        severity: small(r.get(8)?),
        host: r.get(9)?,
        app: r.get(10)?,
        pid: r.get(11)?,
        msgid: r.get(12)?,
        dataset: Cow::Owned(r.get(13)?),
        parser: crate::model::fields::parser_name(r.get_ref(14)?.as_str().unwrap_or("none")),
        message: match (message, msg_off) {
            (Some(m), _) => MessageText::Owned(m),
            (None, Some(off)) => MessageText::RawSuffix(usize::try_from(off).unwrap_or(0)),
            (None, None) => MessageText::Owned(String::new()),
        },
        fields,
        raw: raw.into(),
        clamped_from,
        truncated: flags & 1 != 0,
        invalid_utf8: flags & 2 != 0,
    };
    Ok(StoredEvent {
        // A merged file stores full ids (all above 2^32); other files the row id.
        id: if rowid > 0xFFFF_FFFF {
            rowid
        } else {
            (i64::from(seg) << 32) | rowid
        },
        listener: r.get(5)?,
        event,
    })
}

/// Events received at or after `since` (`event.ingested`, microseconds), oldest first, at
/// most `limit`: what the rules replay after a restart. Segments are walked from the newest
/// back while their last event is recent enough (arrival order follows the ids).
pub fn received_since(
    catalog: &[SegmentInfo],
    since: i64,
    limit: usize,
) -> Result<Vec<StoredEvent>, Error> {
    let mut out: Vec<StoredEvent> = Vec::new();
    // Newest files first. Within a class arrival order follows the ids, so once a file of a
    // class ends before `since`, every older one of that class does too.
    let mut files: Vec<&SegmentInfo> = catalog.iter().collect();
    files.sort_by_key(|s| Reverse((s.last, s.id)));
    let mut done: Vec<&str> = Vec::new();
    for (n, seg) in files.iter().enumerate() {
        if done.contains(&seg.class.as_str()) || (seg.rows == 0 && seg.state != SegmentState::Hot) {
            continue;
        }
        if !received_in(seg, since, &mut out)? {
            done.push(seg.class.as_str());
        }
        // Enough: `limit` events newer than anything a file left can hold.
        let enough = match files.get(n + 1) {
            None => true,
            Some(next) => {
                let above = (i64::from(next.last) + 1) << 32;
                out.iter().filter(|e| e.id >= above).count() >= limit
            }
        };
        if enough && out.len() >= limit {
            break;
        }
    }
    out.sort_by_key(|e| e.id);
    // Keep the newest `limit`.
    let skip = out.len().saturating_sub(limit);
    out.drain(..skip);
    Ok(out)
}

/// Appends the events of one file received at or after `since`; false when its newest arrival
/// is older than `since`.
fn received_in(seg: &SegmentInfo, since: i64, out: &mut Vec<StoredEvent>) -> Result<bool, Error> {
    let e = db_err(&seg.path);
    let sql = format!(
        "SELECT {} FROM events WHERE ingested >= ?1 ORDER BY id",
        select_list()
    );
    let conn = match open_any(seg)? {
        None => return Ok(true),
        Some(Opened::Compact(c)) => {
            let Some(last) = c.blocks.iter().map(|b| b.max_ingested).max() else {
                return Ok(true);
            };
            if last < since {
                return Ok(false);
            }
            for b in c.blocks.iter().filter(|b| b.max_ingested >= since) {
                c.load(b, None, true)?;
                let mut stmt = c.conn().prepare_cached(&sql).map_err(&e)?;
                for r in stmt
                    .query_map([since], |r| row_to_event(r, seg.id))
                    .map_err(&e)?
                {
                    out.push(r.map_err(&e)?);
                }
            }
            return Ok(true);
        }
        Some(Opened::Rows(conn)) => conn,
    };
    let last: Option<i64> = conn
        .query_row(
            "SELECT ingested FROM events ORDER BY id DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(&e)?;
    let Some(last) = last else { return Ok(true) };
    if last < since {
        return Ok(false);
    }
    let mut stmt = conn.prepare(&sql).map_err(&e)?;
    for r in stmt
        .query_map([since], |r| row_to_event(r, seg.id))
        .map_err(&e)?
    {
        out.push(r.map_err(&e)?);
    }
    Ok(true)
}

/// One event by id (segment in the high 32 bits, rowid in the low), from whichever of the
/// segment's files (its own, its classes') holds it.
pub fn get(catalog: &[SegmentInfo], id: i64) -> Result<Option<StoredEvent>, Error> {
    let seg_id = u32::try_from(id >> 32).unwrap_or(u32::MAX);
    for seg in catalog.iter().filter(|s| s.covers(seg_id)) {
        if let Some(ev) = get_in(seg, seg.key(id))? {
            return Ok(Some(ev));
        }
    }
    Ok(None)
}

fn get_in(seg: &SegmentInfo, rowid: i64) -> Result<Option<StoredEvent>, Error> {
    let e = db_err(&seg.path);
    let conn = match open_any(seg)? {
        None => return Ok(None),
        Some(Opened::Compact(c)) => {
            let Some(b) = c
                .blocks
                .iter()
                .find(|b| b.first_id <= rowid && rowid <= b.last_id)
                .copied()
            else {
                return Ok(None);
            };
            c.load(&b, Some(&[rowid]), true)?;
            return c
                .conn()
                .query_row(
                    &format!("SELECT {} FROM events WHERE id = ?1", select_list()),
                    [rowid],
                    |r| row_to_event(r, seg.id),
                )
                .optional()
                .map_err(e);
        }
        Some(Opened::Rows(conn)) => conn,
    };
    conn.query_row(
        &format!("SELECT {} FROM events WHERE id = ?1", select_list()),
        [rowid],
        |r| row_to_event(r, seg.id),
    )
    .optional()
    .map_err(e)
}

/// The events of `ids` that exist: one connection per segment and, in a compressed segment, one
/// decoded block for all of its ids.
pub fn get_many(catalog: &[SegmentInfo], ids: &[i64]) -> Result<Vec<StoredEvent>, Error> {
    let mut sorted = ids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out = Vec::with_capacity(sorted.len());
    for part in sorted.chunk_by(|a, b| a >> 32 == b >> 32) {
        let Some(first) = part.first() else { continue };
        let seg_id = u32::try_from(first >> 32).unwrap_or(u32::MAX);
        for seg in catalog.iter().filter(|s| s.covers(seg_id)) {
            let keys: Vec<i64> = part.iter().map(|id| seg.key(*id)).collect();
            get_many_in(seg, &keys, &mut out)?;
        }
    }
    Ok(out)
}

/// The events of `rowids` (sorted) that one segment file holds, appended to `out`.
fn get_many_in(seg: &SegmentInfo, rowids: &[i64], out: &mut Vec<StoredEvent>) -> Result<(), Error> {
    let e = db_err(&seg.path);
    let by_id = format!("SELECT {} FROM events WHERE id = ?1", select_list());
    match open_any(seg)? {
        None => {}
        Some(Opened::Compact(c)) => {
            let all = format!("SELECT {} FROM events", select_list());
            for b in compact_blocks(&c, Some(rowids), i64::MIN, i64::MAX) {
                c.load(&b, Some(compact::ids_in(rowids, &b)), true)?;
                let mut stmt = c.conn().prepare_cached(&all).map_err(&e)?;
                for r in stmt
                    .query_map([], |r| row_to_event(r, seg.id))
                    .map_err(&e)?
                {
                    out.push(r.map_err(&e)?);
                }
            }
        }
        Some(Opened::Rows(conn)) => {
            let mut stmt = conn.prepare(&by_id).map_err(&e)?;
            for rowid in rowids {
                if let Some(ev) = stmt
                    .query_row([rowid], |r| row_to_event(r, seg.id))
                    .optional()
                    .map_err(&e)?
                {
                    out.push(ev);
                }
            }
        }
    }
    Ok(())
}
