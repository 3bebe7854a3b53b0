//! The retention thread (`picket-retention`): applies the `[retention]` policy continuously,
//! not from a cron job. Every `retention.interval` it
//! - removes the event store's oldest segments by age, size and free disk space
//!   (`store::retention` decides, `store::sqlite::retention` removes), first copying the events
//!   that alerts link into `alerts.db`, so an alert keeps its evidence;
//! - prunes resolved alerts, delivered notifications and the security log by their own ages;
//! - raises the built-in "disk almost full" alert (and resolves it when space is back);
//! - raises the built-in "TLS certificate expires soon" alert for each served certificate
//!   within 14 days of its end (and resolves it once a renewed certificate is in the file).
//!
//! It sits beside the pipeline, not in it: it only reads the store's catalog and removes whole
//! files, so ingest never waits for it.

use crate::alerts::{Alerts, Kept, Router};
use crate::auth::Users;
use crate::disk::Watch;
use crate::model::alert::{Firing, Level};
use crate::store::retention::Policy;
use crate::store::sqlite::{SegmentInfo, SqliteStore, retention::RunReport};
use crate::store::{Error, EventReader};
use crate::telemetry::Metrics;
use crate::telemetry::events::RateLimit;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// The built-in rule id of the disk alert.
pub const DISK_RULE: &str = "picket-disk-almost-full";

/// The built-in rule id of the certificate-expiry alert.
pub const CERT_RULE: &str = "picket-tls-certificate-expiry";

/// A served certificate this close to its end raises [`CERT_RULE`].
pub const CERT_WARN: Duration = Duration::from_secs(14 * 86_400);

/// What the thread works on.
pub struct Lifecycle {
    pub store: Arc<SqliteStore>,
    pub alerts: Alerts,
    pub users: Arc<Users>,
    pub policy: Policy,
    pub disk: Arc<Watch>,
    pub metrics: Arc<Metrics>,
    pub router: Arc<dyn Router + Send + Sync>,
    /// (who serves it: a listener's name or `web`, the certificate file) for the expiry alert.
    pub certificates: Vec<(String, std::path::PathBuf)>,
    /// Open expiry alerts by certificate file.
    pub cert_alerts: std::collections::HashMap<std::path::PathBuf, i64>,
}

impl Lifecycle {
    /// Runs until `stop`: one pass at once, then one per interval.
    pub fn run(mut self, stop: Arc<AtomicBool>) {
        let mut last = None::<Instant>;
        let mut disk_alert: Option<i64> = None;
        while !stop.load(Relaxed) {
            if last.is_none_or(|t| t.elapsed() >= self.policy.interval) {
                last = Some(Instant::now());
                self.pass(&mut disk_alert);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// One pass; errors are logged (rate-limited) and the next pass tries again.
    pub fn pass(&mut self, disk_alert: &mut Option<i64>) {
        let now = crate::model::clock::now_micros();
        self.certificate_alerts(now);
        match self.events(now) {
            Ok(r) => {
                if !r.removed.is_empty() {
                    tracing::info!(
                        segments = r.removed.len(),
                        events = r.removed.iter().map(|x| x.events).sum::<u64>(),
                        bytes = r.removed.iter().map(|x| x.bytes).sum::<u64>(),
                        evidence = r.evidence,
                        archived = r.archived,
                        reason = r.removed.first().map_or("", |x| x.reason),
                        oldest_left = r
                            .oldest_left
                            .map(crate::model::event::format_micros)
                            .unwrap_or_default(),
                        "Retention removed old events."
                    );
                }
                self.disk_alert(&r, disk_alert, now);
            }
            Err(e) => {
                static LIMIT: RateLimit = RateLimit::new(10);
                failed(
                    &LIMIT,
                    &e,
                    "A retention pass failed; the next one tries again.",
                );
            }
        }
        let age =
            |d: Duration| now.saturating_sub(i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
        match self.alerts.prune(
            age(self.policy.alerts_max_age),
            age(self.policy.outbox_max_age),
        ) {
            Ok((a, o)) if a + o > 0 => {
                tracing::info!(
                    alerts = a,
                    outbox = o,
                    "Retention removed old resolved alerts and sent notifications."
                )
            }
            Ok(_) => {}
            Err(e) => {
                static LIMIT: RateLimit = RateLimit::new(10);
                failed(&LIMIT, &e, "Could not prune the alert store.");
            }
        }
        match self.users.prune_audit(age(self.policy.audit_max_age)) {
            Ok(n) if n > 0 => {
                tracing::info!(entries = n, "Retention removed old security log entries.")
            }
            Ok(_) => {}
            Err(e) => {
                static LIMIT: RateLimit = RateLimit::new(10);
                failed(&LIMIT, &e, "Could not prune the security log.");
            }
        }
    }

    fn events(&mut self, now: i64) -> Result<RunReport, Error> {
        // Evidence counts against `max_bytes` but may take at most a quarter of it: thousands
        // of alerts keeping a hundred events each would otherwise crowd out the events.
        if let Some(cap) = self.policy.max_bytes {
            match self.alerts.trim_evidence(cap / EVIDENCE_SHARE) {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    events = n,
                    "Retention removed the oldest kept alert evidence: it may take a quarter of retention.max_bytes."
                ),
                Err(e) => {
                    static LIMIT: RateLimit = RateLimit::new(10);
                    failed(&LIMIT, &e, "Could not trim the kept alert evidence.");
                }
            }
        }
        let extra = self.alerts.evidence_bytes().unwrap_or(0);
        let store = self.store.clone();
        let reader = store.reader();
        let (alerts, policy) = (&mut self.alerts, &self.policy);
        let disk = self.disk.clone();
        let report = store.apply_retention(
            policy,
            extra,
            || {
                disk.refresh();
                disk.get()
            },
            now,
            |seg| keep_evidence(seg, alerts, &reader, policy.evidence_per_alert),
        )?;
        self.disk.refresh();
        let m = &self.metrics;
        if !report.removed.is_empty() {
            m.retention_runs.inc_by(1);
            m.retention_segments.inc_by(report.removed.len() as u64);
            m.retention_events
                .inc_by(report.removed.iter().map(|x| x.events).sum());
            m.retention_bytes
                .inc_by(report.removed.iter().map(|x| x.bytes).sum());
            m.retention_evidence_kept.inc_by(report.evidence);
            m.retention_archived.inc_by(report.archived);
        }
        if let Some(a) = &self.policy.archive_dir {
            let b = crate::store::sqlite::archive::bytes(a);
            m.archive_bytes.set(i64::try_from(b).unwrap_or(i64::MAX));
        }
        m.store_bytes
            .set(i64::try_from(report.store_bytes).unwrap_or(i64::MAX));
        m.oldest_event_seconds
            .set(report.oldest_left.unwrap_or(0) / 1_000_000);
        if let Some(s) = self.disk.get() {
            m.disk_free_bytes
                .set(i64::try_from(s.free).unwrap_or(i64::MAX));
        }
        Ok(report)
    }

    /// Raises the disk alert when bulk data cannot restore `min_free`, or when less than twice
    /// the reserve is free (intake stops at the reserve); resolves it once neither holds.
    fn disk_alert(&mut self, r: &RunReport, open: &mut Option<i64>, now: i64) {
        let Some(space) = self.disk.get() else {
            return;
        };
        let low = r.short_of_space || space.free < self.policy.reserve.saturating_mul(2);
        if low && open.is_none() {
            let f = Firing {
                rule_id: DISK_RULE.into(),
                title: "Disk almost full: Picket's data directory is running out of space".into(),
                level: Level::High,
                tags: vec!["picket.health".into()],
                kind: "detection",
                group: vec![("data_dir".into(), self.disk.dir().display().to_string())],
                events: Vec::new(),
                count: 1,
                at: now,
                trigger: 0,
            };
            match self.alerts.record(&f, i64::MAX / 4, 0, &*self.router) {
                Ok(crate::alerts::Recorded::Raised(id) | crate::alerts::Recorded::Updated(id)) => {
                    tracing::warn!(
                        alert = id,
                        free_bytes = space.free,
                        "Disk almost full: raised an alert."
                    );
                    *open = Some(id);
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "Could not raise the disk alert."),
            }
        } else if !low {
            if let Some(id) = open.take() {
                if let Err(e) = self.alerts.set_state(
                    id,
                    crate::alerts::State::Resolved,
                    "picket",
                    Some("free space is back"),
                    &*self.router,
                ) {
                    tracing::debug!(error = %e, "Could not resolve the disk alert.");
                }
            }
        }
    }
}

impl Lifecycle {
    /// Raises [`CERT_RULE`] for each served certificate that ends within [`CERT_WARN`] (or has
    /// ended), once per file; resolves it when the file holds a certificate good for longer.
    fn certificate_alerts(&mut self, now: i64) {
        let warn = i64::try_from(CERT_WARN.as_secs()).unwrap_or(i64::MAX);
        for (who, path) in self.certificates.clone() {
            let Some(end) = crate::tls::files::leaf(&path).map(|i| i.not_after) else {
                continue;
            };
            let left = end - now / 1_000_000;
            let open = self.cert_alerts.get(&path).copied();
            if left < warn && open.is_none() {
                let f = Firing {
                    rule_id: CERT_RULE.into(),
                    title: format!(
                        "TLS certificate of {who} expires in {} days: renew {}",
                        left.max(0) / 86_400,
                        path.display()
                    ),
                    level: if left < 3 * 86_400 {
                        Level::Critical
                    } else {
                        Level::High
                    },
                    tags: vec!["picket.health".into()],
                    kind: "detection",
                    group: vec![("certificate".into(), path.display().to_string())],
                    events: Vec::new(),
                    count: 1,
                    at: now,
                    trigger: 0,
                };
                match self.alerts.record(&f, i64::MAX / 4, 0, &*self.router) {
                    Ok(
                        crate::alerts::Recorded::Raised(id) | crate::alerts::Recorded::Updated(id),
                    ) => {
                        tracing::warn!(alert = id, listener = %who, file = %path.display(), days_left = left / 86_400, "TLS certificate expires soon: raised an alert.");
                        self.cert_alerts.insert(path, id);
                    }
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "Could not raise the certificate alert."),
                }
            } else if left >= warn {
                if let Some(id) = open {
                    self.cert_alerts.remove(&path);
                    if let Err(e) = self.alerts.set_state(
                        id,
                        crate::alerts::State::Resolved,
                        "picket",
                        Some("the certificate was renewed"),
                        &*self.router,
                    ) {
                        tracing::debug!(error = %e, "Could not resolve the certificate alert.");
                    }
                }
            }
        }
    }
}

/// Kept alert evidence may take at most `max_bytes / EVIDENCE_SHARE`.
const EVIDENCE_SHARE: u64 = 4;

/// Logs a failure, at most once per call site and 10 s, with the count not logged.
fn failed(limit: &RateLimit, e: &dyn std::fmt::Display, what: &str) {
    if let Some(more) = limit.occurred() {
        tracing::error!(error = %e, suppressed = more, "{what}");
    }
}

/// Copies the events alerts link from a segment about to be removed into `alerts.db`;
/// returns how many were new.
fn keep_evidence(
    seg: &SegmentInfo,
    alerts: &mut Alerts,
    reader: &dyn EventReader,
    per_alert: usize,
) -> Result<u64, Error> {
    let lo = i64::from(seg.id) << 32;
    let hi = (i64::from(seg.last) << 32) | 0xFFFF_FFFF;
    let err = |e: crate::alerts::Error| Error::Evidence(e.to_string());
    let links = alerts.links_in(lo, hi, per_alert).map_err(err)?;
    if links.is_empty() {
        return Ok(0);
    }
    let ids: Vec<i64> = links.iter().map(|(_, id)| *id).collect();
    let events: std::collections::HashMap<i64, crate::store::StoredEvent> = reader
        .get_many(&ids)?
        .into_iter()
        .map(|e| (e.id, e))
        .collect();
    let mut kept = Vec::with_capacity(links.len());
    for (alert, id) in links {
        if let Some(ev) = events.get(&id) {
            let fields = serde_json::Value::Object(ev.event.to_flat_json(&ev.listener)).to_string();
            kept.push((
                alert,
                Kept {
                    event_id: id,
                    ts: ev.event.timestamp,
                    sender: ev.event.peer.ip().to_string(),
                    fields,
                    raw: ev.event.raw.to_vec(),
                },
            ));
        }
    }
    alerts.keep(&kept).map_err(err)
}
