//! Tests of notification routing, rendering, rate limits and the delivery worker.

use super::*;
use crate::model::alert::{Alert, Notice};

fn settings(toml_text: &str) -> Result<Notifier, String> {
    let s: Settings = toml::from_str(toml_text).map_err(|e| e.to_string())?;
    s.validate().map_err(|e| e.message)
}

fn alert(level: &str, tags: &[&str]) -> Alert {
    Alert {
        id: 7,
        rule_id: "r1".into(),
        title: "SSH brute force".into(),
        kind: "correlation".into(),
        group: "source.ip=203.0.113.7".into(),
        level: level.into(),
        state: "open".into(),
        first_seen: 0,
        last_seen: 0,
        count: 5,
        tags: tags.iter().map(|t| t.to_string()).collect(),
        escalated: false,
        events: vec![],
    }
}

const CHANNELS: &str = r#"
[[channel]]
name = "hook"
kind = "webhook"
url = "http://127.0.0.1:9/x"
[[channel]]
name = "mail"
kind = "email"
smtp_host = "127.0.0.1"
from = "picket@example.org"
to = ["a@example.org", "b@example.org"]
[[channel]]
name = "pager"
kind = "pagerduty"
routing_key = "abc"
"#;

#[test]
fn routing_by_rule_tag_level_resolved_and_escalation() {
    let n = settings(&format!(
        "{CHANNELS}
[[route]]
channels = [\"hook\"]
[[route]]
channels = [\"mail\"]
min_level = \"high\"
tags = [\"attack.t1110\"]
resolved = true
[[route]]
channels = [\"pager\"]
rules = [\"SSH brute force\"]
escalation = true
"
    ))
    .unwrap();
    assert_eq!(
        n.channels(&alert("high", &["attack.t1110"]), Notice::Raised),
        ["hook", "mail"]
    );
    assert_eq!(
        n.channels(&alert("medium", &["attack.t1110"]), Notice::Raised),
        ["hook"]
    );
    assert_eq!(
        n.channels(&alert("critical", &[]), Notice::Raised),
        ["hook"]
    );
    assert_eq!(
        n.channels(&alert("high", &["attack.t1110"]), Notice::Resolved),
        ["mail"]
    );
    assert_eq!(n.channels(&alert("low", &[]), Notice::Escalated), ["pager"]);
}

#[test]
fn bad_channels_and_routes_are_refused_with_the_reason() {
    for (bad, why) in [
        (
            "[[channel]]\nname = \"x\"\nkind = \"slack\"\n",
            "url is required",
        ),
        (
            "[[channel]]\nname = \"x\"\nkind = \"email\"\nsmtp_host = \"h\"\nfrom = \"a@b\"\n",
            "at least one",
        ),
        (
            "[[channel]]\nname = \"x\"\nkind = \"email\"\nsmtp_host = \"h\"\nfrom = \"not an address\"\nto = [\"a@b\"]\n",
            "address",
        ),
        (
            "[[channel]]\nname = \"x\"\nkind = \"webhook\"\nurl = \"ftp://h\"\n",
            "http",
        ),
        (
            "[[channel]]\nname = \"x\"\nkind = \"webhook\"\nurl = \"http://h\"\ntemplate = \"{{nope}}\"\n",
            "unknown placeholder",
        ),
        (
            "[[channel]]\nname = \"x\"\nkind = \"webhook\"\nurl = \"http://h\"\ntemplate = \"{{title}}\"\n",
            "not valid JSON",
        ),
        ("[[route]]\nchannels = [\"missing\"]\n", "unknown channel"),
        (
            "[[channel]]\nname = \"x\"\nkind = \"carrier-pigeon\"\n",
            "unknown variant",
        ),
    ] {
        let e = settings(bad).unwrap_err();
        assert!(e.contains(why), "{bad}: {e}");
    }
}

#[test]
fn templates_escape_values_and_bodies_are_valid_json() {
    let a = serde_json::json!({"id": 3, "title": "quote \" and \\ newline\n", "level": "high", "group": "g", "rule_id": "r", "count": 2, "first_seen": 0, "last_seen": 0});
    let t = r#"{"t": "{{title}}", "n": {{count}}, "all": {{alert_json}}}"#;
    let body: serde_json::Value =
        serde_json::from_str(&render::fill(t, &a, "raised").unwrap()).unwrap();
    assert_eq!(body["t"], "quote \" and \\ newline\n");
    assert_eq!(body["n"], 2);
    assert_eq!(body["all"]["id"], 3);
    for kind in [
        Kind::Webhook,
        Kind::Slack,
        Kind::Teams,
        Kind::Discord,
        Kind::Pagerduty,
    ] {
        let b = render::body(kind, None, Some("key"), &a, "raised").unwrap();
        let v: serde_json::Value = serde_json::from_str(&b).unwrap();
        assert!(v.is_object(), "{kind:?}");
    }
    let pd: serde_json::Value = serde_json::from_str(
        &render::body(Kind::Pagerduty, None, Some("key"), &a, "resolved").unwrap(),
    )
    .unwrap();
    assert_eq!(pd["event_action"], "resolve");
    assert_eq!(pd["dedup_key"], "picket-alert-3");
    let (subject, text, html) = render::email(
        &serde_json::json!({"title": "<b>x</b>", "level": "high"}),
        "raised",
    );
    assert!(subject.contains("[Picket]") && text.contains("<b>x</b>"));
    assert!(html.contains("&lt;b&gt;x&lt;/b&gt;") && !html.contains("<b>x"));
}

#[test]
fn backoff_doubles_with_jitter_and_a_cap() {
    let base = Duration::from_millis(1000);
    for attempt in 1..=5u32 {
        let d = backoff(base, attempt).as_secs_f64();
        let nominal = f64::from(1u32 << (attempt - 1));
        assert!(d >= nominal * 0.74 && d <= nominal * 1.26, "{attempt}: {d}");
    }
    assert!(backoff(base, 40) <= Duration::from_secs(750));
}

#[test]
fn hmac_signature_matches_a_known_vector() {
    // RFC 4231 test case 2.
    assert_eq!(
        deliver::signature("Jefe", b"what do ya want for nothing?"),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

/// An HTTP server on loopback answering 200 to everything; returns its address and a
/// request counter.
fn ok_server() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let n = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let n2 = n.clone();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let mut buf = [0u8; 8192];
            let _request_bytes = s.read(&mut buf).unwrap_or(0);
            n2.fetch_add(1, Relaxed);
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .unwrap_or(());
        }
    });
    (format!("http://{addr}/hook"), n)
}

#[test]
fn a_channel_rate_limit_postpones_without_counting_an_attempt() {
    let (url, hits) = ok_server();
    let n = settings(&format!(
        "[[channel]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{url}\"\nrate_per_minute = 2\n"
    ))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut alerts = crate::alerts::open(dir.path()).unwrap();
    for _ in 0..3 {
        alerts.enqueue_test("hook").unwrap();
    }
    let metrics = Metrics::new(Vec::<String>::new());
    let mut buckets = HashMap::new();
    for msg in alerts.due(i64::MAX, 10).unwrap() {
        deliver_one(alerts.as_ref(), &n, &mut buckets, &msg, &metrics);
    }
    assert_eq!(hits.load(Relaxed), 2);
    assert_eq!(metrics.notify_sent.get(), 2);
    assert_eq!(metrics.notify_rate_limited.get(), 1);
    let now = crate::model::clock::now_micros();
    assert!(alerts.due(now, 10).unwrap().is_empty(), "postponed");
    let later = alerts.due(i64::MAX, 10).unwrap();
    assert_eq!(later.len(), 1);
    assert_eq!(later[0].attempts, 0);
    // One token comes back after 30 s at 2 per minute.
    assert!(later[0].next_at > now + 20_000_000 && later[0].next_at < now + 40_000_000);
}
