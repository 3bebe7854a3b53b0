//! A stored SNMP notification → one event: the varbinds as fields, the notification name as
//! `event.action`, a readable sentence as the message, a severity per notification.

use crate::model::{Event, FieldValue, Frame, MessageText};
use crate::snmp::message::{self, Pdu, PduKind, Value, Version};
use crate::snmp::names::{Names, Syntax, oid_string};
use crate::snmp::receiver::{self, NOTICE};
use std::borrow::Cow;
use std::sync::Arc;

/// The parser name of SNMP events (`picket.parser`).
pub const PARSER: &str = "snmp";

/// SNMP settings the parse stage needs.
#[derive(Clone)]
pub struct Options {
    /// OID names (built-in and loaded MIBs).
    pub names: Arc<Names>,
    /// Severity overrides by notification name or numeric OID.
    pub severity: Vec<(String, u8)>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            names: Arc::new(Names::with(Vec::new())),
            severity: Vec::new(),
        }
    }
}

/// A syslog severity keyword → its code.
pub fn severity_code(s: &str) -> Option<u8> {
    Some(match s.to_ascii_lowercase().as_str() {
        "emergency" | "emerg" => 0,
        "alert" => 1,
        "critical" | "crit" => 2,
        "error" | "err" => 3,
        "warning" | "warn" => 4,
        "notice" => 5,
        "info" | "informational" => 6,
        "debug" => 7,
        _ => return None,
    })
}

/// Checks `[snmp] severity`: notification name or OID → 0–7 or a keyword.
pub fn severities(
    map: &std::collections::BTreeMap<String, toml::Value>,
) -> Result<Vec<(String, u8)>, crate::model::Invalid> {
    use crate::model::Invalid;
    let mut severity = Vec::new();
    for (k, v) in map {
        let level = match v {
            toml::Value::Integer(n) => u8::try_from(*n).ok().filter(|n| *n <= 7),
            toml::Value::String(s) => severity_code(s),
            _ => None,
        }
        .ok_or_else(|| {
            Invalid::new(
                format!("snmp.severity.{k}"),
                "use 0-7 or emergency, alert, critical, error, warning, notice, info, debug",
            )
        })?;
        severity.push((k.clone(), level));
    }
    Ok(severity)
}

/// Default severity of a notification.
fn default_severity(name: &str) -> u8 {
    match name {
        "linkDown"
        | "upsTrapOnBattery"
        | "bgpBackwardTransNotification"
        | "bgpBackwardTransition"
        | "jnxPowerSupplyFailure"
        | "jnxFanFailure"
        | "jnxOverTemperature"
        | "fgTrapHaMemberDown"
        | "fgTrapHaHBFail"
        | "fgTrapVpnTunDown"
        | "ospfIfAuthFailure"
        | "ospfVirtIfAuthFailure" => 3,
        "authenticationFailure"
        | "ospfNbrStateChange"
        | "upsTrapAlarmEntryAdded"
        | "fgTrapHaSwitch" => 4,
        "coldStart"
        | "warmStart"
        | "linkUp"
        | "nsNotifyRestart"
        | "nsNotifyStart"
        | "nsNotifyShutdown"
        | "entConfigChange"
        | "ciscoConfigManEvent" => 5,
        _ => 5,
    }
}

const SYS_UPTIME_0: &[u32] = &[1, 3, 6, 1, 2, 1, 1, 3, 0];
const SNMP_TRAP_OID_0: &[u32] = &[1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0];
const SNMP_TRAP_ADDRESS_0: &[u32] = &[1, 3, 6, 1, 6, 3, 18, 1, 3, 0];
const SNMP_TRAPS: &[u32] = &[1, 3, 6, 1, 6, 3, 1, 1, 5];

/// Builds the event of an SNMP spool frame (a datagram the listener accepted, or a notice).
pub fn build(frame: &Frame, opts: &Options) -> Event {
    let mut ev = Event::bare(frame);
    ev.dataset = Cow::Borrowed("snmp");
    ev.parser = PARSER;
    let bytes = frame.bytes.as_ref();
    if bytes.first() == Some(&NOTICE) {
        notice(&mut ev, bytes.get(1..).unwrap_or_default());
        return ev;
    }
    let Some((datagram, plaintext)) = receiver::open_envelope(bytes) else {
        ev.message = MessageText::Owned("undecodable SNMP frame".into());
        return ev;
    };
    // The raw bytes of the event are the datagram as received.
    let off = bytes.len()
        - bytes
            .len()
            .min(datagram.len() + plaintext.map_or(0, <[u8]>::len));
    ev.raw = frame.bytes.slice(off..off + datagram.len());
    match decode(datagram, plaintext) {
        Ok(d) => fill(&mut ev, &d, frame, opts),
        Err(e) => ev.message = MessageText::Owned(format!("undecodable SNMP message: {e}")),
    }
    ev
}

/// What the event is made from.
struct Decoded {
    version: Version,
    community: Option<Vec<u8>>,
    user: Option<Vec<u8>>,
    level: Option<&'static str>,
    engine_id: Option<Vec<u8>>,
    context: Option<Vec<u8>>,
    pdu: Pdu,
}

fn decode(datagram: &[u8], plaintext: Option<&[u8]>) -> Result<Decoded, message::DecodeError> {
    let v = message::peek_version(datagram)?;
    if v == 3 {
        let (m, _) = message::decode_v3(datagram)?;
        let scoped = match (&m.scoped, plaintext) {
            (_, Some(p)) => message::decode_scoped(p)?,
            (rasn_snmp::v3::ScopedPduData::CleartextPdu(s), None) => message::scoped(s),
            (rasn_snmp::v3::ScopedPduData::EncryptedPdu(_), None) => {
                return Err(message::DecodeError::Malformed(
                    "encrypted and not decrypted".into(),
                ));
            }
        };
        let level = match (m.flags & 1 != 0, m.flags & 2 != 0) {
            (true, true) => "authPriv",
            (true, false) => "authNoPriv",
            _ => "noAuthNoPriv",
        };
        return Ok(Decoded {
            version: Version::V3,
            community: None,
            user: Some(m.usm.user_name.to_vec()),
            level: Some(level),
            engine_id: Some(m.usm.authoritative_engine_id.to_vec()),
            context: Some(scoped.context_name),
            pdu: scoped.pdu,
        });
    }
    let (c, _) = message::decode_community(datagram, v)?;
    Ok(Decoded {
        version: c.version,
        community: Some(c.community),
        user: None,
        level: None,
        engine_id: None,
        context: None,
        pdu: c.pdu,
    })
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn set(ev: &mut Event, k: impl Into<Cow<'static, str>>, v: FieldValue) {
    ev.fields.push((k.into(), v));
}

fn fill(ev: &mut Event, d: &Decoded, frame: &Frame, opts: &Options) {
    let names = &opts.names;
    set(
        ev,
        "snmp.version",
        FieldValue::Str(d.version.as_str().into()),
    );
    if let Some(c) = &d.community {
        set(ev, "snmp.community", FieldValue::Str(text(c)));
    }
    if let Some(u) = &d.user {
        set(ev, "snmp.user", FieldValue::Str(text(u)));
        set(
            ev,
            crate::model::fields::USER_NAME,
            FieldValue::Str(text(u)),
        );
    }
    if let Some(l) = d.level {
        set(ev, "snmp.security_level", FieldValue::Str(l.into()));
    }
    if let Some(e) = &d.engine_id {
        set(ev, "snmp.engine_id", FieldValue::Str(receiver::hex(e)));
    }
    if let Some(c) = d.context.as_ref().filter(|c| !c.is_empty()) {
        set(ev, "snmp.context", FieldValue::Str(text(c)));
    }
    if let Some(id) = d.pdu.request_id {
        set(ev, "snmp.request_id", FieldValue::Int(id));
    }
    let mut agent: Option<String> = None;
    let mut uptime: Option<u32> = None;
    // The notification OID: v2 snmpTrapOID.0; v1 by RFC 3584 section 3.1.
    let trap_oid: Vec<u32> = match &d.pdu.kind {
        PduKind::V1Trap {
            enterprise,
            agent_addr,
            generic,
            specific,
            time_stamp,
        } => {
            set(ev, "snmp.pdu", FieldValue::Str("trap".into()));
            set(
                ev,
                "snmp.enterprise",
                FieldValue::Str(oid_string(enterprise)),
            );
            set(ev, "snmp.generic_trap", FieldValue::Int(*generic));
            set(ev, "snmp.specific_trap", FieldValue::Int(*specific));
            agent = Some(std::net::Ipv4Addr::from(*agent_addr).to_string());
            uptime = Some(*time_stamp);
            match u32::try_from(*generic) {
                Ok(g @ 0..=5) => {
                    let mut o = SNMP_TRAPS.to_vec();
                    o.push(g + 1);
                    o
                }
                _ => {
                    let mut o = enterprise.clone();
                    o.push(0);
                    o.push(u32::try_from(*specific).unwrap_or(0));
                    o
                }
            }
        }
        kind => {
            let pdu = if *kind == PduKind::Inform {
                "inform"
            } else {
                "trap"
            };
            set(ev, "snmp.pdu", FieldValue::Str(pdu.into()));
            d.pdu
                .varbinds
                .iter()
                .find(|(o, _)| o == SNMP_TRAP_OID_0)
                .and_then(|(_, v)| match v {
                    Value::Oid(o) => Some(o.clone()),
                    _ => None,
                })
                .unwrap_or_default()
        }
    };
    let trap_name = names
        .exact(&trap_oid)
        .map(str::to_owned)
        .unwrap_or_else(|| names.display(&trap_oid));
    set(ev, "snmp.trap_oid", FieldValue::Str(oid_string(&trap_oid)));
    set(
        ev,
        crate::model::fields::EVENT_ACTION,
        FieldValue::Str(trap_name.clone()),
    );
    // Varbinds: one field per object, named by the MIB when known.
    let mut parts: Vec<(String, String)> = Vec::new();
    for (oid, value) in &d.pdu.varbinds {
        if oid == SNMP_TRAP_OID_0 {
            continue;
        }
        if oid == SYS_UPTIME_0 {
            if let Value::TimeTicks(t) = value {
                uptime = Some(*t);
            }
            continue;
        }
        if oid == SNMP_TRAP_ADDRESS_0 {
            if let Value::Ip(a) = value {
                agent = Some(std::net::Ipv4Addr::from(*a).to_string());
            }
            continue;
        }
        let (label, syntax) = match names.lookup(oid) {
            Some((k, [])) => (k.name.clone(), k.syntax),
            Some((k, inst)) => (format!("{}.{}", k.name, oid_string(inst)), k.syntax),
            None => (oid_string(oid), Syntax::Plain),
        };
        let fv = render(value, syntax, names);
        parts.push((label.clone(), fv.as_text().into_owned()));
        set(ev, format!("snmp.var.{label}"), fv);
    }
    if let Some(t) = uptime {
        set(ev, "snmp.uptime", FieldValue::Int(i64::from(t)));
        set(ev, "snmp.uptime_text", FieldValue::Str(ticks(t)));
    }
    if let Some(a) = &agent {
        set(ev, "snmp.agent_address", FieldValue::Str(a.clone()));
    }
    let who = agent.clone().unwrap_or_else(|| frame.peer.ip().to_string());
    let sentence = sentence(&trap_name, &who, &parts);
    ev.message = MessageText::Owned(sentence);
    let code = oid_string(&trap_oid);
    ev.severity = Some(
        opts.severity
            .iter()
            .find(|(k, _)| *k == trap_name || *k == code)
            .map_or_else(|| default_severity(&trap_name), |(_, s)| *s),
    );
    let (category, outcome) = match trap_name.as_str() {
        "authenticationFailure" => ("authentication", Some("failure")),
        "linkDown" | "linkUp" | "coldStart" | "warmStart" => ("host", None),
        _ => ("network", None),
    };
    set(ev, "event.category", FieldValue::Str(category.into()));
    if let Some(o) = outcome {
        set(
            ev,
            crate::model::fields::EVENT_OUTCOME,
            FieldValue::Str(o.into()),
        );
    }
    set(ev, crate::model::fields::EVENT_CODE, FieldValue::Str(code));
}

fn render(v: &Value, syntax: Syntax, names: &Names) -> FieldValue {
    match (v, syntax) {
        (Value::Int(i), Syntax::Enum(labels)) => labels
            .iter()
            .find(|(n, _)| n == i)
            .map_or(FieldValue::Int(*i), |(_, l)| FieldValue::Str((*l).into())),
        (Value::Int(i), _) => FieldValue::Int(*i),
        (Value::Bytes(b), Syntax::Mac) => FieldValue::Str(
            b.iter()
                .map(|x| format!("{x:02x}"))
                .collect::<Vec<_>>()
                .join(":"),
        ),
        (Value::Bytes(b), Syntax::InetAddress) if b.len() == 4 || b.len() == 16 => {
            FieldValue::Str(match <[u8; 4]>::try_from(b.as_slice()) {
                Ok(a) => std::net::Ipv4Addr::from(a).to_string(),
                Err(_) => <[u8; 16]>::try_from(b.as_slice())
                    .map(|a| std::net::Ipv6Addr::from(a).to_string())
                    .unwrap_or_default(),
            })
        }
        (Value::Bytes(b), _) => match std::str::from_utf8(b) {
            Ok(s)
                if !s
                    .chars()
                    .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) =>
            {
                FieldValue::Str(s.to_owned())
            }
            _ => FieldValue::Str(format!("0x{}", receiver::hex(b))),
        },
        (Value::Oid(o), _) => FieldValue::Str(names.display(o)),
        (Value::Ip(a), _) => FieldValue::Str(std::net::Ipv4Addr::from(*a).to_string()),
        (Value::Counter32(n) | Value::Gauge32(n), _) => FieldValue::Int(i64::from(*n)),
        (Value::TimeTicks(t), _) => FieldValue::Str(ticks(*t)),
        (Value::Counter64(n), _) => match i64::try_from(*n) {
            Ok(i) => FieldValue::Int(i),
            Err(_) => FieldValue::Str(n.to_string()),
        },
        (Value::Opaque(b), _) => FieldValue::Str(format!("0x{}", receiver::hex(b))),
        (Value::Null, _) => FieldValue::Str(String::new()),
        (Value::Exception(e), _) => FieldValue::Str((*e).into()),
    }
}

/// TimeTicks as net-snmp shows them: `(123456) 0:20:34.56`, with days when there are any.
fn ticks(t: u32) -> String {
    let (cs, s) = (t % 100, t / 100);
    let (d, h, m, sec) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    if d > 0 {
        format!(
            "({t}) {d} day{} {h}:{m:02}:{sec:02}.{cs:02}",
            if d == 1 { "" } else { "s" }
        )
    } else {
        format!("({t}) {h}:{m:02}:{sec:02}.{cs:02}")
    }
}

/// "linkDown on sw-core-1 ifIndex 3 (Gi0/3) admin up oper down", or a generic sentence.
fn sentence(trap: &str, who: &str, parts: &[(String, String)]) -> String {
    let get = |prefix: &str| {
        parts
            .iter()
            .find(|(k, _)| k == prefix || k.starts_with(&format!("{prefix}.")))
            .map(|(_, v)| v.as_str())
    };
    match trap {
        "linkDown" | "linkUp" => {
            let mut s = format!("{trap} on {who}");
            if let Some(i) = get("ifIndex") {
                s.push_str(&format!(" ifIndex {i}"));
            }
            if let Some(d) = get("ifName").or_else(|| get("ifDescr")) {
                s.push_str(&format!(" ({d})"));
            }
            if let Some(a) = get("ifAdminStatus") {
                s.push_str(&format!(" admin {a}"));
            }
            if let Some(o) = get("ifOperStatus") {
                s.push_str(&format!(" oper {o}"));
            }
            s
        }
        "coldStart" | "warmStart" => format!("{trap} from {who}"),
        "authenticationFailure" => format!("authenticationFailure reported by {who}"),
        _ if parts.is_empty() => format!("{trap} from {who}"),
        _ => {
            let shown: Vec<String> = parts
                .iter()
                .take(8)
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let more = if parts.len() > 8 {
                format!(" (+{} more)", parts.len() - 8)
            } else {
                String::new()
            };
            format!("{trap} from {who}: {}{more}", shown.join(", "))
        }
    }
}

/// A security notice the listener spooled (`{"reason":…,"who":…,"detail":…,"count":…}`).
fn notice(ev: &mut Event, json: &[u8]) {
    let v: serde_json::Value = serde_json::from_slice(json).unwrap_or_default();
    let s = |k: &str| {
        v.get(k)
            .and_then(|x| x.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let count = v
        .get("count")
        .and_then(serde_json::Value::as_i64)
        .unwrap_or(1);
    let peer = ev.peer.ip().to_string();
    let reason = s("reason");
    let who = s("who");
    ev.severity = Some(4);
    ev.message = MessageText::Owned(format!(
        "SNMP authentication failure from {peer}: {} ({}{}){}",
        reason.replace('_', " "),
        if who.is_empty() {
            String::new()
        } else {
            format!("as `{who}`: ")
        },
        s("detail"),
        if count > 1 {
            format!(", {count} times")
        } else {
            String::new()
        }
    ));
    ev.raw = bytes::Bytes::from(json.to_vec());
    set(
        ev,
        crate::model::fields::EVENT_ACTION,
        FieldValue::Str("snmp-authentication-failure".into()),
    );
    set(
        ev,
        crate::model::fields::EVENT_OUTCOME,
        FieldValue::Str("failure".into()),
    );
    set(
        ev,
        "event.category",
        FieldValue::Str("authentication".into()),
    );
    set(ev, crate::model::fields::SOURCE_IP, FieldValue::Str(peer));
    set(ev, "snmp.reject_reason", FieldValue::Str(reason));
    set(ev, "snmp.failures", FieldValue::Int(count));
    if !who.is_empty() {
        set(ev, crate::model::fields::USER_NAME, FieldValue::Str(who));
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests;
