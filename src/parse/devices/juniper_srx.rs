//! Juniper SRX: `RT_FLOW` session create/close/deny (and AppTrack), `RT_IDP` attack and
//! application-DDoS logs, and `RT_IDS` screens, in the structured-data form (RFC 5424, the
//! values arrive as `log.syslog.structured_data.junos@….<param>` from the header parser) and
//! the plain form (`RT_FLOW_SESSION_CREATE: session created 10.0.0.1/594->…`).
//!
//! Names follow Elastic's juniper_srx integration: `event.action` is `flow_started`,
//! `flow_close`, `flow_deny`, `security_threat`, `application_ddos` or the screen's kind
//! (`flood_detected`, `scan_detected` …); `policy-name` is `rule.name`; for IDP `rule-name` is
//! `rule.id` and `rulebase-name` `rule.name`.
#![warn(clippy::indexing_slicing)]

use crate::model::{Event, FieldValue, fields as f};
use crate::parse::BodyParser;
use crate::parse::devices::fortigate::transport_name;
use crate::parse::kv::pairs;
use regex::Regex;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::LazyLock;

/// The Juniper SRX parser.
pub struct JuniperSrx;

static TAG: LazyLock<Option<Regex>> = LazyLock::new(|| {
    // ASCII word boundaries keep this on the regex engine's DFA (it runs on every line that
    // reaches this parser).
    Regex::new(r"(?-u:\b)(?:RT_FLOW|APPTRACK|IDP|RT_SCREEN|RT_IDS|AV|WEBFILTER|ANTISPAM|CONTENT_FILTERING)_[A-Z_]+(?-u:\b)").ok()
});
static PLAIN: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"session (?:created|denied|closed [^:]*:) ([0-9a-fA-F:.]+)/(\d+)->([0-9a-fA-F:.]+)/(\d+)(?:;\d+)? (?:0x\S+ )?(\S+)").ok()
});

fn action(tag: &str, attack: &str) -> Option<&'static str> {
    let a = attack.to_ascii_lowercase();
    Some(match tag {
        t if t.ends_with("_CREATE") || t.ends_with("_CREATE_LS") || t.contains("ROUTE_UPDATE") => {
            "flow_started"
        }
        t if t.contains("_CLOSE") => "flow_close",
        t if t.contains("_DENY") => "flow_deny",
        t if t.starts_with("IDP_APPDDOS") => "application_ddos",
        t if t.starts_with("IDP_") => "security_threat",
        t if t.starts_with("RT_SCREEN") || t.starts_with("RT_IDS") => {
            if a.contains("flood") {
                "flood_detected"
            } else if a.contains("sweep") {
                "sweep_detected"
            } else if a.contains("scan") {
                "scan_detected"
            } else if a.contains("fragment") {
                "fragment_detected"
            } else if a.contains("tunnel") {
                "tunneling_screen"
            } else if a.contains("spoof") {
                "spoofing_detected"
            } else if a.contains("land") {
                "land_attack_detected"
            } else {
                "illegal_packet_detected"
            }
        }
        t if t.starts_with("AV_")
            || t.starts_with("WEBFILTER")
            || t.starts_with("ANTISPAM")
            || t.starts_with("CONTENT") =>
        {
            "utm_event"
        }
        _ => return None,
    })
}

impl BodyParser for JuniperSrx {
    fn name(&self) -> &'static str {
        "juniper.srx"
    }

    fn parse(&self, ev: &mut Event) -> bool {
        let app_ok = ev
            .app
            .as_deref()
            .is_some_and(|a| a.starts_with("RT_") || a == "Juniper" || a.starts_with("IDP"));
        let msg = ev.message();
        let tag = ev
            .msgid
            .clone()
            .filter(|m| TAG.as_ref().is_some_and(|r| r.is_match(m)))
            .or_else(|| {
                TAG.as_ref()
                    .and_then(|r| r.find(&msg))
                    .map(|m| m.as_str().to_owned())
            });
        let Some(tag) = tag else { return false };
        if !app_ok && !msg.contains(&tag) && ev.msgid.as_deref() != Some(tag.as_str()) {
            return false;
        }
        // Structured-data parameters by name; when the header parser could not read the block
        // (devices put typographic quotes in it), read it leniently as key=value.
        let mut sd: HashMap<String, String> = ev
            .fields
            .iter()
            .filter(|(k, _)| k.starts_with("log.syslog.structured_data.junos@"))
            .filter_map(|(k, v)| match v {
                FieldValue::Str(s) => Some((
                    k.rsplit('.').next().unwrap_or_default().to_owned(),
                    s.clone(),
                )),
                _ => None,
            })
            .collect();
        if sd.is_empty() {
            let raw = String::from_utf8_lossy(&ev.raw);
            if let Some(start) = raw.find("[junos@") {
                let block = raw
                    .get(start..)
                    .unwrap_or_default()
                    .replace(['\u{201c}', '\u{201d}'], "\"");
                for (k, v) in pairs(&block) {
                    sd.entry(k.to_owned()).or_insert_with(|| v.into_owned());
                }
            }
        }
        let get = |k: &str| {
            sd.get(k)
                .map(String::as_str)
                .filter(|v| !v.is_empty() && *v != "N/A" && *v != "None")
        };
        let mut out: Vec<(&'static str, FieldValue)> = Vec::new();
        let s = |v: &str| FieldValue::Str(v.to_owned());
        let ip = |v: &str| v.parse::<std::net::IpAddr>().is_ok();
        let port = |v: &str| v.parse::<i64>().ok().map(FieldValue::Int);
        let attack = get("attack-name").unwrap_or_default();
        if let Some(a) = action(&tag, attack) {
            out.push((f::EVENT_ACTION, s(a)));
        }
        out.push((f::EVENT_OUTCOME, s("success")));
        out.push(("juniper.srx.tag", s(&tag)));
        if sd.is_empty() {
            if let Some(c) = PLAIN.as_ref().and_then(|r| r.captures(&msg)) {
                let g = |i: usize| c.get(i).map_or("", |m| m.as_str());
                if ip(g(1)) {
                    out.push((f::SOURCE_IP, s(g(1))));
                }
                if ip(g(3)) {
                    out.push((f::DESTINATION_IP, s(g(3))));
                }
                for (name, i) in [(f::SOURCE_PORT, 2), (f::DESTINATION_PORT, 4)] {
                    if let Some(p) = port(g(i)) {
                        out.push((name, p));
                    }
                }
            }
        } else {
            for (name, key) in [
                (f::SOURCE_IP, "source-address"),
                (f::DESTINATION_IP, "destination-address"),
                ("source.nat.ip", "nat-source-address"),
                ("destination.nat.ip", "nat-destination-address"),
            ] {
                if let Some(v) = get(key).filter(|v| ip(v)) {
                    out.push((name, s(v)));
                }
            }
            for (name, key) in [
                (f::SOURCE_PORT, "source-port"),
                (f::DESTINATION_PORT, "destination-port"),
                ("source.nat.port", "nat-source-port"),
                ("destination.nat.port", "nat-destination-port"),
            ] {
                if let Some(p) = get(key).and_then(port) {
                    out.push((name, p));
                }
            }
            let proto = get("protocol-id")
                .and_then(transport_name)
                .map(str::to_owned)
                .or_else(|| get("protocol-name").map(str::to_ascii_lowercase));
            if let Some(p) = proto {
                out.push((f::NETWORK_TRANSPORT, FieldValue::Str(p)));
            }
            if tag.starts_with("IDP_") {
                if let Some(v) = get("rule-name") {
                    out.push((f::RULE_ID, s(v)));
                }
                if let Some(v) = get("rulebase-name") {
                    out.push((f::RULE_NAME, s(v)));
                }
            } else if let Some(v) = get("policy-name") {
                out.push((f::RULE_NAME, s(v)));
            }
            if let Some(v) = get("username").or(get("user-name")) {
                out.push((f::USER_NAME, s(v)));
            }
            if !attack.is_empty() {
                out.push(("juniper.srx.attack_name", s(attack)));
            }
        }
        out.push((
            "event.category",
            s(
                if tag.starts_with("RT_FLOW") || tag.starts_with("APPTRACK") {
                    "network"
                } else {
                    "intrusion_detection"
                },
            ),
        ));
        out.push((f::OBSERVER_VENDOR, s("Juniper")));
        out.push((f::OBSERVER_PRODUCT, s("SRX")));
        drop(msg);
        ev.dataset = Cow::Borrowed("juniper.srx");
        for (k, v) in out {
            ev.set_field(k, v);
        }
        true
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::model::{Frame, Transport};
    use crate::parse::{Chain, HeaderOptions};

    #[test]
    fn plain_form_session_create() {
        let chain = Chain::new(vec![HeaderOptions::default()]);
        let line = "<14>Mar  7 10:10:10 srx1 RT_FLOW: RT_FLOW_SESSION_CREATE: session created 10.0.0.1/594->198.51.100.7/443 0x0 junos-https 203.0.113.1/33000->198.51.100.7/443 0x0 source rule r1 N/A N/A 6 allow-out trust untrust 1234 N/A(N/A) ge-0/0/1.0";
        let ev = chain.parse(&Frame {
            bytes: line.into(),
            peer: "127.0.0.1:1".parse().unwrap(),
            listener: 0,
            transport: Transport::Udp,
            received_at: 0,
            truncated: false,
        });
        assert_eq!(ev.parser, "juniper.srx");
        assert_eq!(
            ev.field("source.ip"),
            Some(&FieldValue::Str("10.0.0.1".into()))
        );
        assert_eq!(ev.field("destination.port"), Some(&FieldValue::Int(443)));
        assert_eq!(
            ev.field("event.action"),
            Some(&FieldValue::Str("flow_started".into()))
        );
    }
}
