//! The TLS syslog listener's own part (RFC 5425): the handshake of each accepted connection, with
//! a timeout, counted by outcome; the client certificate's subject and fingerprint, logged per
//! connection; and the task that reloads renewed certificates (file changes, SIGHUP). The accept
//! loop, the connection limit and the framed reader are the TCP listener's (`tcp.rs`).

use crate::telemetry::{Counter, Gauge, Labeled, Metrics};
use crate::tls::reload::{Checked, Watched};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;

/// Handshake outcomes, the `result` label of `picket_tls_handshakes_total`.
pub const RESULTS: [&str; 11] = [
    "ok",
    "no_certificate",
    "unknown_ca",
    "name_not_permitted",
    "fingerprint_not_permitted",
    "bad_certificate",
    "protocol_version",
    "incompatible",
    "protocol_error",
    "timeout",
    "aborted",
];

/// The TLS listeners' metrics (registered once, shared by every TLS listener).
#[derive(Clone, Debug)]
pub struct TlsMetrics {
    handshakes: Labeled,
    reloads_ok: Counter,
    reloads_failed: Counter,
    expiry: Labeled<Gauge>,
}

impl TlsMetrics {
    /// Registers `picket_tls_*` in `/metrics`.
    pub fn register(m: &Metrics) -> Self {
        let handshakes = Labeled::new("result");
        handshakes.declare(&RESULTS);
        let reloads = Labeled::new("result");
        let t = TlsMetrics {
            reloads_ok: reloads.counter("ok"),
            reloads_failed: reloads.counter("failed"),
            handshakes,
            expiry: Labeled::new("listener"),
        };
        m.register(
            "picket_tls_handshakes_total",
            "TLS handshakes on the syslog listeners, by result (ok or why refused).",
            t.handshakes.clone(),
        );
        m.register(
            "picket_tls_reloads_total",
            "Reloads of TLS certificate files (ok: in use; failed: the previous ones stay).",
            reloads,
        );
        m.register(
            "picket_tls_certificate_expiry_seconds",
            "End of the served certificate's validity, seconds since the epoch, by listener.",
            t.expiry.clone(),
        );
        t
    }
}

/// What a TLS listener needs for each connection.
#[derive(Debug)]
pub struct Intake {
    /// The listener's name.
    pub listener: String,
    /// The configuration, kept current with its files.
    pub watched: Arc<Watched>,
    /// Handshakes not done in this time are dropped.
    pub timeout: Duration,
    /// Counters.
    pub metrics: TlsMetrics,
    /// Where each sender's client certificate is recorded (shown on the senders page).
    pub peers: Arc<crate::tls::peers::Peers>,
}

impl Intake {
    /// Runs the server side of the handshake; `None` (counted) if it fails, times out or
    /// shutdown starts first.
    pub async fn handshake(
        &self,
        stream: TcpStream,
        peer: SocketAddr,
        cancel: &CancellationToken,
    ) -> Option<TlsStream<TcpStream>> {
        let acceptor = tokio_rustls::TlsAcceptor::from(self.watched.current());
        let done = tokio::select! {
            _ = cancel.cancelled() => return None,
            r = tokio::time::timeout(self.timeout, acceptor.accept(stream)) => r,
        };
        let result = match done {
            Err(_) => Err(("timeout", String::new())),
            Ok(Ok(s)) => Ok(s),
            Ok(Err(e)) => Err((
                e.get_ref()
                    .and_then(|i| i.downcast_ref::<rustls::Error>())
                    .map_or("aborted", crate::tls::verify::reason),
                e.to_string(),
            )),
        };
        match result {
            Ok(s) => {
                self.metrics.handshakes.add("ok", 1);
                let conn = s.get_ref().1;
                let client = conn
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .and_then(|c| crate::tls::files::info(c));
                self.peers.record(
                    peer.ip(),
                    crate::tls::peers::Peer {
                        listener: self.listener.clone(),
                        subject: client.as_ref().map(|c| c.subject.clone()),
                        fingerprint: client.as_ref().map(|c| c.fingerprint.to_string()),
                        at: crate::model::clock::now_micros(),
                    },
                );
                tracing::debug!(
                    peer = %peer,
                    listener = %self.listener,
                    version = ?conn.protocol_version(),
                    subject = client.as_ref().map(|c| c.subject.as_str()),
                    fingerprint = client.as_ref().map(|c| c.fingerprint.to_string()),
                    "TLS connection."
                );
                Some(s)
            }
            Err((reason, detail)) => {
                self.metrics.handshakes.add(reason, 1);
                static LIMIT: crate::telemetry::events::RateLimit =
                    crate::telemetry::events::RateLimit::new(10);
                if let Some(more) = LIMIT.occurred() {
                    tracing::warn!(peer = %peer, listener = %self.listener, reason, detail, suppressed = more, "Refused a TLS connection.");
                }
                None
            }
        }
    }
}

/// Reloads each listener's files when they change (looked at every `every`) and on SIGHUP,
/// until `cancel`, counting and logging each reload.
pub async fn watch(intakes: Vec<Arc<Intake>>, every: Duration, cancel: CancellationToken) {
    for i in &intakes {
        i.metrics
            .expiry
            .handle(&i.listener)
            .set(i.watched.not_after());
    }
    let watched = intakes.iter().map(|i| i.watched.clone()).collect();
    crate::tls::reload::watch(watched, every, cancel, move |n, checked| {
        let Some(i) = intakes.get(n) else { return };
        match checked {
            Checked::Unchanged => {}
            Checked::Reloaded => {
                i.metrics.reloads_ok.inc();
                i.metrics
                    .expiry
                    .handle(&i.listener)
                    .set(i.watched.not_after());
                tracing::info!(listener = %i.listener, "TLS certificate reloaded; new handshakes use it.");
            }
            Checked::Failed(e) => {
                i.metrics.reloads_failed.inc();
                tracing::error!(listener = %i.listener, error = %e, "TLS files changed but cannot be used; the previous certificate stays in use.");
            }
        }
    })
    .await;
}
