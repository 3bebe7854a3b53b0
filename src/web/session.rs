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

/// [`signed_in`] for a request that changes state: the form's CSRF token must be the
/// session's, and the user's role at least `need` (else 403 saying `why`).
pub(super) async fn signed_in_to_change(
    s: &AppState,
    h: &HeaderMap,
    csrf: &str,
    need: Role,
    why: &str,
) -> Result<(Dashboard, Session), Response> {
    let (d, sess) = signed_in(s, h).await?;
    if !csrf_ok(&sess, csrf) {
        return Err(forbidden("missing or wrong CSRF token"));
    }
    if sess.user.role < need {
        return Err(forbidden(why));
    }
    Ok((d, sess))
}

/// Runs blocking work (SQLite) off the async threads; an error becomes a 500.
pub(super) async fn blocking<T: Send + 'static, E: std::fmt::Display + Send + 'static>(
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
