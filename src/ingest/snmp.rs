//! The SNMP trap listener: one thread on a UDP socket. Each datagram is checked by the
//! [`Receiver`]; accepted notifications go into the intake queue (and from there the spool) as
//! frames with transport `snmp`, answers to informs and discovery go straight back, and
//! refusals are counted by reason. Authentication failures also become one stored security
//! event per sender and reason per minute.

use super::{FrameSender, SendError};
use crate::model::{Frame, ListenerId, Transport};
use crate::snmp::message::Version;
use crate::snmp::receiver::{NOTICE, Receiver, Reject, Verdict};
use crate::telemetry::{DropReason, Metrics};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// The largest datagram read (a 64 KiB datagram is read whole and refused as malformed when
/// it is not SNMP).
const MAX_DATAGRAM: usize = 65_536;
/// One security event per sender and reason in this window; the rest are counted into it.
const NOTICE_WINDOW: Duration = Duration::from_secs(60);

/// Binds the SNMP socket (with a large receive buffer, as for syslog).
pub fn bind(addr: SocketAddr, recv_buffer: usize) -> std::io::Result<UdpSocket> {
    let (sock, _got) = super::udp::bind(addr, recv_buffer)?;
    sock.set_read_timeout(Some(Duration::from_millis(200)))?;
    Ok(sock)
}

/// Receives until `stop` is set.
pub fn run(
    sock: UdpSocket,
    listener: ListenerId,
    mut receiver: Receiver,
    tx: FrameSender,
    metrics: Arc<Metrics>,
    stop: Arc<AtomicBool>,
) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut notices: HashMap<(IpAddr, Reject), (Instant, u64)> = HashMap::new();
    let lm = metrics.listeners.get(usize::from(listener));
    while !stop.load(Relaxed) {
        let (n, peer) = match sock.recv_from(&mut buf) {
            Ok(x) => x,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) =>
            {
                flush_notices(&mut notices, listener, &tx, &metrics, false);
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "SNMP socket receive failed.");
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        if let Some(l) = lm {
            l.received.inc_by(1);
            l.received_bytes.inc_by(n as u64);
        }
        // With a full disk nothing can be spooled: nothing is answered either, so an inform's
        // sender retries later instead of believing it was stored.
        if metrics.disk_full.is_set() {
            crate::telemetry::events::FramesDropped {
                reason: DropReason::DiskFull,
                count: 1,
                listener: "snmp",
            }
            .emit(&metrics);
            continue;
        }
        let datagram = buf.get(..n).unwrap_or_default();
        let received_at = chrono::Utc::now().timestamp_micros();
        match receiver.handle(datagram, peer) {
            Verdict::Accept {
                stored,
                reply,
                duplicate,
                version,
            } => {
                if let Some(r) = reply {
                    if sock.send_to(&r, peer).is_ok() {
                        metrics.snmp_informs_answered.inc_by(1);
                    }
                }
                if duplicate {
                    metrics.snmp_inform_duplicates.inc_by(1);
                    continue;
                }
                let i = match version {
                    Version::V1 => 0,
                    Version::V2c => 1,
                    Version::V3 => 2,
                };
                if let Some(c) = metrics.snmp_accepted.get(i) {
                    c.inc();
                }
                send(&tx, &metrics, frame(stored, peer, listener, received_at));
            }
            Verdict::Reply(r) => {
                if sock.send_to(&r, peer).is_ok() {
                    metrics.snmp_reports.inc_by(1);
                }
            }
            Verdict::Reject {
                reason,
                reply,
                who,
                detail,
            } => {
                metrics.snmp_rejected.add(reason.as_str(), 1);
                if let Some(r) = reply {
                    if sock.send_to(&r, peer).is_ok() {
                        metrics.snmp_reports.inc_by(1);
                    }
                }
                if reason.is_auth_failure() {
                    let entry = notices
                        .entry((peer.ip(), reason))
                        .or_insert((Instant::now(), 0));
                    entry.1 += 1;
                    if entry.1 == 1 {
                        // The first of a window is stored at once; the rest are summed into
                        // one more event when the window closes.
                        let body = notice_json(reason, &who, &detail, 1);
                        send(&tx, &metrics, frame(body, peer, listener, received_at));
                        metrics.snmp_security_events.inc_by(1);
                        tracing::warn!(%peer, reason = reason.as_str(), who, detail, "SNMP authentication failure.");
                    }
                }
            }
        }
        if notices.len() > 10_000 {
            flush_notices(&mut notices, listener, &tx, &metrics, true);
        }
    }
    flush_notices(&mut notices, listener, &tx, &metrics, true);
}

fn frame(bytes: Vec<u8>, peer: SocketAddr, listener: ListenerId, received_at: i64) -> Frame {
    Frame {
        bytes: bytes.into(),
        peer,
        listener,
        transport: Transport::Snmp,
        received_at,
        truncated: false,
    }
}

fn send(tx: &FrameSender, metrics: &Metrics, f: Frame) {
    match tx.try_send(vec![f]) {
        Ok(()) => {}
        Err(SendError::Full(frames)) => {
            metrics.add_dropped(DropReason::QueueFull, frames.len() as u64)
        }
        Err(SendError::Closed) => metrics.add_dropped(DropReason::QueueFull, 1),
    }
}

fn notice_json(reason: Reject, who: &str, detail: &str, count: u64) -> Vec<u8> {
    let mut out = vec![NOTICE];
    let v = serde_json::json!({
        "reason": reason.as_str(),
        "who": who,
        "detail": detail,
        "count": count,
    });
    out.extend_from_slice(v.to_string().as_bytes());
    out
}

/// Closes notice windows older than a minute (all of them when `all`): a window that saw more
/// failures than the one already stored stores one more event with the count of the rest.
fn flush_notices(
    notices: &mut HashMap<(IpAddr, Reject), (Instant, u64)>,
    listener: ListenerId,
    tx: &FrameSender,
    metrics: &Metrics,
    all: bool,
) {
    let now = Instant::now();
    notices.retain(|(ip, reason), (since, count)| {
        if !all && now.duration_since(*since) < NOTICE_WINDOW {
            return true;
        }
        if *count > 1 {
            let body = notice_json(
                *reason,
                "",
                "further failures in the last minute",
                *count - 1,
            );
            let peer = SocketAddr::new(*ip, 0);
            send(
                tx,
                metrics,
                frame(body, peer, listener, chrono::Utc::now().timestamp_micros()),
            );
            metrics.snmp_security_events.inc_by(1);
        }
        false
    });
}
