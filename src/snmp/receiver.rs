//! The notification receiver: community checks, USM processing, answers to informs and
//! engine-ID discovery, duplicate informs. One instance per listener thread; it holds the key
//! cache and each remote engine's clock.

use super::message::{self, Community, DecodeError, PduKind, Scoped, Value, Version};
use super::usm::{self, KeyCache, RemoteClock, User};
use rasn::types::OctetString;
use rasn_snmp::{v2, v2c, v3};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Instant;

/// Picket's own SNMP engine: its ID, its boot count (persisted, incremented at each start) and
/// its clock.
#[derive(Debug, Clone)]
pub struct OwnEngine {
    /// `snmpEngineID`.
    pub id: Vec<u8>,
    /// `snmpEngineBoots`.
    pub boots: u32,
    started: Instant,
}

impl OwnEngine {
    /// An engine with this ID and boot count, started now.
    pub fn new(id: Vec<u8>, boots: u32) -> OwnEngine {
        OwnEngine {
            id,
            boots,
            started: Instant::now(),
        }
    }

    /// `snmpEngineTime`: seconds since start.
    pub fn time(&self) -> u32 {
        u32::try_from(self.started.elapsed().as_secs()).unwrap_or(u32::MAX)
    }

    /// Reads `<dir>/snmp-engine` (engine ID in hex, boots) or creates it, and counts this boot.
    /// The ID is `80 00 00 00 05` (RFC 3411 format 5, octets) and 12 random bytes.
    pub fn load_or_create(dir: &Path) -> std::io::Result<OwnEngine> {
        let path = dir.join("snmp-engine");
        let (id, boots) = match std::fs::read_to_string(&path) {
            Ok(text) => {
                let mut parts = text.split_whitespace();
                let id = parts
                    .next()
                    .and_then(unhex)
                    .filter(|i| (5..=32).contains(&i.len()));
                let boots = parts
                    .next()
                    .and_then(|b| b.parse::<u32>().ok())
                    .unwrap_or(0);
                match id {
                    Some(id) => (id, boots.saturating_add(1)),
                    None => (fresh_id(), 1),
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (fresh_id(), 1),
            Err(e) => return Err(e),
        };
        let tmp = dir.join("snmp-engine.tmp");
        std::fs::write(&tmp, format!("{} {}\n", hex(&id), boots))?;
        std::fs::rename(&tmp, &path)?;
        Ok(OwnEngine::new(id, boots))
    }
}

fn fresh_id() -> Vec<u8> {
    let mut id = vec![0x80, 0x00, 0x00, 0x00, 0x05];
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
        ^ u64::from(std::process::id()).rotate_left(32);
    for _ in 0..12 {
        // xorshift: uniqueness, not secrecy, is what an engine ID needs.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        id.push((seed >> 24) as u8);
    }
    id
}

/// Lower-case hex.
pub fn hex(b: &[u8]) -> String {
    use std::fmt::Write as _;
    b.iter()
        .fold(String::with_capacity(b.len() * 2), |mut s, x| {
            write!(s, "{x:02x}").unwrap_or(());
            s
        })
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_start_matches("0x");
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len() / 2)
        .map(|i| {
            s.get(2 * i..2 * i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect()
}

/// Why a datagram was not accepted (each a label of `picket_snmp_rejected_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reject {
    /// Not decodable BER.
    Malformed,
    /// A version or security model Picket does not receive.
    Unsupported,
    /// Not a trap or inform (a get, set, response …).
    NotNotification,
    /// A community outside the allowlist.
    BadCommunity,
    /// A v3 user not configured.
    UnknownUser,
    /// The message's security level does not match the user's.
    WrongSecurityLevel,
    /// The HMAC does not verify.
    WrongDigest,
    /// The scoped PDU did not decrypt to BER.
    Decryption,
    /// Outside the time window (a replay, or a stale clock).
    NotInTimeWindow,
    /// An inform for an engine ID that is not Picket's.
    UnknownEngine,
}

impl Reject {
    /// Every reason, for metrics.
    pub const ALL: [Reject; 10] = [
        Reject::Malformed,
        Reject::Unsupported,
        Reject::NotNotification,
        Reject::BadCommunity,
        Reject::UnknownUser,
        Reject::WrongSecurityLevel,
        Reject::WrongDigest,
        Reject::Decryption,
        Reject::NotInTimeWindow,
        Reject::UnknownEngine,
    ];

    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Reject::Malformed => "malformed",
            Reject::Unsupported => "unsupported",
            Reject::NotNotification => "not_notification",
            Reject::BadCommunity => "bad_community",
            Reject::UnknownUser => "unknown_user",
            Reject::WrongSecurityLevel => "wrong_security_level",
            Reject::WrongDigest => "wrong_digest",
            Reject::Decryption => "decryption",
            Reject::NotInTimeWindow => "not_in_time_window",
            Reject::UnknownEngine => "unknown_engine",
        }
    }

    /// Whether this is an authentication failure worth a security event.
    pub fn is_auth_failure(self) -> bool {
        matches!(
            self,
            Reject::BadCommunity
                | Reject::UnknownUser
                | Reject::WrongSecurityLevel
                | Reject::WrongDigest
                | Reject::Decryption
                | Reject::NotInTimeWindow
        )
    }
}

/// What to do with a datagram.
#[derive(Debug)]
pub enum Verdict {
    /// Store `stored` (the spool frame: see [`ENVELOPE`]) and send `reply` when set. A duplicate
    /// inform is answered again and not stored.
    Accept {
        /// The frame bytes to spool.
        stored: Vec<u8>,
        /// A Response to an inform.
        reply: Option<Vec<u8>>,
        /// A retransmitted inform already stored.
        duplicate: bool,
        /// The version.
        version: Version,
    },
    /// Only answer (engine-ID discovery).
    Reply(Vec<u8>),
    /// Refuse, with a Report when the sender asked for one.
    Reject {
        /// Why.
        reason: Reject,
        /// A Report to send.
        reply: Option<Vec<u8>>,
        /// Who it claimed to be (community or user name), for the security event.
        who: String,
        /// What went wrong, in words.
        detail: String,
    },
}

/// First byte of a spool frame holding a datagram and its decrypted scoped PDU:
/// `FF len:u32be datagram plaintext`. A frame starting with `0x30` is a datagram alone.
pub const ENVELOPE: u8 = 0xFF;
/// First byte of a spool frame holding a security notice (JSON) rather than a datagram.
pub const NOTICE: u8 = 0xFE;

/// How long a retransmitted inform is recognised.
const DEDUP_SECONDS: u64 = 600;
/// Informs remembered for duplicate detection (bounded memory).
const DEDUP_MAX: usize = 100_000;
/// Remote engines whose clocks are remembered (bounded memory).
const CLOCKS_MAX: usize = 65_536;

const USM_STATS_UNKNOWN_ENGINE_IDS: [u32; 11] = [1, 3, 6, 1, 6, 3, 15, 1, 1, 4, 0];
const USM_STATS_UNKNOWN_USER_NAMES: [u32; 11] = [1, 3, 6, 1, 6, 3, 15, 1, 1, 3, 0];
const USM_STATS_NOT_IN_TIME_WINDOWS: [u32; 11] = [1, 3, 6, 1, 6, 3, 15, 1, 1, 2, 0];

/// The receiver's state.
pub struct Receiver {
    users: Vec<User>,
    by_name: HashMap<Vec<u8>, usize>,
    communities: Option<Vec<Vec<u8>>>,
    engine: OwnEngine,
    keys: KeyCache,
    clocks: HashMap<Vec<u8>, Option<RemoteClock>>,
    informs: HashMap<(SocketAddr, Vec<u8>, i64), Instant>,
    counters: [u32; 6],
    salt: u64,
    epoch: Instant,
}

impl Receiver {
    /// A receiver for these users and (when set) only these communities.
    pub fn new(
        users: Vec<User>,
        communities: Option<Vec<crate::model::Secret>>,
        engine: OwnEngine,
    ) -> Receiver {
        let by_name = users
            .iter()
            .enumerate()
            .map(|(i, u)| (u.name.as_bytes().to_vec(), i))
            .collect();
        Receiver {
            users,
            by_name,
            communities: communities
                .map(|c| c.iter().map(|s| s.expose().as_bytes().to_vec()).collect()),
            salt: u64::from(engine.boots) << 32 | u64::from(std::process::id()),
            engine,
            keys: KeyCache::default(),
            clocks: HashMap::new(),
            informs: HashMap::new(),
            counters: [0; 6],
            epoch: Instant::now(),
        }
    }

    /// Picket's engine.
    pub fn engine(&self) -> &OwnEngine {
        &self.engine
    }

    /// Decides what to do with one datagram from `peer`.
    pub fn handle(&mut self, raw: &[u8], peer: SocketAddr) -> Verdict {
        let version = match message::peek_version(raw) {
            Ok(v) => v,
            Err(e) => return malformed(&e),
        };
        match version {
            0 | 1 => self.community(raw, version, peer),
            3 => self.v3(raw, peer),
            v => Verdict::Reject {
                reason: Reject::Unsupported,
                reply: None,
                who: String::new(),
                detail: format!("SNMP version field {v}"),
            },
        }
    }

    fn community(&mut self, raw: &[u8], version: i64, peer: SocketAddr) -> Verdict {
        let (m, _trailing) = match message::decode_community(raw, version) {
            Ok(x) => x,
            Err(e) => return malformed(&e),
        };
        let who = String::from_utf8_lossy(&m.community).into_owned();
        if let Some(allowed) = &self.communities {
            if !allowed.contains(&m.community) {
                return Verdict::Reject {
                    reason: Reject::BadCommunity,
                    reply: None,
                    who,
                    detail: "community not in the allowlist".into(),
                };
            }
        }
        match &m.pdu.kind {
            PduKind::V1Trap { .. } | PduKind::Trap => Verdict::Accept {
                stored: raw.to_vec(),
                reply: None,
                duplicate: false,
                version: m.version,
            },
            PduKind::Inform => {
                let reply = community_response(&m);
                let id = m.pdu.request_id.unwrap_or(0);
                let duplicate = self.seen_inform(peer, m.community.clone(), id);
                Verdict::Accept {
                    stored: raw.to_vec(),
                    reply,
                    duplicate,
                    version: m.version,
                }
            }
            PduKind::Other(name) => Verdict::Reject {
                reason: Reject::NotNotification,
                reply: None,
                who,
                detail: format!("{name} PDU"),
            },
        }
    }

    /// True when this inform was stored already (a retransmission); remembers it otherwise.
    fn seen_inform(&mut self, peer: SocketAddr, who: Vec<u8>, id: i64) -> bool {
        let now = Instant::now();
        if self.informs.len() >= DEDUP_MAX {
            self.informs
                .retain(|_, t| now.duration_since(*t).as_secs() < DEDUP_SECONDS);
            if self.informs.len() >= DEDUP_MAX {
                self.informs.clear();
            }
        }
        match self.informs.insert((peer, who, id), now) {
            Some(t) => now.duration_since(t).as_secs() < DEDUP_SECONDS,
            None => false,
        }
    }

    fn v3(&mut self, raw: &[u8], peer: SocketAddr) -> Verdict {
        let (m, _trailing) = match message::decode_v3(raw) {
            Ok(x) => x,
            Err(DecodeError::SecurityModel(n)) => {
                return Verdict::Reject {
                    reason: Reject::Unsupported,
                    reply: None,
                    who: String::new(),
                    detail: format!("security model {n}"),
                };
            }
            Err(e) => return malformed(&e),
        };
        let auth = m.flags & 1 != 0;
        let privacy = m.flags & 2 != 0;
        let reportable = m.flags & 4 != 0;
        let engine_id = m.usm.authoritative_engine_id.to_vec();
        let user_name = m.usm.user_name.to_vec();
        let who = String::from_utf8_lossy(&user_name).into_owned();
        if privacy && !auth {
            return malformed(&DecodeError::Malformed(
                "privacy without authentication".into(),
            ));
        }
        // Engine-ID discovery (RFC 3414 4): an empty engine ID asks for Picket's.
        if engine_id.is_empty() {
            self.counters[0] = self.counters[0].wrapping_add(1);
            let request_id = plain_request_id(&m.scoped);
            return match reportable
                .then(|| self.report(&m, request_id, &USM_STATS_UNKNOWN_ENGINE_IDS, 0, None))
                .flatten()
            {
                Some(r) => Verdict::Reply(r),
                None => Verdict::Reject {
                    reason: Reject::UnknownEngine,
                    reply: None,
                    who,
                    detail: "empty engine ID in a message that wants no report".into(),
                },
            };
        }
        let Some(&user) = self.by_name.get(&user_name) else {
            self.counters[1] = self.counters[1].wrapping_add(1);
            let request_id = plain_request_id(&m.scoped);
            return Verdict::Reject {
                reason: Reject::UnknownUser,
                reply: reportable
                    .then(|| self.report(&m, request_id, &USM_STATS_UNKNOWN_USER_NAMES, 1, None))
                    .flatten(),
                who,
                detail: "user not configured".into(),
            };
        };
        let (has_auth, has_priv) = self
            .users
            .get(user)
            .map_or((false, false), |u| (u.auth.is_some(), u.privacy.is_some()));
        if auth != has_auth || (privacy && !has_priv) || (has_priv && !privacy) {
            self.counters[5] = self.counters[5].wrapping_add(1);
            return Verdict::Reject {
                reason: Reject::WrongSecurityLevel,
                reply: None,
                who,
                detail: format!(
                    "message is {}, user is configured for {}",
                    level(auth, privacy),
                    level(has_auth, has_priv)
                ),
            };
        }
        let ours = engine_id == self.engine.id;
        if !ours && reportable {
            // An inform (or request) must be sent to Picket's engine ID; send it.
            self.counters[0] = self.counters[0].wrapping_add(1);
            let request_id = plain_request_id(&m.scoped);
            return Verdict::Reject {
                reason: Reject::UnknownEngine,
                reply: self.report(&m, request_id, &USM_STATS_UNKNOWN_ENGINE_IDS, 0, None),
                who,
                detail: format!("engine ID {} is not Picket's", hex(&engine_id)),
            };
        }
        let Some(keys) = self.keys.get(&self.users, user, &engine_id) else {
            return Verdict::Reject {
                reason: Reject::UnknownUser,
                reply: None,
                who,
                detail: "user not configured".into(),
            };
        };
        if let Some((proto, key)) = &keys.auth {
            if !usm::verify(*proto, key, raw, &m.usm.authentication_parameters) {
                self.counters[3] = self.counters[3].wrapping_add(1);
                return Verdict::Reject {
                    reason: Reject::WrongDigest,
                    reply: None,
                    who,
                    detail: format!("{} digest does not verify", proto.name()),
                };
            }
            let boots = i64::try_from(&m.usm.authoritative_engine_boots).unwrap_or(-1);
            let time = i64::try_from(&m.usm.authoritative_engine_time).unwrap_or(-1);
            let timely = if ours {
                boots == i64::from(self.engine.boots)
                    && (time - i64::from(self.engine.time())).abs() <= usm::TIME_WINDOW
            } else {
                if self.clocks.len() >= CLOCKS_MAX && !self.clocks.contains_key(&engine_id) {
                    self.clocks.clear();
                }
                let now = i64::try_from(self.epoch.elapsed().as_secs()).unwrap_or(i64::MAX);
                let clock = self.clocks.entry(engine_id.clone()).or_insert(None);
                boots >= 0 && time >= 0 && usm::timely(clock, boots, time, now)
            };
            if !timely {
                self.counters[2] = self.counters[2].wrapping_add(1);
                let request_id = plain_request_id(&m.scoped);
                return Verdict::Reject {
                    reason: Reject::NotInTimeWindow,
                    reply: (ours && reportable)
                        .then(|| {
                            self.report(
                                &m,
                                request_id,
                                &USM_STATS_NOT_IN_TIME_WINDOWS,
                                2,
                                Some(user),
                            )
                        })
                        .flatten(),
                    who,
                    detail: format!("engine boots {boots} time {time} outside the 150 s window"),
                };
            }
        }
        let (scoped, plaintext) = match super::v3::scoped(&m, &keys) {
            Ok(x) => x,
            Err(super::v3::OpenError::Decryption) => {
                self.counters[4] = self.counters[4].wrapping_add(1);
                let name = keys.privacy.as_ref().map_or("", |(p, _)| p.name());
                return Verdict::Reject {
                    reason: Reject::Decryption,
                    reply: None,
                    who,
                    detail: format!("{name} decryption failed"),
                };
            }
            Err(_) if privacy => {
                return Verdict::Reject {
                    reason: Reject::WrongSecurityLevel,
                    reply: None,
                    who,
                    detail: "encrypted, and the user has no privacy key".into(),
                };
            }
            Err(_) => {
                return malformed(&DecodeError::Malformed(
                    "scoped PDU does not match msgFlags".into(),
                ));
            }
        };
        let stored = match &plaintext {
            Some(p) => envelope(raw, p),
            None => raw.to_vec(),
        };
        match scoped.pdu.kind {
            PduKind::Trap | PduKind::V1Trap { .. } => Verdict::Accept {
                stored,
                reply: None,
                duplicate: false,
                version: Version::V3,
            },
            PduKind::Inform => {
                let id = scoped.pdu.request_id.unwrap_or(0);
                let mut key = engine_id.clone();
                key.extend_from_slice(&user_name);
                let duplicate = self.seen_inform(peer, key, id);
                Verdict::Accept {
                    reply: self.v3_response(&m, &scoped, user),
                    stored,
                    duplicate,
                    version: Version::V3,
                }
            }
            PduKind::Other(name) => Verdict::Reject {
                reason: Reject::NotNotification,
                reply: None,
                who,
                detail: format!("{name} PDU"),
            },
        }
    }

    /// A Report carrying one usmStats counter (RFC 3414 3.2), unauthenticated unless `signed_by`.
    fn report(
        &mut self,
        m: &message::V3,
        request_id: i64,
        oid: &[u32],
        counter: usize,
        signed_by: Option<usize>,
    ) -> Option<Vec<u8>> {
        let value = self.counters.get(counter).copied().unwrap_or(1);
        let pdu = v2::Pdus::Report(v2::Report(v2::Pdu {
            request_id: i32::try_from(request_id).unwrap_or(0),
            error_status: 0,
            error_index: 0,
            variable_bindings: message::to_varbind(oid, &Value::Counter32(value))
                .into_iter()
                .collect(),
        }));
        let scoped = v3::ScopedPdu {
            engine_id: OctetString::from(self.engine.id.clone()),
            name: OctetString::from(Vec::new()),
            data: pdu,
        };
        let user = signed_by.and_then(|u| self.users.get(u).map(|x| x.name.clone()));
        self.build_v3(m.msg_id, scoped, user.as_deref(), signed_by, false)
    }

    /// The Response to a v3 inform, at the inform's security level, keyed to Picket's engine.
    fn v3_response(&mut self, m: &message::V3, s: &Scoped, user: usize) -> Option<Vec<u8>> {
        let pdu = message::response_pdu(s.pdu.request_id.unwrap_or(0), &s.pdu.varbinds);
        let scoped = v3::ScopedPdu {
            engine_id: OctetString::from(s.context_engine_id.clone()),
            name: OctetString::from(s.context_name.clone()),
            data: pdu,
        };
        let name = self.users.get(user).map(|u| u.name.clone());
        let privacy = m.flags & 2 != 0;
        self.build_v3(m.msg_id, scoped, name.as_deref(), Some(user), privacy)
    }

    fn build_v3(
        &mut self,
        msg_id: i64,
        scoped: v3::ScopedPdu,
        user_name: Option<&str>,
        signed_by: Option<usize>,
        encrypt: bool,
    ) -> Option<Vec<u8>> {
        let keys = match signed_by {
            Some(u) => Some(self.keys.get(&self.users, u, &self.engine.id.clone())?),
            None => None,
        };
        let (boots, time) = (self.engine.boots, self.engine.time());
        self.salt = self.salt.wrapping_add(1);
        let mut salt = self.salt.to_be_bytes();
        if keys
            .as_ref()
            .and_then(|k| k.privacy.as_ref())
            .is_some_and(|(p, _)| *p == usm::PrivProto::Des)
        {
            // RFC 3414 8.1.1.1: DES salts start with the local engine's boots.
            salt[..4].copy_from_slice(&boots.to_be_bytes());
        }
        let seal = super::v3::Seal {
            msg_id,
            max_size: 65507,
            reportable: false,
            engine_id: &self.engine.id,
            boots,
            time,
            user: user_name.unwrap_or_default().as_bytes(),
            keys: keys.as_deref(),
            encrypt,
            salt,
        };
        super::v3::seal(&seal, scoped)
    }
}

fn level(auth: bool, privacy: bool) -> &'static str {
    match (auth, privacy) {
        (true, true) => "authPriv",
        (true, false) => "authNoPriv",
        _ => "noAuthNoPriv",
    }
}

fn malformed(e: &DecodeError) -> Verdict {
    Verdict::Reject {
        reason: Reject::Malformed,
        reply: None,
        who: String::new(),
        detail: e.to_string(),
    }
}

fn plain_request_id(s: &v3::ScopedPduData) -> i64 {
    match s {
        v3::ScopedPduData::CleartextPdu(p) => message::v2_pdu(&p.data).request_id.unwrap_or(0),
        v3::ScopedPduData::EncryptedPdu(_) => 0,
    }
}

/// The spool frame for a decrypted v3 message: `FF len datagram plaintext`.
fn envelope(raw: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + raw.len() + plaintext.len());
    out.push(ENVELOPE);
    out.extend_from_slice(&u32::try_from(raw.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(raw);
    out.extend_from_slice(plaintext);
    out
}

/// Splits a spool frame into (datagram, decrypted scoped PDU).
pub fn open_envelope(frame: &[u8]) -> Option<(&[u8], Option<&[u8]>)> {
    match frame.first()? {
        &ENVELOPE => {
            let len = u32::from_be_bytes(frame.get(1..5)?.try_into().ok()?) as usize;
            let raw = frame.get(5..5 + len)?;
            Some((raw, frame.get(5 + len..)))
        }
        _ => Some((frame, None)),
    }
}

/// The v2c Response to an inform: same community and request id, the varbinds echoed.
fn community_response(m: &Community) -> Option<Vec<u8>> {
    let pdu = message::response_pdu(m.pdu.request_id.unwrap_or(0), &m.pdu.varbinds);
    let msg = v2c::Message {
        version: 1.into(),
        community: OctetString::from(m.community.clone()),
        data: pdu,
    };
    rasn::ber::encode(&msg).ok()
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
pub(crate) mod tests;
