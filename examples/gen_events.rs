//! Fills a data directory with N synthetic events (`test_util::mixed_line`: firewall traffic,
//! sshd, kernel and cron lines from five hosts and two firewalls, parsed by the real chain) spread evenly over the last D days, straight through the store writer,
//! waits until every segment is indexed, then times searches in-process.
//!
//! usage: gen_events DATA_DIR [N=10000000] [DAYS=30]
//! Then: picket search --data-dir DATA_DIR 'source.ip:10.1.2.3' --from -24h
#![allow(clippy::unwrap_used, clippy::expect_used)]

use picket::model::{Checkpoint, Frame, Transport};
use picket::parse::{Chain, HeaderOptions};
use picket::query::SearchQuery;
use picket::store::sqlite::{Options, SqliteStore};
use picket::store::{EventReader, EventWriter};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let dir = std::path::PathBuf::from(a.get(1).expect("usage: gen_events DATA_DIR [N] [DAYS]"));
    let n: usize = a.get(2).map_or(10_000_000, |s| s.parse().unwrap());
    let days: i64 = a.get(3).map_or(30, |s| s.parse().unwrap());
    let store_dir = dir.join("store");
    let st = SqliteStore::open(&store_dir, Options::default()).unwrap();
    if st.reader().count().unwrap() == 0 {
        let now = chrono::Utc::now().timestamp_micros();
        let span = days * 86_400_000_000;
        let chain = Chain::new(vec![HeaderOptions::default()]);
        let mut w = Box::new(
            st.writer(
                vec!["syslog0".into()],
                Arc::new(picket::telemetry::Metrics::new(["syslog0".into()])),
            )
            .unwrap(),
        );
        let t = Instant::now();
        let mut batch = Vec::with_capacity(20_000);
        for i in 0..n {
            let line = picket::test_util::mixed_line(i);
            let peer = format!("192.0.2.{}:514", 10 + i % 7);
            let mut ev = chain.parse(&Frame {
                bytes: line.into(),
                peer: peer.parse().unwrap(),
                listener: 0,
                transport: Transport::Udp,
                received_at: now,
                truncated: false,
            });
            ev.timestamp = now - span + (i as i64) * (span / n as i64);
            ev.ingested = ev.timestamp;
            batch.push(ev);
            if batch.len() == 20_000 {
                w.write_batch(&batch, Checkpoint::default()).unwrap();
                batch.clear();
            }
            if i % 1_000_000 == 0 && i > 0 {
                eprintln!("{i} events, {:.0}/s", i as f64 / t.elapsed().as_secs_f64());
            }
        }
        w.write_batch(&batch, Checkpoint::default()).unwrap();
        w.maintain().unwrap();
        let written = t.elapsed();
        assert!(st.wait_indexed(Duration::from_secs(3600)));
        eprintln!(
            "wrote {n} events in {written:.1?}; all indexed after {:.1?}",
            t.elapsed()
        );
        w.close().unwrap();
    }
    let st = SqliteStore::open(&store_dir, Options::default()).unwrap();
    let r = st.reader();
    let now = chrono::Utc::now().timestamp_micros();
    // A source address seen in the last day (ASA lines carry none before the parsers issue).
    let recent = r.search(&SearchQuery::parse("", 10).unwrap()).unwrap();
    let ip = recent
        .iter()
        .find_map(|e| e.event.field("source.ip"))
        .map(|v| v.as_text().into_owned())
        .unwrap_or_default();
    let rare = picket::test_util::firewall_line(n / 2);
    let rare_token = String::from_utf8_lossy(&rare)
        .split_whitespace()
        .find_map(|w| w.strip_prefix("sessionid=").map(str::to_owned))
        .unwrap_or_else(|| "302013".into());
    let cases: Vec<(String, String, Option<i64>)> = vec![
        (
            format!("source.ip {ip} over 24 h"),
            format!("source.ip:{ip}"),
            Some(now - 86_400_000_000),
        ),
        (
            format!("full-text rare term {rare_token}, all time"),
            rare_token.clone(),
            None,
        ),
        (
            "full-text common term deny, all time".into(),
            "deny".into(),
            None,
        ),
        (
            "host.name:asa01 over 24 h".into(),
            "host.name:asa01".into(),
            Some(now - 86_400_000_000),
        ),
    ];
    println!(
        "{} events in {} segments",
        r.count().unwrap(),
        st.segments().len()
    );
    for (label, q, from) in cases {
        let mut q = SearchQuery::parse(&q, 100).unwrap();
        q.from = from;
        let mut times = Vec::new();
        let mut hits = 0;
        for _ in 0..5 {
            let t = Instant::now();
            hits = r.search(&q).unwrap().len();
            times.push(t.elapsed());
        }
        times.sort();
        println!(
            "{label}: {hits} rows, median {:.1?} (min {:.1?}, max {:.1?})",
            times[2], times[0], times[4]
        );
    }
}
