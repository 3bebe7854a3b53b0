//! The storage lifecycle on the real binary: retention by age removes whole segments while the
//! alerts that link their events keep copies; `picket retention` shows the runs; a `kill -9`
//! during retention loses nothing it should keep; and on a real small file system (a tmpfs the
//! test mounts and unmounts itself) a full disk holds TCP senders without loss, counts UDP
//! drops, keeps the log short, answers 503 on `/healthz`, and resumes once space is back.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::{Picket, bin, logger, run_ok};
use std::io::Write;
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

/// An RFC 5424 line stamped `age` in the past.
fn line(age: Duration, host: &str, msg: &str) -> String {
    let t = chrono::Utc::now() - chrono::Duration::from_std(age).unwrap();
    format!(
        "<38>1 {} {host} sshd 4242 - - {msg}\n",
        t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    )
}

fn send_tcp(p: &Picket, lines: &[String]) {
    let mut s = TcpStream::connect(p.tcp).unwrap();
    for l in lines {
        s.write_all(l.as_bytes()).unwrap();
    }
    s.flush().unwrap();
}

fn retention_json(p: &Picket, config: &str) -> serde_json::Value {
    let out = run_ok(
        Command::new(bin())
            .args([
                "retention",
                "--json",
                "--dry-run",
                "--config",
                config,
                "--data-dir",
            ])
            .arg(p.data_dir())
            .current_dir(p.dir.path()),
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn alerts_db(p: &Picket) -> rusqlite::Connection {
    rusqlite::Connection::open(p.data_dir().join("alerts.db")).unwrap()
}

const AGE_CONFIG: &str = r#"
[store]
segment_max_events = 1000
segment_max_age_secs = 1
[retention]
max_age = "1d"
min_free = "0%"
interval = "1s"
"#;

#[test]
fn retention_by_age_removes_old_segments_and_alerts_keep_their_evidence() {
    let p = Picket::start_with_config(AGE_CONFIG);
    let old = Duration::from_secs(3 * 86_400);
    // Five failed logins three days ago fire the SSH brute-force rule; filler makes two
    // segments of old events.
    let mut lines: Vec<String> = (0..5)
        .map(|_| {
            line(
                old,
                "bastion",
                "Failed password for root from 203.0.113.9 port 4242 ssh2",
            )
        })
        .collect();
    lines.extend((0..1495).map(|i| line(old, "fw1", &format!("old filler {i}"))));
    send_tcp(&p, &lines);
    assert_eq!(p.wait_stored(1500, Duration::from_secs(20)), 1500);
    // Both old segments go as whole files (the second once it is sealed by age).
    let removed = p.wait_metric(
        "picket_retention_events_total",
        1500,
        Duration::from_secs(30),
    );
    assert_eq!(removed, 1500, "{}", p.stderr());
    assert!(p.metric("picket_retention_segments_total") >= 1);
    // Recent events stay.
    p.log_udp("app", "fresh event after retention");
    assert_eq!(p.wait_stored(1501, Duration::from_secs(10)), 1501);
    // A pass or two more (every second): they remove nothing else. `retention_runs_total`
    // counts only passes that removed something, so this waits on the clock.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(p.metric("picket_retention_events_total"), 1500);
    let hits = p.search("fresh", &[]);
    assert_eq!(hits.len(), 1);
    assert!(
        p.search("filler", &[]).is_empty(),
        "old events were removed"
    );

    // The alert keeps copies of its five events, with their original ids.
    let db = alerts_db(&p);
    let (alert, linked): (i64, i64) = db
        .query_row(
            "SELECT alert_id, count(*) FROM alert_events GROUP BY alert_id",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(linked, 5);
    let kept: Vec<(i64, Vec<u8>)> = db
        .prepare("SELECT event_id, raw FROM alert_evidence WHERE alert_id = ?1 ORDER BY event_id")
        .unwrap()
        .query_map([alert], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let ids: Vec<i64> = db
        .prepare("SELECT event_id FROM alert_events WHERE alert_id = ?1 ORDER BY event_id")
        .unwrap()
        .query_map([alert], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(kept.iter().map(|k| k.0).collect::<Vec<_>>(), ids);
    assert!(
        kept.iter()
            .all(|k| String::from_utf8_lossy(&k.1).contains("Failed password for root"))
    );
    assert_eq!(p.metric("picket_retention_evidence_kept_total"), 5);

    // The run log and status.
    std::fs::write(p.dir.path().join("age.toml"), AGE_CONFIG).unwrap();
    let st = retention_json(&p, "age.toml");
    let runs = st["runs"].as_array().unwrap();
    let total: i64 = runs.iter().map(|r| r["events"].as_i64().unwrap()).sum();
    assert_eq!(total, 1500, "{st}");
    assert!(runs.iter().all(|r| r["reason"] == "max_age"));
    assert_eq!(st["events"], 1);
    assert_eq!(st["next_run"].as_array().unwrap().len(), 0);
    // forget-host reaches the kept copies too.
    let out = run_ok(
        Command::new(bin())
            .args(["forget-host", "127.0.0.1", "--yes", "--data-dir"])
            .arg(p.data_dir()),
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["alert_evidence"], 5, "{report}");
    let left: i64 = alerts_db(&p)
        .query_row("SELECT count(*) FROM alert_evidence", [], |r| r.get(0))
        .unwrap();
    assert_eq!(left, 0);
}

/// [`AGE_CONFIG`] with an audit query and an override.
fn class_config() -> String {
    format!(
        "{AGE_CONFIG}audit_queries = [\"host.name:bastion\"]\n\
         [[retention.override]]\nname = \"core\"\nquery = \"host.name:core AND NOT ignore\"\nmax_age = \"10d\"\n"
    )
}

/// The segment files under the store directory.
fn store_files(p: &Picket) -> Vec<String> {
    std::fs::read_dir(p.data_dir().join("store"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// Audit queries and overrides: their events are kept in files of their own when a segment is
/// sealed, and outlive bulk events of the same age.
#[test]
fn audit_and_override_classes_outlive_bulk_events_of_the_same_age() {
    let p = Picket::start_with_config(&class_config());
    let old = Duration::from_secs(3 * 86_400);
    let mut lines = Vec::new();
    for i in 0..1500 {
        let (host, msg) = match i % 5 {
            0 => ("bastion", format!("Accepted publickey for ops {i}")),
            1 => ("core", format!("link flap {i}")),
            2 => ("core", format!("ignore this {i}")),
            _ => ("fw1", format!("old filler {i}")),
        };
        lines.push(line(old, host, &msg));
    }
    send_tcp(&p, &lines);
    assert_eq!(p.wait_stored(1500, Duration::from_secs(20)), 1500);
    // Bulk events (600 filler lines and the 300 core lines the override leaves out) go; the
    // classes stay.
    let removed = p.wait_metric(
        "picket_retention_events_total",
        900,
        Duration::from_secs(30),
    );
    assert_eq!(removed, 900, "{}\n{:?}", p.stderr(), store_files(&p));
    // A pass or two more (every second): they remove nothing else. `retention_runs_total`
    // counts only passes that removed something, so this waits on the clock.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(p.metric("picket_retention_events_total"), 900);
    assert!(p.search("filler", &[]).is_empty());
    assert!(p.search("ignore", &[]).is_empty());
    assert_eq!(
        p.search("host.name:bastion", &["--limit", "1000"]).len(),
        300
    );
    assert_eq!(p.search("flap", &["--limit", "1000"]).len(), 300);
    let files = store_files(&p);
    assert!(files.iter().any(|f| f.ends_with(".audit.db")), "{files:?}");
    assert!(files.iter().any(|f| f.ends_with(".core.db")), "{files:?}");

    std::fs::write(p.dir.path().join("class.toml"), class_config()).unwrap();
    let st = retention_json(&p, "class.toml");
    let class = |name: &str| {
        st["classes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["class"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} in {st}"))
    };
    assert_eq!(class("audit")["events"], 300, "{st}");
    assert_eq!(class("audit")["max_age_days"], 365);
    assert_eq!(class("core")["events"], 300);
    assert_eq!(class("core")["max_age_days"], 10);
    assert_eq!(st["events"], 600);
}

/// [`AGE_CONFIG`] with an archive.
fn archive_config() -> String {
    format!("{AGE_CONFIG}archive_dir = \"archive\"\narchive_max_bytes = \"1GB\"\n")
}

/// Segments that retention removes are written to the archive first, where
/// `picket search --archive` finds them and forget-host reaches them.
#[test]
fn removed_segments_go_to_the_archive_and_stay_searchable() {
    let p = Picket::start_with_config(&archive_config());
    let old = Duration::from_secs(3 * 86_400);
    let lines: Vec<String> = (0..1500)
        .map(|i| line(old, "fw1", &format!("archived filler {i}")))
        .collect();
    send_tcp(&p, &lines);
    assert_eq!(p.wait_stored(1500, Duration::from_secs(20)), 1500);
    let removed = p.wait_metric(
        "picket_retention_events_total",
        1500,
        Duration::from_secs(30),
    );
    assert_eq!(removed, 1500, "{}", p.stderr());
    assert!(p.search("filler", &[]).is_empty());
    assert!(p.metric("picket_retention_archived_total") >= 1);
    let archive = p.data_dir().join("archive");
    let arch = |q: &str| {
        let out = run_ok(
            Command::new(bin())
                .args(["search", q, "--limit", "5000", "--archive"])
                .arg(&archive)
                .args(["--data-dir"])
                .arg(p.data_dir()),
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .collect::<Vec<_>>()
    };
    let hits = arch("filler");
    assert_eq!(hits.len(), 1500);
    // Newest first, with the ids the store gave them (segment 1 and 2).
    assert_eq!(hits[0]["message"], "archived filler 1499");
    let ids: std::collections::HashSet<i64> = hits
        .iter()
        .map(|h| h["picket.id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 1500);
    assert!(ids.iter().all(|id| id >> 32 <= 2));
    assert_eq!(arch("\"archived filler 777\"").len(), 1);
    // Compressed: far smaller than the text received.
    let raw: usize = lines.iter().map(String::len).sum();
    let bytes: u64 = std::fs::read_dir(&archive)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert!(bytes < raw as u64, "{bytes} of {raw}");
    assert!(p.wait_metric("picket_archive_bytes", 1, Duration::from_secs(30)) > 0);

    // forget-host reaches the archive.
    std::fs::write(p.dir.path().join("archive.toml"), archive_config()).unwrap();
    let out = run_ok(
        Command::new(bin())
            .args([
                "forget-host",
                "127.0.0.1",
                "--yes",
                "--config",
                "archive.toml",
                "--data-dir",
            ])
            .arg(p.data_dir())
            .current_dir(p.dir.path()),
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["archived"], 1500, "{report}");
    assert!(arch("filler").is_empty());
}

#[test]
fn bad_retention_classes_are_refused_with_the_key() {
    for (toml, key) in [
        (
            "[retention]\naudit_queries = [\"host.name:(\"]\n",
            "retention.audit_queries[0]",
        ),
        (
            "[[retention.override]]\nname = \"Bad Name\"\nquery = \"x\"\nmax_age = \"1d\"\n",
            "retention.override[0].name",
        ),
        (
            "[[retention.override]]\nname = \"x\"\nquery = \"x\"\nmax_age = \"soon\"\n",
            "retention.override[0].max_age",
        ),
        (
            "[store]\ncompress = false\n[retention]\naudit_queries = [\"sshd\"]\n",
            "store.compress",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("p.toml"), toml).unwrap();
        let out = Command::new(bin())
            .args(["config", "check", "--config", "p.toml"])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(key), "{key}: {err}");
    }
}

#[test]
fn kill_9_during_retention_loses_nothing_it_should_keep() {
    // Segments of old events and, sealed apart from them, a thousand recent ones, stored with
    // retention off.
    let keep_all = "[store]\nsegment_max_events = 1000\nsegment_max_age_secs = 1\n[retention]\nmax_age = \"3650d\"\nmin_free = \"0%\"\n";
    let mut p = Picket::start_with_config(keep_all);
    let old = Duration::from_secs(5 * 86_400);
    for chunk in 0..10 {
        let lines: Vec<String> = (0..1000)
            .map(|i| line(old, "fw1", &format!("old event {chunk}-{i}")))
            .collect();
        send_tcp(&p, &lines);
        assert_eq!(
            p.wait_stored(1000 * (chunk + 1), Duration::from_secs(30)),
            1000 * (chunk + 1)
        );
    }
    // The last old segment is sealed (and indexed) before the recent events arrive.
    assert_eq!(
        p.wait_metric(
            "picket_store_segments_indexed_total",
            10,
            Duration::from_secs(30)
        ),
        10
    );
    let lines: Vec<String> = (0..1000)
        .map(|i| line(Duration::ZERO, "fw2", &format!("recent event {i}")))
        .collect();
    send_tcp(&p, &lines);
    assert_eq!(p.wait_stored(11_000, Duration::from_secs(30)), 11_000);
    p.stop();
    let dir = std::mem::replace(&mut p.dir, tempfile::tempdir().unwrap());
    drop(p);
    std::fs::write(dir.path().join("age.toml"), AGE_CONFIG).unwrap();
    // Start with a 1-day age, kill -9 soon after each start, at a different moment each time.
    let mut dir = dir;
    for delay_ms in [0u64, 15, 40, 120] {
        let mut p = Picket::start_in(dir, &["--config", "age.toml"]);
        std::thread::sleep(Duration::from_millis(delay_ms));
        let mut child = p.child.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        dir = std::mem::replace(&mut p.dir, tempfile::tempdir().unwrap());
        // Every recent event is still there and the store opens and searches cleanly.
        let recent = common::search_dir(&dir.path().join("data"), "recent", &["--limit", "5000"]);
        assert_eq!(recent.len(), 1000, "after kill -9 at {delay_ms} ms");
    }
    // A last run completes the removal: no old event is left, no recent one is lost.
    let p = Picket::start_in(dir, &["--config", "age.toml"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let st = retention_json(&p, "age.toml");
        if st["events"] == 1000 || Instant::now() > deadline {
            assert_eq!(st["events"], 1000, "{st}");
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(p.search("recent", &["--limit", "5000"]).len(), 1000);
    assert!(p.search("old", &[]).is_empty());
    // The log accounts for every removed event, whichever run removed it.
    let st = retention_json(&p, "age.toml");
    let logged: i64 = st["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["events"].as_i64().unwrap())
        .sum();
    assert_eq!(logged, 10_000, "{st}");
}

/// A tmpfs of `mb` MiB mounted for this test, unmounted (and its mount point removed) on drop.
struct SmallFs {
    path: std::path::PathBuf,
}

impl SmallFs {
    fn mount(mb: u64) -> SmallFs {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "picket-smallfs-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).unwrap();
        let st = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mb}m"), "tmpfs"])
            .arg(&path)
            .status()
            .expect("run mount (the full-disk test needs root to mount a tmpfs)");
        assert!(
            st.success(),
            "mount a tmpfs at {} (needs root)",
            path.display()
        );
        SmallFs { path }
    }

    fn free(&self) -> u64 {
        let out = Command::new("df")
            .args(["--output=avail", "-B1"])
            .arg(&self.path)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .nth(1)
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _status = Command::new("umount").arg("-l").arg(&self.path).status();
        let _removed = std::fs::remove_dir(&self.path);
    }
}

fn health(p: &Picket) -> String {
    let mut s = TcpStream::connect(p.web).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    std::io::Read::read_to_string(&mut s, &mut out).unwrap();
    out
}

#[test]
fn full_disk_holds_tcp_counts_udp_and_resumes_when_space_returns() {
    let fs = SmallFs::mount(96);
    let data = fs.path.join("data");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("small.toml"),
        "[store]\nsegment_max_events = 5000\n[retention]\nreserve = \"8MB\"\nmin_free = \"0%\"\ninterval = \"1s\"\n",
    )
    .unwrap();
    let mut p = Picket::start_at(dir, data, &["--config", "small.toml"]);
    // A ballast file leaves 12 MB free: retention cannot free it, and the stream below needs
    // several times that.
    let ballast = fs.path.join("ballast");
    {
        let free = fs.free();
        let f = std::fs::File::create(&ballast).unwrap();
        let mut w = std::io::BufWriter::new(f);
        let chunk = vec![0x5au8; 1 << 20];
        let mut left = free.saturating_sub(12 << 20);
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            w.write_all(&chunk[..n]).unwrap();
            left -= n as u64;
        }
        w.flush().unwrap();
    }
    // 120,000 lines (about 25 MB) from one TCP sender on its own thread: it is held, not
    // dropped, while the disk is full.
    const TCP_LINES: u64 = 120_000;
    let tcp = p.tcp;
    let sender = std::thread::spawn(move || {
        let mut s = TcpStream::connect(tcp).unwrap();
        let pad = "x".repeat(150);
        let mut buf = Vec::with_capacity(1 << 20);
        for i in 0..TCP_LINES {
            writeln!(buf, "<134>Dec  1 10:00:00 fw9 app: tcp-seq={i} {pad}").unwrap();
            if buf.len() > (256 << 10) {
                s.write_all(&buf).unwrap();
                buf.clear();
            }
        }
        s.write_all(&buf).unwrap();
        s.flush().unwrap();
    });
    assert_eq!(
        p.wait_metric("picket_disk_full", 1, Duration::from_secs(60)),
        1,
        "the disk never filled: {}",
        p.stderr()
    );
    assert!(health(&p).starts_with("HTTP/1.1 503"), "{}", health(&p));
    assert!(health(&p).contains("disk full"));
    // UDP while the disk is full: each datagram is stored or counted as dropped.
    let udp_port = p.udp.port().to_string();
    for i in 0..20 {
        logger(&[
            "--udp",
            "-n",
            "127.0.0.1",
            "-P",
            &udp_port,
            "-t",
            "udp",
            &format!("udp-during-full {i}"),
        ]);
    }
    let dropped = p.wait_metric(
        "picket_frames_dropped_total{reason=\"disk_full\"}",
        1,
        Duration::from_secs(10),
    );
    assert!(dropped >= 1, "UDP drops counted as disk_full");
    // Still full later: a datagram sent after those is dropped too. The TCP sender, which
    // started first, is held all the while, and nothing was dropped as a spool error.
    logger(&[
        "--udp",
        "-n",
        "127.0.0.1",
        "-P",
        &udp_port,
        "-t",
        "udp",
        "udp-during-full later",
    ]);
    let dropped = p.wait_metric(
        "picket_frames_dropped_total{reason=\"disk_full\"}",
        dropped + 1,
        Duration::from_secs(10),
    );
    assert!(
        !sender.is_finished(),
        "the TCP sender must be held while the disk is full"
    );
    assert_eq!(
        p.metric("picket_frames_dropped_total{reason=\"spool_error\"}"),
        0
    );
    // Free the space: intake resumes by itself and every TCP line is stored.
    std::fs::remove_file(&ballast).unwrap();
    sender.join().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while p.search("tcp-seq", &["--limit", "1"]).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    let want = TCP_LINES;
    let got = loop {
        let n = p.metric("picket_events_stored_total");
        if n >= want + 21 - dropped || Instant::now() > deadline {
            break n;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(p.metric("picket_disk_full"), 0);
    assert!(health(&p).starts_with("HTTP/1.1 200"));
    let udp_stored = p.search("udp-during-full", &["--limit", "100"]).len() as u64;
    assert_eq!(
        udp_stored + dropped,
        21,
        "every UDP datagram stored or counted"
    );
    assert_eq!(got, TCP_LINES + udp_stored, "zero TCP loss: {}", p.stderr());
    // A logger line after the resume is stored.
    p.log_udp("after", "stored-after-resume");
    assert_eq!(p.wait_stored(got + 1, Duration::from_secs(10)), got + 1);
    // The log stayed short: at most one line per reason per 10 s.
    let errors = p.stderr().lines().filter(|l| l.contains("ERROR")).count();
    assert!(errors <= 40, "{errors} error lines:\n{}", p.stderr());
    p.stop();
    // Every line, exactly once, by its sequence number.
    let hits = common::search_dir(&p.data_dir(), "tcp-seq", &["--limit", "200000"]);
    let mut seen = vec![false; TCP_LINES as usize];
    for h in &hits {
        let m = h["message"].as_str().unwrap();
        let n: usize = m
            .split("tcp-seq=")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(!seen[n], "line {n} stored twice");
        seen[n] = true;
    }
    assert!(seen.iter().all(|s| *s), "a TCP line is missing");
}
