//! FortiGate (FortiOS) key=value logs: traffic, UTM and event logs, the FortiManager-style
//! `log_id=` form, with or without a syslog header or a relay's RFC 3339 prefix.
//!
//! Mapping, after Fortinet's log reference and Elastic's fortinet_fortigate integration:
//! `logid` → `event.code`; `type`/`subtype` → `event.category`/`event.type`; traffic
//! `action`, UTM `eventtype`, event-log `action` → `event.action`; `status`/`result`/`authmsg`
//! → `event.outcome` (traffic and UTM logs record the firewall doing its job: `success`);
//! `srcip`/`dstip` (IPsec and admin logs: `remip`/`locip`, `remote_ip`) → source/destination;
//! `proto` (IANA number) → `network.transport`; `policyid`/`policyname` → `rule.id`/`rule.name`;
//! `user` → `source.user.name` on traffic and UTM logs, `user.name` on event logs;
//! `date`+`time`+`tz` (or `eventtime`) → `@timestamp`.
#![warn(clippy::indexing_slicing)]

use crate::model::{Event, FieldValue, fields as f};
use crate::parse::BodyParser;
use crate::parse::kv::pairs;
use std::borrow::Cow;

/// The FortiGate parser.
pub struct FortiGate;

/// IANA protocol number → `network.transport`.
pub fn transport_name(proto: &str) -> Option<&'static str> {
    Some(match proto {
        "1" => "icmp",
        "2" => "igmp",
        "6" => "tcp",
        "17" => "udp",
        "47" => "gre",
        "50" => "esp",
        "51" => "ah",
        "58" => "ipv6-icmp",
        "132" => "sctp",
        _ => return None,
    })
}

fn outcome_of(status: &str) -> Option<&'static str> {
    let s = status.to_ascii_lowercase();
    if s.is_empty() || s == "n/a" {
        None
    } else if s.starts_with("succe") || s == "ok" || s == "pass" {
        Some("success")
    } else if s.contains("fail") || s.contains("error") || s.contains("denied") || s == "deny" {
        Some("failure")
    } else {
        None
    }
}

impl BodyParser for FortiGate {
    fn name(&self) -> &'static str {
        "fortinet.fortigate"
    }

    fn parse(&self, ev: &mut Event) -> bool {
        let msg = ev.message();
        // Cheap check: every FortiOS log names its log id and type.
        if !(msg.contains("logid=") || msg.contains("log_id=")) || !msg.contains("type=") {
            return false;
        }
        let kv = pairs(&msg);
        let get = |k: &str| {
            kv.iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| v.as_ref())
                .filter(|v| !v.is_empty())
        };
        let Some(logid) = get("logid").or(get("log_id")) else {
            return false;
        };
        if !logid.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        let kind = get("type").unwrap_or_default();
        let subtype = get("subtype").unwrap_or_default();
        let mut out: Vec<(&'static str, FieldValue)> = Vec::with_capacity(24);
        let s = |v: &str| FieldValue::Str(v.to_owned());
        let int = |v: &str| v.parse::<i64>().ok().map(FieldValue::Int);
        out.push((f::EVENT_CODE, s(logid)));
        out.push((f::OBSERVER_VENDOR, s("Fortinet")));
        out.push((f::OBSERVER_PRODUCT, s("FortiGate")));
        if let Some(v) = get("devname") {
            out.push(("observer.name", s(v)));
        }
        let src_ip = get("srcip").or(get("remip")).or(get("remote_ip"));
        let dst_ip = get("dstip").or(get("locip"));
        // VoIP logs spell them `src_port`/`dst_port`.
        let src_port = get("srcport")
            .or(get("src_port"))
            .or(get("remport"))
            .or(get("remote_port"));
        let dst_port = get("dstport").or(get("dst_port")).or(get("locport"));
        for (name, v) in [(f::SOURCE_IP, src_ip), (f::DESTINATION_IP, dst_ip)] {
            if let Some(ip) = v.filter(|ip| ip.parse::<std::net::IpAddr>().is_ok()) {
                out.push((name, s(ip)));
            }
        }
        for (name, v) in [(f::SOURCE_PORT, src_port), (f::DESTINATION_PORT, dst_port)] {
            if let Some(p) = v.and_then(int) {
                out.push((name, p));
            }
        }
        if let Some(t) = get("proto").and_then(transport_name) {
            out.push((f::NETWORK_TRANSPORT, s(t)));
        }
        for (name, key) in [
            ("source.nat.ip", "transip"),
            ("destination.nat.ip", "tranip"),
        ] {
            if let Some(v) = get(key).filter(|ip| ip.parse::<std::net::IpAddr>().is_ok()) {
                out.push((name, s(v)));
            }
        }
        for (name, key) in [
            ("source.nat.port", "transport"),
            ("destination.nat.port", "tranport"),
        ] {
            if let Some(v) = get(key).and_then(int) {
                out.push((name, v));
            }
        }
        if let Some(v) = get("policyid").or(get("policy_id")) {
            out.push((f::RULE_ID, s(v)));
        }
        if let Some(v) = get("policyname") {
            out.push((f::RULE_NAME, s(v)));
        }
        let action = match kind {
            "utm" => get("eventtype").or(get("action")),
            _ => get("action"),
        }
        .map(str::to_owned)
        .or_else(|| {
            // FortiManager-style admin logs have no action; their description says what it was.
            let d = get("logdesc")
                .or(get("desc"))
                .unwrap_or_default()
                .to_ascii_lowercase();
            d.contains("login").then(|| "login".to_owned())
        });
        if let Some(a) = action {
            out.push((f::EVENT_ACTION, FieldValue::Str(a)));
        }
        let outcome = get("status")
            .and_then(outcome_of)
            .or(get("authmsg").and_then(outcome_of))
            .or(match kind {
                "traffic" | "utm" => Some("success"),
                _ => None,
            });
        if let Some(o) = outcome {
            out.push((f::EVENT_OUTCOME, s(o)));
        }
        if let Some(u) = get("user").filter(|u| *u != "N/A") {
            let name = if matches!(kind, "traffic" | "utm") {
                "source.user.name"
            } else {
                f::USER_NAME
            };
            out.push((name, s(u)));
        }
        let (category, etype) = match (kind, subtype) {
            ("traffic", _) => (
                "network",
                if get("action").is_some_and(|a| matches!(a, "deny" | "block" | "blocked" | "drop"))
                {
                    "denied"
                } else {
                    "connection"
                },
            ),
            ("utm", "virus" | "ips" | "anomaly") => ("intrusion_detection", "info"),
            ("utm", "webfilter") => ("web", "info"),
            ("utm", _) => ("network", "info"),
            ("event", "vpn") => ("network", "info"),
            ("event", "user") => ("authentication", "info"),
            ("event", "system")
                if outcome.is_some()
                    && get("logdesc")
                        .or(get("desc"))
                        .is_some_and(|d| d.to_ascii_lowercase().contains("login")) =>
            {
                ("authentication", "start")
            }
            ("event", _) => ("host", "info"),
            _ => ("network", "info"),
        };
        out.push(("event.category", s(category)));
        out.push(("event.type", s(etype)));
        if let Some(m) = get("msg") {
            out.push(("fortinet.message", s(m)));
        }
        let ts = timestamp(get("date"), get("time"), get("tz"), get("eventtime"));
        drop(kv);
        drop(msg);
        if let Some(t) = ts {
            ev.timestamp = t;
        }
        ev.dataset = Cow::Borrowed("fortinet.fortigate");
        for (k, v) in out {
            ev.set_field(k, v);
        }
        true
    }
}

/// `date=2020-04-23 time=12:17:48 tz="-0500"` → microseconds; or `eventtime` (s, ms, µs or ns).
fn timestamp(
    date: Option<&str>,
    time: Option<&str>,
    tz: Option<&str>,
    eventtime: Option<&str>,
) -> Option<i64> {
    if let (Some(d), Some(t)) = (date, time) {
        let naive =
            chrono::NaiveDateTime::parse_from_str(&format!("{d} {t}"), "%Y-%m-%d %H:%M:%S").ok()?;
        let offset = tz
            .and_then(|z| chrono::FixedOffset::east_opt(parse_offset(z)?))
            .unwrap_or_else(|| chrono::FixedOffset::east_opt(0).unwrap_or(chrono::Utc.fix()));
        return naive
            .and_local_timezone(offset)
            .single()
            .map(|x| x.timestamp_micros());
    }
    let e: i64 = eventtime?.parse().ok()?;
    Some(match e {
        e if e > 10_i64.pow(17) => e / 1000,
        e if e > 10_i64.pow(14) => e,
        e if e > 10_i64.pow(11) => e * 1000,
        e => e.checked_mul(1_000_000)?,
    })
}

use chrono::Offset;

/// `-0500`, `+02:00` → seconds east of UTC.
fn parse_offset(z: &str) -> Option<i32> {
    let z = z.trim();
    let (sign, rest) = match z.as_bytes().first()? {
        b'+' => (1, z.get(1..)?),
        b'-' => (-1, z.get(1..)?),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| c.is_ascii_digit()).collect();
    if digits.len() != 4 {
        return None;
    }
    let h: i32 = digits.get(..2)?.parse().ok()?;
    let m: i32 = digits.get(2..)?.parse().ok()?;
    Some(sign * (h * 3600 + m * 60))
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn offsets_and_eventtime() {
        assert_eq!(parse_offset("-0500"), Some(-18000));
        assert_eq!(parse_offset("+02:00"), Some(7200));
        assert_eq!(
            timestamp(None, None, None, Some("1587230269052907555")),
            Some(1_587_230_269_052_907)
        );
        assert_eq!(
            timestamp(Some("2020-04-23"), Some("12:17:48"), Some("-0500"), None),
            Some(1_587_662_268_000_000)
        );
    }
}
