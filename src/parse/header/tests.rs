//! Tests of the syslog header parser on RFC 3164, RFC 5424 and malformed headers.

use super::*;
use crate::model::{Frame, Transport};
use bytes::Bytes;
use chrono::TimeZone;

fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> i64 {
    chrono::Utc
        .with_ymd_and_hms(y, mo, d, h, mi, s)
        .unwrap()
        .timestamp_micros()
}

fn frame(raw: &[u8], received_at: i64) -> Frame {
    Frame {
        bytes: Bytes::copy_from_slice(raw),
        peer: "192.0.2.9:5514".parse().unwrap(),
        listener: 0,
        transport: Transport::Udp,
        received_at,
        truncated: false,
    }
}

fn now() -> i64 {
    at(2026, 11, 22, 12, 0, 0)
}

fn p(raw: &str) -> Event {
    parse(&frame(raw.as_bytes(), now()), &HeaderOptions::default())
}

#[test]
fn rfc_examples_match_the_fields_the_rfc_assigns() {
    let text =
        String::from_utf8(crate::test_util::corpus_bytes("syslog/rfc-examples.jsonl")).unwrap();
    let mut checked = 0;
    for line in text.lines() {
        let case: serde_json::Value = serde_json::from_str(line).unwrap();
        let exp = &case["expected"];
        let Some(raw) = case["raw"].as_str() else {
            continue;
        };
        // Only whole messages (the RFCs also list bare timestamps and SD fragments).
        if exp.get("pri").is_none() || case["id"].as_str().unwrap().contains("invalid") {
            continue;
        }
        let ev = p(raw);
        let id = case["id"].as_str().unwrap();
        let Some(pri) = exp["pri"].as_i64() else {
            continue;
        };
        assert_eq!(
            ev.facility.map(i64::from),
            Some(exp["facility"].as_i64().unwrap_or(pri / 8)),
            "{id} facility"
        );
        assert_eq!(
            ev.severity.map(i64::from),
            Some(exp["severity"].as_i64().unwrap_or(pri % 8)),
            "{id} severity"
        );
        if let Some(h) = exp["hostname"].as_str() {
            assert_eq!(ev.host.as_deref(), Some(h), "{id} host");
        }
        if let Some(a) = exp["app_name"].as_str() {
            assert_eq!(ev.app.as_deref(), Some(a), "{id} app");
        }
        if let Some(pid) = exp["procid"].as_str() {
            assert_eq!(ev.pid.as_deref(), Some(pid), "{id} pid");
        }
        if let Some(t) = exp["tag"].as_str() {
            assert_eq!(ev.app.as_deref(), Some(t), "{id} tag");
        }
        if let Some(c) = exp["content"].as_str() {
            assert_eq!(ev.message(), c, "{id} content");
        }
        if let Some(m) = exp["msgid"].as_str() {
            assert_eq!(ev.msgid.as_deref(), Some(m), "{id} msgid");
        }
        if let Some(m) = exp["msg"].as_str() {
            assert_eq!(ev.message(), m, "{id} msg");
        }
        if let Some(ts) = exp
            .get("timestamp_utc")
            .or(exp.get("timestamp"))
            .and_then(|t| t.as_str())
        {
            if let Ok(t) = chrono::DateTime::parse_from_rfc3339(ts) {
                assert_eq!(ev.timestamp, t.timestamp_micros(), "{id} timestamp");
            }
        }
        checked += 1;
    }
    assert!(checked >= 6, "only {checked} RFC examples checked");
}

#[test]
fn rfc5424_structured_data_is_unescaped_into_fields() {
    let ev = p(
        r#"<165>1 2003-10-11T22:14:15.003Z host app - ID1 [ex@32473 a="x\"y" b="c\]d" c="e\\f"] hello"#,
    );
    let get = |k: &str| {
        ev.field(&format!("log.syslog.structured_data.ex@32473.{k}"))
            .cloned()
    };
    assert_eq!(get("a"), Some(FieldValue::Str("x\"y".into())));
    assert_eq!(get("b"), Some(FieldValue::Str("c]d".into())));
    assert_eq!(get("c"), Some(FieldValue::Str("e\\f".into())));
    assert_eq!(ev.message(), "hello");
}

#[test]
fn syslog_loose_cases_give_the_same_header_fields() {
    let v: serde_json::Value = serde_json::from_slice(&crate::test_util::corpus_bytes(
        "syslog/syslog-loose-cases.json",
    ))
    .unwrap();
    let mut checked = 0;
    for case in v["cases"].as_array().unwrap() {
        for (input, exp) in case["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .zip(case["expected"].as_array().unwrap())
        {
            let ev = p(input.as_str().unwrap());
            let name = case["test"].as_str().unwrap();
            if let Some(h) = exp.get("hostname") {
                assert_eq!(ev.host.as_deref(), h.as_str(), "{name} host");
            }
            // Picket's one deliberate difference: a 3164 "tag" not followed by ':' or '[' is
            // the first word of the body (FortiGate and many appliances send no tag at all).
            let raw = input.as_str().unwrap();
            let unterminated = exp["appname"].as_str().is_some_and(|a| {
                exp["protocol"] == "RFC3164"
                    && raw.find(a).is_some_and(|i| {
                        !matches!(raw.as_bytes().get(i + a.len()), Some(b'[' | b':'))
                    })
            });
            if unterminated {
                assert_eq!(ev.app, None, "{name} app");
                let (a, m) = (
                    exp["appname"].as_str().unwrap(),
                    exp["msg"].as_str().unwrap_or(""),
                );
                assert!(
                    ev.message().starts_with(a) && ev.message().trim_end().ends_with(m.trim()),
                    "{name} msg {}",
                    ev.message()
                );
            } else {
                if let Some(a) = exp.get("appname") {
                    assert_eq!(ev.app.as_deref(), a.as_str(), "{name} app");
                }
                if let Some(m) = exp.get("msg").and_then(|m| m.as_str()) {
                    assert_eq!(ev.message().trim(), m.trim(), "{name} msg");
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 15);
}

#[test]
fn december_message_received_in_january_is_last_year() {
    let ev = parse(
        &frame(b"<13>Dec 31 23:59:50 h app: x", at(2027, 1, 1, 0, 0, 5)),
        &HeaderOptions::default(),
    );
    assert_eq!(ev.timestamp, at(2026, 12, 31, 23, 59, 50));
}

#[test]
fn january_message_received_in_december_is_next_year() {
    let ev = parse(
        &frame(
            b"<13>Jan  1 00:00:03 h app: x",
            at(2026, 12, 31, 23, 59, 58),
        ),
        &HeaderOptions::default(),
    );
    assert_eq!(ev.timestamp, at(2027, 1, 1, 0, 0, 3));
}

#[test]
fn a_date_weeks_ahead_is_last_year_not_the_future() {
    let ev = parse(
        &frame(b"<13>Dec 10 06:55:46 h sshd[1]: x", now()),
        &HeaderOptions::default(),
    );
    assert_eq!(ev.timestamp, at(2025, 12, 10, 6, 55, 46));
    assert_eq!(ev.clamped_from, None);
}

#[test]
fn rfc3164_timestamp_uses_listener_time_zone() {
    let opts = HeaderOptions {
        tz: chrono_tz::Europe::Berlin,
        ..HeaderOptions::default()
    };
    let ev = parse(&frame(b"<13>Nov 22 10:00:00 h app: x", now()), &opts);
    assert_eq!(ev.timestamp, at(2026, 11, 22, 9, 0, 0));
    let ev = parse(
        &frame(b"<13>Jul 22 10:00:00 h app: x", at(2026, 7, 22, 9, 0, 0)),
        &opts,
    );
    assert_eq!(ev.timestamp, at(2026, 7, 22, 8, 0, 0), "summer time");
}

#[test]
fn rfc5424_offset_wins_over_listener_zone() {
    let opts = HeaderOptions {
        tz: chrono_tz::Asia::Tokyo,
        ..HeaderOptions::default()
    };
    let ev = parse(
        &frame(b"<13>1 2026-11-22T10:00:00+01:00 h app - - - x", now()),
        &opts,
    );
    assert_eq!(ev.timestamp, at(2026, 11, 22, 9, 0, 0));
}

#[test]
fn far_future_timestamp_is_clamped_and_flagged() {
    let ev = p("<13>1 2030-01-01T00:00:00Z h app - - - x");
    assert_eq!(ev.timestamp, now());
    assert_eq!(ev.clamped_from, Some(at(2030, 1, 1, 0, 0, 0)));
    let ev = p("<13>1 2026-11-22T12:05:00Z h app - - - x");
    assert_eq!(
        ev.timestamp,
        at(2026, 11, 22, 12, 5, 0),
        "five minutes ahead is allowed"
    );
    assert_eq!(ev.clamped_from, None);
}

#[test]
fn invalid_utf8_keeps_raw_bytes_and_shows_lossy_text() {
    let raw = b"<13>Nov 22 10:00:00 h app: caf\xe9 \xff end";
    let ev = parse(&frame(raw, now()), &HeaderOptions::default());
    assert!(ev.invalid_utf8);
    assert_eq!(&ev.raw[..], &raw[..]);
    assert_eq!(ev.message(), "caf\u{fffd} \u{fffd} end");
    assert_eq!(ev.host.as_deref(), Some("h"));
}

#[test]
fn bom_is_not_part_of_the_message_and_message_is_a_raw_suffix() {
    let ev = p("<13>1 2026-11-22T10:00:00Z h app - - - \u{feff}hello");
    assert_eq!(ev.message(), "hello");
    assert!(matches!(ev.message, MessageText::RawSuffix(_)));
}

#[test]
fn unterminated_tag_is_body_text_not_a_program() {
    let ev = p(
        r#"<189>Nov 22 10:00:00 fw01 date=2026-11-22 time=10:00:00 devname="FG100F" srcip=10.0.0.1"#,
    );
    assert_eq!(ev.host.as_deref(), Some("fw01"));
    assert_eq!(ev.app, None);
    assert!(
        ev.message().starts_with("date=2026-11-22"),
        "{}",
        ev.message()
    );
}

#[test]
fn cisco_tag_without_hostname_stays_in_the_message() {
    let ev = p("<166>Apr 15 2013 09:36:50: %ASA-4-106023: Deny tcp src dmz:10.1.2.30/63016");
    assert_eq!(ev.host, None);
    assert_eq!(
        ev.message(),
        "%ASA-4-106023: Deny tcp src dmz:10.1.2.30/63016"
    );
}

#[test]
fn cisco_mnemonic_after_a_hostname_starts_the_message() {
    // ASA with `logging device-id hostname`, and IOS: the mnemonic is no program name.
    let ev = p("<166>Nov 22 10:00:00 asa01 %ASA-6-302013: Built inbound TCP connection 1");
    assert_eq!(ev.host.as_deref(), Some("asa01"));
    assert_eq!(ev.app, None);
    assert_eq!(
        ev.message(),
        "%ASA-6-302013: Built inbound TCP connection 1"
    );
    let ev = p("<187>Nov 22 10:00:00 sw1 %LINK-3-UPDOWN: Interface Gi0/1, changed state to down");
    assert_eq!(ev.app, None);
    assert!(ev.message().starts_with("%LINK-3-UPDOWN: "));
}

#[test]
fn tag_with_pid_and_no_hostname() {
    let ev = p("<38>Nov 22 10:00:00 sshd[4242]: Accepted password for bob");
    assert_eq!(ev.app.as_deref(), Some("sshd"));
    assert_eq!(ev.pid.as_deref(), Some("4242"));
    assert_eq!(ev.message(), "Accepted password for bob");
}

#[test]
fn no_pri_and_garbage_are_kept_whole() {
    let ev = p("just some text without header");
    assert_eq!(ev.facility, None);
    assert_eq!(ev.message(), "just some text without header");
    assert_eq!(ev.timestamp, now());
}

#[test]
fn rfc5424_timestamp_without_zone_is_read_in_listener_zone() {
    let opts = HeaderOptions {
        tz: chrono_tz::Europe::Berlin,
        ..HeaderOptions::default()
    };
    let raw = r#"<14>1 2026-01-19T15:18:17.040 SRX100HM RT_FLOW - APPTRACK_SESSION_CREATE [junos@2636 source-address="192.168.224.30"] body"#;
    let ev = parse(&frame(raw.as_bytes(), now()), &opts);
    assert_eq!(ev.timestamp, at(2026, 1, 19, 14, 18, 17) + 40_000);
    assert_eq!(ev.host.as_deref(), Some("SRX100HM"));
    assert_eq!(ev.msgid.as_deref(), Some("APPTRACK_SESSION_CREATE"));
    assert_eq!(ev.message(), "body");
    assert!(matches!(ev.message, MessageText::RawSuffix(_)));
    assert_eq!(
        ev.field("log.syslog.structured_data.junos@2636.source-address"),
        Some(&FieldValue::Str("192.168.224.30".into()))
    );
}

#[test]
fn iso_timestamp_in_3164_form() {
    let ev = p("<13>2026-11-22T10:00:00.123Z host app: x");
    assert_eq!(ev.timestamp, at(2026, 11, 22, 10, 0, 0) + 123_000);
    assert_eq!(ev.host.as_deref(), Some("host"));
}

quickcheck::quickcheck! {
    fn arbitrary_bytes_never_panic(raw: Vec<u8>) -> bool {
        let ev = parse(&frame(&raw, now()), &HeaderOptions::default());
        ev.raw.as_ref() == raw.as_slice()
    }
}
