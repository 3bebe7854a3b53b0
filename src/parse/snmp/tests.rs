//! Tests of how traps and informs become events, garbage frames included.

use super::*;
use crate::model::Transport;

fn vector(id: &str) -> Vec<u8> {
    let all: Vec<serde_json::Value> =
        serde_json::from_slice(&crate::test_util::corpus_bytes("snmp/vectors.json")).unwrap();
    let v = all.into_iter().find(|v| v["id"] == id).unwrap();
    crate::snmp::receiver::tests::unhex(v["hex"].as_str().unwrap())
}

fn frame(bytes: Vec<u8>) -> Frame {
    Frame {
        bytes: bytes.into(),
        peer: "192.0.2.9:40000".parse().unwrap(),
        listener: 0,
        transport: Transport::Snmp,
        received_at: 1_000_000,
        truncated: false,
    }
}

fn field<'a>(ev: &'a Event, k: &str) -> Option<&'a FieldValue> {
    ev.field(k)
}

fn s(v: &str) -> FieldValue {
    FieldValue::Str(v.into())
}

#[test]
fn v2c_link_down_is_one_event_with_named_varbinds() {
    let ev = build(
        &frame(vector("netsnmp-v2c-trap-linkdown")),
        &Options::default(),
    );
    assert_eq!(ev.dataset, "snmp");
    assert_eq!(ev.parser, "snmp");
    assert_eq!(field(&ev, "event.action"), Some(&s("linkDown")));
    assert_eq!(field(&ev, "snmp.version"), Some(&s("2c")));
    assert_eq!(field(&ev, "snmp.community"), Some(&s("public")));
    assert_eq!(field(&ev, "snmp.var.ifIndex.3"), Some(&FieldValue::Int(3)));
    assert_eq!(field(&ev, "snmp.var.ifAdminStatus.3"), Some(&s("up")));
    assert_eq!(field(&ev, "snmp.var.ifOperStatus.3"), Some(&s("down")));
    assert_eq!(
        field(&ev, "snmp.var.ifDescr.3"),
        Some(&s("GigabitEthernet0/3"))
    );
    assert_eq!(field(&ev, "snmp.uptime"), Some(&FieldValue::Int(123456)));
    assert_eq!(
        field(&ev, "snmp.uptime_text"),
        Some(&s("(123456) 0:20:34.56"))
    );
    assert_eq!(
        ticks(8_640_000 + 360_000 + 6_000 + 101),
        "(9006101) 1 day 1:01:01.01"
    );
    assert_eq!(
        ev.message(),
        "linkDown on 192.0.2.9 ifIndex 3 (GigabitEthernet0/3) admin up oper down"
    );
    assert_eq!(ev.severity, Some(3));
    assert_eq!(
        ev.raw.as_ref(),
        vector("netsnmp-v2c-trap-linkdown").as_slice()
    );
}

#[test]
fn v1_trap_maps_generic_and_agent_address() {
    let ev = build(
        &frame(vector("netsnmp-v1-trap-linkdown")),
        &Options::default(),
    );
    assert_eq!(field(&ev, "event.action"), Some(&s("linkDown")));
    assert_eq!(field(&ev, "snmp.generic_trap"), Some(&FieldValue::Int(2)));
    assert!(field(&ev, "snmp.agent_address").is_some());
    assert_eq!(field(&ev, "snmp.community"), Some(&s("private")));
    let ev = build(
        &frame(vector("netsnmp-v1-trap-enterprise-specific")),
        &Options::default(),
    );
    assert_eq!(field(&ev, "snmp.specific_trap"), Some(&FieldValue::Int(17)));
    let code = field(&ev, "snmp.trap_oid").unwrap().as_text().into_owned();
    assert!(code.ends_with(".0.17"), "{code}");
}

#[test]
fn all_value_types_render() {
    let ev = build(
        &frame(vector("netsnmp-v2c-trap-all-types")),
        &Options::default(),
    );
    let text: Vec<String> = ev
        .fields
        .iter()
        .map(|(k, v)| format!("{k}={}", v.as_text()))
        .collect();
    let joined = text.join(" ");
    assert!(joined.contains("=-5"), "{joined}");
    assert!(joined.contains("=18446744073709551615"), "{joined}");
    assert!(joined.contains("=4294967295"), "{joined}");
}

#[test]
fn severity_overrides_by_name_or_oid() {
    let opts = Options {
        severity: vec![("linkDown".into(), 1)],
        ..Options::default()
    };
    assert_eq!(
        build(&frame(vector("netsnmp-v2c-trap-linkdown")), &opts).severity,
        Some(1)
    );
    let opts = Options {
        severity: vec![("1.3.6.1.6.3.1.1.5.3".into(), 7)],
        ..Options::default()
    };
    assert_eq!(
        build(&frame(vector("netsnmp-v2c-trap-linkdown")), &opts).severity,
        Some(7)
    );
}

#[test]
fn garbage_frames_are_kept_not_panicked_on() {
    for b in [
        vec![],
        vec![0xFF, 0, 0],
        vec![0x30, 0x03, 0x02, 0x01],
        vec![0xFE, b'{'],
    ] {
        let f = frame(b.clone());
        let ev = build(&f, &Options::default());
        // Kept: an SNMP event from the sender, saying why it could not be read, with the
        // bytes as received (all of them, or the datagram inside the envelope).
        let text = crate::model::event::message_text(&ev.message, &ev.raw);
        if b.first() == Some(&NOTICE) {
            // A security notice the listener wrote, cut short: still an SNMP event.
            assert!(text.starts_with("SNMP "), "{b:02x?}: {text}");
        } else {
            assert!(text.starts_with("undecodable SNMP"), "{b:02x?}: {text}");
        }
        assert_eq!(ev.dataset, "snmp", "{b:02x?}");
        assert_eq!(ev.peer, f.peer, "{b:02x?}");
        assert_eq!(ev.timestamp, f.received_at, "{b:02x?}");
        let raw = ev.raw.as_ref();
        assert!(
            raw.is_empty() && b.is_empty() || b.windows(raw.len().max(1)).any(|w| w == raw),
            "{b:02x?}: raw {raw:02x?} is not from the frame"
        );
        assert!(!raw.is_empty() || b.is_empty(), "{b:02x?}: bytes lost");
    }
}
