#![allow(clippy::unwrap_used, clippy::expect_used)]
//! TCP framing throughput: octet-counted and LF-framed streams of firewall lines, decoded in
//! 64 KiB reads as the listener does. Run: `cargo bench --bench framing`.

use bytes::BytesMut;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use picket::ingest::framing::SyslogDecoder;
use tokio_util::codec::Decoder;

fn stream(octet: bool) -> Vec<u8> {
    let mut s = Vec::new();
    for l in picket::test_util::firewall_lines(10_000) {
        if octet {
            s.extend_from_slice(format!("{} ", l.len()).as_bytes());
            s.extend_from_slice(&l);
        } else {
            s.extend_from_slice(&l);
            s.push(b'\n');
        }
    }
    s
}

fn decode(data: &[u8]) -> usize {
    let mut dec = SyslogDecoder::new(65536);
    let mut buf = BytesMut::with_capacity(128 * 1024);
    let mut n = 0;
    for chunk in data.chunks(64 * 1024) {
        buf.extend_from_slice(chunk);
        while let Some(f) = dec.decode(&mut buf).unwrap() {
            n += f.bytes.len();
        }
    }
    n
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("framing");
    for (name, octet) in [("octet_counting", true), ("lf", false)] {
        let data = stream(octet);
        g.throughput(Throughput::Elements(10_000));
        g.bench_function(name, |b| {
            b.iter_batched(|| (), |_| decode(&data), BatchSize::SmallInput)
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
