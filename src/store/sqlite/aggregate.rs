//! Aggregations on SQLite segments: per segment one grouped query that uses the same indexes and
//! full-text plans as a search, merged exactly across segments.

use super::compact::{self, Compact};
use super::queries::{Opened, bounds, compact_blocks, cursor_condition, open_any, push_condition};
use super::segment::{SegmentInfo, SegmentState};
use super::{db_err, sql};
use crate::query::{Field, SearchQuery};
use crate::store::Error;
use crate::store::aggregate::{AggResult, Aggregation, auto_interval, top_of};
use rusqlite::types::Value;
use std::collections::HashMap;

/// Histogram buckets when the interval is chosen.
const AUTO_BUCKETS: i64 = 100;

/// Computes `agg` over the matches of `q`.
pub fn aggregate(
    catalog: &[SegmentInfo],
    q: &SearchQuery,
    agg: &Aggregation,
) -> Result<AggResult, Error> {
    match agg {
        Aggregation::Count => {
            let mut count = 0u64;
            // Everything, all time: the catalog knows.
            if q.expr.is_all() && q.from.is_none() && q.to.is_none() && q.before.is_none() {
                return Ok(AggResult::Count {
                    count: catalog.iter().map(|s| s.rows).sum(),
                });
            }
            each_segment_with(catalog, q, "count(*)", "", &[], Need::Count, |out| {
                match out {
                    Out::Row(r) => count += u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
                    Out::Value(_) => count += 1,
                    Out::Count(n) => count += n,
                }
                Ok(())
            })?;
            Ok(AggResult::Count { count })
        }
        Aggregation::Histogram { interval } => {
            let (from, to) = bounds(q);
            let data_from = catalog
                .iter()
                .filter(|s| s.rows > 0)
                .map(|s| s.min_ts)
                .min();
            let data_to = catalog
                .iter()
                .filter(|s| s.rows > 0)
                .map(|s| s.max_ts)
                .max();
            let lo = if from == i64::MIN {
                data_from.unwrap_or(0)
            } else {
                from
            };
            let hi = if to == i64::MAX {
                data_to.map_or(1, |t| t + 1)
            } else {
                to
            };
            let interval = interval
                .filter(|i| *i > 0)
                .unwrap_or_else(|| auto_interval(lo, hi, AUTO_BUCKETS));
            let buckets = histogram(catalog, q, interval)?;
            Ok(AggResult::Histogram { interval, buckets })
        }
        Aggregation::Top { field, size } => {
            let f = Field::from_name(field)
                .ok_or_else(|| Error::NotFound(format!("no field {field:?}")))?;
            let mut counts: HashMap<String, u64> = HashMap::new();
            let mut missing = 0u64;
            let mut args = Vec::new();
            let expr = sql::value_expr(&f, &mut args);
            let need = match compact::field_column(&f) {
                Some(c) => Need::Column(c),
                None => Need::Rows { body: true },
            };
            each_segment_with(
                catalog,
                q,
                &format!("{expr}, count(*)"),
                " GROUP BY 1",
                &args,
                need,
                |out| {
                    match out {
                        Out::Row(r) => {
                            let n = u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0);
                            count_value(&mut counts, &mut missing, r.get_ref(0)?, n);
                        }
                        Out::Value(v) => count_value(&mut counts, &mut missing, v, 1),
                        Out::Count(_) => {}
                    }
                    Ok(())
                },
            )?;
            let (values, other) = top_of(counts.into_iter().collect(), *size);
            Ok(AggResult::Top {
                field: field.clone(),
                values,
                other,
                missing,
            })
        }
    }
}

/// Matches per `bucket_us` of `@timestamp` within the query's range (and before its cursor),
/// summed over the segments: one grouped count per segment, using the same plans' indexes.
pub fn histogram(
    catalog: &[SegmentInfo],
    q: &SearchQuery,
    bucket_us: i64,
) -> Result<Vec<(i64, u64)>, Error> {
    let bucket = bucket_us.max(1);
    let mut counts: std::collections::BTreeMap<i64, u64> = std::collections::BTreeMap::new();
    each_segment_with(
        catalog,
        q,
        "ts - (ts % ?1) - (CASE WHEN ts % ?1 < 0 THEN ?1 ELSE 0 END), count(*)",
        " GROUP BY 1",
        &[Value::Integer(bucket)],
        Need::Stamps,
        |out| {
            match out {
                Out::Row(r) => {
                    let n = u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0);
                    *counts.entry(r.get::<_, i64>(0)?).or_insert(0) += n;
                }
                Out::Value(ts) => {
                    let ts = ts.as_i64().unwrap_or(0);
                    *counts.entry(ts.div_euclid(bucket) * bucket).or_insert(0) += 1;
                }
                Out::Count(_) => {}
            }
            Ok(())
        },
    )?;
    Ok(counts.into_iter().collect())
}

/// Adds `n` events with value `v` to a top-values count.
fn count_value(
    counts: &mut HashMap<String, u64>,
    missing: &mut u64,
    v: rusqlite::types::ValueRef<'_>,
    n: u64,
) {
    use rusqlite::types::ValueRef;
    let key = match v {
        ValueRef::Null => {
            *missing += n;
            return;
        }
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(x) => x.to_string(),
        ValueRef::Text(t) | ValueRef::Blob(t) => match std::str::from_utf8(t) {
            Ok(s) => {
                if let Some(c) = counts.get_mut(s) {
                    *c += n;
                    return;
                }
                s.to_owned()
            }
            Err(_) => String::from_utf8_lossy(t).into_owned(),
        },
    };
    *counts.entry(key).or_insert(0) += n;
}

/// What an aggregation reads of each matching event, so that a compressed segment can answer
/// from as little as it has to decompress.
#[derive(Debug, Clone, Copy)]
enum Need {
    /// Only `ts` (counts, histograms): each match's `@timestamp` as a value, decoded from the
    /// blocks' `ts` column, when the full-text index answers the query exactly.
    Stamps,
    /// Only how many match: whole blocks inside the range are counted from the index alone.
    Count,
    /// The values of one column (top values): counted from the decoded column when the index
    /// answers the query exactly.
    Column(usize),
    /// Whole rows, with or without the message, raw bytes and other fields.
    Rows { body: bool },
}

/// One result handed to an aggregation: a row of its SQL, or one matching event's value of
/// the column it asked for.
enum Out<'a> {
    Row(&'a rusqlite::Row<'a>),
    Value(rusqlite::types::ValueRef<'a>),
    /// This many more matches.
    Count(u64),
}

/// Runs `SELECT {select} FROM events WHERE <the query's conditions>{tail}` on every segment
/// the query's range overlaps; `lead` are parameters `select` refers to (numbered first).
/// Compressed segments answer from one decoded column where `need` allows, and otherwise run
/// the same SQL on each candidate block.
fn each_segment_with(
    catalog: &[SegmentInfo],
    q: &SearchQuery,
    select: &str,
    tail: &str,
    lead: &[Value],
    need: Need,
    mut row: impl FnMut(Out<'_>) -> rusqlite::Result<()>,
) -> Result<(), Error> {
    let (from, to) = bounds(q);
    for seg in catalog
        .iter()
        .filter(|s| s.rows > 0 && s.max_ts >= from && s.min_ts < to)
    {
        let e = db_err(&seg.path);
        let conn = match open_any(seg)? {
            None => continue,
            Some(Opened::Compact(c)) => {
                compact_segment(seg, &c, q, select, tail, lead, need, &mut row)?;
                continue;
            }
            Some(Opened::Rows(conn)) => conn,
        };
        sql::register(&conn).map_err(&e)?;
        let (cond, args) = conditions(
            seg,
            q,
            lead,
            sql::Target {
                indexed: seg.state == SegmentState::Indexed,
                required_done: false,
            },
        );
        let mut stmt = conn
            .prepare(&format!("SELECT {select} FROM events WHERE {cond}{tail}"))
            .map_err(&e)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(args)).map_err(&e)?;
        while let Some(r) = rows.next().map_err(&e)? {
            row(Out::Row(r)).map_err(&e)?;
        }
    }
    Ok(())
}

/// The WHERE clause of an aggregation (range, cursor, query) and its parameters after `lead`.
fn conditions(
    seg: &SegmentInfo,
    q: &SearchQuery,
    lead: &[Value],
    target: sql::Target,
) -> (String, Vec<Value>) {
    let (from, to) = bounds(q);
    let mut args: Vec<Value> = lead.to_vec();
    args.push(Value::Integer(from));
    let f = args.len();
    args.push(Value::Integer(to));
    let mut cond = format!("ts >= ?{f} AND ts < ?{}", f + 1);
    cursor_condition(seg, q, &mut cond, &mut args);
    push_condition(&q.expr, target, &mut cond, &mut args);
    (cond, args)
}

/// [`each_segment_with`] on one compressed segment.
#[allow(clippy::too_many_arguments)]
fn compact_segment(
    seg: &SegmentInfo,
    c: &Compact,
    q: &SearchQuery,
    select: &str,
    tail: &str,
    lead: &[Value],
    need: Need,
    row: &mut impl FnMut(Out<'_>) -> rusqlite::Result<()>,
) -> Result<(), Error> {
    let e = db_err(&seg.path);
    let (from, to) = bounds(q);
    let plan = compact::fts_plan(&q.expr);
    if plan.exact {
        match need {
            Need::Stamps | Need::Count | Need::Column(_) if q.before.is_none() => {
                let col = match need {
                    Need::Column(c) => c,
                    _ => compact::col("ts"),
                };
                let ids = match &plan.matcher {
                    Some(m) => Some(c.fts_ids(m)?),
                    None => None,
                };
                for b in compact_blocks(c, ids.as_deref(), from, to) {
                    let part = ids.as_deref().map(|i| compact::ids_in(i, &b));
                    if matches!(need, Need::Count) && b.min_ts >= from && b.max_ts < to {
                        let n = part.map_or(b.rows, |p| p.len() as i64);
                        row(Out::Count(u64::try_from(n).unwrap_or(0))).map_err(&e)?;
                        continue;
                    }
                    c.for_each_value(&b, col, (from, to), part, &mut |v| {
                        row(Out::Value(v)).map_err(&e)
                    })?;
                }
                return Ok(());
            }
            _ => {}
        }
    }
    let ids = match &plan.matcher {
        Some(m) => Some(c.fts_ids(m)?),
        None => None,
    };
    let body = matches!(need, Need::Rows { body: true }) || compact::needs_body(&q.expr);
    let (cond, args) = conditions(
        seg,
        q,
        lead,
        sql::Target {
            indexed: false,
            required_done: false,
        },
    );
    let sql = format!("SELECT {select} FROM events WHERE {cond}{tail}");
    for b in compact_blocks(c, ids.as_deref(), from, to) {
        c.load(&b, ids.as_deref().map(|i| compact::ids_in(i, &b)), body)?;
        let mut stmt = c.conn().prepare_cached(&sql).map_err(&e)?;
        let mut rows = stmt
            .query(rusqlite::params_from_iter(args.iter()))
            .map_err(&e)?;
        while let Some(r) = rows.next().map_err(&e)? {
            row(Out::Row(r)).map_err(&e)?;
        }
    }
    Ok(())
}
