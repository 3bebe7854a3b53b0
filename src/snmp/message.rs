//! Decoding SNMP messages with rasn-snmp into one neutral shape for v1, v2c and v3.

use rasn::types::{Integer, ObjectIdentifier, OctetString};
use rasn_snmp::{v1, v2, v2c, v3};

/// The SNMP version of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// SNMPv1.
    V1,
    /// SNMPv2c.
    V2c,
    /// SNMPv3.
    V3,
}

impl Version {
    /// As written in fields: `1`, `2c`, `3`.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V1 => "1",
            Version::V2c => "2c",
            Version::V3 => "3",
        }
    }
}

/// A varbind value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// INTEGER / Integer32.
    Int(i64),
    /// OCTET STRING.
    Bytes(Vec<u8>),
    /// OBJECT IDENTIFIER.
    Oid(Vec<u32>),
    /// IpAddress.
    Ip([u8; 4]),
    /// Counter32.
    Counter32(u32),
    /// Gauge32 / Unsigned32.
    Gauge32(u32),
    /// TimeTicks (hundredths of a second).
    TimeTicks(u32),
    /// Counter64.
    Counter64(u64),
    /// Opaque.
    Opaque(Vec<u8>),
    /// NULL (unSpecified).
    Null,
    /// noSuchObject, noSuchInstance, endOfMibView.
    Exception(&'static str),
}

/// What kind of PDU a message carries.
#[derive(Debug, Clone, PartialEq)]
pub enum PduKind {
    /// An SNMPv1 Trap-PDU.
    V1Trap {
        /// `enterprise`.
        enterprise: Vec<u32>,
        /// `agent-addr`.
        agent_addr: [u8; 4],
        /// `generic-trap`.
        generic: i64,
        /// `specific-trap`.
        specific: i64,
        /// `time-stamp`.
        time_stamp: u32,
    },
    /// SNMPv2-Trap.
    Trap,
    /// InformRequest (to be answered with a Response).
    Inform,
    /// Anything else (get, set, response, report …): not a notification.
    Other(&'static str),
}

/// A decoded PDU: its kind, request id and varbinds.
#[derive(Debug, Clone, PartialEq)]
pub struct Pdu {
    /// The kind.
    pub kind: PduKind,
    /// `request-id` (absent for a v1 trap).
    pub request_id: Option<i64>,
    /// Name and value of each varbind, in order.
    pub varbinds: Vec<(Vec<u32>, Value)>,
}

/// A v1 or v2c message.
#[derive(Debug, Clone, PartialEq)]
pub struct Community {
    /// v1 or v2c.
    pub version: Version,
    /// The community string.
    pub community: Vec<u8>,
    /// The PDU.
    pub pdu: Pdu,
}

/// The parts of a v3 message before security processing.
#[derive(Debug, Clone)]
pub struct V3 {
    /// `msgID`.
    pub msg_id: i64,
    /// `msgMaxSize`.
    pub max_size: i64,
    /// `msgFlags` (1 auth, 2 priv, 4 reportable).
    pub flags: u8,
    /// `msgSecurityModel` (3 = USM).
    pub security_model: i64,
    /// USM parameters.
    pub usm: v3::USMSecurityParameters,
    /// The scoped PDU, plain or encrypted.
    pub scoped: v3::ScopedPduData,
}

/// A decrypted or plain scoped PDU.
#[derive(Debug, Clone, PartialEq)]
pub struct Scoped {
    /// `contextEngineID`.
    pub context_engine_id: Vec<u8>,
    /// `contextName`.
    pub context_name: Vec<u8>,
    /// The PDU.
    pub pdu: Pdu,
}

/// Why a datagram could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Not a BER SEQUENCE with a version, or BER the decoder refused.
    #[error("malformed BER: {0}")]
    Malformed(String),
    /// A version Picket does not receive.
    #[error("unsupported SNMP version {0}")]
    Version(i64),
    /// A v3 security model other than USM.
    #[error("unsupported security model {0}")]
    SecurityModel(i64),
}

fn int(i: &Integer) -> i64 {
    i64::try_from(i).unwrap_or(i64::MAX)
}

fn arcs(o: &ObjectIdentifier) -> Vec<u32> {
    o.to_vec()
}

/// Reads the version of a message: `SEQUENCE { INTEGER version, … }`, by hand (three bytes of
/// BER are cheaper than a trial decode per version).
pub fn peek_version(b: &[u8]) -> Result<i64, DecodeError> {
    let bad = || DecodeError::Malformed("not an SNMP message (no SEQUENCE with a version)".into());
    if b.first() != Some(&0x30) {
        return Err(bad());
    }
    let len_byte = *b.get(1).ok_or_else(bad)?;
    let at = if len_byte & 0x80 == 0 {
        2
    } else {
        2 + usize::from(len_byte & 0x7f)
    };
    if b.get(at) != Some(&0x02) {
        return Err(bad());
    }
    let n = usize::from(*b.get(at + 1).ok_or_else(bad)?);
    if n == 0 || n > 4 {
        return Err(bad());
    }
    let digits = b.get(at + 2..at + 2 + n).ok_or_else(bad)?;
    let mut v: i64 = if digits.first().is_some_and(|d| d & 0x80 != 0) {
        -1
    } else {
        0
    };
    for d in digits {
        v = (v << 8) | i64::from(*d);
    }
    Ok(v)
}

fn malformed(e: impl std::fmt::Display) -> DecodeError {
    let s = e.to_string();
    DecodeError::Malformed(
        s.lines()
            .next()
            .unwrap_or("decode error")
            .chars()
            .take(200)
            .collect(),
    )
}

/// Decodes a v1 or v2c message; the count of bytes after the message is returned too (they
/// are ignored, and reported).
pub fn decode_community(b: &[u8], version: i64) -> Result<(Community, usize), DecodeError> {
    match version {
        0 => {
            let (m, rest) =
                rasn::ber::decode_with_remainder::<v1::Message<v1::Pdus>>(b).map_err(malformed)?;
            let pdu = match m.data {
                v1::Pdus::Trap(t) => Pdu {
                    kind: PduKind::V1Trap {
                        enterprise: arcs(&t.enterprise),
                        agent_addr: match &t.agent_addr {
                            rasn_smi::v1::NetworkAddress::Internet(ip) => {
                                let mut a = [0u8; 4];
                                a.copy_from_slice(ip.0.as_ref());
                                a
                            }
                        },
                        generic: int(&t.generic_trap),
                        specific: int(&t.specific_trap),
                        time_stamp: t.time_stamp.0,
                    },
                    request_id: None,
                    varbinds: t
                        .variable_bindings
                        .iter()
                        .map(|vb| (arcs(&vb.name), v1_value(&vb.value)))
                        .collect(),
                },
                v1::Pdus::GetRequest(_) => other("get-request"),
                v1::Pdus::GetNextRequest(_) => other("get-next-request"),
                v1::Pdus::GetResponse(_) => other("get-response"),
                v1::Pdus::SetRequest(_) => other("set-request"),
            };
            Ok((
                Community {
                    version: Version::V1,
                    community: m.community.to_vec(),
                    pdu,
                },
                rest.len(),
            ))
        }
        1 => {
            let (m, rest) =
                rasn::ber::decode_with_remainder::<v2c::Message<v2::Pdus>>(b).map_err(malformed)?;
            Ok((
                Community {
                    version: Version::V2c,
                    community: m.community.to_vec(),
                    pdu: v2_pdu(&m.data),
                },
                rest.len(),
            ))
        }
        v => Err(DecodeError::Version(v)),
    }
}

fn other(name: &'static str) -> Pdu {
    Pdu {
        kind: PduKind::Other(name),
        request_id: None,
        varbinds: Vec::new(),
    }
}

/// The neutral form of a v2 PDU.
pub fn v2_pdu(p: &v2::Pdus) -> Pdu {
    let (kind, pdu) = match p {
        v2::Pdus::Trap(t) => (PduKind::Trap, &t.0),
        v2::Pdus::InformRequest(t) => (PduKind::Inform, &t.0),
        v2::Pdus::GetRequest(t) => (PduKind::Other("get-request"), &t.0),
        v2::Pdus::GetNextRequest(t) => (PduKind::Other("get-next-request"), &t.0),
        v2::Pdus::Response(t) => (PduKind::Other("response"), &t.0),
        v2::Pdus::SetRequest(t) => (PduKind::Other("set-request"), &t.0),
        v2::Pdus::Report(t) => (PduKind::Other("report"), &t.0),
        v2::Pdus::GetBulkRequest(t) => {
            return Pdu {
                kind: PduKind::Other("get-bulk-request"),
                request_id: Some(i64::from(t.0.request_id)),
                varbinds: Vec::new(),
            };
        }
    };
    Pdu {
        kind,
        request_id: Some(i64::from(pdu.request_id)),
        varbinds: pdu
            .variable_bindings
            .iter()
            .map(|vb| (arcs(&vb.name), v2_value(&vb.value)))
            .collect(),
    }
}

fn v1_value(v: &rasn_smi::v1::ObjectSyntax) -> Value {
    use rasn_smi::v1::{
        ApplicationSyntax as A, NetworkAddress, ObjectSyntax as O, SimpleSyntax as S,
    };
    match v {
        O::Simple(S::Number(i)) => Value::Int(int(i)),
        O::Simple(S::String(s)) => Value::Bytes(s.to_vec()),
        O::Simple(S::Object(o)) => Value::Oid(arcs(o)),
        O::Simple(S::Empty) => Value::Null,
        O::ApplicationWide(A::Address(NetworkAddress::Internet(ip))) => {
            let mut a = [0u8; 4];
            a.copy_from_slice(ip.0.as_ref());
            Value::Ip(a)
        }
        O::ApplicationWide(A::Counter(c)) => Value::Counter32(c.0),
        O::ApplicationWide(A::Gauge(g)) => Value::Gauge32(g.0),
        O::ApplicationWide(A::Ticks(t)) => Value::TimeTicks(t.0),
        O::ApplicationWide(A::Arbitrary(o)) => Value::Opaque(o.as_ref().to_vec()),
    }
}

fn v2_value(v: &v2::VarBindValue) -> Value {
    use rasn_smi::v2::{ApplicationSyntax as A, ObjectSyntax as O, SimpleSyntax as S};
    match v {
        v2::VarBindValue::Value(O::Simple(S::Integer(i))) => Value::Int(int(i)),
        v2::VarBindValue::Value(O::Simple(S::String(s))) => Value::Bytes(s.to_vec()),
        v2::VarBindValue::Value(O::Simple(S::ObjectId(o))) => Value::Oid(arcs(o)),
        v2::VarBindValue::Value(O::ApplicationWide(A::Address(ip))) => {
            let mut a = [0u8; 4];
            a.copy_from_slice(ip.0.as_ref());
            Value::Ip(a)
        }
        v2::VarBindValue::Value(O::ApplicationWide(A::Counter(c))) => Value::Counter32(c.0),
        v2::VarBindValue::Value(O::ApplicationWide(A::Ticks(t))) => Value::TimeTicks(t.0),
        v2::VarBindValue::Value(O::ApplicationWide(A::Arbitrary(o))) => {
            Value::Opaque(o.as_ref().to_vec())
        }
        v2::VarBindValue::Value(O::ApplicationWide(A::BigCounter(c))) => Value::Counter64(c.0),
        v2::VarBindValue::Value(O::ApplicationWide(A::Unsigned(u))) => Value::Gauge32(u.0),
        v2::VarBindValue::Unspecified => Value::Null,
        v2::VarBindValue::NoSuchObject => Value::Exception("noSuchObject"),
        v2::VarBindValue::NoSuchInstance => Value::Exception("noSuchInstance"),
        v2::VarBindValue::EndOfMibView => Value::Exception("endOfMibView"),
    }
}

/// Decodes the outer v3 message and its USM parameters.
pub fn decode_v3(b: &[u8]) -> Result<(V3, usize), DecodeError> {
    let (m, rest) = rasn::ber::decode_with_remainder::<v3::Message>(b).map_err(malformed)?;
    let model = int(&m.global_data.security_model);
    if model != 3 {
        return Err(DecodeError::SecurityModel(model));
    }
    let usm: v3::USMSecurityParameters =
        rasn::ber::decode(&m.security_parameters).map_err(malformed)?;
    Ok((
        V3 {
            msg_id: int(&m.global_data.message_id),
            max_size: int(&m.global_data.max_size),
            flags: m.global_data.flags.first().copied().unwrap_or(0),
            security_model: model,
            usm,
            scoped: m.scoped_data,
        },
        rest.len(),
    ))
}

/// Decodes a plaintext scoped PDU (after decryption; trailing padding is ignored).
pub fn decode_scoped(b: &[u8]) -> Result<Scoped, DecodeError> {
    let (s, _padding) = rasn::ber::decode_with_remainder::<v3::ScopedPdu>(b).map_err(malformed)?;
    Ok(scoped(&s))
}

/// The neutral form of a scoped PDU.
pub fn scoped(s: &v3::ScopedPdu) -> Scoped {
    Scoped {
        context_engine_id: s.engine_id.to_vec(),
        context_name: s.name.to_vec(),
        pdu: v2_pdu(&s.data),
    }
}

/// BER of a v2 `Response` to a request, echoing its request id and varbinds.
pub fn response_pdu(request_id: i64, varbinds: &[(Vec<u32>, Value)]) -> v2::Pdus {
    v2::Pdus::Response(v2::Response(v2::Pdu {
        request_id: i32::try_from(request_id).unwrap_or(0),
        error_status: 0,
        error_index: 0,
        variable_bindings: varbinds
            .iter()
            .filter_map(|(o, v)| to_varbind(o, v))
            .collect(),
    }))
}

/// A varbind back in rasn's form (for responses and reports).
pub fn to_varbind(oid: &[u32], v: &Value) -> Option<v2::VarBind> {
    use rasn_smi::v2::{ApplicationSyntax as A, ObjectSyntax as O, SimpleSyntax as S};
    let value = match v {
        Value::Int(i) => v2::VarBindValue::Value(O::Simple(S::Integer((*i).into()))),
        Value::Bytes(b) => {
            v2::VarBindValue::Value(O::Simple(S::String(OctetString::from(b.clone()))))
        }
        Value::Oid(o) => {
            v2::VarBindValue::Value(O::Simple(S::ObjectId(ObjectIdentifier::new(o.clone())?)))
        }
        Value::Ip(a) => v2::VarBindValue::Value(O::ApplicationWide(A::Address(
            rasn_smi::v1::IpAddress((*a).into()),
        ))),
        Value::Counter32(c) => {
            v2::VarBindValue::Value(O::ApplicationWide(A::Counter(rasn_smi::v1::Counter(*c))))
        }
        Value::Gauge32(g) => {
            v2::VarBindValue::Value(O::ApplicationWide(A::Unsigned(rasn_smi::v1::Gauge(*g))))
        }
        Value::TimeTicks(t) => {
            v2::VarBindValue::Value(O::ApplicationWide(A::Ticks(rasn_smi::v1::TimeTicks(*t))))
        }
        Value::Counter64(c) => v2::VarBindValue::Value(O::ApplicationWide(A::BigCounter(
            rasn_smi::v2::Counter64(*c),
        ))),
        Value::Opaque(_) | Value::Null | Value::Exception(_) => v2::VarBindValue::Unspecified,
    };
    Some(v2::VarBind {
        name: ObjectIdentifier::new(oid.to_vec())?,
        value,
    })
}

/// What a manager asks an agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// GetRequest.
    Get,
    /// GetNextRequest.
    GetNext,
    /// GetBulkRequest (v2c and v3 only) with non-repeaters and max-repetitions.
    GetBulk(u32, u32),
}

/// An answer to a request: a Response (or v1 GetResponse) or a Report.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// True for a Report (v3 engine discovery and USM errors).
    pub report: bool,
    /// `request-id`.
    pub request_id: i64,
    /// `error-status` (0 noError, 1 tooBig, 2 noSuchName …).
    pub error_status: i64,
    /// `error-index` (1-based).
    pub error_index: i64,
    /// Name and value of each varbind, in order.
    pub varbinds: Vec<(Vec<u32>, Value)>,
}

fn null_binds(oids: &[Vec<u32>]) -> Option<Vec<v2::VarBind>> {
    oids.iter()
        .map(|o| {
            Some(v2::VarBind {
                name: ObjectIdentifier::new(o.clone())?,
                value: v2::VarBindValue::Unspecified,
            })
        })
        .collect()
}

/// A v2 request PDU (for v2c and v3 messages); `None` when an OID cannot be encoded.
pub fn request_pdu(kind: Request, request_id: i32, oids: &[Vec<u32>]) -> Option<v2::Pdus> {
    let variable_bindings = null_binds(oids)?;
    let pdu = v2::Pdu {
        request_id,
        error_status: 0,
        error_index: 0,
        variable_bindings,
    };
    Some(match kind {
        Request::Get => v2::Pdus::GetRequest(v2::GetRequest(pdu)),
        Request::GetNext => v2::Pdus::GetNextRequest(v2::GetNextRequest(pdu)),
        Request::GetBulk(non_repeaters, max_repetitions) => {
            v2::Pdus::GetBulkRequest(v2::GetBulkRequest(v2::BulkPdu {
                request_id,
                non_repeaters,
                max_repetitions,
                variable_bindings: pdu.variable_bindings,
            }))
        }
    })
}

/// BER of a whole v1 or v2c request message; `None` for GETBULK in v1 or an OID that does
/// not encode.
pub fn community_request(
    version: Version,
    community: &[u8],
    kind: Request,
    request_id: i32,
    oids: &[Vec<u32>],
) -> Option<Vec<u8>> {
    match version {
        Version::V1 => {
            let binds = oids
                .iter()
                .map(|o| {
                    Some(v1::VarBind {
                        name: ObjectIdentifier::new(o.clone())?,
                        value: rasn_smi::v1::ObjectSyntax::Simple(
                            rasn_smi::v1::SimpleSyntax::Empty,
                        ),
                    })
                })
                .collect::<Option<Vec<_>>>()?;
            let pdu = v1::Pdu {
                request_id: request_id.into(),
                error_status: 0.into(),
                error_index: 0.into(),
                variable_bindings: binds,
            };
            let data = match kind {
                Request::Get => v1::Pdus::GetRequest(v1::GetRequest(pdu)),
                Request::GetNext => v1::Pdus::GetNextRequest(v1::GetNextRequest(pdu)),
                Request::GetBulk(..) => return None,
            };
            rasn::ber::encode(&v1::Message {
                version: 0.into(),
                community: OctetString::from(community.to_vec()),
                data,
            })
            .ok()
        }
        Version::V2c => rasn::ber::encode(&v2c::Message {
            version: 1.into(),
            community: OctetString::from(community.to_vec()),
            data: request_pdu(kind, request_id, oids)?,
        })
        .ok(),
        Version::V3 => None,
    }
}

/// The answer in a v2 PDU (Response or Report); `None` for any other PDU.
pub fn answer(p: &v2::Pdus) -> Option<Answer> {
    let (report, pdu) = match p {
        v2::Pdus::Response(r) => (false, &r.0),
        v2::Pdus::Report(r) => (true, &r.0),
        _ => return None,
    };
    Some(Answer {
        report,
        request_id: i64::from(pdu.request_id),
        error_status: i64::from(pdu.error_status),
        error_index: i64::from(pdu.error_index),
        varbinds: pdu
            .variable_bindings
            .iter()
            .map(|vb| (arcs(&vb.name), v2_value(&vb.value)))
            .collect(),
    })
}

/// Decodes a v1 or v2c answer; also returns its community. `None` when it is not one.
pub fn community_answer(b: &[u8]) -> Option<(Vec<u8>, Answer)> {
    match peek_version(b).ok()? {
        0 => {
            let m = rasn::ber::decode::<v1::Message<v1::Pdus>>(b).ok()?;
            let v1::Pdus::GetResponse(r) = m.data else {
                return None;
            };
            let p = r.0;
            Some((
                m.community.to_vec(),
                Answer {
                    report: false,
                    request_id: int(&p.request_id),
                    error_status: int(&p.error_status),
                    error_index: int(&p.error_index),
                    varbinds: p
                        .variable_bindings
                        .iter()
                        .map(|vb| (arcs(&vb.name), v1_value(&vb.value)))
                        .collect(),
                },
            ))
        }
        1 => {
            let m = rasn::ber::decode::<v2c::Message<v2::Pdus>>(b).ok()?;
            Some((m.community.to_vec(), answer(&m.data)?))
        }
        _ => None,
    }
}
