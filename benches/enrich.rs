#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Enrichment cost per event with GeoIP City, ASN, 100,000 threat CIDRs and 10,000 asset
//! CIDRs loaded, on parsed firewall events (public and private addresses mixed).
//! Run: `cargo bench --bench enrich`.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use picket::enrich::{Asset, Enricher, Settings, threat::ListSpec};
use picket::model::{Event, Frame, Transport};
use picket::parse::{Chain, HeaderOptions};
use std::fmt::Write as _;

fn events(n: usize) -> Vec<Event> {
    let chain = Chain::new(vec![HeaderOptions::default()]);
    picket::test_util::firewall_lines(n)
        .into_iter()
        .map(|l| {
            chain.parse(&Frame {
                bytes: l.into(),
                peer: "127.0.0.1:514".parse().unwrap(),
                listener: 0,
                transport: Transport::Tcp,
                received_at: 0,
                truncated: false,
            })
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    // Deterministic pseudo-random networks.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut threats = String::new();
    for _ in 0..100_000 {
        let r = next();
        writeln!(
            threats,
            "{}.{}.{}.0/{}",
            1 + r % 223,
            (r >> 8) % 256,
            (r >> 16) % 256,
            16 + (r >> 24) % 17
        )
        .unwrap();
    }
    let threat_path = dir.path().join("threats.txt");
    std::fs::write(&threat_path, threats).unwrap();
    let mut assets = Vec::new();
    for i in 0..10_000u32 {
        assets.push((
            format!("10.{}.{}.0/24", i / 256, i % 256),
            Asset {
                name: format!("asset{i}").into(),
                owner: Some("it".into()),
                criticality: Some("high".into()),
                tags: vec![],
            },
        ));
    }
    let corpus = picket::test_util::corpus_dir().join("geoip");
    let (e, problems) = Enricher::load(&Settings {
        geoip: Some(corpus.join("GeoIP2-City-Test.mmdb")),
        asn: Some(corpus.join("GeoLite2-ASN-Test.mmdb")),
        threat_lists: vec![ListSpec {
            name: "bench".into(),
            path: threat_path,
            severity: "high".into(),
        }],
        assets,
        assets_csv: None,
    });
    assert!(problems.is_empty(), "{problems:?}");
    let batch = events(10_000);
    let mut g = c.benchmark_group("enrich");
    g.throughput(Throughput::Elements(batch.len() as u64));
    g.bench_function("geoip_asn_100k_threats_10k_assets", |b| {
        b.iter_batched(
            || batch.clone(),
            |mut evs| {
                for ev in &mut evs {
                    e.enrich(ev);
                }
                evs
            },
            BatchSize::LargeInput,
        )
    });
    // One threat-list lookup among 1,000,000 CIDRs.
    let mut big = String::with_capacity(20_000_000);
    for _ in 0..1_000_000 {
        let r = next();
        writeln!(
            big,
            "{}.{}.{}.{}/{}",
            1 + r % 223,
            (r >> 8) % 256,
            (r >> 16) % 256,
            (r >> 32) % 256,
            8 + (r >> 24) % 25
        )
        .unwrap();
    }
    let big_path = dir.path().join("big.txt");
    std::fs::write(&big_path, big).unwrap();
    let (t, errors) = picket::enrich::threat::Threats::load(&[ListSpec {
        name: "big".into(),
        path: big_path,
        severity: "low".into(),
    }]);
    assert!(errors.is_empty());
    let probes: Vec<std::net::IpAddr> = (0..1024)
        .map(|_| std::net::IpAddr::from((next() as u32).to_be_bytes()))
        .collect();
    g.throughput(Throughput::Elements(probes.len() as u64));
    g.bench_function("threat_lookup_1m_cidrs", |b| {
        b.iter(|| probes.iter().filter(|ip| t.ip(**ip).is_some()).count())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
