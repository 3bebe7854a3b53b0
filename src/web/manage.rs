//! Rules (list, source, load errors, switch on and off), senders (the registry, forget a
//! sender) and SNMP (recent traps by device and type).

use super::AppState;
use super::error::{self, WebError};
use super::overview::SILENT_US;
use super::session::{CurrentUser, blocking, internal, page};
use super::text::visible;
use super::urls::{add_filter, encode};
use crate::alerts::RuleRecord;
use crate::auth::Role;
use crate::model::event::format_micros;
use crate::query::SearchQuery;
use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use std::collections::BTreeMap;

pub(super) struct RuleRow {
    pub id: String,
    pub title: String,
    pub level: String,
    pub kind: String,
    pub file: String,
    pub enabled: bool,
    pub alerts: i64,
    pub matches: i64,
    pub last_fired: String,
}

#[derive(Template)]
#[template(path = "rules.html")]
struct RulesPage {
    user: Option<String>,
    role: &'static str,
    csrf: String,
    running: bool,
    rules: Vec<RuleRow>,
    problems: Vec<(String, String)>,
}

/// The rules with what each raised (also the API's answer).
pub(super) async fn rule_rows(d: &super::Dashboard) -> Result<Vec<RuleRow>, WebError> {
    let alerts = d.alerts.clone();
    let records = error::blocking(move || match alerts.lock() {
        Ok(a) => a.rule_records(),
        Err(p) => p.into_inner().rule_records(),
    })
    .await?;
    let off = match d.rules.disabled.read() {
        Ok(g) => g.clone(),
        Err(p) => p.into_inner().clone(),
    };
    Ok(d.rules
        .meta
        .iter()
        .map(|m| {
            let r = records
                .get(&m.id)
                .cloned()
                .unwrap_or_else(RuleRecord::default);
            RuleRow {
                id: m.id.clone(),
                title: m.title.clone(),
                level: m.level.to_owned(),
                kind: m.kind.to_owned(),
                file: m.file.clone(),
                enabled: !off.contains(&m.id),
                alerts: r.alerts,
                matches: r.matches,
                last_fired: if r.last_fired > 0 {
                    format_micros(r.last_fired)
                } else {
                    String::new()
                },
            }
        })
        .collect())
}

pub async fn rules(
    CurrentUser {
        dash: d,
        session: sess,
    }: CurrentUser,
) -> Response {
    let rows = match rule_rows(&d).await {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    page(RulesPage {
        user: Some(sess.user.name.clone()),
        role: sess.user.role.as_str(),
        csrf: sess.csrf.clone(),
        running: d.rules.running,
        rules: rows,
        problems: d
            .rules
            .problems
            .iter()
            .map(|p| (p.file.clone(), p.reason.clone()))
            .collect(),
    })
}

#[derive(Template)]
#[template(path = "rule.html")]
struct RulePage {
    user: Option<String>,
    role: &'static str,
    csrf: String,
    can_change: bool,
    r: RuleRow,
    source: String,
    problems: Vec<String>,
}

pub async fn rule(
    CurrentUser {
        dash: d,
        session: sess,
    }: CurrentUser,

    Path(id): Path<String>,
) -> Response {
    let rows = match rule_rows(&d).await {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let Some(r) = rows.into_iter().find(|r| r.id == id) else {
        return (StatusCode::NOT_FOUND, "no such rule").into_response();
    };
    let source = d.rules.sources.get(&r.file).cloned().unwrap_or_default();
    let problems = d
        .rules
        .problems
        .iter()
        .filter(|p| p.file == r.file)
        .map(|p| p.reason.clone())
        .collect();
    page(RulePage {
        user: Some(sess.user.name.clone()),
        role: sess.user.role.as_str(),
        csrf: sess.csrf.clone(),
        can_change: sess.user.role >= Role::Analyst,
        source: visible(&source).replace("\\x0a", "\n"),
        problems,
        r,
    })
}

#[derive(serde::Deserialize)]
pub struct EnableForm {
    #[serde(default)]
    csrf: String,
    /// `on` or `off`.
    to: String,
}

/// Switches a rule on or off (analysts and admins; CSRF-checked; audited).
pub async fn set_rule(
    State(_s): State<AppState>,
    u: CurrentUser,
    Path(id): Path<String>,
    Form(f): Form<EnableForm>,
) -> Response {
    let (d, sess) = match u.allowed(&f.csrf, Role::Analyst, "your role cannot change rules") {
        Ok(x) => x,
        Err(r) => return r,
    };
    match change_rule(&d, &id, &f.to, &sess.user.name).await {
        Ok(()) => Redirect::to(&format!("/rules/{}", encode(&id))).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Switches a rule on (`on`) or off (`off`), for the page and the API.
pub(super) async fn change_rule(
    d: &super::Dashboard,
    id: &str,
    to: &str,
    user: &str,
) -> Result<(), WebError> {
    let enabled = match to {
        "on" => true,
        "off" => false,
        _ => return Err(WebError::BadRequest("to must be on or off".into())),
    };
    if !d.rules.meta.iter().any(|m| m.id == id) {
        return Err(WebError::NotFound("no such rule"));
    }
    let (alerts, users) = (d.alerts.clone(), d.users.clone());
    let (rid, who) = (id.to_owned(), user.to_owned());
    let r = tokio::task::spawn_blocking(move || {
        let g = match alerts.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        g.set_rule_enabled(&rid, enabled, &who)?;
        users.audit(
            &who,
            if enabled {
                "rule_enable"
            } else {
                "rule_disable"
            },
            &rid,
        );
        Ok::<_, crate::alerts::Error>(())
    })
    .await;
    r.map_err(WebError::internal)?.map_err(WebError::internal)?;
    let mut g = match d.rules.disabled.write() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    if enabled {
        g.remove(id);
    } else {
        g.insert(id.to_owned());
    }
    Ok(())
}

pub(super) struct SenderRow {
    pub sender: String,
    /// The client certificate of its latest TLS connection (empty: none seen since start).
    pub tls: String,
    pub host: String,
    pub listener: String,
    pub parser: String,
    pub dataset: String,
    pub events: i64,
    pub today: i64,
    pub rate: String,
    pub first: String,
    pub last: String,
    pub silent: bool,
    pub href: String,
}

#[derive(Template)]
#[template(path = "senders.html")]
struct SendersPage {
    user: Option<String>,
    role: &'static str,
    csrf: String,
    is_admin: bool,
    senders: Vec<SenderRow>,
    notice: Option<String>,
}

#[derive(serde::Deserialize, Default)]
pub struct SendersParams {
    notice: Option<String>,
}

pub async fn senders(
    CurrentUser {
        dash: d,
        session: sess,
    }: CurrentUser,

    Query(p): Query<SendersParams>,
) -> Response {
    let reader = d.reader.clone();
    let list = match blocking(move || reader.senders(7)).await {
        Ok(l) => l,
        Err(r) => return r,
    };
    let now = crate::model::clock::now_micros();
    let today = now.div_euclid(86_400_000_000);
    let rows = list
        .into_iter()
        .map(|x| {
            let week: i64 = x.per_day.iter().map(|d| d.1).sum();
            let days = x.per_day.len().max(1) as f64;
            let tls = x
                .sender
                .parse()
                .ok()
                .and_then(|ip| d.tls_peers.get(ip))
                .map(|t| {
                    t.subject.map_or_else(
                        || format!("TLS on {}, no client certificate", t.listener),
                        |s| {
                            format!(
                                "{s} (SHA-256 {}) on {}",
                                t.fingerprint.unwrap_or_default(),
                                t.listener
                            )
                        },
                    )
                })
                .unwrap_or_default();
            SenderRow {
                tls,
                silent: now - x.last_seen > SILENT_US,
                href: format!(
                    "/search?range=24h&q={}",
                    encode(&add_filter("", "observer.ip", &x.sender))
                ),
                today: x.per_day.iter().find(|d| d.0 == today).map_or(0, |d| d.1),
                rate: format!("{:.0}/day", week as f64 / days),
                sender: x.sender,
                host: x.host.unwrap_or_default(),
                listener: x.listener.unwrap_or_default(),
                parser: x.parser.unwrap_or_default(),
                dataset: x.dataset.unwrap_or_default(),
                events: x.events,
                first: format_micros(x.first_seen),
                last: format_micros(x.last_seen),
            }
        })
        .collect();
    page(SendersPage {
        user: Some(sess.user.name.clone()),
        role: sess.user.role.as_str(),
        csrf: sess.csrf.clone(),
        is_admin: sess.user.role == Role::Admin,
        senders: rows,
        notice: p.notice,
    })
}

#[derive(serde::Deserialize)]
pub struct ForgetForm {
    #[serde(default)]
    csrf: String,
    sender: String,
    /// Must repeat the sender, as a confirmation.
    confirm: String,
}

/// Forgets a sender: every stored event and its registry entry (admins only).
pub async fn forget(
    State(_s): State<AppState>,
    u: CurrentUser,
    Form(f): Form<ForgetForm>,
) -> Response {
    let (d, sess) = match u.allowed(&f.csrf, Role::Admin, "only admins can forget a sender") {
        Ok(x) => x,
        Err(r) => return r,
    };
    let host = f.sender.trim().to_owned();
    if host.is_empty() || f.confirm.trim() != host {
        return (StatusCode::BAD_REQUEST, "type the sender again to confirm").into_response();
    }
    let (reader, users, who) = (d.reader.clone(), d.users.clone(), sess.user.name.clone());
    let alerts = d.alerts.clone();
    let h2 = host.clone();
    let r = tokio::task::spawn_blocking(move || {
        let r = reader.forget(&h2)?;
        // Copies alerts kept after retention are forgotten too.
        let kept = match alerts.lock() {
            Ok(mut g) => g.forget_evidence(&h2),
            Err(p) => p.into_inner().forget_evidence(&h2),
        }
        .map_err(|e| crate::store::Error::Evidence(e.to_string()))?;
        let r = (r.0 + kept, r.1);
        users.audit(&who, "forget_sender", &format!("{h2}: {} events", r.0));
        Ok::<_, crate::store::Error>(r)
    })
    .await;
    match r {
        Ok(Ok((events, _))) => {
            let notice = format!("Forgot {host}: {events} events deleted.");
            Redirect::to(&format!("/senders?notice={}", encode(&notice))).into_response()
        }
        Ok(Err(e)) => internal(e),
        Err(e) => internal(e),
    }
}

pub(super) struct TrapRow {
    pub id: i64,
    pub time: String,
    pub device: String,
    pub kind: String,
    pub summary: String,
}

pub(super) struct TrapGroup {
    pub device: String,
    pub kind: String,
    pub count: usize,
    pub last: String,
    pub href: String,
}

#[derive(Template)]
#[template(path = "snmp.html")]
struct SnmpPage {
    user: Option<String>,
    role: &'static str,
    csrf: String,
    groups: Vec<TrapGroup>,
    traps: Vec<TrapRow>,
    scanned: usize,
}

/// Traps examined for the page: the newest of the last 24 hours.
const SNMP_SCAN: usize = 2000;

pub async fn snmp(
    CurrentUser {
        dash: d,
        session: sess,
    }: CurrentUser,
) -> Response {
    let now = crate::model::clock::now_micros();
    let mut q = match SearchQuery::parse("event.dataset:snmp", SNMP_SCAN) {
        Ok(q) => q,
        Err(e) => return internal(e),
    };
    q.from = Some(now - 86_400_000_000);
    let reader = d.reader.clone();
    let hits = match blocking(move || reader.search(&q)).await {
        Ok(h) => h,
        Err(r) => return r,
    };
    let mut groups: BTreeMap<(String, String, &str), (usize, i64)> = BTreeMap::new();
    let mut traps = Vec::new();
    for h in &hits {
        let (device, device_field) = match &h.event.host {
            Some(host) => (host.clone(), "host.name"),
            None => (h.event.peer.ip().to_string(), "observer.ip"),
        };
        let kind = match h.event.field(crate::model::fields::EVENT_ACTION) {
            Some(crate::model::FieldValue::Str(a)) => a.clone(),
            _ => match h.event.field("snmp.trap_oid") {
                Some(crate::model::FieldValue::Str(o)) => o.clone(),
                _ => "unknown".into(),
            },
        };
        let g = groups
            .entry((device.clone(), kind.clone(), device_field))
            .or_insert((0, 0));
        g.0 += 1;
        g.1 = g.1.max(h.event.timestamp);
        if traps.len() < 100 {
            traps.push(TrapRow {
                id: h.id,
                time: format_micros(h.event.timestamp),
                device,
                kind,
                summary: visible(&h.event.message()),
            });
        }
    }
    let mut groups: Vec<TrapGroup> = groups
        .into_iter()
        .map(|((device, kind, field), (count, last))| TrapGroup {
            href: format!(
                "/search?range=24h&q={}",
                encode(&add_filter(
                    &add_filter("event.dataset:snmp", "event.action", &kind),
                    field,
                    &device
                ))
            ),
            device,
            kind,
            count,
            last: format_micros(last),
        })
        .collect();
    groups.sort_by_key(|g| std::cmp::Reverse(g.count));
    page(SnmpPage {
        user: Some(sess.user.name.clone()),
        role: sess.user.role.as_str(),
        csrf: sess.csrf.clone(),
        scanned: hits.len(),
        groups,
        traps,
    })
}
