//! Rules, alerts and notifications end to end: `logger` lines through the collector fire the
//! SSH brute-force rule; every kind of webhook and an e-mail reach receivers on loopback;
//! retries after 500s, a dead letter after the last attempt, acknowledgement and resolution
//! from the command line, and a restart in the middle of a window.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::sinks::{HttpSink, SmtpSink};
use common::{Picket, bin, logger, run_ok};
use std::process::Command;
use std::time::{Duration, Instant};

fn config(http: &HttpSink, smtp: &SmtpSink) -> String {
    format!(
        r#"
[rules]
suppress_secs = 600

[[notify.channel]]
name = "hook"
kind = "webhook"
url = "{hook}"
headers = {{ Authorization = "Bearer t0ken" }}
template = '{{"alert": {{{{id}}}}, "text": "{{{{summary}}}}", "rule": "{{{{title}}}}"}}'
hmac_secret = "s3cret"
[[notify.channel]]
name = "slack"
kind = "slack"
url = "{slack}"
[[notify.channel]]
name = "teams"
kind = "teams"
url = "{teams}"
[[notify.channel]]
name = "discord"
kind = "discord"
url = "{discord}"
[[notify.channel]]
name = "pagerduty"
kind = "pagerduty"
url = "{pd}"
routing_key = "R0UTING"
[[notify.channel]]
name = "flaky"
kind = "webhook"
url = "{flaky}"
retry_base_ms = 50
[[notify.channel]]
name = "broken"
kind = "webhook"
url = "{broken}"
retry_base_ms = 20
max_attempts = 3
[[notify.channel]]
name = "mail"
kind = "email"
smtp_host = "127.0.0.1"
smtp_port = {smtp_port}
tls = "none"
username = "picket"
password = "pw"
from = "Picket <picket@example.org>"
to = ["oncall@example.org", "boss@example.org"]

[[notify.route]]
channels = ["hook", "slack", "teams", "discord", "pagerduty", "flaky", "broken", "mail"]
min_level = "high"
resolved = true
"#,
        hook = http.url("/hook"),
        slack = http.url("/slack"),
        teams = http.url("/teams"),
        discord = http.url("/discord"),
        pd = http.url("/pd"),
        flaky = http.url("/fail-2/flaky"),
        broken = http.url("/always-500/broken"),
        smtp_port = smtp.addr.port(),
    )
}

fn cli(p: &Picket, args: &[&str]) -> String {
    let out = run_ok(
        Command::new(bin())
            .args(args)
            .arg("--data-dir")
            .arg(p.data_dir())
            .args(["--config", "test.toml"])
            .current_dir(p.dir.path()),
    );
    String::from_utf8(out.stdout).unwrap()
}

fn fail(p: &Picket, ip: &str) {
    let port = p.udp.port().to_string();
    logger(&[
        "--udp",
        "-n",
        "127.0.0.1",
        "-P",
        &port,
        "-t",
        "sshd",
        "-p",
        "auth.info",
        &format!("Failed password for root from {ip} port 4242 ssh2"),
    ]);
}

#[test]
fn brute_force_alert_reaches_every_channel_and_follows_its_lifecycle() {
    let http = HttpSink::start();
    let smtp = SmtpSink::start("picket", "pw");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("test.toml"), config(&http, &smtp)).unwrap();
    let p = Picket::start_in(dir, &["--config", "test.toml"]);
    for _ in 0..4 {
        fail(&p, "203.0.113.7");
    }
    assert_eq!(p.wait_stored(4, Duration::from_secs(10)), 4);
    // The rules count an event as evaluated once its firings are recorded, so with all four
    // evaluated an alert from them would already be counted.
    assert_eq!(
        p.wait_metric("picket_rules_evaluated_total", 4, Duration::from_secs(10)),
        4
    );
    assert_eq!(
        p.metric("picket_alerts_raised_total"),
        0,
        "no alert before the fifth failure"
    );
    assert!(
        http.on("/").is_empty(),
        "no message before the fifth failure"
    );
    fail(&p, "203.0.113.7");

    // The generic webhook: template, custom header, HMAC signature. How fast it comes is a
    // benchmark (`bench/compare.sh alert-latency`), not a test.
    let hook = http.wait("/hook", 1, Duration::from_secs(10));
    assert_eq!(hook.len(), 1);
    let h = &hook[0];
    assert_eq!(h.header("Authorization"), Some("Bearer t0ken"));
    let body = h.json();
    assert_eq!(body["rule"], "SSH brute force");
    assert!(
        body["text"]
            .as_str()
            .unwrap()
            .contains("source.ip=203.0.113.7")
    );
    let sig = h.header("X-Picket-Signature").unwrap();
    assert_eq!(
        sig,
        format!(
            "sha256={}",
            picket::notify::deliver::signature("s3cret", h.body.as_bytes())
        )
    );
    let alert_id = body["alert"].as_i64().unwrap();

    // Each kind's own format.
    let slack = http.wait("/slack", 1, Duration::from_secs(5));
    assert!(
        slack[0].json()["text"]
            .as_str()
            .unwrap()
            .contains("SSH brute force")
    );
    let teams = http.wait("/teams", 1, Duration::from_secs(5));
    let t = teams[0].json();
    assert_eq!(
        t["attachments"][0]["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert_eq!(t["attachments"][0]["content"]["type"], "AdaptiveCard");
    let discord = http.wait("/discord", 1, Duration::from_secs(5));
    assert_eq!(discord[0].json()["embeds"][0]["title"], "SSH brute force");
    let pd = http.wait("/pd", 1, Duration::from_secs(5));
    let v = pd[0].json();
    assert_eq!(v["routing_key"], "R0UTING");
    assert_eq!(v["event_action"], "trigger");
    assert_eq!(v["payload"]["severity"], "error");

    // E-mail with authentication, two recipients, plain text and HTML.
    let mails = smtp.wait(1, Duration::from_secs(10));
    assert_eq!(mails.len(), 1);
    let m = &mails[0];
    assert_eq!(m.auth, Some(("picket".into(), "pw".into())));
    assert_eq!(m.to.len(), 2);
    assert!(
        m.data.contains("Subject: [Picket] [HIGH] SSH brute force"),
        "{}",
        m.data
    );
    assert!(m.data.contains("text/plain") && m.data.contains("text/html"));

    // Retries after two 500s; dead letter after the third failed attempt.
    let flaky = http.wait("/fail-2/", 3, Duration::from_secs(10));
    assert_eq!(flaky.len(), 3);
    let broken = http.wait("/always-500/", 3, Duration::from_secs(10));
    assert_eq!(broken.len(), 3);
    let deadline = Instant::now() + Duration::from_secs(10);
    let dead = loop {
        let out = cli(&p, &["notify", "dead"]);
        if !out.is_empty() || Instant::now() > deadline {
            break out;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let d: serde_json::Value = serde_json::from_str(dead.lines().next().unwrap()).unwrap();
    assert_eq!(d["channel"], "broken");
    assert_eq!(d["last_error"], "HTTP 500");
    assert_eq!(d["attempts"], 3);

    // Further failures are folded into the same alert (suppression), without new messages.
    fail(&p, "203.0.113.7");
    fail(&p, "203.0.113.7");
    assert_eq!(p.wait_stored(7, Duration::from_secs(10)), 7);
    assert_eq!(
        p.wait_metric("picket_alerts_updated_total", 2, Duration::from_secs(10)),
        2
    );
    assert_eq!(p.metric("picket_alerts_raised_total"), 1);
    let list: Vec<serde_json::Value> = cli(&p, &["alerts", "list"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let bf: Vec<_> = list
        .iter()
        .filter(|a| a["title"] == "SSH brute force")
        .collect();
    assert_eq!(bf.len(), 1);
    assert_eq!(bf[0]["count"], 7);
    assert_eq!(bf[0]["events"].as_array().unwrap().len(), 7);
    assert_eq!(http.on("/hook").len(), 1);
    // The linked events are the stored ones.
    let first = bf[0]["events"][0].as_i64().unwrap();
    let hits = p.search("203.0.113.7", &[]);
    assert!(hits.iter().any(|h| h["picket.id"] == first));

    // Acknowledge, then resolve: the audit trail and a "resolved" notice.
    let id = alert_id.to_string();
    cli(
        &p,
        &[
            "alerts",
            "ack",
            &id,
            "--user",
            "alice",
            "--comment",
            "on it",
        ],
    );
    cli(
        &p,
        &[
            "alerts",
            "resolve",
            &id,
            "--user",
            "alice",
            "--comment",
            "blocked",
        ],
    );
    let shown: serde_json::Value =
        serde_json::from_str(&cli(&p, &["alerts", "show", &id])).unwrap();
    assert_eq!(shown["alert"]["state"], "resolved");
    let actions: Vec<&str> = shown["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["raised", "acknowledged", "resolved"]);
    let resolved = http.wait("/pd", 2, Duration::from_secs(10));
    assert_eq!(resolved[1].json()["event_action"], "resolve");
    assert_eq!(smtp.wait(2, Duration::from_secs(10)).len(), 2);

    // The broken channel dead-letters the resolved notice too, after its own three attempts;
    // the first dead letter, long dead by now, was never tried again.
    let deadline = Instant::now() + Duration::from_secs(10);
    while cli(&p, &["notify", "dead"]).lines().count() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(cli(&p, &["notify", "dead"]).lines().count(), 2);
    assert_eq!(
        http.on("/always-500/").len(),
        6,
        "three attempts per message, none after a dead letter"
    );
}

#[test]
fn a_restart_in_the_middle_of_a_window_neither_loses_nor_double_fires() {
    let http = HttpSink::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("test.toml"),
        format!(
            "[[notify.channel]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{}\"\n[[notify.route]]\nchannels = [\"hook\"]\nmin_level = \"high\"\n",
            http.url("/hook")
        ),
    )
    .unwrap();
    let mut p = Picket::start_in(dir, &["--config", "test.toml"]);
    for _ in 0..3 {
        fail(&p, "198.51.100.9");
    }
    assert_eq!(p.wait_stored(3, Duration::from_secs(10)), 3);
    let (st, _) = p.stop();
    assert!(st.success());
    let dir = std::mem::replace(&mut p.dir, tempfile::tempdir().unwrap());
    drop(p);

    // The window is rebuilt from the store: two more failures complete it.
    let mut p = Picket::start_in(dir, &["--config", "test.toml"]);
    fail(&p, "198.51.100.9");
    fail(&p, "198.51.100.9");
    assert_eq!(http.wait("/hook", 1, Duration::from_secs(10)).len(), 1);
    assert_eq!(p.wait_stored(2, Duration::from_secs(10)), 2);
    let (st, _) = p.stop();
    assert!(st.success());
    let dir = std::mem::replace(&mut p.dir, tempfile::tempdir().unwrap());
    drop(p);

    // A restart replays the same five failures: no second alert, no second message.
    let p = Picket::start_in(dir, &["--config", "test.toml"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !p.stderr().contains("Rules running") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(p.stderr().contains("replayed=5"), "{}", p.stderr());
    // The replay's firings are recorded before "Rules running" is logged: none raised an
    // alert, so none can have queued a message.
    assert_eq!(p.metric("picket_alerts_raised_total"), 0);
    assert_eq!(http.on("/hook").len(), 1);
    let out = run_ok(
        Command::new(bin())
            .args(["alerts", "list", "--data-dir"])
            .arg(p.data_dir()),
    );
    let n = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| l.contains("SSH brute force"))
        .count();
    assert_eq!(n, 1);
}

#[test]
fn rules_check_reports_broken_files_and_rules_test_prints_what_fires() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/rules/ssh_bruteforce.yml"),
        rules.join("ssh_bruteforce.yml"),
    )
    .unwrap();
    std::fs::write(
        rules.join("broken.yml"),
        "title: x\ndetection:\n  s:\n    a|nosuch: 1\n  condition: s\n",
    )
    .unwrap();
    let out = Command::new(bin())
        .args(["rules", "check"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("broken.yml"), "{err}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 rule(s) loaded"));

    std::fs::remove_file(rules.join("broken.yml")).unwrap();
    let lines: String = (0..6)
        .map(|i| format!("<38>2026-11-22T10:0{i}:00Z web1 sshd[1]: Failed password for root from 203.0.113.7 port 4000 ssh2\n"))
        .collect();
    std::fs::write(dir.path().join("in.log"), lines).unwrap();
    let out = run_ok(
        Command::new(bin())
            .args(["rules", "test", "--input", "in.log"])
            .current_dir(dir.path()),
    );
    let fired: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // The fifth line completes it at its own time; the sixth is the same alert's next match.
    assert_eq!(fired[0]["title"], "SSH brute force");
    assert_eq!(fired[0]["at"], "2026-11-22T10:04:00.000000Z");
    assert_eq!(fired[0]["line"], 5);
}

#[test]
fn an_alert_raised_before_a_stop_is_delivered_after_the_restart_and_notify_test_works() {
    let http = HttpSink::start();
    // A port nobody listens on: deliveries fail (retried) until the restart.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let cfg = |url: &str| {
        format!(
            "[[notify.channel]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{url}\"\nretry_base_ms = 500\n[[notify.route]]\nchannels = [\"hook\"]\nmin_level = \"high\"\n"
        )
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("test.toml"),
        cfg(&format!("http://{closed}/hook")),
    )
    .unwrap();
    let mut p = Picket::start_in(dir, &["--config", "test.toml"]);
    for _ in 0..5 {
        fail(&p, "192.0.2.99");
    }
    assert_eq!(
        p.wait_metric("picket_alerts_raised_total", 1, Duration::from_secs(10)),
        1
    );
    assert!(p.wait_metric("picket_notify_retried_total", 1, Duration::from_secs(10)) >= 1);
    let (st, _) = p.stop();
    assert!(st.success());
    let dir = std::mem::replace(&mut p.dir, tempfile::tempdir().unwrap());
    drop(p);
    std::fs::write(dir.path().join("test.toml"), cfg(&http.url("/hook"))).unwrap();
    let p = Picket::start_in(dir, &["--config", "test.toml"]);
    let got = http.wait("/hook", 1, Duration::from_secs(15));
    assert_eq!(
        got.len(),
        1,
        "the queued notification was not delivered after the restart"
    );
    assert!(
        got[0].json()["summary"]
            .as_str()
            .unwrap()
            .contains("SSH brute force")
    );

    // `picket notify test` sends at once and reports the result.
    let out = cli(&p, &["notify", "test", "hook"]);
    assert!(out.contains("sent a test message"));
    let test = http.wait("/hook", 2, Duration::from_secs(5));
    assert!(
        test[1].json()["summary"]
            .as_str()
            .unwrap()
            .contains("test notification")
    );
    let bad = Command::new(bin())
        .args([
            "notify",
            "test",
            "nope",
            "--config",
            "test.toml",
            "--data-dir",
        ])
        .arg(p.data_dir())
        .current_dir(p.dir.path())
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}
