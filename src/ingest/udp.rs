//! The UDP syslog listener: a dedicated thread per socket, reading with `recvmmsg` so that a
//! burst costs one system call per batch (it blocks for the first datagram, then takes what is
//! already queued). The receive buffer is set large (past `rmem_max` when running as root) so
//! bursts wait in the kernel rather than being dropped; the kernel's own drop counter for the
//! socket is exported with the metrics. Datagrams longer than the maximum are cut and counted.
#![warn(clippy::indexing_slicing)]

use super::{FrameSender, SendError};
use crate::model::clock::now_micros;
use crate::model::{Frame, ListenerId, Transport};
use crate::telemetry::events::{FrameTruncated, FramesDropped};
use crate::telemetry::{DropReason, Metrics};
use bytes::Bytes;
use nix::sys::socket::{
    MsgFlags, MultiHeaders, SockaddrLike, SockaddrStorage, recvmmsg, setsockopt, sockopt,
};
use std::io::IoSliceMut;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Duration;

/// Datagrams taken per system call.
const BATCH: usize = 64;

/// Binds a UDP socket with the requested receive buffer; returns it and the size obtained.
pub fn bind(addr: SocketAddr, recv_buffer: usize) -> std::io::Result<(UdpSocket, usize)> {
    let domain = if addr.is_ipv6() {
        socket2::Domain::IPV6
    } else {
        socket2::Domain::IPV4
    };
    let sock = socket2::Socket::new(domain, socket2::Type::DGRAM, Some(socket2::Protocol::UDP))?;
    if addr.is_ipv6() {
        sock.set_only_v6(true)?;
    }
    // SO_RCVBUFFORCE passes net.core.rmem_max when we have CAP_NET_ADMIN; otherwise fall back.
    if setsockopt(&sock, sockopt::RcvBufForce, &recv_buffer).is_err() {
        sock.set_recv_buffer_size(recv_buffer)?;
    }
    sock.bind(&addr.into())?;
    sock.set_read_timeout(Some(Duration::from_millis(100)))?;
    let got = sock.recv_buffer_size()?;
    Ok((sock.into(), got))
}

/// Receives until `stop` is set, then returns. Runs on its own thread.
pub fn run(
    sock: UdpSocket,
    listener: ListenerId,
    max_frame: usize,
    tx: FrameSender,
    metrics: Arc<Metrics>,
    stop: Arc<AtomicBool>,
) {
    let name = metrics
        .listeners
        .get(usize::from(listener))
        .map_or("?", |l| l.name.as_str())
        .to_string();
    // One spare byte per slot tells a datagram of exactly max bytes from a longer one.
    let mut bufs: Vec<Vec<u8>> = (0..BATCH).map(|_| vec![0u8; max_frame + 1]).collect();
    let fd = sock.as_raw_fd();
    // Once asked to stop, take what is already in the socket buffer without waiting, then end:
    // datagrams the kernel accepted before the stop are stored too.
    let mut draining = false;
    loop {
        if !draining && stop.load(Relaxed) {
            draining = true;
        }
        let flags = if draining {
            MsgFlags::MSG_DONTWAIT
        } else {
            MsgFlags::MSG_WAITFORONE
        };
        let got: Vec<(usize, Option<SocketAddr>)> = {
            let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
            let mut iovs: Vec<[IoSliceMut<'_>; 1]> = bufs
                .iter_mut()
                .map(|b| [IoSliceMut::new(b.as_mut_slice())])
                .collect();
            match recvmmsg(fd, &mut headers, iovs.iter_mut(), flags, None) {
                Ok(results) => results
                    .map(|r| (r.bytes, r.address.and_then(|a| to_std(&a))))
                    .collect(),
                Err(nix::errno::Errno::EAGAIN) if draining => return,
                Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => continue,
                Err(e) => {
                    tracing::error!(listener = %name, error = %e, "UDP receive failed; retrying.");
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                }
            }
        };
        let received_at = now_micros();
        let mut frames = Vec::with_capacity(got.len());
        let mut bytes_total = 0u64;
        for (i, (n, peer)) in got.into_iter().enumerate() {
            let Some(peer) = peer else { continue };
            let Some(buf) = bufs.get(i) else { continue };
            let truncated = n > max_frame;
            let mut data = buf.get(..n.min(max_frame)).unwrap_or_default();
            if truncated {
                FrameTruncated {
                    peer,
                    listener: &name,
                    max: max_frame,
                }
                .emit(&metrics);
            }
            // Senders often end datagrams with LF, CRLF or NUL; they are framing, not content.
            while let Some((last, rest)) = data.split_last() {
                if matches!(last, b'\n' | b'\r' | b'\0') {
                    data = rest;
                } else {
                    break;
                }
            }
            if data.is_empty() {
                continue;
            }
            bytes_total += data.len() as u64;
            frames.push(Frame {
                bytes: Bytes::copy_from_slice(data),
                peer,
                listener,
                transport: Transport::Udp,
                received_at,
                truncated,
            });
        }
        if frames.is_empty() {
            continue;
        }
        let n = frames.len() as u64;
        metrics.add_received(listener, n, bytes_total);
        match tx.try_send(frames) {
            Ok(()) => {}
            Err(SendError::Full(_)) => FramesDropped {
                // A full queue behind a full spool is the spool's doing: say so.
                reason: if metrics.disk_full.is_set() {
                    DropReason::DiskFull
                } else if metrics.spool_full.is_set() {
                    DropReason::SpoolFull
                } else {
                    DropReason::QueueFull
                },
                count: n,
                listener: &name,
            }
            .emit(&metrics),
            Err(SendError::Closed) => return,
        }
    }
}

fn to_std(a: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = a.as_sockaddr_in() {
        return Some(SocketAddr::V4(std::net::SocketAddrV4::from(*v4)));
    }
    if let Some(v6) = a.as_sockaddr_in6() {
        return Some(SocketAddr::V6(std::net::SocketAddrV6::from(*v6)));
    }
    let _ = a.family();
    None
}
