//! Tests of the compressed segment layout: byte-exact round trips, the size it reaches on
//! firewall-like lines, and that every query and aggregation answers exactly as on the row
//! layout.

use super::*;
use crate::model::{Checkpoint, Event, Frame, Transport};
use crate::parse::{Chain, HeaderOptions};
use crate::query::SearchQuery;
use crate::store::aggregate::Aggregation;
use crate::store::{EventReader, EventWriter};

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

use super::tests::{store_classed, store_with as open, writer};

fn fill(st: &SqliteStore, evs: &[Event]) -> Box<SqliteWriter> {
    let mut w = writer(st);
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
    answers_alike(&packed, &rows, &evs);
}

/// Every search (with its next page), aggregation, lookup by id, replay and dataset count
/// answers the same on `a` as on `b`, which hold the same events.
fn answers_alike(packed: &SqliteStore, rows: &SqliteStore, evs: &[Event]) {
    let (ra, rb) = (packed.reader(), rows.reader());
    let some_ip = evs[evs.len() * 36 / 100]
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
    let since = 1_700_000_000_000_000 + (evs.len() as i64 * 11 / 12) * 1000;
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

fn open_classed(dir: &std::path::Path, max: u64, classes: &[(&str, &str)]) -> SqliteStore {
    let rules = classes
        .iter()
        .map(|(name, q)| crate::store::retention::ClassRule {
            name: name.to_string(),
            expr: crate::query::parse_expr(q).unwrap(),
        })
        .collect();
    store_classed(dir, max, true, rules)
}

/// Retention classes: a sealed segment's events are split by class into files of their own
/// when it is compressed. Every query answers as before, each class can go whole, forget-host
/// reaches every file, and a split a crash cut short is redone.
#[test]
fn classes_split_segments_and_each_class_goes_whole() {
    use crate::store::retention::{AUDIT, Free, Override, Policy};
    let mut rng = Rng(11);
    let lines: Vec<String> = (0..12_000).map(|i| firewall_line(&mut rng, i)).collect();
    let evs = parsed(&lines, 1_700_000_000_000_000);
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let classes = [(AUDIT, "host.name:asa01"), ("deny", "event.action:deny")];
    let classed = open_classed(a.path(), 5000, &classes);
    let rows = open(b.path(), 5000, false);
    let wa = fill(&classed, &evs);
    let wb = fill(&rows, &evs);
    let segs = classed.segments();
    let count = |class: &str| -> u64 {
        segs.iter()
            .filter(|s| s.class == class)
            .map(|s| s.rows)
            .sum()
    };
    // ASA lines are every third; deny is a fifth of the rest (first match wins). The hot
    // segment (the last 2,000) is not split.
    let sealed = &evs[..10_000];
    let asa = sealed
        .iter()
        .filter(|e| e.raw.windows(5).any(|w| w == b"asa01"))
        .count() as u64;
    let deny = sealed
        .iter()
        .filter(|e| !e.raw.windows(5).any(|w| w == b"asa01"))
        .filter(|e| e.raw.windows(13).any(|w| w == b"action=\"deny\""))
        .count() as u64;
    assert_eq!(count(AUDIT), asa);
    assert_eq!(count("deny"), deny);
    assert!(asa > 3000 && deny > 1000, "{asa} {deny}");
    assert_eq!(count(AUDIT) + count("deny") + count(""), evs.len() as u64);
    // Two sealed segments, each in three files; the hot one whole.
    assert_eq!(
        segs.iter().filter(|s| s.class == AUDIT).count(),
        2,
        "{segs:?}"
    );
    for s in segs.iter().filter(|s| !s.class.is_empty()) {
        assert_eq!(s.path, segment::class_path(a.path(), s.id, &s.class));
        assert!(s.path.exists());
    }
    answers_alike(&classed, &rows, &evs);
    drop(wb);

    // After a restart the classes are read back from their files.
    wa.close().unwrap();
    let again = open_classed(a.path(), 5000, &classes);
    assert_eq!(
        format!("{:?}", again.segments()),
        format!("{:?}", classed.segments())
    );
    // A class file left beside a segment that is not compressed (a split cut short) is removed.
    let hot = again
        .segments()
        .iter()
        .find(|s| s.state == SegmentState::Hot)
        .map(|s| s.id)
        .unwrap();
    let stray = segment::class_path(a.path(), hot, AUDIT);
    std::fs::copy(
        &segs.iter().find(|s| s.class == AUDIT).unwrap().path,
        &stray,
    )
    .unwrap();
    // A reader (beside a running collector) leaves it out but does not touch it: it could be a
    // split in progress; the writer removes it.
    let st = open_classed(a.path(), 5000, &classes);
    assert!(stray.exists());
    assert!(st.segments().iter().all(|s| s.path != stray));
    assert_eq!(st.reader().count().unwrap(), evs.len() as u64);
    writer(&st).close().unwrap();
    assert!(!stray.exists());
    let st = open_classed(a.path(), 5000, &classes);
    assert_eq!(st.reader().count().unwrap(), evs.len() as u64);

    // Forget-host reaches the class files.
    let before = st
        .reader()
        .search(&SearchQuery::parse("sender:127.0.0.2", 20_000).unwrap())
        .unwrap()
        .len() as u64;
    assert!(before > 3000);
    let r = st
        .forget_host("127.0.0.2", &ForgetOptions::default(), |_| {})
        .unwrap();
    assert_eq!(r.events, before);
    assert!(
        st.reader()
            .search(&SearchQuery::parse("sender:127.0.0.2", 10).unwrap())
            .unwrap()
            .is_empty()
    );
    let left = st.reader().count().unwrap();

    // Retention by class: far in the future bulk (30 d) and deny (7 d) go; audit (365 d) stays,
    // and the hot segment stays.
    let policy = Policy {
        min_free: Free::Bytes(0),
        overrides: vec![Override {
            name: "deny".into(),
            query: "event.action:deny".into(),
            max_age: std::time::Duration::from_secs(7 * 86_400),
        }],
        ..Policy::default()
    };
    let now = 1_700_000_000_000_000 + 40 * 86_400_000_000;
    let r = st
        .apply_retention(&policy, 0, || None, now, |_| Ok(0))
        .unwrap();
    let gone: Vec<(&str, u32)> = r
        .removed
        .iter()
        .map(|x| (x.class.as_str(), x.segment))
        .collect();
    assert_eq!(gone.len(), 4, "{gone:?}");
    assert!(gone.iter().all(|(c, _)| *c == "bulk" || *c == "deny"));
    let after = st.segments();
    assert!(after.iter().any(|s| s.class == AUDIT && s.rows > 0));
    let hot_rows: u64 = after
        .iter()
        .filter(|s| s.state == SegmentState::Hot)
        .map(|s| s.rows)
        .sum();
    let audit_rows: u64 = after
        .iter()
        .filter(|s| s.class == AUDIT)
        .map(|s| s.rows)
        .sum();
    assert_eq!(st.reader().count().unwrap(), hot_rows + audit_rows);
    assert!(st.reader().count().unwrap() < left);
    // What is left of the audit class is still found by id and by query.
    let asa_left = st
        .reader()
        .search(&SearchQuery::parse("host.name:asa01", 20_000).unwrap())
        .unwrap();
    assert!(asa_left.len() as u64 >= audit_rows);
    let one = &asa_left[asa_left.len() - 1];
    assert_eq!(
        st.reader().get(one.id).unwrap().unwrap().event.raw,
        one.event.raw
    );
}

/// A quiet sender's small segments, sealed by age, are merged into a few files; ids, lookups,
/// paging and forget-host keep working, and a merge a crash cut short is settled at start.
#[test]
fn small_segments_sealed_by_age_are_merged() {
    use crate::store::retention::AUDIT;
    let mut rng = Rng(5);
    let lines: Vec<String> = (0..2400).map(|i| firewall_line(&mut rng, i)).collect();
    let evs = parsed(&lines, 1_700_000_000_000_000);
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut opts = Options {
        segment_max_events: 5000,
        segment_max_age: std::time::Duration::from_millis(1),
        reserve_bytes: 0,
        compress: true,
        classes: vec![crate::store::retention::ClassRule {
            name: AUDIT.into(),
            expr: crate::query::parse_expr("host.name:asa01").unwrap(),
        }],
        archive_dir: None,
    };
    let st = SqliteStore::open(a.path(), opts.clone()).unwrap();
    // The same events in row segments (never merged), sealed alike: the same ids.
    let rows = SqliteStore::open(
        b.path(),
        Options {
            compress: false,
            classes: Vec::new(),
            ..opts.clone()
        },
    )
    .unwrap();
    let by_age = |st: &SqliteStore| {
        let mut w = writer(st);
        // 24 segments of 100 events, each sealed by age.
        for chunk in evs.chunks(100) {
            w.write_batch(chunk, Checkpoint::default()).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(3));
            w.maintain().unwrap();
        }
        w
    };
    let w = by_age(&st);
    let wb = by_age(&rows);
    assert!(rows.wait_indexed(std::time::Duration::from_secs(60)));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let files = |st: &SqliteStore, class: &str| {
        st.segments()
            .iter()
            .filter(|s| s.class == class && s.state == SegmentState::Compact)
            .count()
    };
    // The files on disk, to be the catalog's once a merge has also removed its sources.
    let on_disk = || {
        std::fs::read_dir(a.path())
            .unwrap()
            .filter(|e| {
                let n = e.as_ref().unwrap().file_name();
                let n = n.to_string_lossy();
                n.starts_with("seg-") && n.ends_with(".db")
            })
            .count()
    };
    while files(&st, "") > 4 || files(&st, AUDIT) > 4 || on_disk() != st.segments().len() {
        assert!(std::time::Instant::now() < deadline, "{:#?}", st.segments());
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let segs = st.segments();
    assert!(segs.iter().any(|s| s.merged() && s.class.is_empty()));
    assert!(segs.iter().any(|s| s.merged() && s.class == AUDIT));
    for s in segs.iter().filter(|s| s.merged()) {
        assert_eq!(
            s.path,
            segment::merged_path(a.path(), s.id, s.last, &s.class)
        );
    }
    // The files on disk are the catalog's: the sources are gone.
    assert_eq!(on_disk(), segs.len(), "{segs:#?}");
    // Events past the last sealed segment are still hot; everything answers as in one store.
    w.close().unwrap();
    let st = SqliteStore::open(a.path(), opts.clone()).unwrap();
    answers_alike(&st, &rows, &evs);

    // A crash after the merged file was renamed but before its sources went: both are there,
    // and the next start removes the sources.
    let merged = st
        .segments()
        .into_iter()
        .find(|s| s.merged() && s.class.is_empty())
        .unwrap();
    let fake = segment::path(a.path(), merged.id);
    std::fs::copy(&merged.path, &fake).unwrap();
    opts.segment_max_age = std::time::Duration::from_secs(3600);
    let st = SqliteStore::open(a.path(), opts.clone()).unwrap();
    assert!(fake.exists());
    assert_eq!(st.reader().count().unwrap(), evs.len() as u64);
    writer(&st).close().unwrap();
    assert!(!fake.exists());
    let st = SqliteStore::open(a.path(), opts).unwrap();
    assert_eq!(st.reader().count().unwrap(), evs.len() as u64);

    // forget-host reaches merged files.
    let r = st
        .forget_host("127.0.0.3", &ForgetOptions::default(), |_| {})
        .unwrap();
    assert_eq!(r.events, 800);
    let left = st
        .reader()
        .search(&SearchQuery::parse("", 10_000).unwrap())
        .unwrap();
    assert_eq!(left.len(), 1600);
    assert!(
        left.iter()
            .all(|e| e.event.peer.ip().to_string() != "127.0.0.3")
    );
    drop(wb);
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
    let w = writer(&st);
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
