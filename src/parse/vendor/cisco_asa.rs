//! Cisco ASA and Firepower Threat Defense (`%ASA-6-302013: …`, `%FTD-…`) messages.
//!
//! The message id gives `event.code`, the severity (`log.syslog.severity.code`) and, by family,
//! `event.action` as Elastic's cisco_asa integration names them (ACL decisions
//! `firewall-rule`, connection build/teardown `flow-creation`/`flow-expiration`, management
//! logins `logged-in`/`logon-failed`, VPN sessions …). Addresses come from the few phrasings
//! Cisco's message reference uses across ids: `for IF:A/p (…) to IF:B/p` (direction-aware),
//! `faddr F gaddr G laddr L`, `src IF:A/p dst IF:B/p`, `IF/A(p) -> IF/B(p)`, `from A/p to B/p`,
//! `local-host IF:A`, and the VPN forms `IP = A`, `IP <A>`, `user IP = A`.
#![warn(clippy::indexing_slicing)]

use crate::model::{Event, FieldValue, fields as f};
use crate::parse::BodyParser;
use regex::Regex;
use std::borrow::Cow;
use std::sync::LazyLock;

/// The ASA/FTD parser.
pub struct CiscoAsa;

static HEAD: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"%(ASA|FTD|PIX|FWSM)-(?:[A-Za-z]+-)?([0-7])-(\d{6}):?\s*(.*)").ok()
});
/// `IF:ip/port` or `IF:ip` (interface names may hold letters, digits, `-_.`).
const ENDPOINT: &str = r"(?:[\w\-.]+:)?([0-9a-fA-F:.]+?)(?:/(\w+))?";

struct Patterns {
    for_to: Regex,
    addr3: Regex,
    src_dst: Regex,
    arrow: Regex,
    from_to: Regex,
    local_host: Regex,
    vpn_ip: Regex,
    user: Regex,
    proto: Regex,
}

static P: LazyLock<Option<Patterns>> = LazyLock::new(|| {
    Some(Patterns {
        for_to: Regex::new(&format!(r"(?i)\b(TCP|UDP|ICMP|SCTP|GRE|ESP)?\b.*?\bfor {ENDPOINT}(?:\s+\([^)]*\))?(?:\s+\S+)?\s+to {ENDPOINT}(?:\s|\(|$)")).ok()?,
        addr3: Regex::new(r"faddr ([0-9a-fA-F:.]+)/\d+ gaddr [0-9a-fA-F:.]+/\d+ laddr ([0-9a-fA-F:.]+)/\d+").ok()?,
        src_dst: Regex::new(&format!(r"(?i)\b(tcp|udp|icmp|sctp)?\s*src {ENDPOINT}(?:\([^)]*\))?\s+dst {ENDPOINT}(?:\s|\(|$)")).ok()?,
        arrow: Regex::new(r"(?i)\b(tcp|udp|icmp|sctp|\d+)\s+[\w\-.]+/([0-9a-fA-F:.]+)\((\d+)\)(?:\([^)]*\))?\s*->\s*[\w\-.]+/([0-9a-fA-F:.]+)\((\d+)\)").ok()?,
        from_to: Regex::new(&format!(r"(?i)\b(TCP|UDP|ICMP|SCTP)?\b[^%]*?\bfrom {ENDPOINT}(?:\s+\([^)]*\))?\s+to {ENDPOINT}(?:\s|\(|$|,)")).ok()?,
        local_host: Regex::new(r"local-host [\w\-.]+:([0-9a-fA-F:.]+)").ok()?,
        vpn_ip: Regex::new(r"(?:user IP = |\bIP = |\bIP <|\bIP )([0-9a-fA-F:.]+[0-9a-fA-F])").ok()?,
        user: Regex::new(r#"(?i)\buser(?: = | <|\s+"|\s+)([^\s>",:]+)"#).ok()?,
        proto: Regex::new(r"(?i)\b(TCP|UDP|ICMP|SCTP|GRE|ESP)\b").ok()?,
    })
});

/// `event.action` by message id, after Elastic's cisco_asa naming.
fn action(id: u32, text: &str) -> &'static str {
    match id {
        302013 | 302015 | 302017 | 302020 | 302022 | 302024 | 302026 | 609001 | 303002 => {
            "flow-creation"
        }
        302014 | 302016 | 302018 | 302021 | 302023 | 302025 | 302027 | 609002 => "flow-expiration",
        805001 => "flow-offload-started",
        805002 => "flow-offload-stopped",
        605004 | 113005 | 113015 | 611102 | 113006 | 113021 => "logon-failed",
        605005 | 113004 | 113012 | 611101 | 113008 => "logged-in",
        722051 => "address-assigned",
        716001 | 722022 | 722033 | 722034 => "client-vpn-connected",
        716002 | 722023 | 113019 => "client-vpn-disconnected",
        434004 => "bypass",
        _ if text.starts_with("Built") => "flow-creation",
        _ if text.starts_with("Teardown") => "flow-expiration",
        _ => "firewall-rule",
    }
}

fn failed(id: u32, text: &str) -> bool {
    matches!(
        id,
        605004 | 113005 | 113015 | 113006 | 113021 | 611102 | 710005 | 710006 | 110002 | 110003
    ) || (!(106000..107000).contains(&id)
        && [
            "discarded",
            "Failed",
            "failed",
            "Rejected",
            "rejected",
            "denied",
        ]
        .iter()
        .any(|w| text.contains(w)))
}

fn ip_ok(s: &str) -> Option<&str> {
    s.parse::<std::net::IpAddr>().ok().map(|_| s)
}

impl BodyParser for CiscoAsa {
    fn name(&self) -> &'static str {
        "cisco.asa"
    }

    fn parse(&self, ev: &mut Event) -> bool {
        let msg = ev.message();
        if !msg.contains("%ASA-")
            && !msg.contains("%FTD-")
            && !msg.contains("%PIX-")
            && !msg.contains("%FWSM-")
        {
            return false;
        }
        let (Some(head), Some(p)) = (HEAD.as_ref(), P.as_ref()) else {
            return false;
        };
        let Some(c) = head.captures(&msg) else {
            return false;
        };
        let product = c.get(1).map_or("ASA", |m| m.as_str());
        let sev: u8 = c.get(2).and_then(|m| m.as_str().parse().ok()).unwrap_or(6);
        let Some(id) = c.get(3).and_then(|m| m.as_str().parse::<u32>().ok()) else {
            return false;
        };
        let text = c.get(4).map_or("", |m| m.as_str());
        let mut out: Vec<(&'static str, FieldValue)> = Vec::with_capacity(16);
        let s = |v: &str| FieldValue::Str(v.to_owned());
        out.push((f::EVENT_CODE, s(&format!("{id:06}"))));
        out.push((f::OBSERVER_VENDOR, s("Cisco")));
        out.push((
            f::OBSERVER_PRODUCT,
            s(if product == "FTD" {
                "Firepower Threat Defense"
            } else {
                "ASA"
            }),
        ));
        out.push((f::EVENT_ACTION, s(action(id, text))));
        out.push((
            f::EVENT_OUTCOME,
            s(if failed(id, text) {
                "failure"
            } else {
                "success"
            }),
        ));
        type Side = Option<(String, Option<i64>)>;
        let side = |c: &regex::Captures<'_>, ip: usize, port: usize| -> Side {
            let ip = c.get(ip).and_then(|m| ip_ok(m.as_str()))?;
            Some((
                ip.to_owned(),
                c.get(port).and_then(|m| m.as_str().parse::<i64>().ok()),
            ))
        };
        let proto_of = |c: &regex::Captures<'_>| c.get(1).map(|m| m.as_str().to_owned());
        let (mut src, mut dst, mut proto): (Side, Side, Option<String>) = (None, None, None);
        if let Some(c) = p.addr3.captures(text) {
            // ICMP: the local address is the source, the foreign one the destination.
            (src, dst, proto) = (side(&c, 2, 99), side(&c, 1, 99), Some("icmp".into()));
        } else if let Some(c) = p.arrow.captures(text) {
            (src, dst, proto) = (side(&c, 2, 3), side(&c, 4, 5), proto_of(&c));
        } else if let Some(c) = p.src_dst.captures(text) {
            (src, dst, proto) = (side(&c, 2, 3), side(&c, 4, 5), proto_of(&c));
        } else if let Some(c) = p.from_to.captures(text).filter(|_| text.contains(" from ")) {
            (src, dst, proto) = (side(&c, 2, 3), side(&c, 4, 5), proto_of(&c));
        } else if let Some(c) = p.for_to.captures(text).filter(|_| text.contains(" for ")) {
            let (a, b) = (side(&c, 2, 3), side(&c, 4, 5));
            // "Built outbound … for <foreign> to <local>": the local side started it.
            (src, dst) = if text.contains("outbound") {
                (b, a)
            } else {
                (a, b)
            };
            proto = proto_of(&c);
        } else if let Some(c) = p.local_host.captures(text) {
            src = side(&c, 1, 99);
        } else if let Some(c) = p.vpn_ip.captures(text) {
            src = side(&c, 1, 99);
            if let Some(server) = text
                .split("server = ")
                .nth(1)
                .and_then(|r| r.split([' ', ':']).next())
                .and_then(ip_ok)
            {
                dst = Some((server.to_owned(), None));
            }
        }
        if proto.is_none() {
            proto = p
                .proto
                .captures(text)
                .and_then(|c| c.get(1))
                .map(|m| m.as_str().to_owned());
        }
        for (side, ip_name, port_name) in [
            (&src, f::SOURCE_IP, f::SOURCE_PORT),
            (&dst, f::DESTINATION_IP, f::DESTINATION_PORT),
        ] {
            if let Some((ip, port)) = side {
                out.push((ip_name, s(ip)));
                if let Some(pn) = *port {
                    out.push((port_name, FieldValue::Int(pn)));
                }
            }
        }
        if let Some(t) = proto
            .map(|p| p.to_ascii_lowercase())
            .filter(|p| !p.bytes().all(|b| b.is_ascii_digit()))
        {
            out.push((f::NETWORK_TRANSPORT, FieldValue::Str(t)));
        }
        if let Some(u) = p
            .user
            .captures_iter(text)
            .filter_map(|c| c.get(1).map(|m| m.as_str()))
            .find(|u| {
                !u.starts_with('*')
                    && !matches!(*u, "authentication" | "IP" | "Successful" | "Rejected")
            })
        {
            out.push((f::USER_NAME, s(u)));
        }
        if let Some(acl) = text
            .split("access-group \"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .or_else(|| {
                text.strip_prefix("access-list ")
                    .and_then(|r| r.split(' ').next())
            })
        {
            out.push((f::RULE_NAME, s(acl)));
        }
        drop(msg);
        ev.severity = Some(sev);
        ev.dataset = Cow::Borrowed("cisco.asa");
        let category = if (106000..107000).contains(&id) || (302000..303000).contains(&id) {
            "network"
        } else if (113000..114000).contains(&id)
            || (605000..606000).contains(&id)
            || (611000..612000).contains(&id)
        {
            "authentication"
        } else {
            "network"
        };
        out.push(("event.category", s(category)));
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

    #[test]
    fn patterns_compile() {
        let e = ENDPOINT;
        for pat in [
            format!(
                r"(?i)\b(TCP|UDP|ICMP|SCTP|GRE|ESP)?\b.*?\bfor {e}(?:\s+\([^)]*\))?(?:\s+\S+)?\s+to {e}(?:\s|\(|$)"
            ),
            format!(r"(?i)\b(tcp|udp|icmp|sctp)?\s*src {e}(?:\([^)]*\))?\s+dst {e}(?:\s|\(|$)"),
            format!(
                r"(?i)\b(TCP|UDP|ICMP|SCTP)?\b[^%]*?\bfrom {e}(?:\s+\([^)]*\))?\s+to {e}(?:\s|\(|$|,)"
            ),
        ] {
            if let Err(err) = Regex::new(&pat) {
                panic!("{err}");
            }
        }
        assert!(HEAD.is_some());
        assert!(P.is_some());
    }
}
