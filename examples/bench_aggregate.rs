//! Times the store's aggregation operation in-process on a data directory made by
//! `examples/gen_events` (10 M events over 30 days): the histogram of a common term over 30
//! days, the top 10 values of four fields for a query over 7 days, a count over 30 days. Each
//! is run once (cold when the page cache was dropped before: `echo 3 > /proc/sys/vm/drop_caches`)
//! and then five times warm (median and max printed). Also prints the share of events the term
//! matches.
//!
//! usage: bench_aggregate DATA_DIR [TERM=oracle] [ONLY]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use picket::query::SearchQuery;
use picket::store::EventReader;
use picket::store::aggregate::{AggResult, Aggregation};
use picket::store::sqlite::{Options, SqliteStore};
use std::time::Instant;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let dir = std::path::PathBuf::from(a.get(1).expect("usage: bench_aggregate DATA_DIR [TERM]"));
    let term = a.get(2).cloned().unwrap_or_else(|| "oracle".into());
    let st = SqliteStore::open(&dir.join("store"), Options::default()).unwrap();
    let r = st.reader();
    let now = chrono::Utc::now().timestamp_micros();
    let day = 86_400_000_000i64;
    let q = |text: &str, days: i64| {
        let mut q = SearchQuery::parse(text, 1).unwrap();
        q.from = Some(now - days * day);
        q
    };
    let total = match r.aggregate(&q("*", 3650), &Aggregation::Count).unwrap() {
        AggResult::Count { count } => count,
        _ => 0,
    };
    let mut cases: Vec<(String, SearchQuery, Aggregation)> = vec![(
        format!("histogram of {term}, 30 days, interval chosen"),
        q(&term, 30),
        Aggregation::Histogram { interval: None },
    )];
    for field in ["source.ip", "event.action", "host.name", "user.name"] {
        cases.push((
            format!("top 10 {field}, all events, 7 days"),
            q("*", 7),
            Aggregation::Top {
                field: field.into(),
                size: 10,
            },
        ));
    }
    cases.push((
        format!("count of {term}, 30 days"),
        q(&term, 30),
        Aggregation::Count,
    ));
    cases.push((
        "count of event.action:deny, 30 days".into(),
        q("event.action:deny", 30),
        Aggregation::Count,
    ));
    // An optional third argument runs only the cases whose label holds it (for profiling).
    let only = a.get(3).cloned().unwrap_or_default();
    for (label, query, agg) in cases.iter().filter(|c| c.0.contains(&only)) {
        let t = Instant::now();
        let res = r.aggregate(query, agg).unwrap();
        let first = t.elapsed();
        let mut warm: Vec<f64> = (0..5)
            .map(|_| {
                let t = Instant::now();
                r.aggregate(query, agg).unwrap();
                t.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        warm.sort_by(f64::total_cmp);
        let what = match &res {
            AggResult::Histogram { interval, buckets } => {
                let n: u64 = buckets.iter().map(|b| b.1).sum();
                format!(
                    "{} buckets of {} s, {n} events ({:.1}% of {total})",
                    buckets.len(),
                    interval / 1_000_000,
                    100.0 * n as f64 / total.max(1) as f64
                )
            }
            AggResult::Top {
                values,
                other,
                missing,
                ..
            } => format!(
                "{} values, first {:?}, other {other}, missing {missing}",
                values.len(),
                values.first()
            ),
            AggResult::Count { count } => format!("{count} events"),
        };
        println!(
            "{label}: first {:.0} ms, warm median {:.0} ms max {:.0} ms — {what}",
            first.as_secs_f64() * 1000.0,
            warm[2],
            warm[4]
        );
    }
}
