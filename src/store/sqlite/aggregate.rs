//! Aggregations on SQLite segments: per segment one grouped query that uses the same indexes and
//! full-text plans as a search, merged exactly across segments.

use super::queries::{bounds, cursor_condition, open, push_condition};
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
            each_segment_with(catalog, q, "count(*)", "", &[], |r| {
                count += u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0);
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
            each_segment_with(
                catalog,
                q,
                &format!("{expr}, count(*)"),
                " GROUP BY 1",
                &args,
                |r| {
                    let n = u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0);
                    match r.get::<_, Value>(0)? {
                        Value::Null => missing += n,
                        Value::Integer(i) => *counts.entry(i.to_string()).or_insert(0) += n,
                        Value::Real(x) => *counts.entry(x.to_string()).or_insert(0) += n,
                        Value::Text(t) => *counts.entry(t).or_insert(0) += n,
                        Value::Blob(b) => {
                            *counts
                                .entry(String::from_utf8_lossy(&b).into_owned())
                                .or_insert(0) += n
                        }
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
        |r| {
            let n = u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0);
            *counts.entry(r.get::<_, i64>(0)?).or_insert(0) += n;
            Ok(())
        },
    )?;
    Ok(counts.into_iter().collect())
}

/// Runs `SELECT {select} FROM events WHERE <the query's conditions>{tail}` on every segment
/// the query's range overlaps; `lead` are parameters `select` refers to (numbered first).
fn each_segment_with(
    catalog: &[SegmentInfo],
    q: &SearchQuery,
    select: &str,
    tail: &str,
    lead: &[Value],
    mut row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<()>,
) -> Result<(), Error> {
    let (from, to) = bounds(q);
    for seg in catalog
        .iter()
        .filter(|s| s.rows > 0 && s.max_ts >= from && s.min_ts < to)
    {
        let e = db_err(&seg.path);
        let Some(conn) = open(seg)? else {
            continue;
        };
        sql::register(&conn).map_err(&e)?;
        let mut args: Vec<Value> = lead.to_vec();
        args.push(Value::Integer(from));
        let f = args.len();
        args.push(Value::Integer(to));
        let mut cond = format!("ts >= ?{f} AND ts < ?{}", f + 1);
        cursor_condition(seg, q, &mut cond, &mut args);
        let target = sql::Target {
            indexed: seg.state == SegmentState::Indexed,
            required_done: false,
        };
        push_condition(&q.expr, target, &mut cond, &mut args);
        let mut stmt = conn
            .prepare(&format!("SELECT {select} FROM events WHERE {cond}{tail}"))
            .map_err(&e)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(args)).map_err(&e)?;
        while let Some(r) = rows.next().map_err(&e)? {
            row(r).map_err(&e)?;
        }
    }
    Ok(())
}
