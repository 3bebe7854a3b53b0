//! The registry of senders and `picket forget-host`, end to end: senders seen over syslog are
//! listed, and one sender's events are deleted from indexed and hot segments while the
//! collector keeps storing another sender's traffic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::{Picket, bin, run_ok};
use std::net::UdpSocket;
use std::process::Command;
use std::time::{Duration, Instant};

fn send_from(src: &str, to: std::net::SocketAddr, lines: impl Iterator<Item = String>) {
    let s = UdpSocket::bind(src).unwrap();
    for l in lines {
        s.send_to(l.as_bytes(), to).unwrap();
    }
}

fn cli(p: &Picket, args: &[&str]) -> String {
    let out = run_ok(
        Command::new(bin())
            .args(args)
            .arg("--data-dir")
            .arg(p.data_dir()),
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn senders_are_listed_and_forget_host_deletes_one_while_ingest_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("test.toml"),
        "[store]\nsegment_max_events = 1000\n",
    )
    .unwrap();
    let p = Picket::start_in(dir, &["--config", "test.toml"]);
    p.log_udp("sshd", "from logger");
    // 2500 events of 127.0.0.2 (spread over several segments, most of them indexed) and 2500
    // of 127.0.0.3, interleaved.
    for round in 0..25 {
        send_from(
            "127.0.0.2:0",
            p.udp,
            (0..100).map(|i| {
                format!("<134>Nov 22 10:00:00 gone app: secretword{round}x{i} srcip=10.1.1.1")
            }),
        );
        send_from(
            "127.0.0.3:0",
            p.udp,
            (0..100).map(|i| format!("<134>Nov 22 10:00:00 stays app: keptword{round}x{i}")),
        );
        std::thread::sleep(Duration::from_millis(30));
    }
    assert_eq!(p.wait_stored(5001, Duration::from_secs(20)), 5001);

    let senders: Vec<serde_json::Value> = cli(&p, &["senders"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(senders.len(), 3, "{senders:?}");
    let gone = senders.iter().find(|s| s["sender"] == "127.0.0.2").unwrap();
    assert_eq!(gone["events"], 2500);
    assert_eq!(gone["host"], "gone");
    assert_eq!(gone["listener"], "syslog0");
    assert_eq!(
        gone["events_per_day"]
            .as_object()
            .unwrap()
            .values()
            .next()
            .unwrap(),
        2500
    );
    assert!(gone["first_seen"].as_str().unwrap() <= gone["last_seen"].as_str().unwrap());
    assert!(
        senders
            .iter()
            .any(|s| s["sender"] == "127.0.0.1" && s["events"] == 1)
    );
    assert_eq!(p.search("secretword3x7", &[]).len(), 1);

    // A refusal without confirmation when stdin is not a terminal.
    let refused = Command::new(bin())
        .args(["forget-host", "127.0.0.2", "--data-dir"])
        .arg(p.data_dir())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--yes"));

    // Traffic from 127.0.0.3 goes on during the forget.
    let to = p.udp;
    let feeder = std::thread::spawn(move || {
        let t = Instant::now();
        let mut sent = 0;
        while t.elapsed() < Duration::from_secs(2) {
            send_from(
                "127.0.0.3:0",
                to,
                (0..20).map(|i| format!("<134>Nov 22 10:00:01 stays app: during{sent}x{i}")),
            );
            sent += 1;
            std::thread::sleep(Duration::from_millis(20));
        }
        sent * 20
    });
    let report: serde_json::Value =
        serde_json::from_str(cli(&p, &["forget-host", "127.0.0.2", "--yes"]).trim()).unwrap();
    let during = feeder.join().unwrap();
    assert_eq!(report["events"], 2500, "{report}");
    assert_eq!(report["senders"], 1);
    assert!(report["segments"].as_u64().unwrap() >= 2);
    let total = 5001 + during as u64;
    assert_eq!(p.wait_stored(total, Duration::from_secs(20)), total);

    assert!(p.search("sender:127.0.0.2", &[]).is_empty());
    assert!(p.search("secretword3x7", &[]).is_empty());
    assert!(p.search("host.name:gone", &[]).is_empty());
    assert_eq!(p.search("sender:127.0.0.3", &[]).len(), 2500 + during);
    assert!(
        cli(&p, &["senders"])
            .lines()
            .all(|l| !l.contains("127.0.0.2"))
    );
}
