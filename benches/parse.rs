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

/// RFC 3164 firewall lines like `shared/bench/mkmsgs.py` makes (FortiGate kv and ASA).
pub fn firewall_lines(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let s = format!("10.{}.{}.{}", i % 250, (i / 250) % 250, 1 + i % 200);
            let d = format!("203.0.{}.{}", i % 200, 1 + i % 250);
            if i % 3 != 0 {
                format!(
                    "<189>Nov 22 10:{:02}:{:02} fw01 date=2026-11-22 time=10:{:02}:{:02} devname=\"FG100F\" devid=\"FG100FTK2000{}\" \
                     logid=\"0000000013\" type=\"traffic\" subtype=\"forward\" level=\"notice\" vd=\"root\" srcip={s} srcport={} \
                     srcintf=\"port1\" dstip={d} dstport=443 dstintf=\"wan1\" sessionid={} proto=6 action=\"deny\" policyid={} \
                     service=\"HTTPS\" sentbyte={} rcvdbyte={}",
                    i % 60, i % 60, i % 60, i % 60, i % 9, 1024 + i % 60000, 100000 + i, i % 40, i * 7 % 90000, i * 13 % 90000
                )
            } else {
                format!(
                    "<166>Nov 22 10:{:02}:{:02} asa01 %ASA-6-302013: Built inbound TCP connection {} for outside:{s}/{} ({s}/{}) to inside:{d}/443 ({d}/443)",
                    i % 60, i % 60, 200000 + i, 1024 + i % 60000, 1024 + i % 60000
                )
            }
            .into_bytes()
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let lines = firewall_lines(1000);
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
