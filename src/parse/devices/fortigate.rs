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

/// The keys the parser reads.
const KEYS: [&str; 37] = [
    "logid",
    "log_id",
    "type",
    "subtype",
    "devname",
    "srcip",
    "remip",
    "remote_ip",
    "dstip",
    "locip",
    "srcport",
    "src_port",
    "remport",
    "remote_port",
    "dstport",
    "dst_port",
    "locport",
    "proto",
    "transip",
    "tranip",
    "transport",
    "tranport",
    "policyid",
    "policy_id",
    "policyname",
    "eventtype",
    "action",
    "logdesc",
    "desc",
    "status",
    "authmsg",
    "user",
    "msg",
    "date",
    "time",
    "tz",
    "eventtime",
];

fn key_index(k: &str) -> Option<usize> {
    // A match compiles to a dispatch on length and bytes, far cheaper than scanning KEYS.
    Some(match k {
        "logid" => 0,
        "log_id" => 1,
        "type" => 2,
        "subtype" => 3,
        "devname" => 4,
        "srcip" => 5,
        "remip" => 6,
        "remote_ip" => 7,
        "dstip" => 8,
        "locip" => 9,
        "srcport" => 10,
        "src_port" => 11,
        "remport" => 12,
        "remote_port" => 13,
        "dstport" => 14,
        "dst_port" => 15,
        "locport" => 16,
        "proto" => 17,
        "transip" => 18,
        "tranip" => 19,
        "transport" => 20,
        "tranport" => 21,
        "policyid" => 22,
        "policy_id" => 23,
        "policyname" => 24,
        "eventtype" => 25,
        "action" => 26,
        "logdesc" => 27,
        "desc" => 28,
        "status" => 29,
        "authmsg" => 30,
        "user" => 31,
        "msg" => 32,
        "date" => 33,
        "time" => 34,
        "tz" => 35,
        "eventtime" => 36,
        _ => return None,
    })
}

impl BodyParser for FortiGate {
    fn name(&self) -> &'static str {
        "fortinet.fortigate"
    }

    fn parse(&self, ev: &mut Event) -> bool {
        let msg = ev.message();
        // Cheap check: every FortiOS log names its log id and type.
        let has = |needle: &str| crate::parse::has(&msg, needle);
        if !(has("logid=") || has("log_id=")) || !has("type=") {
            return false;
        }
        let kv = pairs(&msg);
        // One pass files the keys this parser reads into slots (a FortiOS log has 30-60 pairs;
        // looking each key up by scanning them cost more than all the rest).
        let mut slot: [Option<&str>; KEYS.len()] = [None; KEYS.len()];
        for (k, v) in &kv {
            if let Some(s) = key_index(k).and_then(|i| slot.get_mut(i)) {
                if s.is_none() && !v.is_empty() {
                    *s = Some(v.as_ref());
                }
            }
        }
        let get = |k: &str| key_index(k).and_then(|i| slot.get(i).copied().flatten());
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
        // The names above are distinct and none comes from the header: append directly.
        ev.fields
            .extend(out.into_iter().map(|(k, v)| (Cow::Borrowed(k), v)));
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
        // `2020-04-23` and `12:17:48`, read directly (chrono's format parser was a tenth of
        // this parser's time).
        let num = |s: &str, a: usize, b: usize| s.get(a..b).and_then(|x| x.parse::<u32>().ok());
        let day = chrono::NaiveDate::from_ymd_opt(
            i32::try_from(num(d, 0, 4)?).ok()?,
            num(d, 5, 7)?,
            num(d, 8, 10)?,
        )?;
        let naive = day.and_hms_opt(num(t, 0, 2)?, num(t, 3, 5)?, num(t, 6, 8)?)?;
        let offset = tz
            .and_then(parse_offset)
            .and_then(chrono::FixedOffset::east_opt)
            .unwrap_or(chrono::Utc.fix());
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
