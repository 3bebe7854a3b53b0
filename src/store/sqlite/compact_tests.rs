//! Tests of the compressed segment layout: byte-exact round trips, the size it reaches on
//! firewall-like lines, and that every query and aggregation answers exactly as on the row
//! layout.

use super::*;
use crate::model::{Checkpoint, Event, Frame, Transport};
use crate::parse::{Chain, HeaderOptions};
use crate::query::SearchQuery;
use crate::store::aggregate::Aggregation;
use crate::store::{EventReader, EventWriter};
use crate::telemetry::Metrics;

/// A small deterministic generator (xorshift), so the lines vary like real traffic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn ip(&mut self) -> String {
        let first = [10, 172, 192, 203, 198, 81][self.below(6) as usize];
        format!(
            "{first}.{}.{}.{}",
            self.below(256),
            self.below(256),
            1 + self.below(254)
        )
    }
}

/// Line `i`: two of three FortiGate-style traffic logs, the rest ASA-style connection logs,
/// with random addresses, ports, counters and actions, and a unique session number each (the
/// shape of `../shared/bench/mkmsgs.py`, the mix the size target is stated on).
fn firewall_line(rng: &mut Rng, i: usize) -> String {
    let (s, d) = (rng.ip(), rng.ip());
    let sp = 1024 + rng.below(64_000);
    let dp = [22, 53, 80, 443, 3389, 8080, 1 + rng.below(65_000)][rng.below(7) as usize];
    let action = ["accept", "deny", "close", "timeout", "server-rst"][rng.below(5) as usize];
    let (m, sec) = (i % 60, (i / 60) % 60);
    if i % 3 != 0 {
        format!(
            "<189>Nov 22 10:{m:02}:{sec:02} fw01 date=2026-11-22 time=10:{m:02}:{sec:02} devname=\"FG100F\" devid=\"FG100FTK2000{}\" eventtime=1763805{i:06} tz=\"+0100\" logid=\"0000000013\" type=\"traffic\" subtype=\"forward\" level=\"notice\" vd=\"root\" srcip={s} srcport={sp} srcintf=\"port1\" srcintfrole=\"lan\" dstip={d} dstport={dp} dstintf=\"wan1\" dstintfrole=\"wan\" srccountry=\"Reserved\" dstcountry=\"United States\" sessionid={} proto=6 action=\"{action}\" policyid={} policytype=\"policy\" service=\"HTTPS\" trandisp=\"snat\" transip=198.51.100.{} transport={sp} duration={} sentbyte={} rcvdbyte={} sentpkt={} rcvdpkt={} appcat=\"unscanned\"",
            i % 9,
            100_000 + i,
            i % 40,
            i % 250,
            rng.below(300),
            40 + rng.below(90_000),
            40 + rng.below(90_000),
            rng.below(50),
            rng.below(60),
        )
    } else {
        format!(
            "<166>Nov 22 10:{m:02}:{sec:02} asa01 %ASA-6-302013: Built inbound TCP connection {} for outside:{s}/{sp} ({s}/{sp}) to inside:{d}/{dp} ({d}/{dp})",
            200_000 + i
        )
    }
}

fn parsed(lines: &[String], base_ts: i64) -> Vec<Event> {
    let chain = Chain::new(vec![HeaderOptions::default()]);
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let mut ev = chain.parse(&Frame {
                bytes: l.clone().into_bytes().into(),
                peer: format!("127.0.0.{}:514", 1 + i % 3).parse().unwrap(),
                listener: 0,
                transport: Transport::Tcp,
                received_at: base_ts + i as i64 * 1000,
                truncated: false,
            });
            // Slightly out of order, as real senders are.
            ev.timestamp = base_ts + i as i64 * 1000 - (i % 5) as i64 * 1500;
            ev
        })
        .collect()
}

use super::tests::store_with as open;

fn fill(st: &SqliteStore, evs: &[Event]) -> Box<SqliteWriter> {
    let mut w = Box::new(
        st.writer(
            vec!["l".into()],
            std::sync::Arc::new(Metrics::new(["l".into()])),
        )
        .unwrap(),
    );
    let t = std::time::Instant::now();
    for chunk in evs.chunks(5000) {
        w.write_batch(chunk, Checkpoint::default()).unwrap();
    }
    // Idle, as the writer loop says when no batch comes: the indexer stops deferring.
    w.maintain().unwrap();
    eprintln!("written in {:?}", t.elapsed());
    let ok = st.wait_indexed(std::time::Duration::from_secs(120));
    eprintln!("compacted in {:?}: {:?}", t.elapsed(), st.segments());
    assert!(ok);
    w
}

#[test]
fn compressed_segments_keep_every_byte_and_take_under_half_the_raw_size() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let lines: Vec<String> = (0..100_000).map(|i| firewall_line(&mut rng, i)).collect();
    let raw: u64 = lines.iter().map(|l| l.len() as u64).sum();
    let evs = parsed(&lines, 1_700_000_000_000_000);
    let dir = tempfile::tempdir().unwrap();
    let st = open(dir.path(), 25_000, true);
    let w = fill(&st, &evs);
    w.close().unwrap();
    let st = open(dir.path(), 25_000, true);
    let segs = st.segments();
    assert!(
        segs.iter()
            .filter(|s| s.state == SegmentState::Compact)
            .count()
            >= 4,
        "{segs:?}"
    );
    // Everything under store/, hot segment, registry and counters included.
    let bytes = st.bytes();
    let ratio = bytes as f64 / raw as f64;
    eprintln!("stored {bytes} bytes for {raw} raw: {ratio:.3}x");
    assert!(ratio <= 0.5, "{ratio:.3}x of the raw bytes");
    // Byte for byte, with the parsed fields, through the id.
    let r = st.reader();
    let all = r.search(&SearchQuery::parse("", 100_000).unwrap()).unwrap();
    assert_eq!(all.len(), 100_000);
    let by_raw: std::collections::HashMap<&[u8], &Event> =
        evs.iter().map(|e| (&e.raw[..], e)).collect();
    for got in all.iter().step_by(97) {
        let want = by_raw[&got.event.raw[..]];
        assert_eq!(got.event.timestamp, want.timestamp);
        assert_eq!(got.event.peer, want.peer);
        assert_eq!(got.event.host, want.host);
        assert_eq!(got.event.message(), want.message());
        let mut a = got.event.fields.clone();
        let mut b = want.fields.clone();
        a.sort_by(|x, y| x.0.cmp(&y.0));
        b.sort_by(|x, y| x.0.cmp(&y.0));
        assert_eq!(a, b);
        let again = r.get(got.id).unwrap().unwrap();
        assert_eq!(again.event.raw, got.event.raw);
    }
}

/// Every answer of the compressed layout equals the row layout's on the same events.
#[test]
fn compressed_and_row_segments_answer_every_query_alike() {
    let mut rng = Rng(42);
    let lines: Vec<String> = (0..12_000).map(|i| firewall_line(&mut rng, i)).collect();
    let evs = parsed(&lines, 1_700_000_000_000_000);
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let packed = open(a.path(), 5000, true);
    let rows = open(b.path(), 5000, false);
    let _wa = fill(&packed, &evs);
    let _wb = fill(&rows, &evs);
    assert!(
        packed
            .segments()
            .iter()
            .any(|s| s.state == SegmentState::Compact)
    );
    assert!(
        rows.segments()
            .iter()
            .any(|s| s.state == SegmentState::Indexed)
    );
    let (ra, rb) = (packed.reader(), rows.reader());
    let some_ip = evs[4321]
        .fields
        .iter()
        .find(|f| f.0 == "source.ip")
        .map(|f| f.1.as_text().into_owned())
        .unwrap();
    let queries = [
        String::new(),
        "deny".into(),
        "inbound tcp".into(),
        "\"built inbound\"".into(),
        "serv*".into(),
        format!("source.ip:{some_ip}"),
        some_ip.clone(),
        "source.ip:10.0.0.0/8".into(),
        "destination.port:[1000 TO 4000]".into(),
        "event.action:deny OR event.action:accept".into(),
        "sender:127.0.0.2 AND NOT deny".into(),
        "host.name:asa01".into(),
        "host.name:fw0*".into(),
        "NOT event.action:*".into(),
        "fortinet.sessionid:100007".into(),
    ];
    for q in &queries {
        for (from, to) in [
            (None, None),
            (Some(1_700_000_002_000_000), Some(1_700_000_009_000_000)),
        ] {
            let mut sq = SearchQuery::parse(q, 250).unwrap_or_else(|e| panic!("{q}: {e}"));
            sq.from = from;
            sq.to = to;
            let ids = |r: &SqliteReader, sq: &SearchQuery| {
                r.search(sq)
                    .unwrap()
                    .iter()
                    .map(|e| e.id)
                    .collect::<Vec<_>>()
            };
            let got = ids(&ra, &sq);
            assert_eq!(got, ids(&rb, &sq), "search {q:?} {from:?}");
            // The next page, through the cursor.
            if let Some(last) = ra.search(&sq).unwrap().last() {
                let mut next = sq.clone();
                next.before = Some(crate::query::Cursor {
                    ts: last.event.timestamp,
                    id: last.id,
                });
                assert_eq!(ids(&ra, &next), ids(&rb, &next), "page 2 of {q:?}");
            }
            let aggs = [
                Aggregation::Count,
                Aggregation::Histogram {
                    interval: Some(1_000_000),
                },
                Aggregation::Top {
                    field: "source.ip".into(),
                    size: 5,
                },
                Aggregation::Top {
                    field: "event.action".into(),
                    size: 10,
                },
                Aggregation::Top {
                    field: "fortinet.policyid".into(),
                    size: 5,
                },
            ];
            for agg in &aggs {
                let x = ra.aggregate(&sq, agg).unwrap();
                let y = rb.aggregate(&sq, agg).unwrap();
                assert_eq!(format!("{x:?}"), format!("{y:?}"), "{agg:?} of {q:?}");
            }
        }
    }
    for id in [evs.len() as i64 / 2, 17] {
        let any = rb.search(&SearchQuery::parse("", 20_000).unwrap()).unwrap();
        let want = &any[id as usize];
        let got = ra.get(want.id).unwrap().unwrap();
        assert_eq!(got.event.raw, want.event.raw);
    }
    // Many at once, across segments and blocks, as retention keeps alert evidence.
    let any = rb.search(&SearchQuery::parse("", 20_000).unwrap()).unwrap();
    let wanted: Vec<i64> = any
        .iter()
        .step_by(7)
        .map(|e| e.id)
        .chain([i64::MAX])
        .collect();
    let raw_of = |v: Vec<crate::store::StoredEvent>| {
        let mut v: Vec<(i64, Vec<u8>)> = v
            .into_iter()
            .map(|e| (e.id, e.event.raw.to_vec()))
            .collect();
        v.sort();
        v
    };
    let got = raw_of(ra.get_many(&wanted).unwrap());
    assert_eq!(got.len(), wanted.len() - 1);
    assert_eq!(got, raw_of(rb.get_many(&wanted).unwrap()));
    let since = 1_700_000_000_000_000 + 11_000 * 1000;
    let x: Vec<i64> = ra
        .received_since(since, 5000)
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    let y: Vec<i64> = rb
        .received_since(since, 5000)
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(x, y);
    assert_eq!(
        retention::datasets(&packed.segments())
            .unwrap()
            .iter()
            .map(|d| (&d.0, d.1))
            .collect::<Vec<_>>(),
        retention::datasets(&rows.segments())
            .unwrap()
            .iter()
            .map(|d| (&d.0, d.1))
            .collect::<Vec<_>>()
    );
}

/// An older store's indexed row segments are compressed at the next start with compression on.
#[test]
fn indexed_row_segments_are_compressed_when_compression_is_turned_on() {
    let mut rng = Rng(7);
    let lines: Vec<String> = (0..6000).map(|i| firewall_line(&mut rng, i)).collect();
    let evs = parsed(&lines, 1_700_000_000_000_000);
    let dir = tempfile::tempdir().unwrap();
    {
        let st = open(dir.path(), 2000, false);
        fill(&st, &evs).close().unwrap();
    }
    let st = open(dir.path(), 2000, true);
    let w = Box::new(
        st.writer(
            vec!["l".into()],
            std::sync::Arc::new(Metrics::new(["l".into()])),
        )
        .unwrap(),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while st
        .segments()
        .iter()
        .any(|s| s.state == SegmentState::Indexed)
    {
        assert!(std::time::Instant::now() < deadline, "{:?}", st.segments());
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(
        st.reader()
            .search(&SearchQuery::parse("deny", 10_000).unwrap())
            .unwrap()
            .len(),
        evs.iter()
            .filter(|e| e.raw.windows(6).any(|w| w == b"\"deny\""))
            .count()
    );
    w.close().unwrap();
}
