#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Rule evaluation cost per event: 100 rules, half of them windowed (event_count and
//! value_count by source.ip), on parsed firewall traffic, next to the cost of parsing the same
//! events in the same run. The figure is the ratio: rules must add under 25% to the
//! per-event CPU of the pipeline without rules. Run: `cargo bench --bench rules`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use picket::model::{Event, Frame, Transport};
use picket::parse::{Chain, HeaderOptions};
use picket::rules::Rules;

const N: usize = 10_000;

// The allocator the binary uses (src/main.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn frames() -> Vec<Frame> {
    picket::test_util::firewall_lines(N)
        .into_iter()
        .map(|l| Frame {
            bytes: l.into(),
            peer: "127.0.0.1:514".parse().unwrap(),
            listener: 0,
            transport: Transport::Tcp,
            received_at: 1_790_000_000_000_000,
            truncated: false,
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let chain = Chain::new(vec![HeaderOptions::default()]);
    let frames = frames();
    let events: Vec<Event> = frames.iter().map(|f| chain.parse(f)).collect();
    let files: Vec<(String, String)> = picket::test_util::synthetic_rules(100);
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let (rules, problems) = Rules::from_yaml(&refs, 100_000);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(
        rules.len(),
        150,
        "100 rules plus the 50 base rules of the windowed ones"
    );
    drop(rules);

    let mut g = c.benchmark_group("per_event");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("parse_only", |b| {
        b.iter(|| {
            for f in &frames {
                std::hint::black_box(chain.parse(f));
            }
        })
    });
    let det = Rules::from_yaml(&refs, 100_000).0;
    g.bench_function("detection_only", |b| {
        b.iter(|| {
            let mut n = 0;
            for ev in &events {
                n += det.detections(ev);
            }
            std::hint::black_box(n)
        })
    });
    // Steady state, as in the collector: one rule set whose windows persist across
    // iterations while the clock runs on at the collector's target rate (10 µs per event,
    // 100,000 events/s), with the once-a-second housekeeping the rules thread does.
    let mut live = Rules::from_yaml(&refs, 100_000).0;
    let mut clock: i64 = 1_790_000_000_000_000;
    let mut next_id = 0i64;
    g.bench_function("rules_100_half_windowed", |b| {
        b.iter(|| {
            let mut fired = 0;
            for ev in &events {
                clock += 10;
                next_id += 1;
                fired += live.process(ev, next_id, "bench", clock).len();
                if next_id % 100_000 == 0 {
                    fired += live.tick(clock, &[]).len();
                }
            }
            std::hint::black_box(fired)
        })
    });
    println!(
        "window keys held at the end: {}, evicted: {}",
        live.state_keys(),
        live.evicted
    );
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
