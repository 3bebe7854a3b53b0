//! Sealing and opening SNMPv3 messages under USM (RFC 3414): encode, sign and encrypt one
//! outgoing message; verify and decrypt one incoming message. The trap receiver (answering
//! informs as the authoritative engine) and the poller (asking agents, which are
//! authoritative) both go through here, so there is one v3 codec in Picket.

use super::message::{self, Scoped, V3};
use super::usm::{self, LocalKeys};
use rasn::types::OctetString;
use rasn_snmp::v3;

/// What an outgoing v3 message carries besides its scoped PDU.
pub struct Seal<'a> {
    /// `msgID`.
    pub msg_id: i64,
    /// `msgMaxSize`: the largest message the sender accepts back.
    pub max_size: i64,
    /// Sets the reportable flag (requests; never responses or reports).
    pub reportable: bool,
    /// The authoritative engine: its ID, boots and time.
    pub engine_id: &'a [u8],
    /// `msgAuthoritativeEngineBoots`.
    pub boots: u32,
    /// `msgAuthoritativeEngineTime`.
    pub time: u32,
    /// `msgUserName`.
    pub user: &'a [u8],
    /// Keys localised to `engine_id`; `None` sends noAuthNoPriv.
    pub keys: Option<&'a LocalKeys>,
    /// Encrypt when the keys have a privacy key.
    pub encrypt: bool,
    /// `msgPrivacyParameters`, unique per message (the caller keeps the counter).
    pub salt: [u8; 8],
}

/// BER of the whole message, signed and encrypted as `s` asks; `None` when a part does not
/// encode (an OID rasn refuses).
pub fn seal(s: &Seal<'_>, scoped: v3::ScopedPdu) -> Option<Vec<u8>> {
    let auth = s.keys.and_then(|k| k.auth.as_ref());
    let privacy = s
        .keys
        .and_then(|k| k.privacy.as_ref())
        .filter(|_| s.encrypt && auth.is_some());
    let (data, salt) = match privacy {
        Some((p, key)) => {
            let plain = rasn::ber::encode(&scoped).ok()?;
            let ct = usm::encrypt(*p, key, s.boots, s.time, &s.salt, plain).ok()?;
            (
                v3::ScopedPduData::EncryptedPdu(OctetString::from(ct)),
                s.salt.to_vec(),
            )
        }
        None => (v3::ScopedPduData::CleartextPdu(scoped), Vec::new()),
    };
    let mac_len = auth.map_or(0, |(p, _)| p.mac_len());
    let params = v3::USMSecurityParameters {
        authoritative_engine_id: OctetString::from(s.engine_id.to_vec()),
        authoritative_engine_boots: s.boots.into(),
        authoritative_engine_time: s.time.into(),
        user_name: OctetString::from(s.user.to_vec()),
        authentication_parameters: OctetString::from(vec![0u8; mac_len]),
        privacy_parameters: OctetString::from(salt),
    };
    let flags = u8::from(auth.is_some())
        | (u8::from(privacy.is_some()) << 1)
        | (u8::from(s.reportable) << 2);
    let msg = v3::Message {
        version: 3.into(),
        global_data: v3::HeaderData {
            message_id: s.msg_id.into(),
            max_size: s.max_size.into(),
            flags: OctetString::from(vec![flags]),
            security_model: 3.into(),
        },
        security_parameters: OctetString::from(rasn::ber::encode(&params).ok()?),
        scoped_data: data,
    };
    let mut out = rasn::ber::encode(&msg).ok()?;
    if let Some((p, key)) = auth {
        let at = usm::find_params(&out, &vec![0u8; mac_len])?;
        usm::sign(*p, key, &mut out, at);
    }
    Some(out)
}

/// Why an incoming v3 message could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenError {
    /// The HMAC does not verify (wrong authentication password, or tampering).
    WrongDigest,
    /// Decryption failed or gave no scoped PDU (wrong privacy password or protocol).
    Decryption,
    /// Encrypted while the keys have no privacy key, or the other way round.
    Level,
}

/// Checks the message's MAC under `keys` (true when it carries none and none is expected).
pub fn verify(raw: &[u8], m: &V3, keys: &LocalKeys) -> bool {
    match (&keys.auth, m.flags & 1 != 0) {
        (Some((proto, key)), true) => {
            usm::verify(*proto, key, raw, &m.usm.authentication_parameters)
        }
        (None, false) => true,
        _ => false,
    }
}

/// The scoped PDU, decrypted when the message is encrypted, with the plaintext bytes.
pub fn scoped(m: &V3, keys: &LocalKeys) -> Result<(Scoped, Option<Vec<u8>>), OpenError> {
    match &m.scoped {
        v3::ScopedPduData::CleartextPdu(s) if m.flags & 2 == 0 => Ok((message::scoped(s), None)),
        v3::ScopedPduData::EncryptedPdu(ct) if m.flags & 2 != 0 => {
            let Some((proto, key)) = &keys.privacy else {
                return Err(OpenError::Level);
            };
            let boots = u32::try_from(&m.usm.authoritative_engine_boots).unwrap_or(0);
            let time = u32::try_from(&m.usm.authoritative_engine_time).unwrap_or(0);
            let mut data = ct.to_vec();
            usm::decrypt(
                *proto,
                key,
                boots,
                time,
                &m.usm.privacy_parameters,
                &mut data,
            )
            .map_err(|_| OpenError::Decryption)?;
            let s = message::decode_scoped(&data).map_err(|_| OpenError::Decryption)?;
            Ok((s, Some(data)))
        }
        _ => Err(OpenError::Level),
    }
}

/// The PDU of the message in rasn's form (Response, Report …), decrypted when encrypted.
pub fn pdu(m: &V3, keys: &LocalKeys) -> Result<rasn_snmp::v2::Pdus, OpenError> {
    match &m.scoped {
        v3::ScopedPduData::CleartextPdu(s) if m.flags & 2 == 0 => Ok(s.data.clone()),
        v3::ScopedPduData::EncryptedPdu(_) if m.flags & 2 != 0 => {
            let (_, plain) = scoped(m, keys)?;
            let plain = plain.ok_or(OpenError::Decryption)?;
            let (s, _padding) = rasn::ber::decode_with_remainder::<v3::ScopedPdu>(&plain)
                .map_err(|_| OpenError::Decryption)?;
            Ok(s.data)
        }
        _ => Err(OpenError::Level),
    }
}
