//! HTTPS for the dashboard and API (`web.tls_cert`, `web.tls_key`): a listener that hands axum
//! connections whose TLS handshake is done. Handshakes run in their own tasks with a timeout, so
//! a slow or silent client never holds up the next one; the certificate is the one current when
//! the handshake starts (renewals are picked up by `tls::reload`). Also the plain-HTTP port that
//! only redirects to HTTPS (`web.redirect_listen`).

use crate::tls::reload::Watched;
use axum::response::{IntoResponse, Redirect, Response};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;

/// Handshakes in progress at most; more connections wait in the accept queue.
const HANDSHAKES: usize = 256;
/// A client that has not finished its handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections past their TLS handshake, for `axum::serve`.
pub struct HttpsListener {
    rx: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl HttpsListener {
    /// Accepts on `tcp` until `cancel`, handshaking with the configuration `watched` holds.
    pub fn start(
        tcp: TcpListener,
        watched: Arc<Watched>,
        cancel: CancellationToken,
    ) -> std::io::Result<Self> {
        let local = tcp.local_addr()?;
        let (tx, rx) = mpsc::channel(64);
        tokio::spawn(accept(tcp, watched, tx, cancel));
        Ok(HttpsListener { rx, local })
    }
}

async fn accept(
    tcp: TcpListener,
    watched: Arc<Watched>,
    tx: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
    cancel: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(HANDSHAKES));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let (stream, peer) = tokio::select! {
            _ = cancel.cancelled() => return,
            a = tcp.accept() => match a {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "HTTPS accept failed.");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let acceptor = tokio_rustls::TlsAcceptor::from(watched.current());
        let tx = tx.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(s)) => {
                    drop(permit);
                    tx.send((s, peer)).await.unwrap_or(());
                }
                Ok(Err(e)) => tracing::debug!(peer = %peer, error = %e, "HTTPS handshake failed."),
                Err(_) => tracing::debug!(peer = %peer, "HTTPS handshake timed out."),
            }
        });
    }
}

impl axum::serve::Listener for HttpsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(c) => c,
            // The accept task stopped (shutdown): wait for axum to stop asking.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// The plain-HTTP port's only answer: 308 to the same path on the HTTPS port.
pub fn redirect_router(https_port: u16) -> axum::Router {
    axum::Router::new()
        .fallback(move |req: axum::extract::Request| async move { redirect(&req, https_port) })
}

fn redirect(req: &axum::extract::Request, https_port: u16) -> Response {
    let host = req
        .headers()
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    // The host without its port (an IPv6 literal keeps its brackets).
    let name = match host.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) && !h.ends_with(':') => h,
        _ => host,
    };
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.[]:".contains(&b))
    {
        return axum::http::StatusCode::BAD_REQUEST.into_response();
    }
    let path = req
        .uri()
        .path_and_query()
        .map_or("/", axum::http::uri::PathAndQuery::as_str);
    let port = if https_port == 443 {
        String::new()
    } else {
        format!(":{https_port}")
    };
    Redirect::permanent(&format!("https://{name}{port}{path}")).into_response()
}
