//! Palo Alto Networks PAN-OS syslog in the default CSV layout (TRAFFIC and THREAT logs), field
//! positions from Palo Alto's "Syslog Field Descriptions": receive time, serial, type,
//! subtype, …, source, destination, NAT source, NAT destination, rule, source user,
//! destination user, application, …, source port, destination port, NAT ports, flags,
//! protocol, action. TRAFFIC subtypes map to Elastic's `flow_started`, `flow_terminated`,
//! `flow_denied`, `flow_dropped`.
#![warn(clippy::indexing_slicing)]

use crate::model::{Event, FieldValue, fields as f};
use crate::parse::BodyParser;
use std::borrow::Cow;

/// The PAN-OS parser.
pub struct PanOs;

impl BodyParser for PanOs {
    fn name(&self) -> &'static str {
        "panw.panos"
    }

    fn parse(&self, ev: &mut Event) -> bool {
        let msg = ev.message();
        let body = msg.trim_start();
        // `1,2018/11/30 16:09:07,<serial>,TRAFFIC,…`: the record starts three fields before its
        // type (a relay may have put something in front).
        let start = crate::parse::find(body, ",TRAFFIC,")
            .or_else(|| crate::parse::find(body, ",THREAT,"))
            .map(|i| {
                let head = body.get(..i).unwrap_or_default();
                head.rmatch_indices(',').nth(2).map_or(0, |(j, _)| j + 1)
            });
        let Some(start) = start else { return false };
        let c: Vec<&str> = body.get(start..).unwrap_or_default().split(',').collect();
        let at = |i: usize| c.get(i).copied().unwrap_or_default().trim_matches('"');
        let kind = at(3);
        if !matches!(kind, "TRAFFIC" | "THREAT") || c.len() < 31 {
            return false;
        }
        let sub = at(4);
        let mut out: Vec<(&'static str, FieldValue)> = Vec::with_capacity(20);
        let s = |v: &str| FieldValue::Str(v.to_owned());
        let ip = |v: &str| v.parse::<std::net::IpAddr>().is_ok();
        for (name, i) in [
            (f::SOURCE_IP, 7),
            (f::DESTINATION_IP, 8),
            ("source.nat.ip", 9),
            ("destination.nat.ip", 10),
        ] {
            if ip(at(i)) {
                out.push((name, s(at(i))));
            }
        }
        for (name, i) in [
            (f::SOURCE_PORT, 24),
            (f::DESTINATION_PORT, 25),
            ("source.nat.port", 26),
            ("destination.nat.port", 27),
        ] {
            if let Ok(p) = at(i).parse::<i64>() {
                out.push((name, FieldValue::Int(p)));
            }
        }
        if !at(11).is_empty() {
            out.push((f::RULE_NAME, s(at(11))));
        }
        if !at(12).is_empty() {
            out.push((f::USER_NAME, s(at(12))));
        }
        if !at(13).is_empty() {
            out.push(("destination.user.name", s(at(13))));
        }
        if !at(14).is_empty() {
            out.push(("network.application", s(at(14))));
        }
        if !at(29).is_empty() {
            out.push((
                f::NETWORK_TRANSPORT,
                FieldValue::Str(at(29).to_ascii_lowercase()),
            ));
        }
        let action = match (kind, sub) {
            ("TRAFFIC", "start") => Some("flow_started"),
            ("TRAFFIC", "end") => Some("flow_terminated"),
            ("TRAFFIC", "deny") => Some("flow_denied"),
            ("TRAFFIC", "drop") => Some("flow_dropped"),
            ("THREAT", "url") => Some("url_filtering"),
            ("THREAT", "virus" | "wildfire-virus") => Some("malware_detected"),
            ("THREAT", "spyware" | "vulnerability" | "flood" | "scan") => Some("threat_detected"),
            ("THREAT", "file") => Some("file_match"),
            _ => None,
        };
        if let Some(a) = action {
            out.push((f::EVENT_ACTION, s(a)));
        }
        out.push((f::EVENT_OUTCOME, s("success")));
        out.push(("panw.panos.type", s(kind)));
        out.push(("panw.panos.sub_type", s(sub)));
        out.push(("panw.panos.action", s(at(30))));
        if kind == "TRAFFIC" && !at(46).is_empty() {
            out.push(("panw.panos.endreason", s(at(46))));
        }
        out.push((
            "event.category",
            s(if kind == "THREAT" {
                "intrusion_detection"
            } else {
                "network"
            }),
        ));
        out.push((f::OBSERVER_VENDOR, s("Palo Alto Networks")));
        out.push((f::OBSERVER_PRODUCT, s("PAN-OS")));
        if !at(2).is_empty() {
            out.push(("observer.serial_number", s(at(2))));
        }
        drop(msg);
        ev.dataset = Cow::Borrowed("panw.panos");
        for (k, v) in out {
            ev.set_field(k, v);
        }
        true
    }
}
