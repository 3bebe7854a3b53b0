#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Header and body parsing throughput on firewall lines (the shape of `shared/bench/mkmsgs.py`)
//! and corpus lines. Run: `cargo bench --bench parse`.

use bytes::Bytes;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use picket::model::{Frame, Transport};
use picket::parse::{Chain, HeaderOptions, header};

fn frames(lines: &[Vec<u8>]) -> Vec<Frame> {
    let received_at = chrono::Utc::now().timestamp_micros();
    lines
        .iter()
        .map(|l| Frame {
            bytes: Bytes::copy_from_slice(l),
            peer: "127.0.0.1:5000".parse().unwrap(),
            listener: 0,
            transport: Transport::Tcp,
            received_at,
            truncated: false,
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let lines = picket::test_util::firewall_lines(1000);
    let fr = frames(&lines);
    let opts = HeaderOptions::default();
    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Elements(fr.len() as u64));
    g.bench_function("header_rfc3164_firewall", |b| {
        b.iter_batched(
            || (),
            |_| {
                fr.iter()
                    .map(|f| header::parse(f, &opts).timestamp)
                    .sum::<i64>()
            },
            BatchSize::SmallInput,
        )
    });
    let chain = Chain::new(vec![opts]);
    g.bench_function("chain_firewall", |b| {
        b.iter_batched(
            || (),
            |_| {
                fr.iter()
                    .map(|f| chain.parse(f).fields.len())
                    .sum::<usize>()
            },
            BatchSize::SmallInput,
        )
    });
    let rfc5424 = frames(&picket::test_util::corpus_lines("syslog/rfc-examples.log"));
    g.throughput(Throughput::Elements(rfc5424.len() as u64));
    g.bench_function("header_corpus_rfc_examples", |b| {
        b.iter(|| {
            rfc5424
                .iter()
                .map(|f| header::parse(f, &opts).timestamp)
                .sum::<i64>()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
