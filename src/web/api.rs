//! The JSON API under `/api/v1`: bearer tokens (`picket token add`), scoped by role. Its
//! OpenAPI document is generated from [`ROUTES`], the same table the router is built from
//! (a test calls every route).

use super::AppState;
use crate::alerts::State as AlertState;
use crate::auth::Role;
use crate::query::SearchQuery;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// Every API route: (method, path, what it does, role needed).
pub const ROUTES: &[(&str, &str, &str, Role)] = &[
    (
        "get",
        "/api/v1/events",
        "Search events (query language of the search page), newest first.",
        Role::Viewer,
    ),
    (
        "get",
        "/api/v1/aggregate",
        "Exact aggregation of a query's matches: kind=histogram (interval chosen when left out), top (field, size) or count.",
        Role::Viewer,
    ),
    (
        "get",
        "/api/v1/events/{id}",
        "One event by id.",
        Role::Viewer,
    ),
    (
        "get",
        "/api/v1/alerts",
        "Alerts, newest first, optionally in one state.",
        Role::Viewer,
    ),
    (
        "get",
        "/api/v1/alerts/{id}",
        "One alert with its audit trail.",
        Role::Viewer,
    ),
    (
        "post",
        "/api/v1/alerts/{id}/state",
        "Acknowledge, resolve or reopen an alert.",
        Role::Analyst,
    ),
    (
        "get",
        "/api/v1/rules",
        "The loaded rules: on or off, alerts raised, last fired; and the load errors.",
        Role::Viewer,
    ),
    (
        "post",
        "/api/v1/rules/{id}/enabled",
        "Switch a rule on or off.",
        Role::Analyst,
    ),
    (
        "get",
        "/api/v1/senders",
        "The registry of senders.",
        Role::Viewer,
    ),
    (
        "get",
        "/api/v1/metrics",
        "The Prometheus metrics text.",
        Role::Viewer,
    ),
];

fn err(status: StatusCode, msg: impl std::fmt::Display) -> Response {
    (status, Json(json!({ "error": msg.to_string() }))).into_response()
}

/// The token's name and role, or a 401/403 response.
/// An API error: status and reason.
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        err(self.0, self.1)
    }
}

fn auth(s: &AppState, h: &HeaderMap, need: Role) -> Result<(String, Role), ApiError> {
    let fail = |st: StatusCode, m: &str| Err(ApiError(st, m.to_string()));
    let Some(d) = &s.dash else {
        return fail(StatusCode::NOT_FOUND, "no API");
    };
    let token = h
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        return fail(
            StatusCode::UNAUTHORIZED,
            "an API token is required (Authorization: Bearer ...)",
        );
    };
    match d.users.token(token) {
        Ok(Some((name, role))) if role >= need => Ok((name, role)),
        Ok(Some(_)) => fail(
            StatusCode::FORBIDDEN,
            &format!("this token's role cannot do this (needs {})", need.as_str()),
        ),
        Ok(None) => fail(StatusCode::UNAUTHORIZED, "unknown API token"),
        Err(e) => fail(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, Response> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(err(StatusCode::INTERNAL_SERVER_ERROR, e)),
        Err(e) => Err(err(StatusCode::INTERNAL_SERVER_ERROR, e)),
    }
}

#[derive(serde::Deserialize)]
pub struct EventsParams {
    #[serde(default)]
    q: String,
    from: Option<String>,
    to: Option<String>,
    limit: Option<usize>,
    /// Keyset cursor from the previous page's `next`.
    before: Option<String>,
}

pub async fn events(
    State(s): State<AppState>,
    h: HeaderMap,
    Query(p): Query<EventsParams>,
) -> Response {
    if let Err(r) = auth(&s, &h, Role::Viewer) {
        return r.into_response();
    }
    let Some(d) = s.dash.clone() else {
        return err(StatusCode::NOT_FOUND, "no API");
    };
    let mut q = match query_in_range(
        &p.q,
        p.limit.unwrap_or(100).clamp(1, 10_000),
        &p.from,
        &p.to,
    ) {
        Ok(q) => q,
        Err(r) => return r.into_response(),
    };
    if let Some(b) = p.before.as_deref() {
        match b
            .split_once('_')
            .and_then(|(t, i)| Some((t.parse().ok()?, i.parse().ok()?)))
        {
            Some((ts, id)) => q.before = Some(crate::query::Cursor { ts, id }),
            None => {
                return err(
                    StatusCode::BAD_REQUEST,
                    "before must be a cursor from `next`",
                );
            }
        }
    }
    let limit = q.limit;
    match blocking(move || d.reader.search(&q).map_err(|e| e.to_string())).await {
        Ok(hits) => {
            let next = (hits.len() == limit)
                .then(|| hits.last())
                .flatten()
                .map(|h| format!("{}_{}", h.event.timestamp, h.id));
            let events: Vec<Value> = hits
                .iter()
                .map(|h| {
                    let mut m = h.event.to_flat_json(&h.listener);
                    m.insert(crate::model::fields::PICKET_ID.into(), Value::from(h.id));
                    Value::Object(m)
                })
                .collect();
            Json(json!({ "events": events, "next": next })).into_response()
        }
        Err(r) => r,
    }
}

/// The query text with its `from`/`to` (RFC 3339 or relative), or a 400 naming the problem.
fn query_in_range(
    text: &str,
    limit: usize,
    from: &Option<String>,
    to: &Option<String>,
) -> Result<SearchQuery, ApiError> {
    let now = crate::ingest::now_micros();
    let bad = |e: String| ApiError(StatusCode::BAD_REQUEST, e);
    let mut q = SearchQuery::parse(text, limit).map_err(|e| bad(e.to_string()))?;
    for (slot, v) in [(&mut q.from, from), (&mut q.to, to)] {
        if let Some(t) = v {
            *slot = Some(crate::query::parse_time(t, now).map_err(|e| bad(e.to_string()))?);
        }
    }
    Ok(q)
}

#[derive(serde::Deserialize)]
pub struct AggregateParams {
    #[serde(default)]
    q: String,
    from: Option<String>,
    to: Option<String>,
    /// histogram | top | count (default count).
    kind: Option<String>,
    field: Option<String>,
    size: Option<usize>,
    /// A duration such as `1h` or `5m`; chosen from the range when left out.
    interval: Option<String>,
}

pub async fn aggregate(
    State(s): State<AppState>,
    h: HeaderMap,
    Query(p): Query<AggregateParams>,
) -> Response {
    use crate::store::aggregate::Aggregation;
    if let Err(r) = auth(&s, &h, Role::Viewer) {
        return r.into_response();
    }
    let Some(d) = s.dash.clone() else {
        return err(StatusCode::NOT_FOUND, "no API");
    };
    let q = match query_in_range(&p.q, 1, &p.from, &p.to) {
        Ok(q) => q,
        Err(r) => return r.into_response(),
    };
    let agg = match p.kind.as_deref().unwrap_or("count") {
        "count" => Aggregation::Count,
        "histogram" => {
            let interval = match p
                .interval
                .as_deref()
                .map(crate::store::retention::parse_duration)
            {
                None => None,
                Some(Ok(d)) if !d.is_zero() => {
                    Some(i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
                }
                Some(Ok(_)) => return err(StatusCode::BAD_REQUEST, "interval must be more than 0"),
                Some(Err(e)) => return err(StatusCode::BAD_REQUEST, e),
            };
            Aggregation::Histogram { interval }
        }
        "top" => {
            let Some(field) = p.field.clone().filter(|f| !f.is_empty()) else {
                return err(StatusCode::BAD_REQUEST, "top needs a field");
            };
            if crate::query::Field::from_name(&field).is_none() {
                return err(StatusCode::BAD_REQUEST, format!("no field {field:?}"));
            }
            Aggregation::Top {
                field,
                size: p.size.unwrap_or(10).clamp(1, 1000),
            }
        }
        other => {
            return err(
                StatusCode::BAD_REQUEST,
                format!("unknown kind {other:?} (histogram, top or count)"),
            );
        }
    };
    match blocking(move || d.reader.aggregate(&q, &agg).map_err(|e| e.to_string())).await {
        Ok(r) => Json(r).into_response(),
        Err(r) => r,
    }
}

pub async fn event(State(s): State<AppState>, h: HeaderMap, Path(id): Path<i64>) -> Response {
    if let Err(r) = auth(&s, &h, Role::Viewer) {
        return r.into_response();
    }
    let Some(d) = s.dash.clone() else {
        return err(StatusCode::NOT_FOUND, "no API");
    };
    match blocking(move || d.reader.get(id).map_err(|e| e.to_string())).await {
        Ok(Some(h)) => {
            let mut m = h.event.to_flat_json(&h.listener);
            m.insert(crate::model::fields::PICKET_ID.into(), Value::from(h.id));
            Json(Value::Object(m)).into_response()
        }
        Ok(None) => err(StatusCode::NOT_FOUND, "no such event"),
        Err(r) => r,
    }
}

#[derive(serde::Deserialize)]
pub struct AlertsParams {
    state: Option<String>,
    limit: Option<usize>,
}

pub async fn alerts(
    State(s): State<AppState>,
    h: HeaderMap,
    Query(p): Query<AlertsParams>,
) -> Response {
    if let Err(r) = auth(&s, &h, Role::Viewer) {
        return r.into_response();
    }
    let Some(d) = s.dash.clone() else {
        return err(StatusCode::NOT_FOUND, "no API");
    };
    let state = match p.state.as_deref().map(AlertState::parse).transpose() {
        Ok(s) => s,
        Err(e) => return err(StatusCode::BAD_REQUEST, e),
    };
    let limit = p.limit.unwrap_or(100).clamp(1, 10_000);
    match blocking(move || {
        let g = d.alerts.lock().map_err(|e| e.to_string())?;
        g.list(state, limit).map_err(|e| e.to_string())
    })
    .await
    {
        Ok(list) => Json(json!({ "alerts": list })).into_response(),
        Err(r) => r,
    }
}

pub async fn alert(State(s): State<AppState>, h: HeaderMap, Path(id): Path<i64>) -> Response {
    if let Err(r) = auth(&s, &h, Role::Viewer) {
        return r.into_response();
    }
    let Some(d) = s.dash.clone() else {
        return err(StatusCode::NOT_FOUND, "no API");
    };
    match blocking(move || {
        let g = d.alerts.lock().map_err(|e| e.to_string())?;
        let a = g.get(id).map_err(|e| e.to_string())?;
        let audit = g.audit(id).map_err(|e| e.to_string())?;
        Ok((a, audit))
    })
    .await
    {
        Ok((Some(a), audit)) => Json(json!({ "alert": a, "audit": audit })).into_response(),
        Ok((None, _)) => err(StatusCode::NOT_FOUND, "no such alert"),
        Err(r) => r,
    }
}

#[derive(serde::Deserialize)]
pub struct StateBody {
    to: String,
    #[serde(default)]
    comment: Option<String>,
}

pub async fn alert_state(
    State(s): State<AppState>,
    h: HeaderMap,
    Path(id): Path<i64>,
    body: Option<Json<StateBody>>,
) -> Response {
    let (name, _) = match auth(&s, &h, Role::Analyst) {
        Ok(x) => x,
        Err(r) => return r.into_response(),
    };
    let Some(Json(b)) = body else {
        return err(
            StatusCode::BAD_REQUEST,
            "expected a JSON body {\"to\": \"acknowledged|resolved|open\", \"comment\": \"...\"}",
        );
    };
    let Some(d) = s.dash.clone() else {
        return err(StatusCode::NOT_FOUND, "no API");
    };
    let to = match AlertState::parse(&b.to) {
        Ok(t) => t,
        Err(e) => return err(StatusCode::BAD_REQUEST, e),
    };
    let actor = format!("token:{name}");
    let r = tokio::task::spawn_blocking(move || {
        let mut g = match d.alerts.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let r = g.set_state(id, to, &actor, b.comment.as_deref(), d.router.as_ref());
        if r.is_ok() {
            d.users.audit(
                &actor,
                &format!("alert_{}", to.as_str()),
                &format!("alert {id}"),
            );
        }
        r
    })
    .await;
    match r {
        Ok(Ok(a)) => Json(json!({ "alert": a })).into_response(),
        Ok(Err(e @ crate::alerts::Error::Transition { .. })) => err(StatusCode::CONFLICT, e),
        Ok(Err(crate::alerts::Error::NotFound(_))) => err(StatusCode::NOT_FOUND, "no such alert"),
        Ok(Err(e)) => err(StatusCode::INTERNAL_SERVER_ERROR, e),
        Err(e) => err(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

pub async fn rules(State(s): State<AppState>, h: HeaderMap) -> Response {
    if let Err(r) = auth(&s, &h, Role::Viewer) {
        return r.into_response();
    }
    let Some(d) = s.dash.clone() else {
        return err(StatusCode::NOT_FOUND, "no API");
    };
    let rows = match super::manage::rule_rows(&d).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let rules: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "id": r.id, "title": r.title, "level": r.level, "kind": r.kind,
                "file": r.file, "enabled": r.enabled, "alerts": r.alerts,
                "matches": r.matches, "last_fired": r.last_fired,
            })
        })
        .collect();
    let problems: Vec<Value> = d
        .rules
        .problems
        .iter()
        .map(|p| json!({"file": p.file, "reason": p.reason}))
        .collect();
    Json(json!({ "running": d.rules.running, "rules": rules, "problems": problems }))
        .into_response()
}

#[derive(serde::Deserialize)]
pub struct EnableBody {
    to: String,
}

pub async fn rule_enabled(
    State(s): State<AppState>,
    h: HeaderMap,
    Path(id): Path<String>,
    Json(b): Json<EnableBody>,
) -> Response {
    let who = match auth(&s, &h, Role::Analyst) {
        Ok((name, _)) => name,
        Err(r) => return r.into_response(),
    };
    let Some(d) = s.dash.clone() else {
        return err(StatusCode::NOT_FOUND, "no API");
    };
    match super::manage::change_rule(&d, &id, &b.to, &format!("token:{who}")).await {
        Ok(()) => Json(json!({ "id": id, "enabled": b.to == "on" })).into_response(),
        Err(r) => r,
    }
}

pub async fn senders(State(s): State<AppState>, h: HeaderMap) -> Response {
    if let Err(r) = auth(&s, &h, Role::Viewer) {
        return r.into_response();
    }
    let Some(d) = s.dash.clone() else {
        return err(StatusCode::NOT_FOUND, "no API");
    };
    match blocking(move || d.reader.senders(7).map_err(|e| e.to_string())).await {
        Ok(list) => Json(json!({ "senders": list })).into_response(),
        Err(r) => r,
    }
}

pub async fn metrics(State(s): State<AppState>, h: HeaderMap) -> Response {
    if let Err(r) = auth(&s, &h, Role::Viewer) {
        return r.into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        s.metrics.render(),
    )
        .into_response()
}

/// The OpenAPI 3.1 document, generated from [`ROUTES`].
pub fn openapi() -> Value {
    let mut paths = serde_json::Map::new();
    for (method, path, summary, role) in ROUTES {
        let mut params = Vec::new();
        if path.contains("{id}") {
            let schema = if path.starts_with("/api/v1/rules") {
                json!({"type": "string"})
            } else {
                json!({"type": "integer", "format": "int64"})
            };
            params.push(json!({"name": "id", "in": "path", "required": true, "schema": schema}));
        }
        let query: &[(&str, &str)] = match *path {
            "/api/v1/events" => &[
                ("q", "string"),
                ("from", "string"),
                ("to", "string"),
                ("limit", "integer"),
                ("before", "string"),
            ],
            "/api/v1/alerts" => &[("state", "string"), ("limit", "integer")],
            "/api/v1/aggregate" => &[
                ("q", "string"),
                ("from", "string"),
                ("to", "string"),
                ("kind", "string"),
                ("field", "string"),
                ("size", "integer"),
                ("interval", "string"),
            ],
            _ => &[],
        };
        for (n, t) in query {
            params
                .push(json!({"name": n, "in": "query", "required": false, "schema": {"type": t}}));
        }
        let mut op = json!({
            "summary": summary,
            "description": format!("Needs a token with the {} role or higher.", role.as_str()),
            "parameters": params,
            "security": [{"bearer": []}],
            "responses": {
                "200": {"description": "OK"},
                "400": {"description": "Bad request: the reason is in `error`."},
                "401": {"description": "No or unknown token."},
                "403": {"description": "The token's role is not enough."},
                "404": {"description": "Not found."}
            }
        });
        if *method == "post" && path.starts_with("/api/v1/rules") {
            op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {
                "type": "object", "required": ["to"],
                "properties": {"to": {"type": "string", "enum": ["on", "off"]}}
            }}}});
        } else if *method == "post" {
            op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {
                "type": "object", "required": ["to"],
                "properties": {"to": {"type": "string", "enum": ["acknowledged", "resolved", "open"]}, "comment": {"type": "string"}}
            }}}});
            op["responses"]["409"] = json!({"description": "The alert cannot go to that state."});
        }
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        entry[*method] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Picket API", "version": env!("CARGO_PKG_VERSION")},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "paths": paths,
    })
}

pub async fn openapi_json() -> Response {
    Json(openapi()).into_response()
}
