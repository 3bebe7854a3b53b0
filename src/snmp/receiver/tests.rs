//! Tests of the SNMP receiver: communities, USM users, engine discovery and rejections.

use super::*;
use crate::snmp::usm::{AuthProto, PrivProto};

fn vectors() -> Vec<serde_json::Value> {
    serde_json::from_slice(&crate::test_util::corpus_bytes("snmp/vectors.json")).unwrap()
}

fn vector(id: &str) -> serde_json::Value {
    vectors().into_iter().find(|v| v["id"] == id).unwrap()
}

pub(crate) fn unhex(s: &str) -> Vec<u8> {
    super::unhex(s).unwrap()
}

fn user_of(v: &serde_json::Value) -> User {
    let c = &v["credentials"];
    let auth = c["auth_proto"].as_str().map(|a| {
        (
            AuthProto::parse(a).unwrap(),
            c["auth_pass"].as_str().unwrap(),
        )
    });
    let privacy = c["priv_proto"].as_str().map(|p| {
        (
            PrivProto::parse(p.split_whitespace().next().unwrap()).unwrap(),
            c["priv_pass"].as_str().unwrap(),
        )
    });
    User::new(c["user"].as_str().unwrap(), auth, privacy)
}

fn peer() -> SocketAddr {
    "127.0.0.1:40000".parse().unwrap()
}

fn receiver(users: Vec<User>) -> Receiver {
    Receiver::new(
        users,
        None,
        OwnEngine::new(unhex("80001f8880a1b2c3d4e5f60708"), 7),
    )
}

#[test]
fn community_traps_are_accepted_and_informs_answered() {
    let mut r = receiver(Vec::new());
    for id in [
        "netsnmp-v1-trap-linkdown",
        "netsnmp-v1-trap-enterprise-specific",
        "netsnmp-v2c-trap-linkdown",
        "netsnmp-v2c-trap-all-types",
        "snmp-parser-v1-trap-coldstart",
        "rasn-v1-trap-enterprise-specific",
        "gosnmp-v2c-trap-with-trailing-capture-bytes",
    ] {
        let raw = unhex(vector(id)["hex"].as_str().unwrap());
        match r.handle(&raw, peer()) {
            Verdict::Accept {
                stored,
                reply: None,
                duplicate: false,
                ..
            } => assert_eq!(stored, raw),
            other => panic!("{id}: {other:?}"),
        }
    }
    let v = vector("netsnmp-v2c-inform-coldstart");
    let raw = unhex(v["hex"].as_str().unwrap());
    let Verdict::Accept {
        reply: Some(reply),
        duplicate: false,
        ..
    } = r.handle(&raw, peer())
    else {
        panic!("inform not accepted");
    };
    // Byte for byte what made snmpinform exit 0.
    assert_eq!(
        hex(&reply),
        v["receiver_replied_with_hex"].as_str().unwrap()
    );
    // The retransmission is answered again and not stored twice.
    assert!(matches!(
        r.handle(&raw, peer()),
        Verdict::Accept {
            duplicate: true,
            reply: Some(_),
            ..
        }
    ));
}

#[test]
fn a_community_outside_the_allowlist_is_refused() {
    let mut r = Receiver::new(
        Vec::new(),
        Some(vec!["secret".into()]),
        OwnEngine::new(vec![0x80, 0, 0, 0, 5, 1], 1),
    );
    let raw = unhex(vector("netsnmp-v2c-trap-linkdown")["hex"].as_str().unwrap());
    assert!(matches!(
        r.handle(&raw, peer()),
        Verdict::Reject { reason: Reject::BadCommunity, ref who, .. } if who == "public"
    ));
}

#[test]
fn v3_traps_verify_and_decrypt_with_every_algorithm() {
    for id in [
        "netsnmp-v3-trap-authnopriv-sha",
        "netsnmp-v3-trap-authpriv-sha-aes",
        "netsnmp-v3-trap-authpriv-md5-des",
        "netsnmp-v3-trap-authpriv-sha256-aes256",
        "netsnmp-v3-trap-authpriv-sha512-aes",
        "gosnmp-v3-trap-authnopriv-md5",
        "gosnmp-v3-trap-authpriv-md5-aes",
    ] {
        let v = vector(id);
        let mut r = receiver(vec![user_of(&v)]);
        let raw = unhex(v["hex"].as_str().unwrap());
        match r.handle(&raw, peer()) {
            Verdict::Accept {
                stored,
                reply: None,
                ..
            } => {
                let (datagram, plain) = open_envelope(&stored).unwrap();
                assert_eq!(datagram, &raw[..], "{id}");
                if let Some(want) = v["decoded"]["decrypted_scoped_pdu_hex"].as_str() {
                    let plain = plain.unwrap();
                    assert_eq!(hex(&plain[..want.len() / 2]), want, "{id}");
                }
            }
            other => panic!("{id}: {other:?}"),
        }
    }
    let v = vector("netsnmp-v3-trap-noauthnopriv");
    let mut r = receiver(vec![User::new("trapuser", None, None)]);
    assert!(matches!(
        r.handle(&unhex(v["hex"].as_str().unwrap()), peer()),
        Verdict::Accept { .. }
    ));
}

#[test]
fn v3_failures_are_refused_by_reason() {
    let v = vector("netsnmp-v3-trap-authpriv-sha-aes");
    let raw = unhex(v["hex"].as_str().unwrap());
    let reason = |users: Vec<User>, raw: &[u8]| match receiver(users).handle(raw, peer()) {
        Verdict::Reject { reason, .. } => Some(reason),
        _ => None,
    };
    assert_eq!(reason(Vec::new(), &raw), Some(Reject::UnknownUser));
    let wrong_auth = User::new(
        "privuser",
        Some((AuthProto::Sha1, "wrongpass1")),
        Some((PrivProto::Aes128, "privpass456")),
    );
    assert_eq!(reason(vec![wrong_auth], &raw), Some(Reject::WrongDigest));
    let wrong_priv = User::new(
        "privuser",
        Some((AuthProto::Sha1, "authpass123")),
        Some((PrivProto::Aes128, "wrongpriv1")),
    );
    assert_eq!(reason(vec![wrong_priv], &raw), Some(Reject::Decryption));
    let no_priv = User::new("privuser", Some((AuthProto::Sha1, "authpass123")), None);
    assert_eq!(
        reason(vec![no_priv], &raw),
        Some(Reject::WrongSecurityLevel)
    );
    // A flipped byte in the encrypted part breaks the digest.
    let mut tampered = raw.clone();
    let last = tampered.len() - 3;
    tampered[last] ^= 1;
    assert_eq!(
        reason(vec![user_of(&v)], &tampered),
        Some(Reject::WrongDigest)
    );
    // Replay: the engine is known to have rebooted since.
    let mut r = receiver(vec![user_of(&v)]);
    let engine = unhex("80001f8880a1b2c3d4e5f60709");
    r.clocks.insert(
        engine,
        Some(RemoteClock {
            boots: 2,
            time: 10,
            latest: 10,
            seen: 0,
        }),
    );
    assert!(matches!(
        r.handle(&raw, peer()),
        Verdict::Reject {
            reason: Reject::NotInTimeWindow,
            ..
        }
    ));
}

#[test]
fn discovery_gets_a_report_with_picket_engine() {
    let v = vector("netsnmp-v3-inform-authpriv-sha-aes-1");
    let mut r = receiver(Vec::new());
    let Verdict::Reply(report) = r.handle(&unhex(v["hex"].as_str().unwrap()), peer()) else {
        panic!("no report");
    };
    let (m, _) = message::decode_v3(&report).unwrap();
    assert_eq!(
        m.usm.authoritative_engine_id.to_vec(),
        unhex("80001f8880a1b2c3d4e5f60708")
    );
    assert_eq!(i64::try_from(&m.usm.authoritative_engine_boots).unwrap(), 7);
    let v3::ScopedPduData::CleartextPdu(s) = m.scoped else {
        panic!()
    };
    let pdu = message::v2_pdu(&s.data);
    assert_eq!(pdu.kind, PduKind::Other("report"));
    assert_eq!(pdu.request_id, Some(1196561349));
    assert_eq!(pdu.varbinds[0].0, USM_STATS_UNKNOWN_ENGINE_IDS.to_vec());
}

#[test]
fn malformed_and_non_notifications_are_refused_without_panic() {
    let mut r = receiver(Vec::new());
    for v in vectors() {
        let raw = unhex(v["hex"].as_str().unwrap());
        let verdict = r.handle(&raw, peer());
        if v["kind"] == "malformed" {
            assert!(
                matches!(
                    verdict,
                    Verdict::Reject {
                        reason: Reject::Malformed
                            | Reject::Unsupported
                            | Reject::UnknownUser
                            | Reject::UnknownEngine,
                        ..
                    }
                ),
                "{}: {verdict:?}",
                v["id"]
            );
        }
    }
    let get = unhex(
        vector("snmp-parser-v1-get-request")["hex"]
            .as_str()
            .unwrap(),
    );
    assert!(matches!(
        r.handle(&get, peer()),
        Verdict::Reject {
            reason: Reject::NotNotification,
            ..
        }
    ));
    for junk in [
        &b""[..],
        b"\x30",
        b"\x30\x84\xff\xff\xff\xff\x02\x01\x01",
        &[0u8; 65_536][..],
    ] {
        assert!(matches!(
            r.handle(junk, peer()),
            Verdict::Reject {
                reason: Reject::Malformed,
                ..
            }
        ));
    }
}

quickcheck::quickcheck! {
    fn arbitrary_bytes_never_panic(b: Vec<u8>) -> bool {
        let mut r = receiver(vec![User::new("u", Some((AuthProto::Sha1, "password1")), None)]);
        let _verdict = r.handle(&b, peer());
        let mut with_header = vec![0x30, 0x82, 0x01, 0x00, 0x02, 0x01, 0x03];
        with_header.extend_from_slice(&b);
        let _verdict = r.handle(&with_header, peer());
        true
    }
}

#[test]
fn the_engine_id_persists_and_boots_count_up() {
    let d = tempfile::tempdir().unwrap();
    let a = OwnEngine::load_or_create(d.path()).unwrap();
    let b = OwnEngine::load_or_create(d.path()).unwrap();
    assert_eq!(a.id, b.id);
    assert_eq!(a.id[..5], [0x80, 0, 0, 0, 5]);
    assert_eq!(a.id.len(), 17);
    assert_eq!((a.boots, b.boots), (1, 2));
    std::fs::write(d.path().join("snmp-engine"), "zz 9\n").unwrap();
    let c = OwnEngine::load_or_create(d.path()).unwrap();
    assert_ne!(c.id, a.id);
}
