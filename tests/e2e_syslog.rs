//! End to end: the real binary on loopback, real `logger` clients, raw sockets, and faults.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Picket, logger};
use std::io::Write;
use std::net::{TcpStream, UdpSocket};
use std::time::Duration;

fn find<'a>(events: &'a [serde_json::Value], text: &str) -> &'a serde_json::Value {
    events
        .iter()
        .find(|e| e["message"].as_str().is_some_and(|m| m.contains(text)))
        .unwrap_or_else(|| panic!("no stored event with {text:?} in {events:#?}"))
}

#[test]
fn logger_over_udp_and_tcp_in_both_formats_is_stored_with_fields() {
    let mut p = Picket::start(&[]);
    let (host, uport, tport) = (
        "127.0.0.1",
        p.udp.port().to_string(),
        p.tcp.port().to_string(),
    );
    logger(&[
        "--udp",
        "-n",
        host,
        "-P",
        &uport,
        "--rfc3164",
        "-t",
        "sshd",
        "-i",
        "-p",
        "auth.warning",
        "udp3164 Failed password for root from 203.0.113.7 port 4242 ssh2",
    ]);
    logger(&[
        "--udp",
        "-n",
        host,
        "-P",
        &uport,
        "--rfc5424",
        "-t",
        "app5424",
        "--msgid",
        "ID47",
        "udp5424 hello",
    ]);
    logger(&[
        "--tcp",
        "-n",
        host,
        "-P",
        &tport,
        "--rfc3164",
        "-t",
        "tcpapp",
        "tcp3164 lf framed",
    ]);
    logger(&[
        "--tcp",
        "-n",
        host,
        "-P",
        &tport,
        "--rfc5424",
        "--octet-count",
        "-t",
        "oc",
        "tcp5424 octet srcip=10.9.8.7 dstip=192.0.2.44 action=deny",
    ]);
    assert_eq!(p.wait_stored(4, Duration::from_secs(20)), 4);
    let (st, took) = p.stop();
    assert!(st.success(), "exit status {st:?}");
    assert!(took < Duration::from_secs(10), "shutdown took {took:?}");
    let all = p.search("", &[]);
    assert_eq!(all.len(), 4);
    let e = find(&all, "udp3164");
    assert_eq!(e["process.name"], "sshd");
    assert!(e["process.pid"].is_i64());
    assert_eq!(e["log.syslog.facility.code"], 4);
    assert_eq!(e["log.syslog.severity.code"], 4);
    assert_eq!(e["observer.ip"], "127.0.0.1");
    assert_eq!(
        e["message"],
        "udp3164 Failed password for root from 203.0.113.7 port 4242 ssh2"
    );
    let e = find(&all, "udp5424");
    assert_eq!(e["process.name"], "app5424");
    assert_eq!(e["log.syslog.msgid"], "ID47");
    assert_eq!(e["log.syslog.version"], 1);
    let e = find(&all, "tcp3164");
    assert_eq!(e["process.name"], "tcpapp");
    let e = find(&all, "tcp5424");
    assert_eq!(e["source.ip"], "10.9.8.7");
    assert_eq!(e["destination.ip"], "192.0.2.44");
    assert_eq!(e["event.action"], "deny");
    assert_eq!(e["picket.parser"], "kv");
    // Search by field, by sender and by full text.
    assert_eq!(p.search("source.ip:10.9.8.7", &[]).len(), 1);
    assert_eq!(p.search("source.ip:10.9.8.7", &["--from", "-1h"]).len(), 1);
    assert_eq!(p.search("source.ip:10.9.8.7", &["--to", "-1h"]).len(), 0);
    assert_eq!(p.search("sender:127.0.0.1 failed password", &[]).len(), 1);
    assert_eq!(p.search("nothing-like-this", &[]).len(), 0);
}

#[test]
fn faults_do_not_stall_the_listener_and_move_counters() {
    let p = Picket::start_with_config("[syslog]\nmax_frame_bytes = 8192\n");
    // Random bytes over UDP and TCP.
    let u = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut seed = 0x2545F4914F6CDD1Du64;
    let mut rnd = |n: usize| -> Vec<u8> {
        (0..n)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect()
    };
    for _ in 0..50 {
        u.send_to(&rnd(300), p.udp).unwrap();
    }
    let mut t = TcpStream::connect(p.tcp).unwrap();
    t.write_all(&rnd(20_000)).unwrap();
    drop(t);
    // Invalid UTF-8.
    u.send_to(
        b"<13>Nov 22 10:00:00 h app: invalid \xff\xfe utf8 marker",
        p.udp,
    )
    .unwrap();
    // A 1 MiB frame over TCP (LF framed) and a 70 KB datagram: both truncated and counted.
    let mut big = vec![b'a'; 1 << 20];
    big.extend_from_slice(b"\n<13>after-big-frame\n");
    let mut t = TcpStream::connect(p.tcp).unwrap();
    t.write_all(&big).unwrap();
    drop(t);
    u.send_to(&vec![b'b'; 65_000], p.udp).unwrap();
    // Half a frame that hangs: the connection stays open while others are served.
    let mut half = TcpStream::connect(p.tcp).unwrap();
    half.write_all(b"500 <13>only part of it").unwrap();
    // 1,000 concurrent connections, each sending one message.
    let conns: Vec<TcpStream> = (0..1000)
        .map(|i| {
            let mut c = TcpStream::connect(p.tcp).unwrap();
            c.write_all(format!("<13>Nov 22 10:00:00 h app: conn-{i}\n").as_bytes())
                .unwrap();
            c
        })
        .collect();
    let open = p.wait_metric("picket_tcp_connections ", 1000, Duration::from_secs(10));
    assert!(open >= 1000, "only {open} connections open");
    drop(conns);
    // The listener still serves.
    logger(&[
        "--udp",
        "-n",
        "127.0.0.1",
        "-P",
        &p.udp.port().to_string(),
        "still-alive-udp",
    ]);
    logger(&[
        "--tcp",
        "-n",
        "127.0.0.1",
        "-P",
        &p.tcp.port().to_string(),
        "still-alive-tcp",
    ]);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let found = p.search("still-alive-udp", &[]).len() + p.search("still-alive-tcp", &[]).len();
        let conns = p.search("conn-999", &[]).len();
        if found == 2 && conns == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "listeners stopped serving"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        p.metric("picket_frames_truncated_total") >= 2,
        "the 1 MiB TCP frame and the 65 KB datagram"
    );
    assert!(p.metric("picket_frames_invalid_utf8_total") >= 1);
    let ev = p.search("marker", &[]);
    assert_eq!(ev.len(), 1);
    assert!(ev[0]["message"].as_str().unwrap().contains('\u{fffd}'));
    assert_eq!(ev[0]["picket.invalid_utf8"], true);
    assert_eq!(
        p.search("after-big-frame", &[]).len(),
        1,
        "frame after the oversize one is intact"
    );
    assert_eq!(p.search("conn-0", &[]).len(), 1);
    drop(half);
}

#[test]
fn sigterm_mid_stream_loses_nothing_accepted() {
    let mut p = Picket::start(&[]);
    let addr = p.tcp;
    let sender = std::thread::spawn(move || {
        let mut t = TcpStream::connect(addr).unwrap();
        let mut sent = 0u64;
        for i in 0..2_000_000u64 {
            let line = format!("<13>Nov 22 10:00:00 h app: stream message {i}\n");
            if t.write_all(line.as_bytes()).is_err() {
                break;
            }
            sent += 1;
        }
        sent
    });
    // Let the stream get going, then stop Picket in the middle of it.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while p.metric("picket_frames_received_total") < 20_000 {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    }
    let (st, _) = p.stop();
    assert!(st.success());
    let sent = sender.join().unwrap();
    let log = p.stderr();
    let received: u64 = log
        .lines()
        .filter(|l| l.contains("Picket stopped"))
        .find_map(|l| field(l, "received"))
        .expect("stop line");
    let stored: u64 = log
        .lines()
        .filter(|l| l.contains("Picket stopped"))
        .find_map(|l| field(l, "stored"))
        .unwrap();
    assert!(received > 0 && received <= sent);
    assert_eq!(received, stored, "every received frame is stored");
    // The newest stored message is the last one received, and it is searchable.
    let newest = p.search("", &["--limit", "1"]);
    let last = newest[0]["message"]
        .as_str()
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .parse::<u64>()
        .unwrap();
    assert_eq!(last + 1, stored, "messages 0..stored are stored, in order");
    assert_eq!(
        p.search(&format!("stream message {}", stored / 2), &["--limit", "5"])
            .len(),
        1
    );
}

fn field(line: &str, key: &str) -> Option<u64> {
    let plain: String = strip_ansi(line);
    plain
        .split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{key}="))?.parse().ok())
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut esc = false;
    for c in s.chars() {
        if c == '\u{1b}' {
            esc = true;
        } else if esc {
            if c == 'm' {
                esc = false;
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn bad_config_exits_2_with_the_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("picket.toml");
    std::fs::write(&f, "[syslog]\nmax_frame_bytez = 10\n").unwrap();
    let out = std::process::Command::new(common::bin())
        .args(["config", "check", "--config"])
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 2") && err.contains("max_frame_bytez"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one-line reason: {err}");
    let ok = std::process::Command::new(common::bin())
        .args(["config", "check", "--config", "picket.example.toml"])
        .output()
        .unwrap();
    assert!(ok.status.success());
}

#[test]
fn parse_prints_json_per_line_naming_the_parser() {
    use std::process::{Command, Stdio};
    let mut child = Command::new(common::bin())
        .arg("parse")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"<134>Nov 22 10:00:00 fw01 devname=fw srcip=10.1.1.1 dstip=10.2.2.2 action=deny\nno header here at all\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["picket.parser"], "kv");
    assert_eq!(lines[0]["source.ip"], "10.1.1.1");
    assert_eq!(lines[0]["host.name"], "fw01");
    assert_eq!(lines[1]["picket.parser"], "none");
    assert_eq!(lines[1]["message"], "no header here at all");
}

#[test]
fn replay_stores_a_corpus_file_and_it_is_searchable() {
    let dir = tempfile::tempdir().unwrap();
    let file = picket::test_util::corpus_dir().join("replay/loghub/OpenSSH/OpenSSH_2k.log");
    assert!(file.exists(), "corpus file {} is missing", file.display());
    common::run_ok(
        std::process::Command::new(common::bin())
            .arg("replay")
            .arg(&file)
            .args(["--sender", "192.0.2.77", "--data-dir"])
            .arg(dir.path()),
    );
    let all = common::search_dir(dir.path(), "", &[]);
    assert_eq!(all.len(), 2000);
    assert!(all.iter().all(|e| e["observer.ip"] == "192.0.2.77"
        && e["host.name"] == "LabSZ"
        && e["process.name"] == "sshd"));
    assert!(
        all.iter()
            .all(|e| e.get("picket.clamped_timestamp").is_none()),
        "old dates are last year's, not the future"
    );
    let hits = common::search_dir(dir.path(), "sender:192.0.2.77 173.234.31.186 break-in", &[]);
    assert!(
        !hits.is_empty()
            && hits
                .iter()
                .all(|e| e["message"].as_str().unwrap().contains("173.234.31.186"))
    );
}

/// A replay that seals segments ends once they are compressed, instead of stopping the indexer
/// first and then waiting ten minutes for it.
#[test]
fn replay_ends_with_its_sealed_segments_compressed() {
    use picket::store::sqlite::{Options, SegmentState, SqliteStore};
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lines.log");
    let text: String = (0..3500)
        .map(|i| {
            format!(
                "<134>Nov 22 10:00:{:02} fw01 kernel: replayed line {i} from 10.0.{}.{}\n",
                i % 60,
                i % 200,
                i % 250
            )
        })
        .collect();
    std::fs::write(&file, text).unwrap();
    let config = dir.path().join("picket.toml");
    std::fs::write(&config, "[store]\nsegment_max_events = 1000\n").unwrap();
    let data = dir.path().join("data");
    let mut child = std::process::Command::new(common::bin())
        .arg("replay")
        .arg(&file)
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(&data)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if std::time::Instant::now() > deadline {
            let _killed: Result<(), _> = child.kill();
            panic!("replay did not end within 120 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success());
    let st = SqliteStore::open(&data.join("store"), Options::default()).unwrap();
    let segs = st.segments();
    assert!(
        segs.iter().any(|s| s.state == SegmentState::Compact),
        "{segs:?}"
    );
    assert!(
        segs.iter()
            .all(|s| matches!(s.state, SegmentState::Compact | SegmentState::Hot)),
        "{segs:?}"
    );
    assert_eq!(
        common::search_dir(&data, "replayed", &["--limit", "5000"]).len(),
        3500
    );
}

#[test]
fn connection_limit_and_idle_timeout_are_enforced_and_counted() {
    use std::io::Read;
    let p = Picket::start_with_config("[syslog]\nmax_connections = 3\nidle_timeout_secs = 1\n");
    let held: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(p.tcp).unwrap()).collect();
    assert_eq!(
        p.wait_metric("picket_tcp_connections ", 3, Duration::from_secs(10)),
        3
    );
    let mut extra = TcpStream::connect(p.tcp).unwrap();
    extra
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut b = [0u8; 1];
    assert_eq!(
        extra.read(&mut b).unwrap_or(0),
        0,
        "the connection over the limit is closed"
    );
    assert!(p.metric("picket_tcp_connections_rejected_total") >= 1);
    // The held connections say nothing and are closed by the idle timeout.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while p.metric("picket_tcp_connections_idle_closed_total") < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "idle connections were not closed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(held);
    // New connections are served again.
    logger(&[
        "--tcp",
        "-n",
        "127.0.0.1",
        "-P",
        &p.tcp.port().to_string(),
        "after-limit",
    ]);
    assert_eq!(p.wait_stored(1, Duration::from_secs(10)), 1);
}

#[test]
fn a_full_spool_slows_tcp_senders_without_losing_anything() {
    let p = Picket::start_with_config("[spool]\nmax_bytes = 65536\n");
    let mut t = TcpStream::connect(p.tcp).unwrap();
    let mut buf = Vec::new();
    for i in 0..50_000 {
        buf.extend_from_slice(format!("<13>Nov 22 10:00:00 h app: back-pressure message {i} with some padding to make it longer\n").as_bytes());
    }
    t.write_all(&buf).unwrap();
    drop(t);
    assert_eq!(p.wait_stored(50_000, Duration::from_secs(60)), 50_000);
    assert_eq!(p.metric("picket_frames_dropped_total"), 0);
    assert_eq!(p.search("back-pressure 49999", &[]).len(), 1);
}
