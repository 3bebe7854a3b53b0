//! The overview: events per minute over 24 hours by severity, the busiest senders, source
//! addresses (with country) and actions, open alerts, each listener's rate with the drop and
//! truncation counters, and senders that went silent.

use super::AppState;
use super::alerts::{AlertRow, alert_row};
use super::session::{CurrentUser, internal, page};
use super::urls::{add_filter, encode};
use crate::alerts::State as AlertState;
use crate::model::event::format_micros;
use crate::store::{Activity, Top};
use crate::telemetry::DropReason;
use askama::Template;
use axum::extract::State;
use axum::response::Response;
use std::fmt::Write;

const DAY_US: i64 = 86_400_000_000;
/// Bars of the chart: 10 minutes each over 24 hours.
const BAR_US: i64 = 600_000_000;
const BARS: usize = 144;
/// A sender is silent when it sent nothing for this long.
pub(super) const SILENT_US: i64 = 15 * 60 * 1_000_000;

/// Severity classes of the chart: (label, CSS class, severities).
const CLASSES: [(&str, &str, &[u8]); 4] = [
    ("error and worse (0–3)", "sev-e", &[0, 1, 2, 3]),
    ("warning (4)", "sev-w", &[4]),
    ("notice, info (5–6)", "sev-i", &[5, 6]),
    ("debug, none (7)", "sev-d", &[7, 8]),
];

pub(super) struct SenderRow {
    pub sender: String,
    pub host: String,
    pub parser: String,
    pub events: i64,
    pub last: String,
    pub silent: bool,
}

pub(super) struct TopRow {
    pub value: String,
    pub extra: String,
    pub events: i64,
    pub href: String,
}

pub(super) struct ListenerRow {
    pub name: String,
    pub frames: u64,
    pub bytes: u64,
    pub rate: String,
}

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    user: Option<String>,
    role: &'static str,
    csrf: String,
    stored: u64,
    last_24h: i64,
    peak: String,
    dropped: u64,
    drops: Vec<(&'static str, u64)>,
    truncated: u64,
    listeners: Vec<ListenerRow>,
    open_alerts: Vec<AlertRow>,
    chart: String,
    legend: Vec<(&'static str, &'static str)>,
    top_senders: Vec<TopRow>,
    top_sources: Vec<TopRow>,
    top_actions: Vec<TopRow>,
    silent: Vec<SenderRow>,
    senders: Vec<SenderRow>,
    storage: String,
    degraded: Option<&'static str>,
}

/// The storage line: size, oldest event, free space, what retention removed.
fn storage_line(m: &crate::telemetry::Metrics) -> String {
    let mb = |b: i64| format!("{:.1} MB", b as f64 / 1e6);
    let oldest = m.oldest_event_seconds.get().saturating_mul(1_000_000);
    let free = m.disk_free_bytes.get();
    format!(
        "Storage: {} in the event store; oldest event {}; {} free on disk; retention removed {} events in {} segments since start.",
        mb(m.store_bytes.get()),
        if oldest > 0 {
            format_micros(oldest)
        } else {
            "–".into()
        },
        if free >= 0 {
            mb(free)
        } else {
            "unknown".into()
        },
        m.retention_events.get(),
        m.retention_segments.get(),
    )
}

fn tops(list: &[Top], field: &str) -> Vec<TopRow> {
    list.iter()
        .map(|t| TopRow {
            href: format!(
                "/search?range=24h&q={}",
                encode(&add_filter("", field, &t.value))
            ),
            value: t.value.clone(),
            extra: t.extra.clone().unwrap_or_default(),
            events: t.events,
        })
        .collect()
}

/// The per-minute chart as inline SVG: one stacked bar per 10 minutes, height the average
/// events per minute. Only numbers and times go into it.
fn chart(a: &Activity, now: i64) -> (String, i64, f64) {
    let start = now - DAY_US;
    let first = start - start.rem_euclid(BAR_US);
    let mut bars = vec![[0i64; 4]; BARS + 1];
    let mut total = 0;
    for (minute, sev, n) in &a.per_minute {
        let Some(bar) = usize::try_from((minute - first) / BAR_US)
            .ok()
            .and_then(|i| bars.get_mut(i))
        else {
            continue;
        };
        let class = CLASSES.iter().position(|c| c.2.contains(sev)).unwrap_or(3);
        if let Some(slot) = bar.get_mut(class) {
            *slot += n;
        }
        total += n;
    }
    let per_min = |b: &[i64; 4]| b.iter().sum::<i64>() as f64 / 10.0;
    let peak = bars.iter().map(per_min).fold(0.0_f64, f64::max);
    let scale = if peak > 0.0 { 118.0 / peak } else { 0.0 };
    let w = 1000.0 / bars.len() as f64;
    let mut svg = String::from(
        "<svg class=\"chart\" viewBox=\"0 0 1000 120\" preserveAspectRatio=\"none\" role=\"img\" aria-label=\"Events per minute over 24 hours\">",
    );
    for (i, b) in bars.iter().enumerate() {
        let x = i as f64 * w;
        let mut y = 120.0;
        let t = first + i as i64 * BAR_US;
        for (k, n) in b.iter().enumerate() {
            if *n == 0 {
                continue;
            }
            let h = (*n as f64 / 10.0) * scale;
            y -= h;
            let (label, class, _) = CLASSES.get(k).copied().unwrap_or(CLASSES[3]);
            let _ignored = write!(
                svg,
                "<rect class=\"{class}\" x=\"{x:.2}\" y=\"{y:.2}\" width=\"{:.2}\" height=\"{h:.2}\"><title>{} +10 min: {:.1}/min {label}</title></rect>",
                (w - 0.6).max(0.4),
                format_micros(t),
                *n as f64 / 10.0
            );
        }
    }
    svg.push_str("</svg>");
    (svg, total, peak)
}

pub async fn overview(
    CurrentUser {
        dash: d,
        session: sess,
    }: CurrentUser,
    State(s): State<AppState>,
) -> Response {
    let m = s.metrics.clone();
    let now = crate::model::clock::now_micros();
    let r = tokio::task::spawn_blocking(move || {
        let open = match d.alerts.lock() {
            Ok(a) => a.list(Some(AlertState::Open), 20),
            Err(p) => p.into_inner().list(Some(AlertState::Open), 20),
        }?;
        let senders = d.reader.senders(1)?;
        let stored = d.reader.count()?;
        let activity = d.reader.activity(now - DAY_US, 10)?;
        Ok::<_, super::error::WebError>((open, senders, stored, activity))
    })
    .await;
    let (open, senders, stored, activity) = match r {
        Ok(Ok(x)) => x,
        Ok(Err(e)) => return axum::response::IntoResponse::into_response(e),
        Err(e) => return internal(e),
    };
    let (chart, last_24h, peak) = chart(&activity, now);
    let rates = m.listener_rates();
    let listeners = m
        .listeners
        .iter()
        .enumerate()
        .map(|(i, l)| ListenerRow {
            name: l.name.clone(),
            frames: l.received.get(),
            bytes: l.received_bytes.get(),
            rate: rates
                .as_ref()
                .and_then(|r| r.get(i))
                .map_or_else(|| "…".to_owned(), |r| format!("{r:.1}/s")),
        })
        .collect();
    let rows: Vec<SenderRow> = senders
        .into_iter()
        .map(|x| SenderRow {
            silent: now - x.last_seen > SILENT_US,
            sender: x.sender,
            host: x.host.unwrap_or_default(),
            parser: x.parser.unwrap_or_default(),
            events: x.events,
            last: format_micros(x.last_seen),
        })
        .collect();
    let (silent, active): (Vec<SenderRow>, Vec<SenderRow>) =
        rows.into_iter().partition(|r| r.silent);
    page(OverviewPage {
        user: Some(sess.user.name.clone()),
        role: sess.user.role.as_str(),
        csrf: sess.csrf.clone(),
        stored,
        last_24h,
        peak: format!("{peak:.1}"),
        dropped: m.dropped_total(),
        drops: DropReason::ALL
            .iter()
            .map(|r| (r.as_str(), m.dropped(*r)))
            .filter(|(_, n)| *n > 0)
            .collect(),
        truncated: m.truncated.get(),
        listeners,
        open_alerts: open.iter().map(alert_row).collect(),
        chart,
        legend: CLASSES.iter().map(|c| (c.0, c.1)).collect(),
        top_senders: tops(&activity.senders, "observer.ip"),
        top_sources: tops(&activity.source_ips, "source.ip"),
        top_actions: tops(&activity.actions, "event.action"),
        silent,
        senders: active.into_iter().take(50).collect(),
        storage: storage_line(&m),
        degraded: super::degraded(&m),
    })
}
