//! The search page: query, time range (presets or absolute), chosen columns, keyset paging,
//! click-to-filter, and a histogram of matches (an SVG whose bars narrow the time range).

use super::session::{CurrentUser, blocking, forbidden, internal, page};
use super::text::visible;
use super::urls::{add_filter, encode};
use crate::auth::Role;
use crate::model::event::format_micros;
use crate::query::{Cursor, Error as QueryError, SearchQuery, parse_time};
use crate::store::StoredEvent;
use askama::Template;
use axum::extract::{Form, Path, Query};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use std::fmt::Write;

pub(super) const RANGES: [&str; 6] = ["15m", "1h", "4h", "24h", "7d", "30d"];
const PAGE: usize = 100;
const DEFAULT_COLUMNS: &str = "observer.ip, host.name, event.dataset";
/// At most this many columns besides time and message.
const MAX_COLUMNS: usize = 12;

/// The search's parameters, as in the URL.
#[derive(serde::Deserialize, Clone, Default)]
pub struct SearchParams {
    #[serde(default)]
    pub q: String,
    /// A preset (`24h`); ignored when `from` is given.
    pub range: Option<String>,
    /// Absolute start (RFC 3339, `2026-11-22T10:00`, a date, or relative like `-2h`).
    pub from: Option<String>,
    /// Absolute end, same forms; now when absent.
    pub to: Option<String>,
    /// Columns, comma-separated field names.
    pub cols: Option<String>,
    /// Keyset cursor: `<@timestamp>_<id>` of the last row of the previous page.
    pub before: Option<String>,
}

impl SearchParams {
    fn preset(&self) -> String {
        self.range
            .clone()
            .filter(|r| RANGES.contains(&r.as_str()))
            .unwrap_or_else(|| "24h".into())
    }

    fn nonempty(v: &Option<String>) -> Option<&str> {
        v.as_deref().map(str::trim).filter(|s| !s.is_empty())
    }

    /// The time range in microseconds, `[from, to)`.
    fn window(&self, now: i64) -> Result<(i64, i64), QueryError> {
        let to = match Self::nonempty(&self.to) {
            Some(t) => parse_time(t, now)?,
            None => now,
        };
        let from = match Self::nonempty(&self.from) {
            Some(t) => parse_time(t, now)?,
            None => parse_time(&format!("-{}", self.preset()), now)?,
        };
        Ok((from, to.max(from)))
    }

    fn columns(&self) -> Vec<String> {
        let text = self.cols.as_deref().unwrap_or(DEFAULT_COLUMNS);
        let mut out: Vec<String> = Vec::new();
        for c in text
            .split([',', ' '])
            .map(str::trim)
            .filter(|c| !c.is_empty())
        {
            if c.chars()
                .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '.' | '_' | '@' | '-'))
                && !out.iter().any(|o| o == c)
                && out.len() < MAX_COLUMNS
            {
                out.push(c.to_owned());
            }
        }
        out
    }

    fn cursor(&self) -> Option<Cursor> {
        let (ts, id) = self.before.as_deref()?.split_once('_')?;
        Some(Cursor {
            ts: ts.parse().ok()?,
            id: id.parse().ok()?,
        })
    }

    /// The query parsed and bounded, or the error to show.
    pub fn query(&self, limit: usize, now: i64) -> Result<SearchQuery, QueryError> {
        let mut q = SearchQuery::parse(&self.q, limit)?;
        let (from, to) = self.window(now)?;
        q.from = Some(from);
        q.to = Some(to);
        q.before = self.cursor();
        Ok(q)
    }

    /// This search's URL with some parameters replaced (`None` drops one).
    pub fn url(&self, path: &str, changes: &[(&str, Option<&str>)]) -> String {
        let mut pairs: Vec<(&str, Option<String>)> = vec![
            ("q", Some(self.q.clone())),
            ("range", self.range.clone()),
            ("from", self.from.clone()),
            ("to", self.to.clone()),
            ("cols", self.cols.clone()),
            ("before", None),
        ];
        for (k, v) in changes {
            if let Some(p) = pairs.iter_mut().find(|p| p.0 == *k) {
                p.1 = v.map(str::to_owned);
            }
        }
        let mut out = String::from(path);
        let mut first = true;
        for (k, v) in pairs {
            let Some(v) = v.filter(|v| !v.is_empty()) else {
                continue;
            };
            out.push(if first { '?' } else { '&' });
            first = false;
            out.push_str(k);
            out.push('=');
            out.push_str(&encode(&v));
        }
        out
    }
}

pub(super) struct Cell {
    pub value: String,
    pub filter: String,
}

pub(super) struct Row {
    pub id: i64,
    pub time: String,
    pub cells: Vec<Cell>,
    pub message: String,
}

fn row(p: &SearchParams, cols: &[String], h: &StoredEvent) -> Row {
    let flat = h.event.to_flat_json(&h.listener);
    let cells = cols
        .iter()
        .map(|c| {
            let value = match flat.get(c.as_str()) {
                None | Some(serde_json::Value::Null) => String::new(),
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
            };
            let filter = if value.is_empty() {
                String::new()
            } else {
                p.url("/search", &[("q", Some(&add_filter(&p.q, c, &value)))])
            };
            Cell {
                value: visible(&value),
                filter,
            }
        })
        .collect();
    Row {
        id: h.id,
        time: format_micros(h.event.timestamp),
        cells,
        message: visible(&h.event.message()),
    }
}

/// Where a query error is: the query with a caret under the character.
fn caret(q: &str, e: &QueryError) -> Option<String> {
    let QueryError::Syntax { at, .. } = e else {
        return None;
    };
    let line: String = q.chars().map(|c| if c == '\n' { ' ' } else { c }).collect();
    Some(format!("{line}\n{}^", " ".repeat(*at)))
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    user: Option<String>,
    role: &'static str,
    csrf: String,
    p: SearchParams,
    ranges: Vec<(&'static str, bool)>,
    absolute: bool,
    cols: Vec<String>,
    cols_text: String,
    error: Option<String>,
    caret: Option<String>,
    rows: Vec<Row>,
    shown: String,
    histogram: String,
    newest: Option<String>,
    older: Option<String>,
    export_csv: String,
    export_ndjson: String,
    live: String,
    /// This search's own URL (what "save" keeps).
    here: String,
    /// The time range's ends, shown under the histogram.
    span: Option<(String, String)>,
    /// The "time and columns" part starts open (an absolute range or chosen columns).
    more_open: bool,
    saved: Vec<crate::auth::saved::Saved>,
    is_admin: bool,
}

pub async fn search(
    CurrentUser {
        dash: d,
        session: sess,
    }: CurrentUser,

    Query(p): Query<SearchParams>,
) -> Response {
    let now = crate::model::clock::now_micros();
    let cols = p.columns();
    let (hits, error, caret) = match p.query(PAGE, now) {
        Err(e) => (Vec::new(), Some(e.to_string()), caret(&p.q, &e)),
        Ok(q) => {
            let reader = d.reader.clone();
            match tokio::task::spawn_blocking(move || reader.search(&q)).await {
                Ok(Ok(hits)) => (hits, None, None),
                Ok(Err(e)) => (Vec::new(), Some(e.to_string()), None),
                Err(e) => return internal(e),
            }
        }
    };
    let rows: Vec<Row> = hits.iter().map(|h| row(&p, &cols, h)).collect();
    let (users, name) = (d.users.clone(), sess.user.name.clone());
    let saved = match blocking(move || users.saved_searches(&name)).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let older = (hits.len() == PAGE)
        .then(|| hits.last())
        .flatten()
        .map(|l| {
            let c = format!("{}_{}", l.event.timestamp, l.id);
            let mut u = p.url("/search", &[]);
            u.push_str(if u.contains('?') { "&" } else { "?" });
            u.push_str("before=");
            u.push_str(&c);
            u
        });
    let paged = p.cursor().is_some();
    let shown = match (rows.len(), paged, older.is_some()) {
        (0, _, _) => "No events".to_owned(),
        (n, false, false) => format!("{n} event(s)"),
        (n, false, true) => format!("Newest {n} events"),
        (n, true, _) => format!("{n} older event(s)"),
    };
    let preset = p.preset();
    let absolute = SearchParams::nonempty(&p.from).is_some();
    let export = |fmt: &str| {
        let mut u = p.url("/export", &[]);
        u.push_str(if u.contains('?') { "&" } else { "?" });
        u.push_str("format=");
        u.push_str(fmt);
        u
    };
    page(SearchPage {
        user: Some(sess.user.name.clone()),
        role: sess.user.role.as_str(),
        csrf: sess.csrf.clone(),
        histogram: p.url("/search/histogram.svg", &[]),
        newest: paged.then(|| p.url("/search", &[])),
        export_csv: export("csv"),
        export_ndjson: export("ndjson"),
        live: format!("/tail?q={}", encode(&p.q)),
        here: p.url("/search", &[]),
        span: p
            .window(now)
            .ok()
            .map(|(a, b)| (format_micros(a), format_micros(b))),
        more_open: absolute
            || p.cols.as_deref().is_some_and(|c| {
                let norm = |x: &str| x.replace(' ', "");
                norm(c) != norm(DEFAULT_COLUMNS)
            }),
        saved,
        is_admin: sess.user.role == crate::auth::Role::Admin,
        cols_text: cols.join(", "),
        ranges: RANGES.iter().map(|r| (*r, *r == preset)).collect(),
        absolute,
        cols,
        error,
        caret,
        rows,
        shown,
        older,
        p,
    })
}

#[derive(serde::Deserialize)]
pub struct SaveForm {
    #[serde(default)]
    csrf: String,
    name: String,
    url: String,
    /// Present (any value) to share with everyone.
    shared: Option<String>,
}

/// Saves the search the form came from, for the user or shared.
pub async fn save(u: CurrentUser, Form(f): Form<SaveForm>) -> Response {
    let (d, sess) = match u.allowed(&f.csrf, Role::Viewer, "") {
        Ok(x) => x,
        Err(r) => return r,
    };
    let (users, name) = (d.users.clone(), sess.user.name.clone());
    let url = f.url.clone();
    match blocking(move || users.save_search(&name, &f.name, &f.url, f.shared.is_some())).await {
        Ok(_) => Redirect::to(&url).into_response(),
        Err(r) => r,
    }
}

#[derive(serde::Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    csrf: String,
}

/// Deletes a saved search (its owner, or an admin for shared ones).
pub async fn delete_saved(
    u: CurrentUser,

    Path(id): Path<i64>,
    Form(f): Form<DeleteForm>,
) -> Response {
    let (d, sess) = match u.allowed(&f.csrf, Role::Viewer, "") {
        Ok(x) => x,
        Err(r) => return r,
    };
    let users = d.users.clone();
    let name = sess.user.name.clone();
    let admin = sess.user.role == crate::auth::Role::Admin;
    match blocking(move || users.delete_search(id, &name, admin)).await {
        Ok(true) => Redirect::to("/search").into_response(),
        Ok(false) => forbidden("not your saved search"),
        Err(r) => r,
    }
}

/// Bucket sizes for the histogram, in seconds; the first giving at most 80 bars is used.
const BUCKETS: [i64; 12] = [
    1, 10, 60, 300, 900, 1800, 3600, 10800, 21600, 43200, 86400, 604800,
];

fn escape_xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The histogram of a search as SVG: one bar per bucket, each a link (to the page that holds
/// the SVG) to the same search over that bucket alone.
pub async fn histogram(
    CurrentUser { dash: d, .. }: CurrentUser,

    Query(p): Query<SearchParams>,
) -> Response {
    let now = crate::model::clock::now_micros();
    let q = match p.query(1, now) {
        Ok(q) => q,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let (from, to) = (q.from.unwrap_or(now), q.to.unwrap_or(now));
    let span_s = ((to - from) / 1_000_000).max(1);
    let bucket_s = BUCKETS
        .iter()
        .copied()
        .find(|b| span_s / b <= 80)
        .unwrap_or(604_800);
    let bucket = bucket_s * 1_000_000;
    let reader = d.reader.clone();
    let counts = match blocking(move || reader.histogram(&q, bucket)).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let first = from - from.rem_euclid(bucket);
    let n = usize::try_from((to - first + bucket - 1) / bucket)
        .unwrap_or(1)
        .clamp(1, 200);
    let mut bars = vec![0u64; n];
    for (b, c) in counts {
        if let Some(slot) = usize::try_from((b - first) / bucket)
            .ok()
            .and_then(|i| bars.get_mut(i))
        {
            *slot += c;
        }
    }
    let max = bars.iter().copied().max().unwrap_or(0).max(1);
    let total: u64 = bars.iter().sum();
    let (w, ht) = (1000.0_f64, 90.0_f64);
    let bw = w / n as f64;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {ht}\" preserveAspectRatio=\"none\" role=\"img\" aria-label=\"{total} matching events over time\">\
<style>a rect{{fill:#4a7bd0}}a:hover rect{{fill:#e08a1e}}@media (prefers-color-scheme:dark){{a rect{{fill:#6f9be8}}}}</style>"
    );
    for (i, c) in bars.iter().enumerate() {
        if *c == 0 {
            continue;
        }
        let start = first + i as i64 * bucket;
        let bh = (*c as f64 / max as f64 * (ht - 2.0)).max(1.5);
        let x = i as f64 * bw;
        let t0 = format_micros(start);
        let t1 = format_micros(start + bucket);
        let href = p.url(
            "/search",
            &[("from", Some(&t0)), ("to", Some(&t1)), ("range", None)],
        );
        let _ignored = write!(
            svg,
            "<a href=\"{}\" target=\"_top\"><rect x=\"{x:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{bh:.2}\"><title>{} – {}: {c}</title></rect></a>",
            escape_xml(&href),
            ht - bh,
            (bw - 1.0).max(0.5),
            escape_xml(&t0),
            escape_xml(&t1),
        );
    }
    svg.push_str("</svg>");
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'",
            ),
            // Embedded by the search page's <object>.
            (header::X_FRAME_OPTIONS, "SAMEORIGIN"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        svg,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_and_urls() {
        assert_eq!(add_filter("", "host.name", "fw1"), "host.name:\"fw1\"");
        assert_eq!(
            add_filter("a OR b", "user.name", "x\"y"),
            "(a OR b) user.name:\"x\\\"y\""
        );
        let p = SearchParams {
            q: "a&b c".into(),
            range: Some("1h".into()),
            ..SearchParams::default()
        };
        assert_eq!(p.url("/search", &[]), "/search?q=a%26b%20c&range=1h");
        assert_eq!(
            p.url("/search", &[("range", None), ("from", Some("-2h"))]),
            "/search?q=a%26b%20c&from=-2h"
        );
        // A filter added from a value round-trips through the parser.
        let q = add_filter("x", "user.name", "a \"b\" \\ c");
        assert!(crate::query::parse_expr(&q).is_ok(), "{q}");
    }

    #[test]
    fn columns_are_field_names_only() {
        let p = SearchParams {
            cols: Some("user.name, <script>, source.ip,source.ip".into()),
            ..SearchParams::default()
        };
        assert_eq!(p.columns(), vec!["user.name", "source.ip"]);
    }
}
