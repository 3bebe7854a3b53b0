//! Tests of SNMPv3 USM: key localisation, DES and AES, timeliness and replays (RFC 3414, 3826).

use super::*;

pub(crate) fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(s.get(2 * i..2 * i + 2).unwrap(), 16).unwrap())
        .collect()
}

fn corpus(name: &str) -> serde_json::Value {
    serde_json::from_slice(&crate::test_util::corpus_bytes(&format!("snmp/{name}"))).unwrap()
}

#[test]
fn password_to_key_and_localisation_match_the_known_answers() {
    let cases = corpus("usm-key-localization.json");
    let mut checked = 0;
    for c in cases.as_array().unwrap() {
        let proto = AuthProto::parse(c["auth_proto"].as_str().unwrap()).unwrap();
        let ku = proto.password_to_key(c["password"].as_str().unwrap().as_bytes());
        if let Some(want) = c["Ku_hex"].as_str() {
            assert_eq!(ku, unhex(want), "{c}");
        }
        let kul = proto.localize(&ku, &unhex(c["engine_id"].as_str().unwrap()));
        assert_eq!(kul, unhex(c["Kul_hex"].as_str().unwrap()), "{c}");
        checked += 1;
    }
    assert!(checked >= 4);
}

#[test]
fn des_and_aes_round_trip() {
    for p in [
        PrivProto::Des,
        PrivProto::Aes128,
        PrivProto::Aes192,
        PrivProto::Aes256,
    ] {
        let key: Vec<u8> = (0..32u8).collect();
        let plain = b"a scoped PDU of some length, not a multiple of eight".to_vec();
        let ct = encrypt(p, &key, 3, 1000, &[9; 8], plain.clone()).unwrap();
        assert_ne!(ct[..plain.len()], plain[..]);
        let mut back = ct.clone();
        decrypt(p, &key, 3, 1000, &[9; 8], &mut back).unwrap();
        assert_eq!(&back[..plain.len()], &plain[..], "{p:?}");
    }
    // DES needs whole blocks and an 8-byte salt.
    let mut odd = vec![0u8; 7];
    assert!(decrypt(PrivProto::Des, &[0; 16], 0, 0, &[0; 8], &mut odd).is_err());
    assert!(decrypt(PrivProto::Aes128, &[0; 16], 0, 0, &[0; 4], &mut odd).is_err());
}

#[test]
fn timeliness_refuses_replays_and_old_boots() {
    let mut c = None;
    assert!(timely(&mut c, 5, 1000, 0));
    assert!(timely(&mut c, 5, 1010, 10));
    // 100 s later the engine's time is about 1110: 1000 is a replay from outside the window.
    assert!(!timely(&mut c, 5, 900, 100));
    assert!(timely(&mut c, 5, 1000, 100));
    assert!(!timely(&mut c, 4, 99_999, 100));
    // A reboot moves the clock forward.
    assert!(timely(&mut c, 6, 1, 100));
    assert!(!timely(&mut c, 5, 1200, 100));
}

#[test]
fn parse_names_as_net_snmp_spells_them() {
    assert_eq!(AuthProto::parse("sha"), Some(AuthProto::Sha1));
    assert_eq!(AuthProto::parse("SHA-512"), Some(AuthProto::Sha512));
    assert_eq!(AuthProto::parse("sha256"), Some(AuthProto::Sha256));
    assert_eq!(PrivProto::parse("aes"), Some(PrivProto::Aes128));
    assert_eq!(PrivProto::parse("AES-256"), Some(PrivProto::Aes256));
    assert_eq!(AuthProto::parse("crc32"), None);
}
