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

/// The message tag `%ASA-[class-]S-NNNNNN[:]` anywhere in `msg`: product, severity, id and
/// the text after it. By hand: with a regex, capturing the text meant running the capture
/// engine over the whole message.
fn head(msg: &str) -> Option<(&str, u8, u32, &str)> {
    let b = msg.as_bytes();
    memchr::memchr_iter(b'%', b).find_map(|i| {
        let rest = msg.get(i + 1..)?;
        let (product, after) = ["ASA-", "FTD-", "PIX-", "FWSM-"]
            .iter()
            .find_map(|p| rest.strip_prefix(p).map(|r| (p.trim_end_matches('-'), r)))?;
        // An optional class word (`%ASA-session-5-106100`).
        let after = match after.find('-') {
            Some(n) if n > 1 && after.bytes().take(n).all(|c| c.is_ascii_alphabetic()) => {
                after.get(n + 1..)?
            }
            _ => after,
        };
        let sev = after.bytes().next().filter(|c| (b'0'..=b'7').contains(c))? - b'0';
        let after = after.get(1..)?.strip_prefix('-')?;
        let digits = after
            .get(..6)
            .filter(|d| d.bytes().all(|c| c.is_ascii_digit()))?;
        let id = digits.parse().ok()?;
        let text = after.get(6..)?;
        if text.bytes().next().is_some_and(|c| c.is_ascii_digit()) {
            return None;
        }
        let text = text.strip_prefix(':').unwrap_or(text).trim_start();
        Some((product, sev, id, text))
    })
}
// The remaining patterns are ASCII (word boundaries) so that the regex engine's lazy DFA finds
// the match, and each is tried only when a literal it needs occurs. The common connection
// phrasings (`for A to B`, `from A to B`, `src A dst B`) are read by hand by [`pair`]: with
// regexes, the capture engine over those spans was the parse thread's largest cost.

/// An address and its port, when given.
type Endpoint = (String, Option<i64>);

/// `IF:ip/port`, `IF:ip`, `ip/port` or `ip` (an interface name holds no `:`; IPv6 does).
fn endpoint(token: &str) -> Option<Endpoint> {
    let token = token.trim_end_matches([',', ';']);
    let (addr, port) = match token.rsplit_once('/') {
        Some((a, p)) if !p.is_empty() && p.bytes().all(|c| c.is_ascii_alphanumeric()) => {
            (a, p.parse::<i64>().ok())
        }
        _ => (token, None),
    };
    let ip = ip_ok(addr).or_else(|| addr.split_once(':').and_then(|(_, ip)| ip_ok(ip)))?;
    Some((ip.to_owned(), port))
}

/// The endpoints after the first `first` and then `second` keyword, each a whitespace-separated
/// token; between them may come a parenthesised mapped address or user (`(10.0.0.5/51000)`,
/// `(LOCAL\\alice)`) and one more word; the second endpoint may run into `(`.
fn pair(text: &str, first: &str, second: &str) -> Option<(Endpoint, Endpoint)> {
    let mut words = text.split_ascii_whitespace();
    loop {
        if words.next()? != first {
            continue;
        }
        let mut a_token = words.next()?;
        // `src IF:A/p(user)`: what follows `(` belongs to the user.
        if let Some((head, _)) = a_token.split_once('(') {
            a_token = head;
        }
        let Some(a) = endpoint(a_token) else {
            continue;
        };
        let mut skipped = 0;
        let mut in_parens = false;
        for w in words.by_ref() {
            if in_parens {
                in_parens = !w.contains(')');
                continue;
            }
            if w == second {
                let b_token = words.next()?;
                let b_token = b_token.split('(').next().unwrap_or(b_token);
                return endpoint(b_token).map(|b| (a, b));
            }
            if w.starts_with('(') {
                in_parens = !w.contains(')');
                continue;
            }
            skipped += 1;
            if skipped > 1 {
                break;
            }
        }
        return None;
    }
}

struct Patterns {
    addr3: Regex,
    arrow: Regex,
    local_host: Regex,
    vpn_ip: Regex,
    user: Regex,
    proto: Regex,
}

static P: LazyLock<Option<Patterns>> = LazyLock::new(|| {
    Some(Patterns {
        addr3: ascii(
            r"faddr ([0-9a-fA-F:.]+)/\d+ gaddr [0-9a-fA-F:.]+/\d+ laddr ([0-9a-fA-F:.]+)/\d+",
        )?,
        arrow: ascii(
            r"(?i)\b(tcp|udp|icmp|sctp|\d+)\s+[\w\-.]+/([0-9a-fA-F:.]+)\((\d+)\)(?:\([^)]*\))?\s*->\s*[\w\-.]+/([0-9a-fA-F:.]+)\((\d+)\)",
        )?,
        local_host: ascii(r"local-host [\w\-.]+:([0-9a-fA-F:.]+)")?,
        vpn_ip: ascii(r"(?:user IP = |\bIP = |\bIP <|\bIP )([0-9a-fA-F:.]+[0-9a-fA-F])")?,
        user: ascii(r#"(?i)\buser(?: = | <|\s+"|\s+)([^\s>",:]+)"#)?,
        proto: ascii(r"(?i)\b(TCP|UDP|ICMP|SCTP|GRE|ESP)\b")?,
    })
});

/// A pattern whose word boundaries are ASCII: a Unicode `\b` keeps the regex engine off its
/// lazy DFA.
fn ascii(pattern: &str) -> Option<Regex> {
    Regex::new(&pattern.replace(r"\b", r"(?-u:\b)")).ok()
}

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
        let Some((product, sev, id, text)) = head(&msg) else {
            return false;
        };
        let Some(p) = P.as_ref() else {
            return false;
        };
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
        let has = |needle: &str| crate::parse::has(text, needle);
        if let Some(c) = has("faddr ").then(|| p.addr3.captures(text)).flatten() {
            // ICMP: the local address is the source, the foreign one the destination.
            (src, dst, proto) = (side(&c, 2, 99), side(&c, 1, 99), Some("icmp".into()));
        } else if let Some(c) = has("->").then(|| p.arrow.captures(text)).flatten() {
            (src, dst, proto) = (side(&c, 2, 3), side(&c, 4, 5), proto_of(&c));
        } else if let Some((a, b)) = has(" dst ").then(|| pair(text, "src", "dst")).flatten() {
            (src, dst) = (Some(a), Some(b));
        } else if let Some((a, b)) = has(" from ").then(|| pair(text, "from", "to")).flatten() {
            (src, dst) = (Some(a), Some(b));
        } else if let Some((a, b)) = has(" for ").then(|| pair(text, "for", "to")).flatten() {
            // "Built outbound … for <foreign> to <local>": the local side started it.
            (src, dst) = if has("outbound") {
                (Some(b), Some(a))
            } else {
                (Some(a), Some(b))
            };
        } else if let Some(c) = has("local-host ")
            .then(|| p.local_host.captures(text))
            .flatten()
        {
            src = side(&c, 1, 99);
        } else if let Some(c) = has("IP").then(|| p.vpn_ip.captures(text)).flatten() {
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
            proto = p.proto.find(text).map(|m| m.as_str().to_owned());
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
            .captures_iter(if has("ser") || has("SER") { text } else { "" })
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
    fn message_tag_forms() {
        assert_eq!(
            head("%ASA-6-302013: Built x"),
            Some(("ASA", 6, 302013, "Built x"))
        );
        assert_eq!(
            head("INT-FW01 : %ASA-session-5-106100: access-list a"),
            Some(("ASA", 5, 106100, "access-list a"))
        );
        assert_eq!(head("%FTD-1-430003 Text"), Some(("FTD", 1, 430003, "Text")));
        assert_eq!(head("%FWSM-3-000001:"), Some(("FWSM", 3, 1, "")));
        assert_eq!(head("%ASA-8-302013: bad severity"), None);
        assert_eq!(head("%ASA-6-30201: five digits"), None);
        assert_eq!(head("%ASA-6-3020133: seven digits"), None);
        assert_eq!(head("100% %ASA-4-106023: x"), Some(("ASA", 4, 106023, "x")));
        assert_eq!(head("%ASA-"), None);
    }

    #[test]
    fn connection_endpoints_by_hand() {
        let ep = |ip: &str, port: Option<i64>| (ip.to_string(), port);
        assert_eq!(
            pair(
                "Built inbound TCP connection 1 for outside:1.2.3.4/5 (1.2.3.4/5) to inside:fe80::1/443 (fe80::1/443)",
                "for",
                "to"
            ),
            Some((ep("1.2.3.4", Some(5)), ep("fe80::1", Some(443))))
        );
        assert_eq!(
            pair(
                "Built outbound TCP connection 9 for out:8.8.8.8/53 (8.8.8.8/53) to in:10.0.0.5/51000 (203.0.113.1/51000)(LOCAL\\bob sess 1)",
                "for",
                "to"
            ),
            Some((ep("8.8.8.8", Some(53)), ep("10.0.0.5", Some(51000))))
        );
        assert_eq!(
            pair(
                "Deny tcp src dmz:10.1.2.30/63016(alice) dst outside:192.168.0.8/53 by access-group",
                "src",
                "dst"
            ),
            Some((ep("10.1.2.30", Some(63016)), ep("192.168.0.8", Some(53))))
        );
        assert_eq!(
            pair(
                "Deny inbound icmp src outside:10.0.0.1 dst inside:10.0.0.2 (type 8, code 0)",
                "src",
                "dst"
            ),
            Some((ep("10.0.0.1", None), ep("10.0.0.2", None)))
        );
        assert_eq!(
            pair(
                "connection denied from 1.1.1.1/80 to 2.2.2.2/443, flags",
                "from",
                "to"
            ),
            Some((ep("1.1.1.1", Some(80)), ep("2.2.2.2", Some(443))))
        );
        assert_eq!(pair("for the record to nobody", "for", "to"), None);
        assert_eq!(pair("for", "for", "to"), None);
    }

    #[test]
    fn patterns_compile() {
        assert!(P.is_some(), "a body pattern does not compile");
    }
}
