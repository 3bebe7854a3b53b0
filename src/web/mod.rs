//! The web layer: `/healthz`, `/metrics`, and the dashboard (login, overview, search, event
//! detail, alerts), server-rendered with askama (escaping on), stylesheet compiled in.
//!
//! Every page needs a session (a cookie holding a random token, stored hashed); without one it
//! redirects to `/login`. Every form that changes state carries the session's CSRF token, and
//! changing an alert needs the analyst role.

mod account;
mod admin;
mod alerts;
mod api;
mod error;
mod event;
mod headers;
pub mod https;
mod login;
mod manage;
mod overview;
mod search;
mod session;
mod stream;
mod text;
mod urls;

use crate::alerts::Alerts;
use crate::auth::Users;
use crate::store::EventReader;
use crate::telemetry::Metrics;
use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use std::sync::{Arc, Mutex};

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The process's counters.
    pub metrics: Arc<Metrics>,
    /// The dashboard's data, when it is served.
    pub dash: Option<Dashboard>,
}

/// The stores the dashboard reads and changes.
#[derive(Clone)]
pub struct Dashboard {
    pub users: Arc<Users>,
    pub reader: Arc<dyn EventReader>,
    pub alerts: Arc<Mutex<Alerts>>,
    pub router: Arc<dyn crate::alerts::Router + Send + Sync>,
    /// Mark the session cookie `Secure` (set when Picket is served over HTTPS).
    pub secure_cookie: bool,
    /// The TLS senders' client certificates (senders page).
    pub tls_peers: Arc<crate::tls::peers::Peers>,
    /// Proxies whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The rules loaded at start, their problems, and which are switched off.
    pub rules: Arc<RuleBook>,
}

/// What the rules page shows and changes.
#[derive(Default)]
pub struct RuleBook {
    /// The rules engine runs (`rules.enabled`).
    pub running: bool,
    /// Every rule that loaded.
    pub meta: Vec<crate::rules::RuleMeta>,
    /// Rule file texts by file name.
    pub sources: std::collections::HashMap<String, String>,
    /// Files or rules that did not load, and why.
    pub problems: Vec<crate::rules::Problem>,
    /// Rules switched off, shared with the rules thread.
    pub disabled: crate::rules::run::Disabled,
}

const STYLE: &str = include_str!("../../static/style.css");
const SCRIPT: &str = include_str!("../../static/app.js");

/// Every route, in one place.
pub fn router(state: AppState) -> Router {
    let r = Router::new()
        .route("/healthz", get(healthz))
        .route("/livez", get(livez))
        .route("/metrics", get(metrics))
        .route("/static/style.css", get(style))
        .route("/static/app.js", get(script));
    let r = if state.dash.is_some() {
        r.route("/login", get(login::login_form).post(login::login))
            .route("/logout", post(login::logout))
            .route("/", get(overview::overview))
            .route("/search", get(search::search))
            .route("/search/histogram.svg", get(search::histogram))
            .route("/searches", post(search::save))
            .route("/searches/{id}/delete", post(search::delete_saved))
            .route("/tail", get(stream::tail_page))
            .route("/tail/stream", get(stream::tail_stream))
            .route("/export", get(stream::export))
            .route("/events/{id}", get(event::event))
            .route("/alerts", get(alerts::alerts))
            .route("/alerts/{id}", get(alerts::alert))
            .route("/alerts/{id}/state", post(alerts::alert_state))
            .route("/account", get(account::account))
            .route("/account/totp", post(account::totp))
            .route("/rules", get(manage::rules))
            .route("/rules/{id}", get(manage::rule))
            .route("/rules/{id}/enabled", post(manage::set_rule))
            .route("/senders", get(manage::senders))
            .route("/senders/forget", post(manage::forget))
            .route("/snmp", get(manage::snmp))
            .route("/users", get(admin::users).post(admin::add_user))
            .route("/users/{name}/{what}", post(admin::set_user))
            .route("/tokens", post(admin::add_token))
            .route("/tokens/{name}/revoke", post(admin::revoke_token))
            .route("/api/v1/openapi.json", get(api::openapi_json))
            .route("/api/v1/events", get(api::events))
            .route("/api/v1/aggregate", get(api::aggregate))
            .route("/api/v1/events/{id}", get(api::event))
            .route("/api/v1/alerts", get(api::alerts))
            .route("/api/v1/alerts/{id}", get(api::alert))
            .route("/api/v1/alerts/{id}/state", post(api::alert_state))
            .route("/api/v1/rules", get(api::rules))
            .route("/api/v1/rules/{id}/enabled", post(api::rule_enabled))
            .route("/api/v1/senders", get(api::senders))
            .route("/api/v1/metrics", get(api::metrics))
    } else {
        r
    };
    r.layer(axum::middleware::from_fn(headers::secure))
        .with_state(state)
}

/// Adds `Strict-Transport-Security` to every answer (the dashboard is served over HTTPS).
pub fn with_hsts(router: Router, max_age_secs: u64) -> Router {
    let value = headers::hsts(max_age_secs);
    router.layer(axum::middleware::map_response(
        move |mut res: axum::response::Response| {
            let value = value.clone();
            async move {
                res.headers_mut()
                    .insert(header::STRICT_TRANSPORT_SECURITY, value);
                res
            }
        },
    ))
}

/// Readiness: 503 with the reason while Picket cannot store what it receives (a full disk,
/// a store that fails to commit), so a load balancer or monitor sees the degradation.
async fn healthz(State(s): State<AppState>) -> impl IntoResponse {
    let text = [(header::CONTENT_TYPE, "text/plain; charset=utf-8")];
    match degraded(&s.metrics) {
        Some(reason) => (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            text,
            format!("degraded: {reason}\n"),
        ),
        None => (axum::http::StatusCode::OK, text, "ok\n".to_string()),
    }
}

/// Liveness: 200 while the process serves requests. The Dockerfile's health check uses this,
/// so a full disk does not turn into a restart loop (a restart frees nothing).
async fn livez() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "ok\n",
    )
}

/// Why Picket cannot store what it receives right now, if it cannot.
pub fn degraded(m: &Metrics) -> Option<&'static str> {
    if m.disk_full.is_set() {
        Some(
            "disk full: intake is paused until space is freed (TCP senders wait, UDP and SNMP are dropped)",
        )
    } else if m.store_failing.is_set() {
        Some("the store cannot commit; received events wait in the spool")
    } else {
        None
    }
}

async fn style() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        STYLE,
    )
}

async fn script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        SCRIPT,
    )
}

async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        s.metrics.render(),
    )
}

#[cfg(test)]
mod tests;
