//! Tests of the SQLite event store: writing, searching, paging, segments and forget-host.

use super::*;
use crate::model::{Event, Frame, Transport};
use crate::parse::{Chain, HeaderOptions};
use crate::store::sqlite::SegmentState;
use crate::store::{EventReader, EventWriter};
use crate::telemetry::Metrics;

pub(super) fn events(n: usize, base_ts: i64) -> Vec<Event> {
    let chain = Chain::new(vec![HeaderOptions::default()]);
    (0..n)
        .map(|i| {
            let line = format!("<13>1 2026-11-22T10:00:00Z fw{} app - - - srcip=10.0.0.{} dstip=192.0.2.1 action=deny word{} common", i % 3, i % 7, i);
            let mut ev = chain.parse(&Frame {
                bytes: line.into(),
                peer: "127.0.0.1:999".parse().unwrap(),
                listener: 0,
                transport: Transport::Udp,
                received_at: base_ts,
                truncated: false,
            });
            ev.timestamp = base_ts + i as i64;
            ev
        })
        .collect()
}

/// A deny from `srcip`, received (and ingested) at `at`, parsed by the header chain.
fn deny_from(chain: &Chain, srcip: &str, at: i64) -> Event {
    let line = format!(
        "<13>1 2026-11-22T10:00:00Z fw app - - - srcip={srcip} dstip=192.0.2.1 action=deny"
    );
    let mut ev = chain.parse(&Frame {
        bytes: line.into(),
        peer: "127.0.0.1:999".parse().unwrap(),
        listener: 0,
        transport: Transport::Udp,
        received_at: at,
        truncated: false,
    });
    ev.ingested = at;
    ev
}

pub(super) fn writer(st: &SqliteStore) -> Box<SqliteWriter> {
    Box::new(
        st.writer(
            vec!["l".into()],
            std::sync::Arc::new(Metrics::new(["l".into()])),
        )
        .unwrap(),
    )
}

fn store(dir: &std::path::Path, max: u64) -> SqliteStore {
    store_with(dir, max, true)
}

/// A store sealing at `max` events (never by age), compressed or not.
pub(super) fn store_with(dir: &std::path::Path, max: u64, compress: bool) -> SqliteStore {
    store_classed(dir, max, compress, Vec::new())
}

/// [`store_with`] with retention classes.
pub(super) fn store_classed(
    dir: &std::path::Path,
    max: u64,
    compress: bool,
    classes: Vec<crate::store::retention::ClassRule>,
) -> SqliteStore {
    SqliteStore::open(
        dir,
        Options {
            segment_max_events: max,
            segment_max_age: std::time::Duration::from_secs(3600),
            reserve_bytes: 0,
            compress,
            classes,
            archive_dir: None,
        },
    )
    .unwrap()
}

#[test]
fn search_spans_hot_and_indexed_segments_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let st = store(dir.path(), 100);
    let mut w = writer(&st);
    let evs = events(350, 1_000_000);
    for (i, chunk) in evs.chunks(50).enumerate() {
        w.write_batch(
            chunk,
            Checkpoint {
                file: 1,
                offset: i as u64,
            },
        )
        .unwrap();
    }
    assert!(st.wait_indexed(std::time::Duration::from_secs(20)));
    let r = st.reader();
    assert_eq!(r.count().unwrap(), 350);
    let q = |s: &str, limit| r.search(&SearchQuery::parse(s, limit).unwrap()).unwrap();
    let all = q("", 1000);
    assert_eq!(all.len(), 350);
    assert!(
        all.windows(2)
            .all(|w| w[0].event.timestamp >= w[1].event.timestamp)
    );
    // Full text on indexed (ids < 300) and hot segments alike.
    let hits = q("word5", 10);
    assert_eq!(hits.len(), 1);
    assert_eq!(q("word320", 10).len(), 1);
    assert_eq!(q("common host.name:fw1", 1000).len(), 117);
    let by_ip = q("source.ip:10.0.0.3", 1000);
    assert_eq!(by_ip.len(), 50);
    assert!(
        by_ip.iter().all(|e| e.event.field("source.ip")
            == Some(&crate::model::FieldValue::Str("10.0.0.3".into())))
    );
    assert_eq!(q("sender:127.0.0.1", 5).len(), 5);
    assert_eq!(q("sender:127.0.0.2", 5).len(), 0);
    let newest = q("", 3);
    assert_eq!(newest[0].event.timestamp, 1_000_349);
    assert_eq!(st.checkpoint(), Checkpoint { file: 1, offset: 6 });
    w.close().unwrap();
    // Reopened, the store knows its checkpoint and continues the hot segment.
    let st2 = store(dir.path(), 100);
    assert_eq!(st2.checkpoint(), Checkpoint { file: 1, offset: 6 });
    assert_eq!(st2.reader().count().unwrap(), 350);
}

#[test]
fn raw_bytes_and_lossy_message_survive_storage() {
    let dir = tempfile::tempdir().unwrap();
    let st = store(dir.path(), 1000);
    let mut w = writer(&st);
    let chain = Chain::new(vec![HeaderOptions::default()]);
    let raw = b"<13>Nov 22 10:00:00 h app: caf\xe9 bytes".to_vec();
    let ev = chain.parse(&Frame {
        bytes: raw.clone().into(),
        peer: "[::1]:5".parse().unwrap(),
        listener: 0,
        transport: Transport::Tcp,
        received_at: 5,
        truncated: true,
    });
    w.write_batch(&[ev], Checkpoint::default()).unwrap();
    let got = st
        .reader()
        .search(&SearchQuery::parse("bytes", 10).unwrap())
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].event.raw.as_ref(), raw.as_slice());
    assert_eq!(got[0].event.message(), "caf\u{fffd} bytes");
    assert!(got[0].event.truncated && got[0].event.invalid_utf8);
    assert_eq!(got[0].event.peer.ip().to_string(), "::1");
}

#[test]
fn newest_first_is_exact_with_late_events_across_every_plan() {
    let dir = tempfile::tempdir().unwrap();
    let st = store(dir.path(), 300);
    let mut w = writer(&st);
    let mut evs = events(1000, 1_000_000);
    // Every 7th event arrives late (its own time is 2,500 µs earlier), every 11th very late.
    for (i, e) in evs.iter_mut().enumerate() {
        if i % 7 == 0 {
            e.timestamp -= 2_500;
        }
        if i % 11 == 0 {
            e.timestamp -= 400_000;
        }
    }
    for chunk in evs.chunks(50) {
        w.write_batch(chunk, Checkpoint::default()).unwrap();
    }
    assert!(st.wait_indexed(std::time::Duration::from_secs(20)));
    let segs = st.segments();
    assert!(
        segs.iter().any(|s| s.state == SegmentState::Compact)
            && segs.iter().any(|s| s.state == SegmentState::Hot)
    );
    assert!(
        segs.iter().all(|s| s.disorder >= 400_000),
        "the bound covers the late events"
    );
    let r = st.reader();
    // Brute force over what was written: (timestamp, message) newest first.
    let expect = |pred: &dyn Fn(&Event) -> bool, limit: usize| -> Vec<(i64, String)> {
        let mut v: Vec<(i64, usize, String)> = evs
            .iter()
            .enumerate()
            .filter(|(_, e)| pred(e))
            .map(|(i, e)| (e.timestamp, i, e.message().into_owned()))
            .collect();
        v.sort_by_key(|x| std::cmp::Reverse((x.0, x.1)));
        v.into_iter().take(limit).map(|(t, _, m)| (t, m)).collect()
    };
    let got = |q: &str, limit: usize| -> Vec<(i64, String)> {
        r.search(&SearchQuery::parse(q, limit).unwrap())
            .unwrap()
            .into_iter()
            .map(|e| (e.event.timestamp, e.event.message().into_owned()))
            .collect()
    };
    for limit in [1, 7, 100, 2000] {
        assert_eq!(
            got("", limit),
            expect(&|_| true, limit),
            "all, limit {limit}"
        );
        assert_eq!(
            got("common", limit),
            expect(&|_| true, limit),
            "common term, limit {limit}"
        );
        assert_eq!(
            got("host.name:fw2 common", limit),
            expect(&|e| e.host.as_deref() == Some("fw2"), limit),
            "filter and term, limit {limit}"
        );
        assert_eq!(
            got("srcip 10.0.0.3", limit),
            expect(&|e| e.message().contains("srcip=10.0.0.3 "), limit),
            "two terms, limit {limit}"
        );
    }
    assert_eq!(
        got("word777", 5),
        expect(&|e| e.message().contains("word777 "), 5)
    );
}

#[test]
fn extracted_fields_round_trip_through_storage_with_awkward_text() {
    let dir = tempfile::tempdir().unwrap();
    let st = store(dir.path(), 1000);
    let mut w = writer(&st);
    let mut ev = events(1, 5)[0].clone();
    let awkward = "q\"uote back\\slash new\nline tab\tctl\u{1}é€𝄞";
    ev.set_field("custom.text", crate::model::FieldValue::Str(awkward.into()));
    ev.set_field("custom.n", crate::model::FieldValue::Int(-42));
    ev.set_field("custom.b", crate::model::FieldValue::Bool(true));
    w.write_batch(&[ev], Checkpoint::default()).unwrap();
    let got = st
        .reader()
        .search(&SearchQuery::parse("", 1).unwrap())
        .unwrap();
    let e = &got[0].event;
    assert_eq!(
        e.field("custom.text"),
        Some(&crate::model::FieldValue::Str(awkward.into()))
    );
    assert_eq!(
        e.field("custom.n"),
        Some(&crate::model::FieldValue::Int(-42))
    );
    assert_eq!(
        e.field("custom.b"),
        Some(&crate::model::FieldValue::Bool(true))
    );
}

#[test]
fn promoted_fields_round_trip_and_filter_in_hot_and_indexed_segments() {
    use crate::model::FieldValue;
    let dir = tempfile::tempdir().unwrap();
    let st = store(dir.path(), 100);
    let mut w = writer(&st);
    let mut evs = events(250, 1_000);
    for (i, ev) in evs.iter_mut().enumerate() {
        ev.set_field(
            "destination.port",
            FieldValue::Int(if i % 5 == 0 { 22 } else { 443 }),
        );
        ev.set_field("user.name", FieldValue::Str(format!("u{}", i % 4)));
        // A value whose type does not fit its column stays in the JSON, type intact.
        ev.set_field("source.port", FieldValue::Str("ephemeral".into()));
        ev.set_field("event.outcome", FieldValue::Bool(true));
    }
    for chunk in evs.chunks(50) {
        w.write_batch(chunk, Checkpoint::default()).unwrap();
    }
    assert!(st.wait_indexed(std::time::Duration::from_secs(30)));
    let q = |text: &str| {
        st.reader()
            .search(&SearchQuery::parse(text, 1000).unwrap())
            .unwrap()
    };
    let all = q("");
    assert_eq!(all.len(), 250);
    let e = &all[0].event;
    assert_eq!(
        e.field("source.port"),
        Some(&FieldValue::Str("ephemeral".into()))
    );
    assert_eq!(e.field("event.outcome"), Some(&FieldValue::Bool(true)));
    assert!(matches!(
        e.field("destination.port"),
        Some(FieldValue::Int(22 | 443))
    ));
    assert_eq!(
        e.field("event.action"),
        Some(&FieldValue::Str("deny".into()))
    );
    // 250 events, every fifth to port 22, a quarter of those by u0 (i % 20 == 0).
    assert_eq!(q("destination.port:22").len(), 50);
    assert_eq!(q("destination.port:22 user.name:u0").len(), 13);
    assert_eq!(q("event.action:deny").len(), 250);
    assert_eq!(q("event.action:allow").len(), 0);
}

/// SQL injection, tried for real: values that would break out of a quoted SQL string are
/// stored, then searched for as a promoted column and as a JSON field, in sealed
/// (compressed and indexed) and hot segments. Each finds exactly its own event, and every
/// table is still there afterwards.
#[test]
fn injection_attempts_are_only_ever_values() {
    use crate::model::FieldValue;
    let bad = [
        "x' OR 1=1 --",
        "\"); DROP TABLE events; --",
        "'; DELETE FROM events; SELECT '",
        "a\\\"b' UNION SELECT * FROM sqlite_master --",
    ];
    let dir = tempfile::tempdir().unwrap();
    let st = store(dir.path(), 4);
    let mut w = writer(&st);
    // Four events seal one segment; the second round stays in the hot one.
    for round in 0..2 {
        let evs: Vec<Event> = bad
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let mut ev = events(1, 1_000 + (round * 10 + i) as i64)[0].clone();
                ev.set_field("user.name", FieldValue::Str(format!("{b}{round}")));
                ev.set_field("custom.text", FieldValue::Str(format!("{b}{round}")));
                ev
            })
            .collect();
        w.write_batch(&evs, Checkpoint::default()).unwrap();
        if round == 0 {
            assert!(st.wait_indexed(std::time::Duration::from_secs(30)));
        }
    }
    let q = |text: &str| {
        st.reader()
            .search(&SearchQuery::parse(text, 1000).unwrap())
            .unwrap()
    };
    let quoted = |v: &str| format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""));
    for round in 0..2 {
        for b in bad {
            let v = format!("{b}{round}");
            for field in ["user.name", "custom.text"] {
                let hits = q(&format!("{field}:{}", quoted(&v)));
                assert_eq!(hits.len(), 1, "{field}:{v}");
                assert_eq!(
                    hits[0].event.field(field),
                    Some(&FieldValue::Str(v.clone())),
                    "{field}:{v}"
                );
            }
        }
    }
    assert_eq!(q("").len(), 8, "nothing was deleted");
    assert_eq!(q("user.name:*").len(), 8);
}

/// Events `events(n, ts)` with the sender of event i set to 192.0.2.(i % 4 + 1).
fn events_from_four_senders(n: usize, base_ts: i64) -> Vec<Event> {
    let mut evs = events(n, base_ts);
    for (i, ev) in evs.iter_mut().enumerate() {
        ev.peer = format!("192.0.2.{}:514", i % 4 + 1).parse().unwrap();
        ev.ingested = base_ts + i as i64;
    }
    evs
}

#[test]
fn registry_counts_senders_per_day_with_first_and_last_seen() {
    let dir = tempfile::tempdir().unwrap();
    let st = store(dir.path(), 1000);
    let mut w = writer(&st);
    let day = 86_400_000_000i64;
    let today = chrono::Utc::now().timestamp_micros().div_euclid(day) * day;
    // Yesterday 8 events (2 per sender), today 40 (10 per sender) in two batches.
    w.write_batch(
        &events_from_four_senders(8, today - day + 5),
        Checkpoint::default(),
    )
    .unwrap();
    let evs = events_from_four_senders(40, today + 7);
    w.write_batch(&evs[..20], Checkpoint::default()).unwrap();
    w.write_batch(&evs[20..], Checkpoint::default()).unwrap();
    let senders = st.reader().senders(7).unwrap();
    assert_eq!(senders.len(), 4);
    let s1 = senders.iter().find(|s| s.sender == "192.0.2.1").unwrap();
    assert_eq!(s1.events, 12);
    assert_eq!(s1.first_seen, today - day + 5);
    assert_eq!(s1.last_seen, today + 7 + 36);
    let d = today / day;
    assert_eq!(s1.per_day, vec![(d - 1, 2), (d, 10)]);
    assert_eq!(s1.listener.as_deref(), Some("l"));
    assert_eq!(s1.parser.as_deref(), Some("kv"));
    assert!(s1.host.as_deref().is_some_and(|h| h.starts_with("fw")));
    // Most recently seen first; the window of days is honoured.
    assert_eq!(senders[0].sender, "192.0.2.4");
    assert_eq!(st.reader().senders(1).unwrap()[0].per_day, vec![(d, 10)]);
}

#[test]
fn forget_host_removes_rows_tokens_and_registry_entry_in_every_segment() {
    let dir = tempfile::tempdir().unwrap();
    let st = store(dir.path(), 100);
    let mut w = writer(&st);
    let evs = events_from_four_senders(350, 1_000_000);
    for chunk in evs.chunks(50) {
        w.write_batch(chunk, Checkpoint::default()).unwrap();
    }
    assert!(st.wait_indexed(std::time::Duration::from_secs(20)));
    let r = st.reader();
    let q = |s: &str| r.search(&SearchQuery::parse(s, 1000).unwrap()).unwrap();
    assert_eq!(q("sender:192.0.2.2").len(), 88);
    // word1 is only in an event of 192.0.2.2; word2 of 192.0.2.3.
    assert_eq!(q("word1").len(), 1);

    let mut seen = Vec::new();
    let report = st
        .forget_host(
            "192.0.2.2",
            &ForgetOptions {
                batch: 7,
                pause: std::time::Duration::ZERO,
            },
            |n| seen.push(n),
        )
        .unwrap();
    assert_eq!(report.events, 88);
    assert_eq!(report.segments, 4);
    assert_eq!(report.senders, 1);
    // Progress comes per batch of rows (hot segment) and per rewritten block (compressed ones).
    assert!(seen.windows(2).all(|w| w[0] <= w[1]) && seen.len() >= report.segments);
    assert!(q("sender:192.0.2.2").is_empty());
    assert!(q("word1").is_empty());
    assert_eq!(q("word2").len(), 1);
    assert_eq!(q("").len(), 262);
    assert!(
        r.senders(7)
            .unwrap()
            .iter()
            .all(|s| s.sender != "192.0.2.2")
    );
    // No token of the forgotten rows remains in any indexed segment's full-text index, and
    // the index is consistent.
    for seg in st.segments() {
        let conn = rusqlite::Connection::open(&seg.path).unwrap();
        if matches!(seg.state, SegmentState::Indexed | SegmentState::Compact) {
            let n: i64 = conn
                .query_row(
                    "SELECT count(*) FROM fts WHERE fts MATCH 'word1'",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(n, 0, "segment {}", seg.id);
            let ids: i64 = conn
                .query_row(
                    "SELECT count(*) FROM fts WHERE fts MATCH 'common'",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            let rows: i64 = conn
                .query_row(
                    if seg.state == SegmentState::Compact {
                        "SELECT sum(rows) FROM blocks"
                    } else {
                        "SELECT count(*) FROM events"
                    },
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(ids, rows, "segment {}", seg.id);
            conn.execute("INSERT INTO fts(fts) VALUES ('integrity-check')", [])
                .unwrap();
        }
    }
    // The collector goes on writing to the hot segment afterwards.
    w.write_batch(&evs[..8], Checkpoint::default()).unwrap();
    assert_eq!(q("sender:192.0.2.2").len(), 2);
    // Forgetting by host name.
    let by_name = st
        .forget_host("fw0", &ForgetOptions::default(), |_| {})
        .unwrap();
    assert!(by_name.events > 0);
    assert!(q("host.name:fw0").is_empty());
}

#[test]
fn query_language_and_keyset_paging_across_segments() {
    let dir = tempfile::tempdir().unwrap();
    let st = store(dir.path(), 100);
    let mut w = writer(&st);
    let mut evs = events(350, 1_000_000);
    // Ten events share each timestamp, so paging must order ties by id.
    for (i, e) in evs.iter_mut().enumerate() {
        e.timestamp = 1_000_000 + (i as i64) / 10;
    }
    for (i, chunk) in evs.chunks(50).enumerate() {
        w.write_batch(
            chunk,
            Checkpoint {
                file: 1,
                offset: i as u64,
            },
        )
        .unwrap();
    }
    assert!(st.wait_indexed(std::time::Duration::from_secs(20)));
    let r = st.reader();
    let n = |s: &str| {
        r.search(&SearchQuery::parse(s, 10_000).unwrap())
            .unwrap()
            .len()
    };
    // Indexed segments hold ids below 300, the hot one the rest: each form runs on both.
    assert_eq!(n("common AND (host.name:fw1 OR host.name:fw2)"), 233);
    assert_eq!(n("common NOT host.name:fw0"), 233);
    assert_eq!(n("-host.name:fw0"), 233);
    assert_eq!(n("source.ip:10.0.0.0/30"), 200);
    assert_eq!(n("source.ip:10.0.0.4/30 AND NOT source.ip:10.0.0.7"), 150);
    assert_eq!(n("word1*"), 111);
    assert_eq!(n("word34*"), 11);
    assert_eq!(n("\"action=deny word7\""), 1);
    assert_eq!(n("\"word7 action=deny\""), 0);
    assert_eq!(n("host.name:fw* word33*"), 11);
    assert_eq!(n("_exists_:source.ip"), 350);
    assert_eq!(n("_exists_:user.name"), 0);
    assert_eq!(n("word5 OR word320 OR word149"), 3);
    assert_eq!(n("NOT common"), 0);
    // Pages of 40, each strictly after the last one's (time, id), give every event once in
    // the same order as one big page.
    let all = r
        .search(&SearchQuery::parse("common", 1000).unwrap())
        .unwrap();
    assert_eq!(all.len(), 350);
    let mut paged = Vec::new();
    let mut q = SearchQuery::parse("common", 40).unwrap();
    loop {
        let page = r.search(&q).unwrap();
        let Some(last) = page.last() else { break };
        q.before = Some(crate::query::Cursor {
            ts: last.event.timestamp,
            id: last.id,
        });
        paged.extend(page.iter().map(|h| h.id));
    }
    assert_eq!(paged, all.iter().map(|h| h.id).collect::<Vec<_>>());
}

#[test]
fn activity_counters_and_histogram() {
    let dir = tempfile::tempdir().unwrap();
    let st = store(dir.path(), 100);
    let mut w = writer(&st);
    let now = chrono::Utc::now().timestamp_micros();
    let mut evs = events(350, 1_000_000);
    for e in &mut evs {
        e.ingested = now - 3_600_000_000;
    }
    w.write_batch(&evs, Checkpoint::default()).unwrap();
    // Counters reach the tables every few seconds, and on close.
    w.close().unwrap();
    let r = st.reader();
    let a = r.activity(now - 2 * 3_600_000_000, 5).unwrap();
    assert_eq!(a.per_minute.iter().map(|m| m.2).sum::<i64>(), 350);
    assert!(a.per_minute.iter().all(|m| m.1 == 5), "{:?}", a.per_minute);
    assert_eq!(a.senders[0].value, "127.0.0.1");
    assert_eq!(a.senders[0].events, 350);
    assert_eq!(a.source_ips.len(), 5);
    assert_eq!(a.source_ips[0].events, 50);
    assert_eq!(a.actions[0].value, "deny");
    assert_eq!(a.actions[0].events, 350);
    // Nothing before the period.
    assert!(r.activity(now, 5).unwrap().per_minute.is_empty());
    let h = r
        .histogram(&SearchQuery::parse("common", 1).unwrap(), 100)
        .unwrap();
    assert_eq!(
        h,
        vec![
            (1_000_000, 100),
            (1_000_100, 100),
            (1_000_200, 100),
            (1_000_300, 50)
        ]
    );
    let h = r
        .histogram(&SearchQuery::parse("host.name:fw1", 1).unwrap(), 1000)
        .unwrap();
    assert_eq!(h, vec![(1_000_000, 117)]);
    // forget-host removes the sender's counters too.
    crate::store::sqlite::registry::forget(dir.path(), "127.0.0.1").unwrap();
    assert!(r.activity(0, 5).unwrap().senders.is_empty());
}

#[test]
fn finished_hours_keep_only_their_heaviest_values() {
    let dir = tempfile::tempdir().unwrap();
    let st = store(dir.path(), 100_000);
    let mut w = writer(&st);
    let chain = Chain::new(vec![HeaderOptions::default()]);
    let hour_ago = chrono::Utc::now().timestamp_micros() - 2 * 3_600_000_000;
    // 150 source addresses two hours ago: address k sends k + 1 events.
    let mut evs = Vec::new();
    for k in 0..150usize {
        for _ in 0..=k {
            evs.push(deny_from(
                &chain,
                &format!("10.9.{}.{}", k / 250, k % 250),
                hour_ago,
            ));
        }
    }
    w.write_batch(&evs, Checkpoint::default()).unwrap();
    w.close().unwrap();
    let a = st.reader().activity(hour_ago - 1, 1000).unwrap();
    assert_eq!(a.source_ips.len(), 100, "trimmed to the heaviest 100");
    assert_eq!(a.source_ips[0].value, "10.9.0.149");
    assert_eq!(a.source_ips[0].events, 150);
    assert_eq!(a.source_ips[99].events, 51);
    // The per-minute counts are whole.
    assert_eq!(
        a.per_minute.iter().map(|m| m.2).sum::<i64>(),
        (1..=150).sum::<i64>()
    );
}

#[test]
fn the_hour_in_progress_is_trimmed_when_a_scan_floods_it() {
    let dir = tempfile::tempdir().unwrap();
    let st = store(dir.path(), 100_000);
    let mut w = writer(&st);
    let chain = Chain::new(vec![HeaderOptions::default()]);
    let now = chrono::Utc::now().timestamp_micros();
    // 2,500 one-off addresses and one that sends 10 times.
    let mut evs = Vec::new();
    for k in 0..2510usize {
        let ip = if k < 2500 {
            format!("10.8.{}.{}", k / 250, k % 250)
        } else {
            "192.0.2.99".into()
        };
        evs.push(deny_from(&chain, &ip, now));
    }
    w.write_batch(&evs, Checkpoint::default()).unwrap();
    w.close().unwrap();
    let a = st.reader().activity(now - 60_000_000, 5000).unwrap();
    assert_eq!(a.source_ips[0].value, "192.0.2.99");
    assert_eq!(a.source_ips[0].events, 10);
    assert_eq!(a.source_ips.len(), 1000);
}

#[test]
fn aggregations_are_exact_across_hot_and_indexed_segments() {
    use crate::store::aggregate::{AggResult, Aggregation};
    let dir = tempfile::tempdir().unwrap();
    let st = store(dir.path(), 1000);
    let mut w = writer(&st);
    let evs = events(2500, 1_000_000);
    for chunk in evs.chunks(500) {
        w.write_batch(chunk, Checkpoint::default()).unwrap();
    }
    assert!(st.wait_indexed(std::time::Duration::from_secs(30)));
    let r = st.reader();
    let all = |q: &str| SearchQuery::parse(q, 1).unwrap();
    // Brute force from the generator: host fw{i%3}, source 10.0.0.{i%7}.
    let count = |q: &str| match r.aggregate(&all(q), &Aggregation::Count).unwrap() {
        AggResult::Count { count } => count,
        other => panic!("{other:?}"),
    };
    assert_eq!(count("*"), 2500);
    assert_eq!(count("common"), 2500);
    assert_eq!(
        count("host.name:fw1"),
        (0..2500).filter(|i| i % 3 == 1).count() as u64
    );
    let mut ranged = all("source.ip:10.0.0.3");
    ranged.from = Some(1_000_500);
    ranged.to = Some(1_002_000);
    let want = (500..2000).filter(|i| i % 7 == 3).count() as u64;
    match r.aggregate(&ranged, &Aggregation::Count).unwrap() {
        AggResult::Count { count } => assert_eq!(count, want),
        other => panic!("{other:?}"),
    }
    let top = r
        .aggregate(
            &all("*"),
            &Aggregation::Top {
                field: "source.ip".into(),
                size: 3,
            },
        )
        .unwrap();
    let AggResult::Top {
        values,
        other,
        missing,
        ..
    } = top
    else {
        panic!("not a top list");
    };
    let mut brute = std::collections::HashMap::new();
    for i in 0..2500 {
        *brute.entry(format!("10.0.0.{}", i % 7)).or_insert(0u64) += 1;
    }
    let mut brute: Vec<(String, u64)> = brute.into_iter().collect();
    brute.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    assert_eq!(values, brute[..3].to_vec());
    assert_eq!(other, brute[3..].iter().map(|x| x.1).sum::<u64>());
    assert_eq!(missing, 0);
    // A field nobody has counts as missing.
    match r
        .aggregate(
            &all("*"),
            &Aggregation::Top {
                field: "user.name".into(),
                size: 3,
            },
        )
        .unwrap()
    {
        AggResult::Top {
            values, missing, ..
        } => {
            assert!(values.is_empty());
            assert_eq!(missing, 2500);
        }
        other => panic!("{other:?}"),
    }
    // The histogram picks its interval from the data's span (2,500 µs: 100 buckets or fewer).
    match r
        .aggregate(&all("common"), &Aggregation::Histogram { interval: None })
        .unwrap()
    {
        AggResult::Histogram { interval, buckets } => {
            assert!(interval >= 1_000_000 / 1_000_000);
            assert_eq!(buckets.iter().map(|b| b.1).sum::<u64>(), 2500);
            assert!(buckets.len() <= 100);
        }
        other => panic!("{other:?}"),
    }
    w.close().unwrap();
}

#[test]
fn retention_removes_whole_old_segments_by_bytes_and_keeps_the_hot_one() {
    use crate::store::retention::Policy;
    let dir = tempfile::tempdir().unwrap();
    let st = store(dir.path(), 1000);
    let mut w = writer(&st);
    let now = 10 * 86_400_000_000i64;
    let evs = events(5000, now - 86_400_000_000);
    for chunk in evs.chunks(1000) {
        w.write_batch(chunk, Checkpoint::default()).unwrap();
    }
    assert!(st.wait_indexed(std::time::Duration::from_secs(30)));
    let before = st.segments();
    let sizes: Vec<u64> = before
        .iter()
        .map(|s| retention::segment_bytes(&s.path))
        .collect();
    // A cap just under everything: the oldest segment goes, and only it.
    let total = st.bytes();
    let policy = Policy {
        max_bytes: Some(total - sizes[0] / 2),
        min_free: crate::store::retention::Free::Bytes(0),
        ..Policy::default()
    };
    let dry = st.retention_dry_run(&policy, 0, None, now);
    assert_eq!(dry.len(), 1);
    assert_eq!(dry[0].segment, before[0].id);
    assert_eq!(dry[0].reason, "max_bytes");
    let mut asked = Vec::new();
    let r = st
        .apply_retention(
            &policy,
            0,
            || None,
            now,
            |s| {
                asked.push(s.id);
                Ok(0)
            },
        )
        .unwrap();
    assert_eq!(asked, vec![before[0].id]);
    assert_eq!(r.removed.len(), 1);
    assert_eq!(r.removed[0].events, 1000);
    assert!(!before[0].path.exists());
    assert_eq!(st.reader().count().unwrap(), 4000);
    // Ids of what is left are unchanged.
    let first_left = st.segments()[0].id;
    assert_eq!(first_left, before[1].id);
    // Everything old by age: every sealed segment goes, the hot one stays.
    let policy = Policy {
        max_age: std::time::Duration::from_secs(3600),
        min_free: crate::store::retention::Free::Bytes(0),
        ..Policy::default()
    };
    st.apply_retention(&policy, 0, || None, now, |_| Ok(0))
        .unwrap();
    let left = st.segments();
    assert!(
        left.iter().all(|s| s.state == SegmentState::Hot),
        "{left:?}"
    );
    let runs = retention::runs(dir.path(), 10).unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(
        runs.iter().map(|r| r.events).sum::<i64>(),
        5000 - left.iter().map(|s| s.rows as i64).sum::<i64>()
    );
    w.close().unwrap();
}
