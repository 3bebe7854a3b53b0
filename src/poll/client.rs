//! One SNMP manager session with one agent: GET, GETNEXT and GETBULK over UDP for v1, v2c
//! and v3, with the device's timeout and retries. For v3 it discovers the agent's engine ID,
//! boots and time (RFC 3414 4), keeps the time in step, and says which USM error an agent
//! reported instead of letting it look like a timeout. The codec and the USM code are the trap
//! receiver's (`snmp::message`, `snmp::usm`, `snmp::v3`).

use crate::snmp::message::{self, Answer, Request, Value, Version};
use crate::snmp::usm::{LocalKeys, User};
use crate::snmp::v3;
use rasn::types::OctetString;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;

/// How Picket authenticates to one agent.
#[derive(Clone)]
pub enum Security {
    /// v1 or v2c with a community string.
    Community {
        /// `V1` or `V2c`.
        version: Version,
        /// The community (a secret: never shown).
        community: Vec<u8>,
    },
    /// v3 with a USM user (keys derived from its passwords).
    Usm(Arc<User>),
}

impl std::fmt::Debug for Security {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Security::Community { version, .. } => f
                .debug_struct("Community")
                .field("version", version)
                .field("community", &"<redacted>")
                .finish(),
            Security::Usm(u) => f.debug_tuple("Usm").field(u).finish(),
        }
    }
}

impl Security {
    /// The SNMP version spoken.
    pub fn version(&self) -> Version {
        match self {
            Security::Community { version, .. } => *version,
            Security::Usm(_) => Version::V3,
        }
    }
}

/// A USM error an agent reported (RFC 3414 usmStats), by its counter's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsmError {
    /// usmStatsUnsupportedSecLevels: the user is not configured for this level.
    UnsupportedSecLevel,
    /// usmStatsNotInTimeWindows (after one resynchronisation).
    NotInTimeWindow,
    /// usmStatsUnknownUserNames.
    UnknownUserName,
    /// usmStatsUnknownEngineIDs (after one rediscovery).
    UnknownEngineId,
    /// usmStatsWrongDigests: the authentication password or protocol is wrong.
    WrongDigest,
    /// usmStatsDecryptionErrors: the privacy password or protocol is wrong.
    DecryptionError,
    /// Another report.
    Other,
}

impl UsmError {
    fn from_report(a: &Answer) -> UsmError {
        const USM_STATS: [u32; 9] = [1, 3, 6, 1, 6, 3, 15, 1, 1];
        let Some((oid, _)) = a.varbinds.first() else {
            return UsmError::Other;
        };
        if !oid.starts_with(&USM_STATS) {
            return UsmError::Other;
        }
        match oid.get(USM_STATS.len()) {
            Some(1) => UsmError::UnsupportedSecLevel,
            Some(2) => UsmError::NotInTimeWindow,
            Some(3) => UsmError::UnknownUserName,
            Some(4) => UsmError::UnknownEngineId,
            Some(5) => UsmError::WrongDigest,
            Some(6) => UsmError::DecryptionError,
            _ => UsmError::Other,
        }
    }

    /// The label used in metrics, events and the devices page.
    pub fn as_str(self) -> &'static str {
        match self {
            UsmError::UnsupportedSecLevel => "unsupported_security_level",
            UsmError::NotInTimeWindow => "not_in_time_window",
            UsmError::UnknownUserName => "unknown_user",
            UsmError::UnknownEngineId => "unknown_engine_id",
            UsmError::WrongDigest => "wrong_digest",
            UsmError::DecryptionError => "decryption_error",
            UsmError::Other => "report",
        }
    }
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// No answer after every retry.
    #[error("no answer after {0} attempts")]
    Timeout(u32),
    /// The agent sent a USM report instead of an answer.
    #[error("the agent reported {}", .0.as_str())]
    Usm(UsmError),
    /// An answer whose digest does not verify under the configured authentication key.
    #[error("an answer's digest does not verify (wrong authentication password?)")]
    WrongDigest,
    /// An answer that does not decrypt under the configured privacy key.
    #[error("an answer does not decrypt (wrong privacy password or protocol?)")]
    Decryption,
    /// `error-status` in the answer (2 noSuchName for v1 past the end, 1 tooBig …).
    #[error("the agent answered {} (error-status {status}) at varbind {index}", status_name(*.status))]
    Agent {
        /// `error-status`.
        status: i64,
        /// `error-index`.
        index: i64,
    },
    /// A request that cannot be encoded (an OID rasn refuses, GETBULK in v1).
    #[error("the request cannot be encoded")]
    Encode,
    /// The socket failed.
    #[error("socket: {0}")]
    Io(String),
}

impl Error {
    /// The short label used in metrics and on the devices page.
    pub fn label(&self) -> &'static str {
        match self {
            Error::Timeout(_) => "timeout",
            Error::Usm(u) => u.as_str(),
            Error::WrongDigest => "wrong_digest",
            Error::Decryption => "decryption_error",
            Error::Agent { status, .. } => status_name(*status),
            Error::Encode => "encode",
            Error::Io(_) => "socket",
        }
    }
}

/// RFC 3416's name of an `error-status`, as a label.
pub fn status_name(status: i64) -> &'static str {
    match status {
        1 => "too_big",
        2 => "no_such_name",
        3 => "bad_value",
        4 => "read_only",
        5 => "gen_err",
        6 => "no_access",
        16 => "authorization_error",
        _ => "error_status",
    }
}

/// An agent's SNMP engine as discovered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Engine {
    /// `snmpEngineID`.
    pub id: Vec<u8>,
    /// `snmpEngineBoots`.
    pub boots: u32,
    /// `snmpEngineTime` when last heard.
    time: u32,
    /// When that was.
    at: Instant,
}

impl Engine {
    fn time_now(&self) -> u32 {
        let secs = u32::try_from(self.at.elapsed().as_secs()).unwrap_or(u32::MAX);
        self.time.saturating_add(secs)
    }
}

/// What happened to an engine between two discoveries (for the duplicate/backwards warnings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineChange {
    /// The agent now has another engine ID (a restart with a new persistent store).
    NewId {
        /// The old ID.
        was: Vec<u8>,
    },
    /// The same ID with fewer boots: the agent does not persist engineBoots.
    BootsBackwards {
        /// The boots seen before.
        was: u32,
        /// The boots now.
        now: u32,
    },
}

/// Counts for one session, read by the poller after each poll.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Telemetry {
    /// Requests sent (retries included).
    pub pdus: u64,
    /// Requests sent again after a timeout.
    pub retries: u64,
    /// Requests that got no answer at all.
    pub timeouts: u64,
    /// Bytes of answers received.
    pub bytes_in: u64,
}

/// The largest answer asked for: Ethernet-sized PDUs avoid IP fragmentation.
pub const MAX_PDU_BYTES: usize = 1_400;

/// A session with one agent.
pub struct Session {
    sock: UdpSocket,
    security: Security,
    timeout: Duration,
    retries: u32,
    next_id: i32,
    salt: u64,
    engine: Option<Engine>,
    keys: Option<LocalKeys>,
    changes: Vec<EngineChange>,
    /// Counts since the session opened.
    pub telemetry: Telemetry,
    buf: Vec<u8>,
}

impl Session {
    /// A session with the agent at `addr` from an ephemeral local port of the same family.
    pub async fn open(
        addr: SocketAddr,
        security: Security,
        timeout: Duration,
        retries: u32,
    ) -> std::io::Result<Session> {
        let local: SocketAddr = if addr.is_ipv4() {
            (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let sock = UdpSocket::bind(local).await?;
        // Connected: the kernel drops datagrams from any other address and port.
        sock.connect(addr).await?;
        Ok(Session {
            sock,
            security,
            timeout,
            retries,
            next_id: i32::try_from(fastrand::u32(1..0x7fff_0000)).unwrap_or(1),
            salt: fastrand::u64(..),
            engine: None,
            keys: None,
            changes: Vec::new(),
            telemetry: Telemetry::default(),
            buf: vec![0u8; 65_536],
        })
    }

    /// The SNMP version spoken.
    pub fn security_version(&self) -> Version {
        self.security.version()
    }

    /// The agent's engine, once discovered (v3).
    pub fn engine(&self) -> Option<&Engine> {
        self.engine.as_ref()
    }

    /// Engine changes seen since the last call.
    pub fn take_changes(&mut self) -> Vec<EngineChange> {
        std::mem::take(&mut self.changes)
    }

    /// GET of `oids`.
    pub async fn get(&mut self, oids: &[Vec<u32>]) -> Result<Vec<(Vec<u32>, Value)>, Error> {
        self.request(Request::Get, oids).await
    }

    /// GETNEXT of `oids`.
    pub async fn get_next(&mut self, oids: &[Vec<u32>]) -> Result<Vec<(Vec<u32>, Value)>, Error> {
        self.request(Request::GetNext, oids).await
    }

    /// GETBULK of `oids` with no non-repeaters.
    pub async fn get_bulk(
        &mut self,
        oids: &[Vec<u32>],
        max_repetitions: u32,
    ) -> Result<Vec<(Vec<u32>, Value)>, Error> {
        self.request(Request::GetBulk(0, max_repetitions), oids)
            .await
    }

    /// One request and its answer's varbinds (`error-status` other than 0 is an error).
    pub async fn request(
        &mut self,
        kind: Request,
        oids: &[Vec<u32>],
    ) -> Result<Vec<(Vec<u32>, Value)>, Error> {
        let a = match &self.security {
            Security::Community { .. } => self.community_exchange(kind, oids).await?,
            Security::Usm(_) => self.v3_request(kind, oids).await?,
        };
        if a.error_status != 0 {
            return Err(Error::Agent {
                status: a.error_status,
                index: a.error_index,
            });
        }
        Ok(a.varbinds)
    }

    fn request_id(&mut self) -> i32 {
        self.next_id = if self.next_id >= 0x7fff_fff0 {
            1
        } else {
            self.next_id + 1
        };
        self.next_id
    }

    /// Sends `msg` and waits for a datagram `accept` takes, resending on each timeout.
    async fn exchange<T>(
        &mut self,
        msg: &[u8],
        mut accept: impl FnMut(&mut Self, &[u8]) -> Option<Result<T, Error>>,
    ) -> Result<T, Error> {
        let attempts = self.retries + 1;
        for attempt in 0..attempts {
            if attempt > 0 {
                self.telemetry.retries += 1;
            }
            self.telemetry.pdus += 1;
            self.sock
                .send(msg)
                .await
                .map_err(|e| Error::Io(e.to_string()))?;
            let deadline = tokio::time::Instant::now() + self.timeout;
            loop {
                enum Wait<T> {
                    TimedOut,
                    Again,
                    Done(Result<T, Error>),
                }
                let mut buf = std::mem::take(&mut self.buf);
                let got = tokio::time::timeout_at(deadline, self.sock.recv(&mut buf)).await;
                let wait = match got {
                    Err(_) => Wait::TimedOut,
                    // ICMP port unreachable on a connected socket: wait out the timeout, as
                    // for silence (the agent may be starting).
                    Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                        tokio::time::sleep_until(deadline).await;
                        Wait::TimedOut
                    }
                    Ok(Err(e)) => Wait::Done(Err(Error::Io(e.to_string()))),
                    Ok(Ok(n)) => {
                        self.telemetry.bytes_in += n as u64;
                        match buf.get(..n).and_then(|d| accept(self, d)) {
                            Some(r) => Wait::Done(r),
                            // Not ours (a late answer to an earlier attempt): keep waiting.
                            None => Wait::Again,
                        }
                    }
                };
                self.buf = buf;
                match wait {
                    Wait::TimedOut => break,
                    Wait::Again => continue,
                    Wait::Done(r) => return r,
                }
            }
        }
        self.telemetry.timeouts += 1;
        Err(Error::Timeout(attempts))
    }

    async fn community_exchange(
        &mut self,
        kind: Request,
        oids: &[Vec<u32>],
    ) -> Result<Answer, Error> {
        let Security::Community { version, community } = &self.security else {
            return Err(Error::Encode);
        };
        let (version, community) = (*version, community.clone());
        let id = self.request_id();
        let msg =
            message::community_request(version, &community, kind, id, oids).ok_or(Error::Encode)?;
        self.exchange(&msg, |_, d| {
            let (c, a) = message::community_answer(d)?;
            (c == community && a.request_id == i64::from(id) && !a.report).then_some(Ok(a))
        })
        .await
    }

    async fn v3_request(&mut self, kind: Request, oids: &[Vec<u32>]) -> Result<Answer, Error> {
        if self.engine.is_none() {
            self.discover().await?;
        }
        let mut resynced = false;
        let mut rediscovered = false;
        loop {
            let a = self.v3_exchange(kind, oids).await?;
            if !a.report {
                return Ok(a);
            }
            match UsmError::from_report(&a) {
                // The report carried the agent's boots and time (taken in `v3_exchange`).
                UsmError::NotInTimeWindow if !resynced => resynced = true,
                UsmError::UnknownEngineId if !rediscovered => {
                    rediscovered = true;
                    self.discover().await?;
                }
                e => return Err(Error::Usm(e)),
            }
        }
    }

    /// RFC 3414 4: an empty, unauthenticated, reportable request; the Report names the engine.
    pub async fn discover(&mut self) -> Result<(), Error> {
        let id = self.request_id();
        let scoped = rasn_snmp::v3::ScopedPdu {
            engine_id: OctetString::from(Vec::new()),
            name: OctetString::from(Vec::new()),
            data: message::request_pdu(Request::Get, id, &[]).ok_or(Error::Encode)?,
        };
        let seal = v3::Seal {
            msg_id: i64::from(id),
            max_size: 65_507,
            reportable: true,
            engine_id: &[],
            boots: 0,
            time: 0,
            user: &[],
            keys: None,
            encrypt: false,
            salt: [0; 8],
        };
        let msg = v3::seal(&seal, scoped).ok_or(Error::Encode)?;
        let found = self
            .exchange(&msg, |_, d| {
                let (m, _) = message::decode_v3(d).ok()?;
                (m.msg_id == i64::from(id)).then_some(())?;
                let engine = m.usm.authoritative_engine_id.to_vec();
                if engine.is_empty() {
                    return Some(Err(Error::Usm(UsmError::Other)));
                }
                Some(Ok((
                    engine,
                    u32::try_from(&m.usm.authoritative_engine_boots).unwrap_or(0),
                    u32::try_from(&m.usm.authoritative_engine_time).unwrap_or(0),
                )))
            })
            .await?;
        let (id, boots, time) = found;
        if let Some(old) = &self.engine {
            if old.id != id {
                self.changes.push(EngineChange::NewId {
                    was: old.id.clone(),
                });
            } else if boots < old.boots {
                self.changes.push(EngineChange::BootsBackwards {
                    was: old.boots,
                    now: boots,
                });
            }
        }
        if let Security::Usm(u) = &self.security {
            if self.engine.as_ref().map(|e| &e.id) != Some(&id) {
                self.keys = Some(u.localize(&id));
            }
        }
        self.engine = Some(Engine {
            id,
            boots,
            time,
            at: Instant::now(),
        });
        Ok(())
    }

    async fn v3_exchange(&mut self, kind: Request, oids: &[Vec<u32>]) -> Result<Answer, Error> {
        let Security::Usm(user) = &self.security else {
            return Err(Error::Encode);
        };
        let user = user.clone();
        let (Some(engine), Some(keys)) = (self.engine.clone(), self.keys.clone()) else {
            return Err(Error::Usm(UsmError::UnknownEngineId));
        };
        let id = self.request_id();
        self.salt = self.salt.wrapping_add(1);
        let scoped = rasn_snmp::v3::ScopedPdu {
            engine_id: OctetString::from(engine.id.clone()),
            name: OctetString::from(Vec::new()),
            data: message::request_pdu(kind, id, oids).ok_or(Error::Encode)?,
        };
        let seal = v3::Seal {
            msg_id: i64::from(id),
            max_size: 65_507,
            reportable: true,
            engine_id: &engine.id,
            boots: engine.boots,
            time: engine.time_now(),
            user: user.name.as_bytes(),
            keys: Some(&keys),
            encrypt: true,
            salt: self.salt.to_be_bytes(),
        };
        let msg = v3::seal(&seal, scoped).ok_or(Error::Encode)?;
        self.exchange(&msg, |s, d| {
            let (m, _) = message::decode_v3(d).ok()?;
            (m.msg_id == i64::from(id)).then_some(())?;
            let authed = m.flags & 1 != 0;
            if authed && !v3::verify(d, &m, &keys) {
                return Some(Err(Error::WrongDigest));
            }
            if authed {
                // RFC 3414 3.2 7b: an authentic message sets our notion of the agent's clock.
                let boots = u32::try_from(&m.usm.authoritative_engine_boots).unwrap_or(0);
                let time = u32::try_from(&m.usm.authoritative_engine_time).unwrap_or(0);
                if let Some(e) = s.engine.as_mut() {
                    if boots > e.boots || (boots == e.boots && time >= e.time_now()) {
                        e.boots = boots;
                        e.time = time;
                        e.at = Instant::now();
                    }
                }
            }
            let pdu = match v3::pdu(&m, &keys) {
                Ok(p) => p,
                Err(v3::OpenError::Decryption | v3::OpenError::Level) if authed => {
                    return Some(Err(Error::Decryption));
                }
                // An unauthenticated answer we cannot read: not ours to believe.
                Err(_) => return None,
            };
            let a = message::answer(&pdu)?;
            // Unauthenticated, only a report (a USM error) is believed; an answer must be
            // signed when the user authenticates.
            if !authed && !a.report && keys.auth.is_some() {
                return Some(Err(Error::WrongDigest));
            }
            Some(Ok(a))
        })
        .await
    }
}
