//! The JSON API under `/api/v1`: bearer tokens (`picket token add`), scoped by role. Its
//! OpenAPI document is generated from [`ROUTES`], the same table the router is built from
//! (a test calls every route).

use super::error::{ApiError, WebError, blocking};
use super::{AppState, Dashboard};
use crate::alerts::State as AlertState;
use crate::auth::Role;
use crate::query::SearchQuery;
use axum::Json;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::header;
use axum::http::request::Parts;
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

/// The caller of an API request: the token's name and role, and the dashboard's stores. The
/// token is looked up on a blocking thread, never on an async worker (they also serve TCP
/// intake). An extractor rejects with 401 before the handler runs.
pub struct ApiToken {
    name: String,
    role: Role,
    dash: Dashboard,
}

impl ApiToken {
    /// The stores, when the token's role is at least `need`; else 403.
    fn need(self, need: Role) -> Result<(Dashboard, String), WebError> {
        if self.role >= need {
            Ok((self.dash, self.name))
        } else {
            Err(WebError::Forbidden(format!(
                "this token's role cannot do this (needs {})",
                need.as_str()
            )))
        }
    }
}

impl FromRequestParts<AppState> for ApiToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, ApiError> {
        let Some(dash) = s.dash.clone() else {
            return Err(WebError::NotFound("no API").into());
        };
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        let Some(token) = token else {
            return Err(WebError::Unauthorized(
                "an API token is required (Authorization: Bearer ...)",
            )
            .into());
        };
        let users = dash.users.clone();
        match blocking(move || users.token(&token)).await? {
            Some((name, role)) => Ok(ApiToken { name, role, dash }),
            None => Err(WebError::Unauthorized("unknown API token").into()),
        }
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

pub async fn events(t: ApiToken, Query(p): Query<EventsParams>) -> Result<Response, ApiError> {
    let (d, _) = t.need(Role::Viewer)?;
    let mut q = query_in_range(
        &p.q,
        p.limit.unwrap_or(100).clamp(1, 10_000),
        &p.from,
        &p.to,
    )?;
    if let Some(b) = p.before.as_deref() {
        let (ts, id) = b
            .split_once('_')
            .and_then(|(t, i)| Some((t.parse().ok()?, i.parse().ok()?)))
            .ok_or_else(|| WebError::BadRequest("before must be a cursor from `next`".into()))?;
        q.before = Some(crate::query::Cursor { ts, id });
    }
    let limit = q.limit;
    let hits = blocking(move || d.reader.search(&q)).await?;
    let next = (hits.len() == limit)
        .then(|| hits.last())
        .flatten()
        .map(|h| format!("{}_{}", h.event.timestamp, h.id));
    let events: Vec<Value> = hits.iter().map(flat).collect();
    Ok(Json(json!({ "events": events, "next": next })).into_response())
}

/// An event as the API shows it: its flat fields and its id.
fn flat(h: &crate::store::StoredEvent) -> Value {
    let mut m = h.event.to_flat_json(&h.listener);
    m.insert(crate::model::fields::PICKET_ID.into(), Value::from(h.id));
    Value::Object(m)
}

/// The query text with its `from`/`to` (RFC 3339 or relative), or a 400 naming the problem.
fn query_in_range(
    text: &str,
    limit: usize,
    from: &Option<String>,
    to: &Option<String>,
) -> Result<SearchQuery, WebError> {
    let now = crate::model::clock::now_micros();
    let bad = |e: String| WebError::BadRequest(e);
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
    t: ApiToken,
    Query(p): Query<AggregateParams>,
) -> Result<Response, ApiError> {
    use crate::store::aggregate::Aggregation;
    let (d, _) = t.need(Role::Viewer)?;
    let q = query_in_range(&p.q, 1, &p.from, &p.to)?;
    let bad = |m: String| WebError::BadRequest(m);
    let agg = match p.kind.as_deref().unwrap_or("count") {
        "count" => Aggregation::Count,
        "histogram" => {
            let interval = match p
                .interval
                .as_deref()
                .map(crate::store::retention::parse_duration)
                .transpose()
                .map_err(|e| bad(e.to_string()))?
            {
                None => None,
                Some(d) if d.is_zero() => {
                    return Err(bad("interval must be more than 0".into()).into());
                }
                Some(d) => Some(i64::try_from(d.as_micros()).unwrap_or(i64::MAX)),
            };
            Aggregation::Histogram { interval }
        }
        "top" => {
            let field = p
                .field
                .clone()
                .filter(|f| !f.is_empty())
                .ok_or_else(|| bad("top needs a field".into()))?;
            if crate::query::Field::from_name(&field).is_none() {
                return Err(bad(format!("no field {field:?}")).into());
            }
            Aggregation::Top {
                field,
                size: p.size.unwrap_or(10).clamp(1, 1000),
            }
        }
        other => {
            return Err(bad(format!("unknown kind {other:?} (histogram, top or count)")).into());
        }
    };
    let r = blocking(move || d.reader.aggregate(&q, &agg)).await?;
    Ok(Json(r).into_response())
}

pub async fn event(t: ApiToken, Path(id): Path<i64>) -> Result<Response, ApiError> {
    let (d, _) = t.need(Role::Viewer)?;
    let h = blocking(move || d.reader.get(id))
        .await?
        .ok_or(WebError::NotFound("no such event"))?;
    Ok(Json(flat(&h)).into_response())
}

#[derive(serde::Deserialize)]
pub struct AlertsParams {
    state: Option<String>,
    limit: Option<usize>,
}

/// The alert book, waited for on a blocking thread (a poisoned lock still holds good data:
/// every change is one SQLite transaction).
fn lock(
    a: &std::sync::Mutex<crate::alerts::Alerts>,
) -> std::sync::MutexGuard<'_, crate::alerts::Alerts> {
    a.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub async fn alerts(t: ApiToken, Query(p): Query<AlertsParams>) -> Result<Response, ApiError> {
    let (d, _) = t.need(Role::Viewer)?;
    let state = p
        .state
        .as_deref()
        .map(AlertState::parse)
        .transpose()
        .map_err(|e| WebError::BadRequest(e.to_string()))?;
    let limit = p.limit.unwrap_or(100).clamp(1, 10_000);
    let list = blocking(move || lock(&d.alerts).list(state, limit)).await?;
    Ok(Json(json!({ "alerts": list })).into_response())
}

pub async fn alert(t: ApiToken, Path(id): Path<i64>) -> Result<Response, ApiError> {
    let (d, _) = t.need(Role::Viewer)?;
    let (a, audit) = blocking(move || {
        let g = lock(&d.alerts);
        Ok::<_, crate::alerts::Error>((g.get(id)?, g.audit(id)?))
    })
    .await?;
    let a = a.ok_or(WebError::NotFound("no such alert"))?;
    Ok(Json(json!({ "alert": a, "audit": audit })).into_response())
}

#[derive(serde::Deserialize)]
pub struct StateBody {
    to: String,
    #[serde(default)]
    comment: Option<String>,
}

pub async fn alert_state(
    t: ApiToken,
    Path(id): Path<i64>,
    body: Option<Json<StateBody>>,
) -> Result<Response, ApiError> {
    let (d, name) = t.need(Role::Analyst)?;
    let Json(b) = body.ok_or_else(|| {
        WebError::BadRequest(
            "expected a JSON body {\"to\": \"acknowledged|resolved|open\", \"comment\": \"...\"}"
                .into(),
        )
    })?;
    let to = AlertState::parse(&b.to).map_err(|e| WebError::BadRequest(e.to_string()))?;
    let actor = format!("token:{name}");
    let r = tokio::task::spawn_blocking(move || {
        let r = lock(&d.alerts).set_state(id, to, &actor, b.comment.as_deref(), d.router.as_ref());
        if r.is_ok() {
            d.users.audit(
                &actor,
                &format!("alert_{}", to.as_str()),
                &format!("alert {id}"),
            );
        }
        r
    })
    .await
    .map_err(WebError::internal)?;
    match r {
        Ok(a) => Ok(Json(json!({ "alert": a })).into_response()),
        Err(e @ crate::alerts::Error::Transition { .. }) => {
            Err(WebError::Conflict(e.to_string()).into())
        }
        Err(crate::alerts::Error::NotFound(_)) => Err(WebError::NotFound("no such alert").into()),
        Err(e) => Err(WebError::internal(e).into()),
    }
}

pub async fn rules(t: ApiToken) -> Result<Response, ApiError> {
    let (d, _) = t.need(Role::Viewer)?;
    let rows = super::manage::rule_rows(&d).await?;
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
    Ok(
        Json(json!({ "running": d.rules.running, "rules": rules, "problems": problems }))
            .into_response(),
    )
}

#[derive(serde::Deserialize)]
pub struct EnableBody {
    to: String,
}

pub async fn rule_enabled(
    t: ApiToken,
    Path(id): Path<String>,
    Json(b): Json<EnableBody>,
) -> Result<Response, ApiError> {
    let (d, who) = t.need(Role::Analyst)?;
    super::manage::change_rule(&d, &id, &b.to, &format!("token:{who}")).await?;
    Ok(Json(json!({ "id": id, "enabled": b.to == "on" })).into_response())
}

pub async fn senders(t: ApiToken) -> Result<Response, ApiError> {
    let (d, _) = t.need(Role::Viewer)?;
    let list = blocking(move || d.reader.senders(7)).await?;
    Ok(Json(json!({ "senders": list })).into_response())
}

pub async fn metrics(State(s): State<AppState>, t: ApiToken) -> Result<Response, ApiError> {
    t.need(Role::Viewer)?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        s.metrics.render(),
    )
        .into_response())
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
