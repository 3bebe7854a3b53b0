//! Binding the intake sockets: each `[[syslog.listener]]`'s UDP socket (a thread each) and TCP
//! or TLS listener (an accept task; a listen backlog of 4,096 so that 2,000 senders reconnecting
//! at once are not held back by SYN retransmits), the TLS reload task, and the SNMP trap socket; and closing them again in the order
//! that loses nothing (stop accepting, let open TCP connections hand over what was sent).

use super::stages::socket_inode;
use super::{Bound, Error, thread};
use crate::config::Config;
use crate::ingest::{FrameSender, tcp, tls, udp};
use crate::telemetry::Metrics;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The bound sockets' threads and tasks.
pub(super) struct Sockets {
    udp_threads: Vec<JoinHandle<()>>,
    accept_tasks: Vec<tokio::task::JoinHandle<()>>,
    stop_udp: Arc<AtomicBool>,
    cancel: CancellationToken,
    tracker: TaskTracker,
}

/// Binds every listener of `config`, recording the addresses in `bound`.
pub(super) async fn bind(
    config: &Config,
    tls_peers: &Arc<crate::tls::peers::Peers>,
    metrics: &Arc<Metrics>,
    frame_tx: &FrameSender,
    snmp_id: u16,
    bound: &mut Bound,
) -> Result<Sockets, Error> {
    let data = &config.data_dir;
    let stop_udp = Arc::new(AtomicBool::new(false));
    let mut udp_threads = Vec::new();
    let cancel = CancellationToken::new();
    let tracker = TaskTracker::new();
    let mut accept_tasks = Vec::new();
    let tls_metrics = config
        .listeners
        .iter()
        .any(|l| l.tls.is_some())
        .then(|| tls::TlsMetrics::register(metrics));
    let mut intakes = Vec::new();
    for (i, l) in config.listeners.iter().enumerate() {
        let id = u16::try_from(i).unwrap_or(u16::MAX);
        if l.udp {
            let (sock, got) =
                udp::bind(l.address, config.udp_recv_buffer_bytes).map_err(|source| {
                    Error::Bind {
                        what: "syslog UDP",
                        addr: l.address,
                        source,
                    }
                })?;
            let addr = sock.local_addr().map_err(|source| Error::Bind {
                what: "syslog UDP",
                addr: l.address,
                source,
            })?;
            if got < config.udp_recv_buffer_bytes {
                tracing::warn!(listener = %l.name, requested = config.udp_recv_buffer_bytes, obtained = got, "UDP receive buffer is smaller than configured; raise net.core.rmem_max or run with CAP_NET_ADMIN.");
            }
            if let Some(lm) = metrics.listeners.get(i) {
                lm.udp_inode.store(socket_inode(&sock), Relaxed);
            }
            bound.syslog_udp.push(addr);
            let (tx, m, stop, max) = (
                frame_tx.clone(),
                metrics.clone(),
                stop_udp.clone(),
                config.max_frame_bytes,
            );
            udp_threads.push(thread("picket-udp", move || {
                udp::run(sock, id, max, tx, m, stop)
            })?);
        }
        let intake = match (&l.tls, &tls_metrics) {
            (Some(s), Some(m)) => {
                let watched =
                    crate::tls::reload::Watched::new(s.clone(), crate::tls::Purpose::Syslog)
                        .map_err(|e| Error::Tls {
                            listener: l.name.clone(),
                            detail: e.to_string(),
                        })?;
                let intake = Arc::new(tls::Intake {
                    listener: l.name.clone(),
                    watched: Arc::new(watched),
                    timeout: s.handshake_timeout,
                    metrics: m.clone(),
                    peers: tls_peers.clone(),
                });
                intakes.push(intake.clone());
                Some(intake)
            }
            _ => None,
        };
        if l.tcp || intake.is_some() {
            let what = if intake.is_some() {
                "syslog TLS"
            } else {
                "syslog TCP"
            };
            // With port 0, TCP takes the port UDP got when it is free, so one address serves both.
            let mut want = l.address;
            if want.port() == 0 {
                if let Some(u) = bound.syslog_udp.last().filter(|_| l.udp) {
                    want.set_port(u.port());
                }
            }
            let listener = match listen(want) {
                Ok(x) => Ok(x),
                Err(_) if want != l.address => listen(l.address),
                Err(e) => Err(e),
            }
            .map_err(|source| Error::Bind {
                what,
                addr: l.address,
                source,
            })?;
            let addr = listener.local_addr().map_err(|source| Error::Bind {
                what,
                addr: l.address,
                source,
            })?;
            if intake.is_some() {
                bound.syslog_tls.push(addr);
            } else {
                bound.syslog_tcp.push(addr);
            }
            let lim = tcp::Limits {
                max_frame: config.max_frame_bytes,
                max_connections: config.max_connections,
                idle_timeout: config.idle_timeout,
            };
            accept_tasks.push(tokio::spawn(tcp::run(
                listener,
                id,
                lim,
                frame_tx.clone(),
                metrics.clone(),
                cancel.clone(),
                tracker.clone(),
                intake,
            )));
        }
    }
    if !intakes.is_empty() {
        accept_tasks.push(tokio::spawn(tls::watch(
            intakes,
            RELOAD_CHECK,
            cancel.clone(),
        )));
    }
    if let Some(sc) = &config.snmp {
        let sock = crate::ingest::snmp::bind(sc.listen, config.udp_recv_buffer_bytes).map_err(
            |source| Error::Bind {
                what: "SNMP UDP",
                addr: sc.listen,
                source,
            },
        )?;
        bound.snmp = sock.local_addr().ok();
        if let Some(lm) = metrics.listeners.get(usize::from(snmp_id)) {
            lm.udp_inode.store(socket_inode(&sock), Relaxed);
        }
        let engine = crate::snmp::receiver::OwnEngine::load_or_create(data).map_err(|source| {
            Error::DataDir {
                path: data.join("snmp-engine").display().to_string(),
                source,
            }
        })?;
        tracing::info!(engine_id = %crate::snmp::receiver::hex(&engine.id), boots = engine.boots, users = sc.users.len(), "SNMP engine.");
        let receiver =
            crate::snmp::receiver::Receiver::new(sc.users.clone(), sc.communities.clone(), engine);
        let (tx, m, stop) = (frame_tx.clone(), metrics.clone(), stop_udp.clone());
        udp_threads.push(thread("picket-snmp", move || {
            crate::ingest::snmp::run(sock, snmp_id, receiver, tx, m, stop)
        })?);
    }
    Ok(Sockets {
        udp_threads,
        accept_tasks,
        stop_udp,
        cancel,
        tracker,
    })
}

/// How often TLS files are looked at for a renewal.
const RELOAD_CHECK: Duration = Duration::from_secs(2);

/// Pending connections the kernel queues before `accept` (Linux caps it at
/// `net.core.somaxconn`, 4,096 by default).
const BACKLOG: u32 = 4096;

/// A TCP listener with the long backlog.
fn listen(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let s = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    s.set_reuseaddr(true)?;
    s.bind(addr)?;
    s.listen(BACKLOG)
}

impl Sockets {
    /// Stops receiving: UDP threads are told to stop, TCP stops accepting and its connections
    /// get 10 s to hand over what their peers already sent. Returns the UDP threads to join
    /// once the stages behind them are told.
    pub(super) async fn close(self) -> Vec<JoinHandle<()>> {
        self.cancel.cancel();
        self.stop_udp.store(true, Relaxed);
        for t in self.accept_tasks {
            if let Err(e) = t.await {
                tracing::error!(error = %e, "A TCP accept task failed.");
            }
        }
        self.tracker.close();
        if tokio::time::timeout(Duration::from_secs(10), self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                "Some TCP connections did not finish within 10 s; what they sent later is not taken."
            );
        }
        self.udp_threads
    }
}
