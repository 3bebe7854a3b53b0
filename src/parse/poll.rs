//! Events from the SNMP poller: a device or port that went down or came back, a threshold
//! crossed, a poll that overran its interval, an SNMPv3 engine warning. The poller writes each
//! as a small JSON object into the spool (transport `poll`), so these events are stored,
//! searched, tailed and matched by rules like any other (`event.dataset: snmp.poll`).

use crate::model::fields::{EVENT_ACTION, EVENT_OUTCOME, HOST_NAME};
use crate::model::{Event, FieldValue, Frame, MessageText};
use std::borrow::Cow;

/// The parser name of poll events (`picket.parser`).
pub const PARSER: &str = "poll";

fn set(ev: &mut Event, k: &'static str, v: FieldValue) {
    ev.fields.push((Cow::Borrowed(k), v));
}

/// The event for one poller frame.
pub fn build(frame: &Frame) -> Event {
    let mut ev = Event::bare(frame);
    ev.dataset = Cow::Borrowed("snmp.poll");
    ev.parser = PARSER;
    ev.app = Some("picket-poll".into());
    let v: serde_json::Value = match serde_json::from_slice(&frame.bytes) {
        Ok(v) => v,
        Err(e) => {
            ev.message = MessageText::Owned(format!("undecodable poller event: {e}"));
            return ev;
        }
    };
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
    ev.severity = v
        .get("severity")
        .and_then(serde_json::Value::as_u64)
        .and_then(|x| u8::try_from(x).ok())
        .filter(|x| *x <= 7)
        .or(Some(5));
    ev.facility = Some(1);
    ev.message = MessageText::Owned(s("message").unwrap_or_default());
    if let Some(d) = s("device") {
        ev.host = Some(d.clone());
        set(&mut ev, HOST_NAME, FieldValue::Str(d));
    }
    if let Some(a) = s("action") {
        let outcome = if a.ends_with("-down") || a.contains("warning") || a.ends_with("-over") {
            "failure"
        } else {
            "success"
        };
        set(&mut ev, EVENT_ACTION, FieldValue::Str(a));
        set(&mut ev, EVENT_OUTCOME, FieldValue::Str(outcome.into()));
    }
    for (json, field) in [
        ("reason", "event.reason"),
        ("error", "error.type"),
        ("address", "snmp.poll.address"),
        ("port", "interface.name"),
        ("metric", "snmp.poll.metric"),
        ("engine_id", "snmp.engine_id"),
        ("parent", "snmp.poll.parent"),
    ] {
        if let Some(x) = s(json) {
            set(&mut ev, field, FieldValue::Str(x));
        }
    }
    if let Some(x) = v.get("value").and_then(serde_json::Value::as_f64) {
        set(&mut ev, "snmp.poll.value", FieldValue::Str(x.to_string()));
    }
    ev
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(json: &str) -> Frame {
        Frame {
            bytes: bytes::Bytes::from(json.to_string()),
            peer: "127.0.0.1:161".parse().unwrap(),
            listener: 0,
            transport: crate::model::Transport::Poll,
            received_at: 1,
            truncated: false,
        }
    }

    #[test]
    fn a_down_device_is_an_event_with_its_reason() {
        let ev = build(&frame(
            r#"{"action":"device-down","device":"sw1","reason":"snmp","error":"timeout","severity":3,"message":"sw1 is down"}"#,
        ));
        assert_eq!(ev.dataset, "snmp.poll");
        assert_eq!(ev.host.as_deref(), Some("sw1"));
        assert_eq!(ev.severity, Some(3));
        let get = |k: &str| {
            ev.fields
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| format!("{v:?}"))
        };
        assert!(get("event.action").unwrap().contains("device-down"));
        assert!(get("event.outcome").unwrap().contains("failure"));
        assert!(get("event.reason").unwrap().contains("snmp"));
        let bad = build(&frame("not json"));
        assert!(matches!(&bad.message, MessageText::Owned(m) if m.contains("undecodable")));
    }
}
