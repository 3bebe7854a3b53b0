//! The event page: one event's raw bytes, message and fields in groups, each field a filter
//! link, and searches for related events around it. An event retention removed is shown from
//! the copy an alert kept.

use super::session::{CurrentUser, internal, page};
use super::text::{visible, visible_bytes};
use super::urls::{add_filter, encode};
use crate::model::event::format_micros;
use askama::Template;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

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

pub async fn event(
    CurrentUser {
        dash: d,
        session: sess,
    }: CurrentUser,

    Path(id): Path<i64>,
) -> Response {
    let (reader, alerts) = (d.reader.clone(), d.alerts.clone());
    // An event retention removed from the store is shown from the copy an alert kept.
    let found = match tokio::task::spawn_blocking(move || {
        if let Some(ev) = reader.get(id)? {
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
        Ok::<_, super::error::WebError>(g.kept_event(id)?.map(|k| {
            let message = k.message();
            (k.flat(), k.ts, k.raw, message, true)
        }))
    })
    .await
    {
        Ok(Ok(x)) => x,
        Ok(Err(e)) => return e.into_response(),
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
            let q = add_filter("", field, &v);
            related.push((
                format!("{label} ({v}), ±5 min"),
                format!(
                    "/search?q={}&from={}&to={}",
                    encode(&q),
                    encode(&from),
                    encode(&to)
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
        let href = format!("/search?q={}", encode(&add_filter("", k, &v)));
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
