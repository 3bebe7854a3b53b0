//! Live tail (server-sent events) and streamed exports (CSV, NDJSON).

use super::search::SearchParams;
use super::session::{CurrentUser, page};
use super::text::visible;
use crate::model::event::format_micros;
use crate::query::{Cursor, SearchQuery};
use crate::store::{EventReader, StoredEvent};
use askama::Template;
use axum::body::{Body, Bytes};
use axum::extract::Query;
use axum::http::{StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::Duration;

/// Events sent per tail tick (every 500 ms) at most: 200 per second.
const TAIL_PER_TICK: usize = 100;
/// Rows read per export page.
const EXPORT_PAGE: usize = 5000;

#[derive(serde::Deserialize)]
pub struct TailParams {
    #[serde(default)]
    q: String,
}

#[derive(Template)]
#[template(path = "tail.html")]
struct TailPage {
    user: Option<String>,
    role: &'static str,
    csrf: String,
    q: String,
}

pub async fn tail_page(
    CurrentUser { session: sess, .. }: CurrentUser,

    Query(p): Query<TailParams>,
) -> Response {
    // The script (static/app.js; no inline script under the CSP) reads the query from the
    // form's input.
    page(TailPage {
        user: Some(sess.user.name.clone()),
        role: sess.user.role.as_str(),
        csrf: sess.csrf.clone(),
        q: p.q,
    })
}

fn row_json(h: &StoredEvent) -> String {
    serde_json::json!({
        "id": h.id,
        "time": format_micros(h.event.timestamp),
        "sender": h.event.peer.ip().to_string(),
        "host": h.event.host.clone().unwrap_or_default(),
        "message": visible(&h.event.message()),
    })
    .to_string()
}

/// New events matching `q` since the last call: the store's newest, by id.
fn poll(
    reader: &dyn EventReader,
    q: &SearchQuery,
    after: i64,
) -> Result<Vec<StoredEvent>, crate::store::Error> {
    let mut q = q.clone();
    q.limit = 1000;
    q.from = Some(crate::model::clock::now_micros() - 15 * 60 * 1_000_000);
    let mut hits = reader.search(&q)?;
    hits.retain(|h| h.id > after);
    hits.sort_by_key(|h| h.id);
    Ok(hits)
}

pub async fn tail_stream(
    CurrentUser { dash: d, .. }: CurrentUser,

    Query(p): Query<TailParams>,
) -> Response {
    let q = match SearchQuery::parse(&p.q, 1000) {
        Ok(q) => q,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let reader = d.reader.clone();
    // Start from what is stored now: only new events are sent.
    let r0 = reader.clone();
    let q0 = q.clone();
    let start = tokio::task::spawn_blocking(move || {
        poll(r0.as_ref(), &q0, 0).map(|v| v.last().map_or(0, |h| h.id))
    })
    .await
    .ok()
    .and_then(Result::ok)
    .unwrap_or(0);
    let stream = futures_util::stream::unfold(
        (reader, q, start, Vec::<SseEvent>::new()),
        |(reader, q, mut last, mut pending)| async move {
            loop {
                if let Some(ev) = pending.pop() {
                    return Some((
                        Ok::<_, std::convert::Infallible>(ev),
                        (reader, q, last, pending),
                    ));
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
                let (r, q2) = (reader.clone(), q.clone());
                let hits =
                    match tokio::task::spawn_blocking(move || poll(r.as_ref(), &q2, last)).await {
                        Ok(Ok(h)) => h,
                        _ => continue,
                    };
                if let Some(h) = hits.last() {
                    last = h.id;
                }
                let skipped = hits.len().saturating_sub(TAIL_PER_TICK);
                let mut out: Vec<SseEvent> = hits
                    .iter()
                    .skip(skipped)
                    .map(|h| SseEvent::default().event("event").data(row_json(h)))
                    .collect();
                if skipped > 0 {
                    out.insert(
                        0,
                        SseEvent::default()
                            .event("skipped")
                            .data(skipped.to_string()),
                    );
                }
                // Sent oldest first: `pending` is popped from the end.
                out.reverse();
                pending = out;
            }
        },
    );
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

#[derive(serde::Deserialize)]
pub struct ExportParams {
    #[serde(flatten)]
    search: SearchParams,
    #[serde(default)]
    format: String,
}

fn csv_field(out: &mut String, v: &str) {
    if v.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&v.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(v);
    }
}

const CSV_COLUMNS: [&str; 9] = [
    "@timestamp",
    "observer.ip",
    "host.name",
    "process.name",
    "event.dataset",
    "source.ip",
    "destination.ip",
    "event.action",
    "message",
];

fn csv_row(h: &StoredEvent) -> String {
    let e = &h.event;
    let field = |k: &str| {
        e.field(k)
            .map(|v| v.as_text().into_owned())
            .unwrap_or_default()
    };
    let vals = [
        format_micros(e.timestamp),
        e.peer.ip().to_string(),
        e.host.clone().unwrap_or_default(),
        e.app.clone().unwrap_or_default(),
        e.dataset.to_string(),
        field("source.ip"),
        field("destination.ip"),
        field("event.action"),
        e.message().into_owned(),
    ];
    let mut out = String::new();
    for (i, v) in vals.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        csv_field(&mut out, v);
    }
    out.push_str("\r\n");
    out
}

/// One page of the export, newest first, strictly older than the previous page's last row:
/// keyset paging on (`@timestamp`, id), never an offset.
fn export_page(
    reader: &dyn EventReader,
    q: &SearchQuery,
    before: Option<Cursor>,
) -> Result<Vec<StoredEvent>, crate::store::Error> {
    let mut q = q.clone();
    q.limit = EXPORT_PAGE;
    q.before = before;
    reader.search(&q)
}

pub async fn export(
    CurrentUser { dash: d, .. }: CurrentUser,

    Query(p): Query<ExportParams>,
) -> Response {
    let ndjson = p.format == "ndjson";
    let q = match p
        .search
        .query(EXPORT_PAGE, crate::model::clock::now_micros())
    {
        Ok(q) => q,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let reader: Arc<dyn EventReader> = d.reader.clone();
    // Pages are read one at a time as the client takes them: memory stays flat.
    let header_line = if ndjson {
        String::new()
    } else {
        format!("{}\r\n", CSV_COLUMNS.join(","))
    };
    let stream = futures_util::stream::unfold(
        (reader, q, None::<Cursor>, Some(header_line), false),
        move |(reader, q, before, head, done)| async move {
            if let Some(hl) = head {
                return Some((
                    Ok::<_, std::io::Error>(Bytes::from(hl)),
                    (reader, q, before, None, done),
                ));
            }
            if done {
                return None;
            }
            let (r, q2, b2) = (reader.clone(), q.clone(), before);
            let hits =
                match tokio::task::spawn_blocking(move || export_page(r.as_ref(), &q2, b2)).await {
                    Ok(Ok(h)) => h,
                    Ok(Err(e)) => {
                        return Some((
                            Err(std::io::Error::other(e)),
                            (reader, q, before, None, true),
                        ));
                    }
                    Err(e) => {
                        return Some((
                            Err(std::io::Error::other(e.to_string())),
                            (reader, q, before, None, true),
                        ));
                    }
                };
            if hits.is_empty() {
                return None;
            }
            let mut chunk = String::new();
            for h in &hits {
                if ndjson {
                    let mut m = h.event.to_flat_json(&h.listener);
                    m.insert("picket.id".into(), serde_json::Value::from(h.id));
                    chunk.push_str(&serde_json::Value::Object(m).to_string());
                    chunk.push('\n');
                } else {
                    chunk.push_str(&csv_row(h));
                }
            }
            let next = hits.last().map(|h| Cursor {
                ts: h.event.timestamp,
                id: h.id,
            });
            let done = hits.len() < EXPORT_PAGE;
            Some((Ok(Bytes::from(chunk)), (reader, q, next, None, done)))
        },
    );
    let (ctype, ext) = if ndjson {
        ("application/x-ndjson", "ndjson")
    } else {
        ("text/csv; charset=utf-8", "csv")
    };
    (
        [
            (header::CONTENT_TYPE, ctype.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"picket-export.{ext}\""),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}
