#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Store write throughput: one batch of parsed firewall events committed to the hot segment
//! (what the store writer does per transaction), and sealing a segment (bulk B-tree and
//! full-text indexes). Run: `cargo bench --bench store_write`.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use picket::model::{Checkpoint, Event, Frame, Transport};
use picket::parse::{Chain, HeaderOptions};
use picket::store::EventWriter;
use picket::store::sqlite::{Options, SqliteStore};
use picket::telemetry::Metrics;
use std::sync::Arc;
use std::time::Duration;

fn events(n: usize) -> Vec<Event> {
    events_with(n, Chain::new(vec![HeaderOptions::default()]))
}

/// The same lines with the syslog header parsed only (`[parse] body = false`).
fn header_only(n: usize) -> Vec<Event> {
    events_with(n, Chain::header_only(vec![HeaderOptions::default()]))
}

fn events_with(n: usize, chain: Chain) -> Vec<Event> {
    let now = chrono::Utc::now().timestamp_micros();
    picket::test_util::firewall_lines(n)
        .into_iter()
        .map(|l| {
            chain.parse(&Frame {
                bytes: l.into(),
                peer: "127.0.0.1:514".parse().unwrap(),
                listener: 0,
                transport: Transport::Tcp,
                received_at: now,
                truncated: false,
            })
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let batch = events(20_000);
    let mut g = c.benchmark_group("store");
    g.sample_size(10);
    g.throughput(Throughput::Elements(batch.len() as u64));
    // A fresh store per sample: the timed part is one 20,000-event transaction; then the same
    // with header-only events (the store's share of parsing's cost).
    let bare = header_only(20_000);
    for (name, events) in [
        ("write_batch_20k", &batch),
        ("write_batch_20k_header_only", &bare),
    ] {
        g.bench_function(name, |b| {
            b.iter_batched(
                || {
                    let dir = tempfile::tempdir().unwrap();
                    let st = SqliteStore::open(dir.path(), Options::default()).unwrap();
                    let w = st
                        .writer(vec!["l".into()], Arc::new(Metrics::new(["l".into()])))
                        .unwrap();
                    (dir, st, w)
                },
                |(dir, st, mut w)| {
                    w.write_batch(events, Checkpoint::default()).unwrap();
                    (dir, st, w)
                },
                BatchSize::PerIteration,
            )
        });
    }
    // Seal and index a 100,000-event segment.
    let seg = events(100_000);
    g.throughput(Throughput::Elements(seg.len() as u64));
    g.bench_function("seal_and_index_100k", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().unwrap();
                let st = SqliteStore::open(
                    dir.path(),
                    Options {
                        segment_max_events: 100_000,
                        segment_max_age: Duration::from_secs(3600),
                        compress: true,
                        classes: Vec::new(),
                        archive_dir: None,
                        reserve_bytes: 0,
                    },
                )
                .unwrap();
                let mut w = Box::new(
                    st.writer(vec!["l".into()], Arc::new(Metrics::new(["l".into()])))
                        .unwrap(),
                );
                for chunk in seg.chunks(20_000).take(4) {
                    w.write_batch(chunk, Checkpoint::default()).unwrap();
                }
                (dir, st, w)
            },
            |(dir, st, mut w)| {
                // The last batch fills the segment and seals it; wait until it is indexed.
                w.write_batch(&seg[80_000..], Checkpoint::default())
                    .unwrap();
                // As the writer loop does when input pauses: tells the indexer ingest is idle.
                w.maintain().unwrap();
                assert!(st.wait_indexed(Duration::from_secs(120)));
                (dir, st, w)
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
