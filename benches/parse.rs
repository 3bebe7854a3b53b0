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
    // The whole chain (header, body parser, normalisation) per vendor, the targets:
    // FortiGate traffic >= 400k lines/s, ASA and CEF >= 250k lines/s on one core.
    let fortigate: Vec<Vec<u8>> = (0..3000)
        .filter(|i| i % 3 != 0)
        .map(picket::test_util::firewall_line)
        .collect();
    let mut asa: Vec<Vec<u8>> = (0..3000)
        .filter(|i| i % 3 == 0)
        .map(picket::test_util::firewall_line)
        .collect();
    for f in [
        "elastic-test-sample.shared.log",
        "elastic-test-additional-messages.shared.log",
    ] {
        asa.extend(picket::test_util::corpus_lines(&format!(
            "vendors/cisco_asa/{f}"
        )));
    }
    let cef_cases: serde_json::Value = serde_json::from_slice(&picket::test_util::corpus_bytes(
        "cef/vrl-parse_cef-cases.json",
    ))
    .unwrap();
    let mut cef: Vec<Vec<u8>> = picket::test_util::corpus_lines("cef/elastic-test-cef.shared.log");
    for c in cef_cases["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c.get("expected").is_some())
    {
        cef.push(
            format!(
                "<134>Nov 22 10:00:00 sensor {}",
                c["input"].as_str().unwrap()
            )
            .into_bytes(),
        );
    }
    for (name, lines) in [
        ("fortigate_traffic", fortigate),
        ("cisco_asa", asa),
        ("cef", cef),
    ] {
        let fr = frames(&lines);
        g.throughput(Throughput::Elements(fr.len() as u64));
        g.bench_function(format!("chain_{name}"), |b| {
            b.iter(|| {
                fr.iter()
                    .map(|f| chain.parse(f).fields.len())
                    .sum::<usize>()
            })
        });
    }
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
