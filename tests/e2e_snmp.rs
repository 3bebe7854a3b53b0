//! SNMP end to end: net-snmp's `snmptrap` and `snmpinform` (Debian package `snmp`) against the
//! running binary on loopback; every notification is looked up in the store afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::Picket;
use std::process::Command;
use std::time::Duration;

/// Runs a net-snmp tool; the test fails (never skips) when it is not installed.
fn netsnmp(tool: &str, args: &[&str]) -> std::process::Output {
    let persist = std::env::temp_dir().join(format!("picket-netsnmp-{}", std::process::id()));
    Command::new(tool)
        .args(args)
        .env("SNMP_PERSISTENT_DIR", &persist)
        .env("MIBS", "")
        .output()
        .unwrap_or_else(|e| {
            panic!("net-snmp's `{tool}` must be installed (apt-get install -y snmp): {e}")
        })
}

fn ok(tool: &str, args: &[&str]) {
    let out = netsnmp(tool, args);
    assert!(
        out.status.success(),
        "{tool} {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// (user, auth, priv) for every protocol net-snmp offers here.
const USERS: &[(&str, Option<&str>, Option<&str>)] = &[
    ("plain", None, None),
    ("md5", Some("MD5"), None),
    ("sha", Some("SHA"), None),
    ("sha224", Some("SHA-224"), None),
    ("sha256", Some("SHA-256"), None),
    ("sha384", Some("SHA-384"), None),
    ("sha512", Some("SHA-512"), None),
    ("md5des", Some("MD5"), Some("DES")),
    ("shades", Some("SHA"), Some("DES")),
    ("shaaes", Some("SHA"), Some("AES")),
    ("shaaes192", Some("SHA"), Some("AES-192")),
    ("shaaes256", Some("SHA"), Some("AES-256")),
    ("sha512aes", Some("SHA-512"), Some("AES")),
    ("sha256aes256", Some("SHA-256"), Some("AES-256")),
];

fn config() -> String {
    let mut c = String::from("[snmp]\ncommunities = [\"public\", \"private\"]\n");
    for (name, auth, privacy) in USERS {
        c.push_str(&format!("[[snmp.user]]\nname = \"{name}\"\n"));
        if let Some(a) = auth {
            c.push_str(&format!(
                "auth = \"{a}\"\nauth_password = \"authpass-{name}\"\n"
            ));
        }
        if let Some(p) = privacy {
            c.push_str(&format!(
                "privacy = \"{p}\"\nprivacy_password = \"privpass-{name}\"\n"
            ));
        }
    }
    c
}

fn v3_args(name: &str, auth: Option<&str>, privacy: Option<&str>) -> Vec<String> {
    let mut a = vec!["-v".into(), "3".into(), "-u".into(), name.to_string()];
    let level = match (auth, privacy) {
        (Some(_), Some(_)) => "authPriv",
        (Some(_), None) => "authNoPriv",
        _ => "noAuthNoPriv",
    };
    a.extend(["-l".into(), level.into()]);
    if let Some(x) = auth {
        a.extend([
            "-a".into(),
            x.into(),
            "-A".into(),
            format!("authpass-{name}"),
        ]);
    }
    if let Some(x) = privacy {
        a.extend([
            "-x".into(),
            x.into(),
            "-X".into(),
            format!("privpass-{name}"),
        ]);
    }
    a
}

fn find<'a>(events: &'a [serde_json::Value], tag: &str) -> &'a serde_json::Value {
    events
        .iter()
        .find(|e| e["snmp.var.sysName.0"] == tag)
        .unwrap_or_else(|| panic!("no stored event tagged {tag}"))
}

#[test]
fn v1_v2c_and_v3_traps_and_informs_from_net_snmp_are_stored_once_each() {
    let p = Picket::start_with_config(&config());
    let target = p.snmp.expect("snmp= in the ready line").to_string();
    let t = target.as_str();
    // v1: generic trap 2 (linkDown) with agent-addr 192.0.2.33.
    ok(
        "snmptrap",
        &[
            "-v",
            "1",
            "-c",
            "public",
            t,
            "1.3.6.1.4.1.8072.2.3.1",
            "192.0.2.33",
            "2",
            "0",
            "",
            "1.3.6.1.2.1.2.2.1.1.7",
            "i",
            "7",
            "1.3.6.1.2.1.1.5.0",
            "s",
            "case-v1",
        ],
    );
    // v2c trap: linkDown with the IF-MIB objects.
    ok(
        "snmptrap",
        &[
            "-v",
            "2c",
            "-c",
            "public",
            t,
            "",
            "1.3.6.1.6.3.1.1.5.3",
            "1.3.6.1.2.1.2.2.1.1.3",
            "i",
            "3",
            "1.3.6.1.2.1.2.2.1.7.3",
            "i",
            "1",
            "1.3.6.1.2.1.2.2.1.8.3",
            "i",
            "2",
            "1.3.6.1.2.1.2.2.1.2.3",
            "s",
            "Gi0/3",
            "1.3.6.1.2.1.1.5.0",
            "s",
            "case-v2c",
        ],
    );
    // v2c inform: snmpinform exits 0 only when answered.
    ok(
        "snmpinform",
        &[
            "-v",
            "2c",
            "-c",
            "private",
            "-r",
            "0",
            "-t",
            "5",
            t,
            "",
            "1.3.6.1.6.3.1.1.5.1",
            "1.3.6.1.2.1.1.5.0",
            "s",
            "case-v2c-inform",
        ],
    );
    let mut expected = 3;
    for (name, auth, privacy) in USERS {
        for tool in ["snmptrap", "snmpinform"] {
            let mut args = v3_args(name, *auth, *privacy);
            if tool == "snmpinform" {
                args.extend(["-r".into(), "0".into(), "-t".into(), "5".into()]);
            }
            let tag = format!("case-{name}-{tool}");
            args.extend([t.to_string(), String::new(), "1.3.6.1.6.3.1.1.5.4".into()]);
            args.extend(["1.3.6.1.2.1.1.5.0".into(), "s".into(), tag]);
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            ok(tool, &refs);
            expected += 1;
        }
    }
    assert_eq!(p.wait_stored(expected, Duration::from_secs(20)), expected);
    let events = p.search("", &[]);
    assert_eq!(
        events.len() as u64,
        expected,
        "exactly one event per notification"
    );

    let v1 = find(&events, "case-v1");
    assert_eq!(v1["event.action"], "linkDown");
    assert_eq!(v1["snmp.version"], "1");
    assert_eq!(v1["snmp.agent_address"], "192.0.2.33");
    assert_eq!(v1["observer.ip"], "127.0.0.1");
    assert_eq!(v1["snmp.var.ifIndex.7"], 7);

    let v2 = find(&events, "case-v2c");
    assert_eq!(v2["event.action"], "linkDown");
    assert_eq!(v2["event.dataset"], "snmp");
    assert_eq!(v2["snmp.community"], "public");
    assert_eq!(v2["snmp.var.ifOperStatus.3"], "down");
    assert_eq!(
        v2["message"],
        "linkDown on 127.0.0.1 ifIndex 3 (Gi0/3) admin up oper down"
    );
    assert_eq!(v2["log.syslog.severity.code"], 3);

    let inf = find(&events, "case-v2c-inform");
    assert_eq!(inf["event.action"], "coldStart");
    assert_eq!(inf["snmp.pdu"], "inform");
    assert_eq!(inf["snmp.community"], "private");

    for (name, auth, privacy) in USERS {
        for tool in ["snmptrap", "snmpinform"] {
            let e = find(&events, &format!("case-{name}-{tool}"));
            assert_eq!(e["event.action"], "linkUp", "{name} {tool}");
            assert_eq!(e["snmp.version"], "3");
            assert_eq!(e["snmp.user"], *name);
            let level = match (auth, privacy) {
                (Some(_), Some(_)) => "authPriv",
                (Some(_), None) => "authNoPriv",
                _ => "noAuthNoPriv",
            };
            assert_eq!(e["snmp.security_level"], level, "{name} {tool}");
            let pdu = if tool == "snmpinform" {
                "inform"
            } else {
                "trap"
            };
            assert_eq!(e["snmp.pdu"], pdu);
        }
    }
    let answered = p.metric("picket_snmp_informs_answered_total");
    assert!(answered > USERS.len() as u64, "{answered}");
}

#[test]
fn bad_credentials_and_communities_are_counted_and_raised_not_stored_as_traps() {
    let p = Picket::start_with_config(&config());
    let t = p.snmp.unwrap().to_string();
    let rejected = |reason: &str| {
        p.metric(&format!(
            "picket_snmp_rejected_total{{reason=\"{reason}\"}}"
        ))
    };
    let v3 = |args: Vec<String>| {
        let mut a = args;
        a.extend([t.clone(), String::new(), "1.3.6.1.6.3.1.1.5.4".into()]);
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        ok("snmptrap", &refs);
    };
    // A community outside the allowlist.
    ok(
        "snmptrap",
        &["-v", "2c", "-c", "guessme", &t, "", "1.3.6.1.6.3.1.1.5.3"],
    );
    // Wrong authentication password, wrong privacy password, unknown user.
    let mut wrong = v3_args("shaaes", Some("SHA"), Some("AES"));
    let i = wrong.iter().position(|a| a == "-A").unwrap() + 1;
    wrong[i] = "not-the-password".into();
    v3(wrong);
    let mut wrong_priv = v3_args("shaaes", Some("SHA"), Some("AES"));
    let i = wrong_priv.iter().position(|a| a == "-X").unwrap() + 1;
    wrong_priv[i] = "not-the-privpass".into();
    v3(wrong_priv);
    v3(v3_args("nobody", Some("SHA"), None));
    // Replay: an engine (fixed ID) seen at boot 5 sends a message claiming boot 4.
    for z in ["5,1000", "4,1000"] {
        let mut a = v3_args("sha", Some("SHA"), None);
        a.extend([
            "-e".into(),
            "0x8000000005aabbccdd".into(),
            "-Z".into(),
            z.into(),
        ]);
        v3(a);
    }
    for reason in ["decryption", "not_in_time_window"] {
        p.wait_metric(
            &format!("picket_snmp_rejected_total{{reason=\"{reason}\"}}"),
            1,
            Duration::from_secs(10),
        );
    }
    for reason in [
        "bad_community",
        "wrong_digest",
        "decryption",
        "unknown_user",
        "not_in_time_window",
    ] {
        assert_eq!(rejected(reason), 1, "{reason}");
    }
    // Only the timely boot-5 trap was accepted.
    assert_eq!(p.metric("picket_snmp_notifications_total"), 1);
    // One security event per sender and reason, plus that trap.
    assert_eq!(p.wait_stored(6, Duration::from_secs(10)), 6);
    let events: Vec<serde_json::Value> = p
        .search("", &[])
        .into_iter()
        .filter(|e| e["event.action"] != "linkUp")
        .collect();
    assert_eq!(events.len(), 5);
    for e in &events {
        assert_eq!(e["event.action"], "snmp-authentication-failure", "{e}");
        assert_eq!(e["event.outcome"], "failure");
        assert!(
            e["message"]
                .as_str()
                .unwrap()
                .starts_with("SNMP authentication failure from 127.0.0.1")
        );
    }
    // A flood of the same failure adds no events within the minute.
    for _ in 0..5 {
        ok(
            "snmptrap",
            &["-v", "2c", "-c", "guessme", &t, "", "1.3.6.1.6.3.1.1.5.3"],
        );
    }
    p.wait_metric(
        "picket_snmp_rejected_total{reason=\"bad_community\"}",
        6,
        Duration::from_secs(10),
    );
    assert_eq!(rejected("bad_community"), 6);
    assert_eq!(p.metric("picket_snmp_security_events_total"), 5);
}

#[test]
fn garbage_and_oversize_datagrams_are_counted_and_the_listener_keeps_serving() {
    let p = Picket::start(&[]);
    let t = p.snmp.unwrap();
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    s.send_to(b"\x30\x84\xff\xff\xff\xff\x02\x01\x01", t)
        .unwrap();
    s.send_to(b"not snmp at all", t).unwrap();
    s.send_to(&vec![0x30u8; 65_000], t).unwrap();
    p.wait_metric(
        "picket_snmp_rejected_total{reason=\"malformed\"}",
        3,
        Duration::from_secs(10),
    );
    assert_eq!(
        p.metric("picket_snmp_rejected_total{reason=\"malformed\"}"),
        3
    );
    ok(
        "snmptrap",
        &[
            "-v",
            "2c",
            "-c",
            "public",
            &t.to_string(),
            "",
            "1.3.6.1.6.3.1.1.5.1",
        ],
    );
    assert_eq!(p.wait_stored(1, Duration::from_secs(10)), 1);
    assert_eq!(p.search("", &[])[0]["event.action"], "coldStart");
}

#[test]
fn names_from_a_user_mib_file_name_the_trap_and_render_its_values() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("mibs")).unwrap();
    std::fs::write(
        dir.path().join("mibs/ACME-MIB.mib"),
        r#"ACME-MIB DEFINITIONS ::= BEGIN
IMPORTS MODULE-IDENTITY, OBJECT-TYPE, NOTIFICATION-TYPE, enterprises FROM SNMPv2-SMI;
acme MODULE-IDENTITY LAST-UPDATED "202611220000Z" ORGANIZATION "Acme" CONTACT-INFO "-"
    DESCRIPTION "test" ::= { enterprises 99999 }
acmeDoorState OBJECT-TYPE SYNTAX INTEGER { closed(1), open(2), forced(3) }
    MAX-ACCESS read-only STATUS current DESCRIPTION "state" ::= { acme 1 }
acmeDoorForced NOTIFICATION-TYPE OBJECTS { acmeDoorState } STATUS current
    DESCRIPTION "forced" ::= { acme 0 1 }
END
"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("test.toml"), "[snmp]\nmibs = \"mibs\"\n").unwrap();
    let p = Picket::start_in(dir, &["--config", "test.toml"]);
    let t = p.snmp.unwrap().to_string();
    ok(
        "snmptrap",
        &[
            "-v",
            "2c",
            "-c",
            "public",
            &t,
            "",
            "1.3.6.1.4.1.99999.0.1",
            "1.3.6.1.4.1.99999.1.0",
            "i",
            "3",
        ],
    );
    assert_eq!(p.wait_stored(1, Duration::from_secs(10)), 1);
    let e = &p.search("", &[])[0];
    assert_eq!(e["event.action"], "acmeDoorForced");
    assert_eq!(e["snmp.var.acmeDoorState.0"], "forced");
    assert_eq!(
        e["message"],
        "acmeDoorForced from 127.0.0.1: acmeDoorState.0=forced"
    );
}
