//! The plumbing every page shares: the session cookie and who is signed in, the CSRF check,
//! running blocking work off the async threads, and turning a template or an error into a
//! response.

use super::{AppState, Dashboard};
use crate::auth::{Role, Session};
use askama::Template;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use std::net::SocketAddr;

pub(super) const COOKIE: &str = "picket_session";

/// The peer's address, when the server knows it.
pub struct PeerIp(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PeerIp {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(PeerIp(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map_or_else(|| "unknown".to_string(), |c| c.0.ip().to_string()),
        ))
    }
}

/// The client's address and whether it reached Picket over HTTPS. `X-Forwarded-For` and
/// `X-Forwarded-Proto` count only when the connection comes from one of `web.trusted_proxies`;
/// the client is then the right-most address in `X-Forwarded-For` that is not a trusted proxy
/// (what a client writes further left can be forged).
pub(super) fn client(d: &Dashboard, peer: &str, h: &HeaderMap) -> (String, bool) {
    let trusted = |ip: &str| {
        ip.trim()
            .parse::<std::net::IpAddr>()
            .is_ok_and(|a| d.trusted_proxies.iter().any(|n| n.contains(&a)))
    };
    if !trusted(peer) {
        return (peer.to_string(), false);
    }
    let forwarded: Vec<String> = h
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|a| a.trim().to_string())
        .filter(|a| a.parse::<std::net::IpAddr>().is_ok())
        .collect();
    let ip = forwarded
        .iter()
        .rev()
        .find(|a| !trusted(a))
        .or(forwarded.first())
        .cloned()
        .unwrap_or_else(|| peer.to_string());
    let https = h
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"));
    (ip, https)
}

pub(super) fn no_dashboard() -> Response {
    StatusCode::NOT_FOUND.into_response()
}

fn cookie_token(h: &HeaderMap) -> Option<String> {
    h.get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == COOKIE && !v.is_empty()).then(|| v.to_string())
        })
}

/// The session, or a redirect to the login page.
pub(super) async fn session(d: &Dashboard, h: &HeaderMap) -> Result<(String, Session), Response> {
    let Some(token) = cookie_token(h) else {
        return Err(Redirect::to("/login").into_response());
    };
    let users = d.users.clone();
    let t = token.clone();
    match tokio::task::spawn_blocking(move || users.session(&t)).await {
        Ok(Ok(Some(s))) => Ok((token, s)),
        Ok(Ok(None)) => Err(Redirect::to("/login").into_response()),
        Ok(Err(e)) => Err(internal(e)),
        Err(e) => Err(internal(e)),
    }
}

/// Who is signed in, for a page: the dashboard's stores and the session. Extracting it sends
/// anyone without a valid session to the login page (and answers 404 without a dashboard), so a
/// handler that takes one never runs unauthenticated. The session lookup runs off the async
/// threads.
pub struct CurrentUser {
    pub dash: Dashboard,
    pub session: Session,
}

impl CurrentUser {
    /// For a request that changes state: the dashboard and session when the form's CSRF token
    /// is the session's and the user's role is at least `need`, else the 403 to send (the body
    /// says `why`).
    // The error is the response to send, as axum's extractors reject with one.
    #[allow(clippy::result_large_err)]
    pub(super) fn allowed(
        self,
        csrf: &str,
        need: Role,
        why: &str,
    ) -> Result<(super::Dashboard, crate::auth::Session), Response> {
        if !csrf_ok(&self.session, csrf) {
            return Err(forbidden("missing or wrong CSRF token"));
        }
        if self.session.user.role < need {
            return Err(forbidden(why));
        }
        Ok((self.dash, self.session))
    }
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Response> {
        let (dash, session) = signed_in(s, &parts.headers).await?;
        Ok(CurrentUser { dash, session })
    }
}

/// The dashboard and the session of a signed-in request, or the response to send instead.
pub(super) async fn signed_in(
    s: &AppState,
    h: &HeaderMap,
) -> Result<(Dashboard, Session), Response> {
    let Some(d) = s.dash.clone() else {
        return Err(no_dashboard());
    };
    let (_, sess) = session(&d, h).await?;
    Ok((d, sess))
}

/// Runs blocking work (SQLite) off the async threads; an error becomes a 500.
pub(super) async fn blocking<
    T: Send + 'static,
    E: Into<super::error::WebError> + Send + 'static,
>(
    f: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, Response> {
    super::error::blocking(f)
        .await
        .map_err(IntoResponse::into_response)
}

/// A logged 500 with a generic body.
pub(super) fn internal(e: impl std::fmt::Display) -> Response {
    super::error::WebError::internal(e).into_response()
}

pub(super) fn page(t: impl Template) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => internal(e),
    }
}

pub(super) fn forbidden(why: &str) -> Response {
    (StatusCode::FORBIDDEN, why.to_string()).into_response()
}

/// Constant-time comparison of CSRF tokens.
pub(super) fn csrf_ok(s: &Session, given: &str) -> bool {
    let (a, b) = (s.csrf.as_bytes(), given.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
