//! Dashboard pages and forms.

use super::{AppState, Dashboard};
use crate::alerts::{Alert, State as AlertState};
use crate::auth::{Role, Session};
use crate::model::event::format_micros;
use crate::store::StoredEvent;
use askama::Template;
use axum::extract::{ConnectInfo, Form, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use std::net::SocketAddr;

const COOKIE: &str = "picket_session";

/// The peer's address, when the server knows it.
pub struct PeerIp(String);

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
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(internal(e)),
        Err(e) => Err(internal(e)),
    }
}

pub(super) fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "A web request failed.");
    (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
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

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    user: Option<String>,
    role: &'static str,
    csrf: String,
    error: Option<String>,
}

pub async fn login_form() -> Response {
    page(LoginPage {
        user: None,
        role: "",
        csrf: String::new(),
        error: None,
    })
}

#[derive(serde::Deserialize)]
pub struct LoginForm {
    user: String,
    password: String,
    /// The second-factor code, for users who set one up.
    #[serde(default)]
    code: String,
}

pub async fn login(
    State(s): State<AppState>,
    PeerIp(ip): PeerIp,
    Form(f): Form<LoginForm>,
) -> Response {
    let Some(d) = s.dash.clone() else {
        return no_dashboard();
    };
    let users = d.users.clone();
    let r =
        tokio::task::spawn_blocking(move || users.login_code(&f.user, &f.password, &f.code, &ip))
            .await;
    match r {
        Ok(Ok(Some((token, _)))) => {
            let mut cookie = format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict");
            if d.secure_cookie {
                cookie.push_str("; Secure");
            }
            let mut res = Redirect::to("/").into_response();
            match HeaderValue::from_str(&cookie) {
                Ok(v) => {
                    res.headers_mut().insert(header::SET_COOKIE, v);
                    res
                }
                Err(e) => internal(e),
            }
        }
        Ok(Ok(None)) => {
            let mut res = page(LoginPage {
                user: None,
                role: "",
                csrf: String::new(),
                error: Some(
                    "Wrong user, password or code, or too many attempts: wait a few minutes."
                        .into(),
                ),
            });
            *res.status_mut() = StatusCode::UNAUTHORIZED;
            res
        }
        Ok(Err(e)) => internal(e),
        Err(e) => internal(e),
    }
}

#[derive(serde::Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub async fn logout(State(s): State<AppState>, h: HeaderMap, Form(f): Form<CsrfForm>) -> Response {
    let Some(d) = s.dash.as_ref() else {
        return no_dashboard();
    };
    let (token, sess) = match session(d, &h).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if !csrf_ok(&sess, &f.csrf) {
        return forbidden("missing or wrong CSRF token");
    }
    if let Err(e) = d.users.logout(&token, &sess.user.name) {
        return internal(e);
    }
    let mut res = Redirect::to("/login").into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("picket_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    res
}

pub(super) struct AlertRow {
    pub(super) id: i64,
    pub(super) title: String,
    pub(super) level: String,
    pub(super) group: String,
    pub(super) state: String,
    pub(super) count: i64,
    pub(super) first: String,
    pub(super) last: String,
    pub(super) rule_id: String,
}

pub(super) fn alert_row(a: &Alert) -> AlertRow {
    AlertRow {
        id: a.id,
        title: a.title.clone(),
        level: a.level.clone(),
        group: a.group.clone(),
        state: a.state.clone(),
        count: a.count,
        first: format_micros(a.first_seen),
        last: format_micros(a.last_seen),
        rule_id: a.rule_id.clone(),
    }
}

struct HitRow {
    id: i64,
    time: String,
    sender: String,
    message: String,
    /// A copy the alert kept after retention removed the event from the store.
    kept: bool,
}

fn kept_row(k: &crate::alerts::Kept) -> HitRow {
    HitRow {
        id: k.event_id,
        time: format_micros(k.ts),
        sender: k.sender.clone(),
        message: visible(&k.message()),
        kept: true,
    }
}

/// Text safe to show: control characters made visible (escaping is the template's job).
pub(super) fn visible(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() && c != '\t' {
                format!("\\x{:02x}", u32::from(c))
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn hit_row(h: &StoredEvent) -> HitRow {
    HitRow {
        id: h.id,
        time: format_micros(h.event.timestamp),
        sender: h.event.peer.ip().to_string(),
        message: visible(&h.event.message()),
        kept: false,
    }
}

#[derive(Template)]
#[template(path = "event.html")]
struct EventPage {
    user: Option<String>,
    role: &'static str,
    csrf: String,
    id: i64,
    raw: String,
    message: String,
    groups: Vec<FieldGroup>,
    related: Vec<(String, String)>,
    /// Shown from an alert's copy (retention removed it from the store).
    kept: bool,
}

pub async fn event(State(s): State<AppState>, h: HeaderMap, Path(id): Path<i64>) -> Response {
    let (d, sess) = match signed_in(&s, &h).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let (reader, alerts) = (d.reader.clone(), d.alerts.clone());
    // An event retention removed from the store is shown from the copy an alert kept.
    let found = match tokio::task::spawn_blocking(move || {
        if let Some(ev) = reader.get(id).map_err(|e| e.to_string())? {
            let flat = ev.event.to_flat_json(&ev.listener);
            return Ok(Some((
                flat,
                ev.event.timestamp,
                ev.event.raw.to_vec(),
                ev.event.message().into_owned(),
                false,
            )));
        }
        let g = match alerts.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        Ok::<_, String>(g.kept_event(id).map_err(|e| e.to_string())?.map(|k| {
            let message = k.message();
            (k.flat(), k.ts, k.raw, message, true)
        }))
    })
    .await
    {
        Ok(Ok(x)) => x,
        Ok(Err(e)) => return internal(e),
        Err(e) => return internal(e),
    };
    let Some((flat, ts, raw, message, kept)) = found else {
        return (StatusCode::NOT_FOUND, "no such event").into_response();
    };
    let text = |k: &str| match flat.get(k) {
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(serde_json::Value::Null) | None => None,
        Some(other) => Some(other.to_string()),
    };
    // Related events: ±5 minutes around this one, by source address, sender and host.
    let t = ts;
    let (from, to) = (
        format_micros(t - 300_000_000),
        format_micros(t + 300_000_001),
    );
    let mut related = Vec::new();
    for (label, field) in [
        ("Same source address", "source.ip"),
        ("Same sender", "observer.ip"),
        ("Same host", "host.name"),
        ("Same user", "user.name"),
    ] {
        if let Some(v) = text(field) {
            let q = super::search::add_filter("", field, &v);
            related.push((
                format!("{label} ({v}), ±5 min"),
                format!(
                    "/search?q={}&from={}&to={}",
                    super::search::encode(&q),
                    super::search::encode(&from),
                    super::search::encode(&to)
                ),
            ));
        }
    }
    let mut groups: Vec<FieldGroup> = GROUPS
        .iter()
        .map(|(name, _)| FieldGroup {
            name,
            fields: Vec::new(),
        })
        .collect();
    for (k, v) in flat.iter().filter(|(k, _)| k.as_str() != "message") {
        let v = match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let g = GROUPS
            .iter()
            .position(|(_, test)| test(k))
            .unwrap_or(GROUPS.len() - 1);
        let href = format!(
            "/search?q={}",
            super::search::encode(&super::search::add_filter("", k, &v))
        );
        if let Some(group) = groups.get_mut(g) {
            group.fields.push((k.clone(), visible(&v), href));
        }
    }
    for g in &mut groups {
        g.fields.sort();
    }
    groups.retain(|g| !g.fields.is_empty());
    page(EventPage {
        user: Some(sess.user.name.clone()),
        role: sess.user.role.as_str(),
        csrf: sess.csrf.clone(),
        id,
        raw: visible_bytes(&raw),
        message: visible(&message),
        groups,
        related,
        kept,
    })
}

/// A group of the event page's fields: its name and (field, value, filter link).
struct FieldGroup {
    name: &'static str,
    fields: Vec<(String, String, String)>,
}

type GroupTest = fn(&str) -> bool;

/// The event page's field groups, in order; a field goes to the first that takes it.
const GROUPS: [(&str, GroupTest); 8] = [
    ("Threat", |k| k.starts_with("threat.")),
    ("Geo and AS", |k| k.contains(".geo.") || k.contains(".as.")),
    ("Network", |k| {
        [
            "source.",
            "destination.",
            "network.",
            "client.",
            "server.",
            "nat.",
        ]
        .iter()
        .any(|p| k.starts_with(p))
    }),
    ("User", |k| {
        k.starts_with("user.") || k.starts_with("group.")
    }),
    ("Event", |k| {
        (k.starts_with("event.") && k != "event.ingested") || k.starts_with("rule.")
    }),
    ("Syslog header and source", |k| {
        [
            "log.",
            "host.",
            "process.",
            "observer.",
            "picket.",
            "@timestamp",
            "event.ingested",
        ]
        .iter()
        .any(|p| k.starts_with(p))
    }),
    ("SNMP", |k| k.starts_with("snmp.")),
    ("Other", |_| true),
];

/// Raw bytes safe to show: valid UTF-8 with control characters made visible, every byte
/// that is not UTF-8 as `\xNN`.
pub(super) fn visible_bytes(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len());
    for chunk in b.utf8_chunks() {
        out.push_str(&visible(chunk.valid()));
        for x in chunk.invalid() {
            out.push_str(&format!("\\x{x:02x}"));
        }
    }
    out
}

#[derive(Template)]
#[template(path = "alerts.html")]
struct AlertsPage {
    user: Option<String>,
    role: &'static str,
    csrf: String,
    state: String,
    level: String,
    rule: String,
    levels: Vec<(&'static str, bool)>,
    alerts: Vec<AlertRow>,
}

#[derive(serde::Deserialize)]
pub struct AlertsParams {
    state: Option<String>,
    level: Option<String>,
    rule: Option<String>,
}

pub async fn alerts(
    State(s): State<AppState>,
    h: HeaderMap,
    Query(p): Query<AlertsParams>,
) -> Response {
    let (d, sess) = match signed_in(&s, &h).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let filter = crate::alerts::Filter {
        state: p.state.as_deref().and_then(|x| AlertState::parse(x).ok()),
        level: p.level.filter(|l| crate::rules::Level::parse(l).is_some()),
        rule: p.rule.filter(|r| !r.is_empty()),
    };
    let f2 = filter.clone();
    let r = tokio::task::spawn_blocking(move || match d.alerts.lock() {
        Ok(a) => a.list_filtered(&f2, 500),
        Err(p) => p.into_inner().list_filtered(&f2, 500),
    })
    .await;
    let list = match r {
        Ok(Ok(x)) => x,
        Ok(Err(e)) => return internal(e),
        Err(e) => return internal(e),
    };
    page(AlertsPage {
        user: Some(sess.user.name.clone()),
        role: sess.user.role.as_str(),
        csrf: sess.csrf.clone(),
        state: filter.state.map_or("", AlertState::as_str).to_string(),
        levels: ["informational", "low", "medium", "high", "critical"]
            .into_iter()
            .map(|l| (l, filter.level.as_deref() == Some(l)))
            .collect(),
        level: filter.level.unwrap_or_default(),
        rule: filter.rule.unwrap_or_default(),
        alerts: list.iter().map(alert_row).collect(),
    })
}

#[derive(Template)]
#[template(path = "alert.html")]
struct AlertPage {
    user: Option<String>,
    role: &'static str,
    csrf: String,
    a: AlertRow,
    can_change: bool,
    events: Vec<HitRow>,
    audit: Vec<(String, String, String, String)>,
}

pub async fn alert(State(s): State<AppState>, h: HeaderMap, Path(id): Path<i64>) -> Response {
    let (d, sess) = match signed_in(&s, &h).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let r = tokio::task::spawn_blocking(move || {
        let (a, audit, kept) = {
            let g = match d.alerts.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            let a = g.get(id).map_err(|e| e.to_string())?;
            let audit = g.audit(id).map_err(|e| e.to_string())?;
            let kept = g.evidence(id).map_err(|e| e.to_string())?;
            (a, audit, kept)
        };
        let mut events = Vec::new();
        if let Some(a) = &a {
            for eid in a.events.iter().rev().take(50) {
                if let Some(ev) = d.reader.get(*eid).map_err(|e| e.to_string())? {
                    events.push(hit_row(&ev));
                } else if let Some(k) = kept.iter().find(|k| k.event_id == *eid) {
                    // Retention removed it from the store; the alert kept a copy.
                    events.push(kept_row(k));
                }
            }
        }
        Ok::<_, String>((a, audit, events))
    })
    .await;
    let (a, audit, events) = match r {
        Ok(Ok(x)) => x,
        Ok(Err(e)) => return internal(e),
        Err(e) => return internal(e),
    };
    let Some(a) = a else {
        return (StatusCode::NOT_FOUND, "no such alert").into_response();
    };
    page(AlertPage {
        user: Some(sess.user.name.clone()),
        role: sess.user.role.as_str(),
        csrf: sess.csrf.clone(),
        can_change: sess.user.role >= Role::Analyst,
        a: alert_row(&a),
        events,
        audit: audit
            .into_iter()
            .map(|t| {
                (
                    format_micros(t.at),
                    t.actor,
                    t.action,
                    t.comment.unwrap_or_default(),
                )
            })
            .collect(),
    })
}

#[derive(serde::Deserialize)]
pub struct StateForm {
    #[serde(default)]
    csrf: String,
    to: String,
    #[serde(default)]
    comment: String,
}

pub async fn alert_state(
    State(s): State<AppState>,
    h: HeaderMap,
    Path(id): Path<i64>,
    Form(f): Form<StateForm>,
) -> Response {
    let (d, sess) = match signed_in_to_change(
        &s,
        &h,
        &f.csrf,
        Role::Analyst,
        "your role cannot change alerts",
    )
    .await
    {
        Ok(x) => x,
        Err(r) => return r,
    };
    // `comment` adds to the history only; the others change the state.
    let to = match f.to.as_str() {
        "comment" if f.comment.trim().is_empty() => {
            return (StatusCode::BAD_REQUEST, "the comment is empty").into_response();
        }
        "comment" => None,
        other => match AlertState::parse(other) {
            Ok(t) => Some(t),
            Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
        },
    };
    let name = sess.user.name.clone();
    let r = tokio::task::spawn_blocking(move || {
        let comment = Some(f.comment.trim()).filter(|c| !c.is_empty());
        let mut g = match d.alerts.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let r = match to {
            Some(to) => g.set_state(id, to, &name, comment, d.router.as_ref()),
            None => g.comment(id, &name, comment.unwrap_or_default()),
        };
        if r.is_ok() {
            // Alert changes are in each alert's history and in the security log.
            let what = to.map_or("alert_commented", |t| match t {
                AlertState::Acknowledged => "alert_acknowledged",
                AlertState::Resolved => "alert_resolved",
                AlertState::Open => "alert_reopened",
            });
            d.users.audit(&name, what, &format!("alert {id}"));
        }
        r
    })
    .await;
    match r {
        Ok(Ok(_)) => Redirect::to(&format!("/alerts/{id}")).into_response(),
        Ok(Err(e @ crate::alerts::Error::Transition { .. })) => {
            (StatusCode::CONFLICT, e.to_string()).into_response()
        }
        Ok(Err(crate::alerts::Error::NotFound(_))) => {
            (StatusCode::NOT_FOUND, "no such alert").into_response()
        }
        Ok(Err(e)) => internal(e),
        Err(e) => internal(e),
    }
}
