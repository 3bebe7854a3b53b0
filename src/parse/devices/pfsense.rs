//! pfSense and OPNsense: `filterlog` CSV lines (the documented "Filter Log Format": IPv4 and
//! IPv6, with TCP, UDP, ICMP and other protocol tails) and `dhcpd` messages.
//!
//! `filterlog` fields: rule, sub-rule, anchor, tracker (`rule.id`), interface, reason, action
//! (`event.action`: pass, block, reject), direction, IP version; then for IPv4: TOS, ECN, TTL,
//! id, offset, flags, protocol id, protocol name, length, source, destination; for IPv6:
//! class, flow label, hop limit, protocol name, protocol id, length, source, destination; then
//! for TCP and UDP: source port, destination port, data length, (TCP: flags, sequence, ack,
//! window, urgent, options).
#![warn(clippy::indexing_slicing)]

use crate::model::{Event, FieldValue, fields as f};
use crate::parse::BodyParser;
use std::borrow::Cow;

/// The pfSense/OPNsense parser.
pub struct PfSense;

impl BodyParser for PfSense {
    fn name(&self) -> &'static str {
        "pfsense.log"
    }

    fn parse(&self, ev: &mut Event) -> bool {
        match ev.app.as_deref() {
            Some("filterlog") => filterlog(ev),
            Some("dhcpd") => dhcpd(ev),
            _ => false,
        }
    }
}

fn filterlog(ev: &mut Event) -> bool {
    let msg = ev.message();
    let c: Vec<&str> = msg.trim().split(',').collect();
    let at = |i: usize| c.get(i).copied().unwrap_or_default();
    if c.len() < 9 || !matches!(at(8), "4" | "6") {
        return false;
    }
    let mut out: Vec<(&'static str, FieldValue)> = Vec::with_capacity(16);
    let s = |v: &str| FieldValue::Str(v.to_owned());
    if !at(3).is_empty() {
        out.push((f::RULE_ID, s(at(3))));
    }
    if !at(4).is_empty() {
        out.push(("observer.ingress.interface.name", s(at(4))));
    }
    let action = at(6);
    if !action.is_empty() {
        out.push((f::EVENT_ACTION, s(action)));
        out.push((
            "event.type",
            s(if action == "pass" {
                "allowed"
            } else {
                "denied"
            }),
        ));
    }
    if !at(7).is_empty() {
        out.push((
            "network.direction",
            s(if at(7) == "in" { "ingress" } else { "egress" }),
        ));
    }
    // Where the protocol name, source, destination and the protocol tail are.
    let (proto_name, src, dst, tail) = if at(8) == "4" {
        (at(16), at(18), at(19), 20)
    } else {
        (at(12), at(15), at(16), 17)
    };
    let proto = proto_name.to_ascii_lowercase();
    if !proto.is_empty() {
        out.push((f::NETWORK_TRANSPORT, FieldValue::Str(proto.clone())));
    }
    for (name, ip) in [(f::SOURCE_IP, src), (f::DESTINATION_IP, dst)] {
        if ip.parse::<std::net::IpAddr>().is_ok() {
            out.push((name, s(ip)));
        }
    }
    if matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        for (name, i) in [(f::SOURCE_PORT, tail), (f::DESTINATION_PORT, tail + 1)] {
            if let Ok(p) = at(i).parse::<i64>() {
                out.push((name, FieldValue::Int(p)));
            }
        }
    }
    out.push(("event.category", s("network")));
    out.push((f::OBSERVER_VENDOR, s("Netgate")));
    out.push((f::OBSERVER_PRODUCT, s("pfSense")));
    drop(msg);
    ev.dataset = Cow::Borrowed("pfsense.log");
    for (k, v) in out {
        ev.set_field(k, v);
    }
    true
}

fn dhcpd(ev: &mut Event) -> bool {
    let msg = ev.message();
    let Some(kind) = msg.split_whitespace().next().filter(|w| {
        w.starts_with("DHCP") && w.len() > 4 && w.bytes().all(|b| b.is_ascii_uppercase())
    }) else {
        return false;
    };
    let kind = kind.to_owned();
    let mac = msg
        .split(" from ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .filter(|m| m.len() == 17 && m.matches(':').count() == 5)
        .map(str::to_owned);
    drop(msg);
    ev.dataset = Cow::Borrowed("pfsense.log");
    ev.set_field(f::EVENT_ACTION, FieldValue::Str(kind));
    ev.set_field(f::NETWORK_TRANSPORT, FieldValue::Str("udp".into()));
    ev.set_field("event.category", FieldValue::Str("network".into()));
    if let Some(m) = mac {
        ev.set_field(
            "source.mac",
            FieldValue::Str(m.to_ascii_uppercase().replace(':', "-")),
        );
    }
    true
}
