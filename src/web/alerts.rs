//! The alert pages: the list with its filters, one alert with its linked events (or the copies
//! it kept) and audit trail, and the form that acknowledges, resolves or reopens it.

use super::AppState;
use super::session::{CurrentUser, internal, page};
use super::text::visible;
use crate::alerts::{Alert, State as AlertState};
use crate::auth::Role;
use crate::model::event::format_micros;
use crate::store::StoredEvent;
use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

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
    CurrentUser {
        dash: d,
        session: sess,
    }: CurrentUser,

    Query(p): Query<AlertsParams>,
) -> Response {
    let filter = crate::alerts::Filter {
        state: p.state.as_deref().and_then(|x| AlertState::parse(x).ok()),
        level: p
            .level
            .filter(|l| crate::model::alert::Level::parse(l).is_some()),
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

pub async fn alert(
    CurrentUser {
        dash: d,
        session: sess,
    }: CurrentUser,

    Path(id): Path<i64>,
) -> Response {
    let r = tokio::task::spawn_blocking(move || {
        let (a, audit, kept) = {
            let g = match d.alerts.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            let a = g.get(id)?;
            let audit = g.audit(id)?;
            let kept = g.evidence(id)?;
            (a, audit, kept)
        };
        let mut events = Vec::new();
        if let Some(a) = &a {
            for eid in a.events.iter().rev().take(50) {
                if let Some(ev) = d.reader.get(*eid)? {
                    events.push(hit_row(&ev));
                } else if let Some(k) = kept.iter().find(|k| k.event_id == *eid) {
                    // Retention removed it from the store; the alert kept a copy.
                    events.push(kept_row(k));
                }
            }
        }
        Ok::<_, super::error::WebError>((a, audit, events))
    })
    .await;
    let (a, audit, events) = match r {
        Ok(Ok(x)) => x,
        Ok(Err(e)) => return e.into_response(),
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
    State(_s): State<AppState>,
    u: CurrentUser,
    Path(id): Path<i64>,
    Form(f): Form<StateForm>,
) -> Response {
    let (d, sess) = match u.allowed(&f.csrf, Role::Analyst, "your role cannot change alerts") {
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
