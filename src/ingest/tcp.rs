//! The TCP syslog listener: an accept loop with a connection limit, and per connection a
//! framed reader (LF or octet counting, per frame) with an idle timeout. A TLS listener
//! (RFC 5425) is the same loop with a handshake first (`tls.rs`), then the same reader. Frames read from one
//! socket read are sent as one batch with `send().await`, so a full queue slows the sender
//! down instead of losing data. I/O errors close that connection only; nothing a peer sends
//! stops the listener.

use super::FrameSender;
use super::framing::SyslogDecoder;
use crate::model::clock::now_micros;
use crate::model::{Frame, ListenerId, Transport};
use crate::telemetry::Metrics;
use crate::telemetry::events::{FrameTruncated, TcpConnectionError, TcpConnectionRejected};
use bytes::BytesMut;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::codec::Decoder;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

/// Per-connection settings.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest frame kept.
    pub max_frame: usize,
    /// Concurrent connections.
    pub max_connections: usize,
    /// Close a connection silent for this long.
    pub idle_timeout: Duration,
}

/// Accepts connections until `cancel`; connection tasks are tracked by `tracker`. With `tls`,
/// each connection starts with a TLS handshake.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    listener: TcpListener,
    id: ListenerId,
    limits: Limits,
    tx: FrameSender,
    metrics: Arc<Metrics>,
    cancel: CancellationToken,
    tracker: TaskTracker,
    tls: Option<Arc<super::tls::Intake>>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let accepted = tokio::select! {
            _ = cancel.cancelled() => return,
            a = listener.accept() => a,
        };
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // EMFILE and friends: back off briefly rather than spin.
                tracing::warn!(error = %e, "TCP accept failed.");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            TcpConnectionRejected {
                peer,
                limit: limits.max_connections,
            }
            .emit(&metrics);
            drop(stream);
            continue;
        };
        metrics.tcp_accepted.inc_by(1);
        metrics.tcp_connections.inc_by(1);
        let (tx, metrics, cancel, tls) = (tx.clone(), metrics.clone(), cancel.clone(), tls.clone());
        let span = tracing::debug_span!("tcp", peer = %peer);
        tracker.spawn(
            async move {
                let reader = Reader {
                    peer,
                    id,
                    limits,
                    tx: &tx,
                    metrics: &metrics,
                    cancel: &cancel,
                };
                match tls {
                    None => reader.connection(stream, Transport::Tcp).await,
                    Some(t) => {
                        if let Some(s) = t.handshake(stream, peer, &cancel).await {
                            reader.connection(s, Transport::Tls).await;
                        }
                    }
                }
                metrics.tcp_connections.dec_by(1);
                drop(permit);
            }
            .instrument(span),
        );
    }
}

/// What one connection's reader needs.
#[derive(Clone, Copy)]
struct Reader<'a> {
    peer: SocketAddr,
    id: ListenerId,
    limits: Limits,
    tx: &'a FrameSender,
    metrics: &'a Metrics,
    cancel: &'a CancellationToken,
}

impl Reader<'_> {
    /// Reads frames until the peer closes, goes idle or errs, or shutdown has taken what it
    /// sent; then closes its side (for TLS, `close_notify`).
    async fn connection<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        mut stream: S,
        transport: Transport,
    ) {
        self.read(&mut stream, transport).await;
        tokio::time::timeout(Duration::from_secs(1), stream.shutdown())
            .await
            .map_or(Ok(()), |r| r)
            .unwrap_or(());
    }

    async fn read<S: AsyncRead + Unpin>(&self, stream: &mut S, transport: Transport) {
        let Reader {
            peer,
            id,
            limits,
            tx,
            metrics,
            cancel,
        } = *self;
        let name = metrics
            .listeners
            .get(usize::from(id))
            .map_or("?", |l| l.name.as_str());
        let mut decoder = SyslogDecoder::new(limits.max_frame);
        let mut buf = BytesMut::with_capacity(64 * 1024);
        let mut stopping = false;
        loop {
            let read = if stopping {
                // Shutting down: take what the peer already sent, without waiting for more.
                match tokio::time::timeout(Duration::from_millis(50), stream.read_buf(&mut buf))
                    .await
                {
                    Ok(r) => r,
                    Err(_) => Ok(0),
                }
            } else {
                tokio::select! {
                    _ = cancel.cancelled() => { stopping = true; continue; }
                    r = tokio::time::timeout(limits.idle_timeout, stream.read_buf(&mut buf)) => match r {
                        Ok(r) => r,
                        Err(_) => {
                            metrics.tcp_idle_closed.inc_by(1);
                            tracing::debug!(peer = %peer, "Closed an idle TCP connection.");
                            Ok(0)
                        }
                    },
                }
            };
            let eof = match read {
                Ok(0) => true,
                Ok(_) => false,
                Err(e) => {
                    TcpConnectionError { peer, error: &e }.emit();
                    true
                }
            };
            let received_at = now_micros();
            let mut frames = Vec::new();
            let mut bytes = 0u64;
            loop {
                let next = if eof {
                    decoder.decode_eof(&mut buf)
                } else {
                    decoder.decode(&mut buf)
                };
                match next {
                    Ok(Some(f)) => {
                        if f.truncated {
                            FrameTruncated {
                                peer,
                                listener: name,
                                max: limits.max_frame,
                            }
                            .emit(metrics);
                        }
                        bytes += f.bytes.len() as u64;
                        frames.push(Frame {
                            bytes: f.bytes,
                            peer,
                            listener: id,
                            transport,
                            received_at,
                            truncated: f.truncated,
                        });
                    }
                    Ok(None) => break,
                    Err(e) => {
                        TcpConnectionError { peer, error: &e }.emit();
                        break;
                    }
                }
            }
            if !frames.is_empty() {
                metrics.add_received(id, frames.len() as u64, bytes);
                if tx.send(frames).await.is_err() {
                    return;
                }
            }
            if eof {
                return;
            }
        }
    }
}
