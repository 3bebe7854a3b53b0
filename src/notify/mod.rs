//! Notifications: channels (`[[notify.channel]]`), routing (`[[notify.route]]`) and the
//! delivery worker that drains the outbox (the store's `Outbox`, written by `crate::alerts`).
//! It only reads `model::alert` types and that trait, never the alert book itself.
//!
//! Delivery is at least once: a message leaves the outbox only when the receiver accepted it.
//! Timeouts, connection failures, HTTP 429 and 5xx (and transient SMTP replies) are retried
//! with exponential back-off and jitter; other answers, and the last attempt, dead-letter the
//! message, where `picket notify dead` shows it. Each channel has a rate limit.

pub mod deliver;
pub mod render;

use crate::model::alert::Level;
use crate::model::alert::{Alert, Notice, Outgoing, Router};
use crate::model::{Invalid, Secret};
use crate::store::alerts::Outbox;
use crate::telemetry::Metrics;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

/// `[notify]`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub channel: Vec<ChannelSettings>,
    #[serde(default)]
    pub route: Vec<RouteSettings>,
}

/// The kinds of channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Any HTTP endpoint: JSON body from a template, custom headers, optional HMAC signature.
    Webhook,
    /// Slack incoming webhook.
    Slack,
    /// Microsoft Teams workflow webhook (Adaptive Card).
    Teams,
    /// Discord webhook.
    Discord,
    /// PagerDuty Events API v2.
    Pagerduty,
    /// E-mail over SMTP.
    Email,
}

/// SMTP transport security.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tls {
    /// Plain connection upgraded with STARTTLS (required).
    #[default]
    Starttls,
    /// Implicit TLS from the first byte (port 465).
    Tls,
    /// No encryption (a local relay).
    None,
}

/// `[[notify.channel]]`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelSettings {
    pub name: String,
    pub kind: Kind,
    /// Webhook URL (PagerDuty: defaults to the Events API v2 endpoint). Slack, Teams and
    /// Discord URLs carry their token, so it is a secret.
    pub url: Option<Secret>,
    /// Extra request headers; their values often hold a bearer token.
    #[serde(default)]
    pub headers: BTreeMap<String, Secret>,
    /// Generic webhook: the JSON body, with `{{field}}` placeholders (see `render.rs`).
    pub template: Option<String>,
    /// Generic webhook: sign the body with HMAC-SHA256 (`X-Picket-Signature: sha256=<hex>`).
    pub hmac_secret: Option<Secret>,
    /// PagerDuty: the integration's routing key.
    pub routing_key: Option<Secret>,
    pub smtp_host: Option<String>,
    pub smtp_port: Option<u16>,
    #[serde(default)]
    pub tls: Tls,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub from: Option<String>,
    #[serde(default)]
    pub to: Vec<String>,
    /// Messages per minute at most (default 30).
    pub rate_per_minute: Option<u32>,
    /// Attempts before dead-lettering (default 8).
    pub max_attempts: Option<u32>,
    /// Per-attempt timeout (default 10 s).
    pub timeout_secs: Option<u64>,
    /// First retry delay; doubled per attempt up to 10 minutes (default 2000 ms).
    pub retry_base_ms: Option<u64>,
}

/// `[[notify.route]]`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSettings {
    /// Channel names.
    pub channels: Vec<String>,
    /// Rule ids or titles (empty: every rule).
    #[serde(default)]
    pub rules: Vec<String>,
    /// Any of these tags (empty: any).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Lowest level routed (default: informational).
    pub min_level: Option<String>,
    /// Also send a notice when an alert is resolved.
    #[serde(default)]
    pub resolved: bool,
    /// This route receives escalations (and only those).
    #[serde(default)]
    pub escalation: bool,
}

/// A channel ready to use.
#[derive(Debug, Clone)]
pub struct Channel {
    pub settings: ChannelSettings,
    pub max_attempts: u32,
    pub timeout: Duration,
    pub retry_base: Duration,
    pub rate_per_minute: u32,
}

/// Validated notification settings: the channels by name and the routes.
#[derive(Debug, Clone, Default)]
pub struct Notifier {
    pub channels: HashMap<String, Channel>,
    routes: Vec<(RouteSettings, Level)>,
}

impl Settings {
    /// Checks every channel and route; the error names the channel or route and the problem.
    pub fn validate(&self) -> Result<Notifier, Invalid> {
        let mut channels = HashMap::new();
        for c in &self.channel {
            let n = &c.name;
            if n.is_empty() {
                return Err(Invalid::new(
                    "notify",
                    "notify.channel: a channel needs a name",
                ));
            }
            let need = |v: Option<&str>, what: &str| {
                if v.is_none_or(str::is_empty) {
                    Err(Invalid::new(
                        "notify",
                        format!(
                            "notify.channel {n:?}: {what} is required for kind {:?}",
                            c.kind
                        ),
                    ))
                } else {
                    Ok(())
                }
            };
            match c.kind {
                Kind::Email => {
                    need(c.smtp_host.as_deref(), "smtp_host")?;
                    need(c.from.as_deref(), "from")?;
                    if c.to.is_empty() {
                        return Err(Invalid::new(
                            "notify",
                            format!("notify.channel {n:?}: `to` needs at least one address"),
                        ));
                    }
                    for a in c.to.iter().chain(c.from.iter()) {
                        a.parse::<lettre::message::Mailbox>().map_err(|e| {
                            Invalid::new(
                                "notify",
                                format!("notify.channel {n:?}: address {a:?}: {e}"),
                            )
                        })?;
                    }
                    if c.username.is_some() != c.password.is_some() {
                        return Err(Invalid::new(
                            "notify",
                            format!("notify.channel {n:?}: username and password go together"),
                        ));
                    }
                }
                Kind::Pagerduty => need(c.routing_key.as_ref().map(Secret::expose), "routing_key")?,
                _ => need(c.url.as_ref().map(Secret::expose), "url")?,
            }
            if let Some(u) = c.url.as_ref().map(Secret::expose) {
                if !(u.starts_with("http://") || u.starts_with("https://")) {
                    return Err(Invalid::new(
                        "notify",
                        format!("notify.channel {n:?}: url must start with http:// or https://"),
                    ));
                }
            }
            if let Some(t) = &c.template {
                render::check_template(t).map_err(|e| {
                    Invalid::new("notify", format!("notify.channel {n:?}: template: {e}"))
                })?;
            }
            let ch = Channel {
                max_attempts: c.max_attempts.unwrap_or(8).max(1),
                timeout: Duration::from_secs(c.timeout_secs.unwrap_or(10).clamp(1, 300)),
                retry_base: Duration::from_millis(c.retry_base_ms.unwrap_or(2000).max(1)),
                rate_per_minute: c.rate_per_minute.unwrap_or(30).max(1),
                settings: c.clone(),
            };
            if channels.insert(n.clone(), ch).is_some() {
                return Err(Invalid::new(
                    "notify",
                    format!("notify.channel {n:?} is defined twice"),
                ));
            }
        }
        let mut routes = Vec::new();
        for (i, r) in self.route.iter().enumerate() {
            for c in &r.channels {
                if !channels.contains_key(c) {
                    return Err(Invalid::new(
                        "notify",
                        format!("notify.route {}: unknown channel {c:?}", i + 1),
                    ));
                }
            }
            let level = match &r.min_level {
                None => Level::Informational,
                Some(l) => Level::parse(l).ok_or_else(|| {
                    Invalid::new(
                        "notify",
                        format!("notify.route {}: unknown min_level {l:?}", i + 1),
                    )
                })?,
            };
            routes.push((r.clone(), level));
        }
        Ok(Notifier { channels, routes })
    }
}

impl Router for Notifier {
    fn channels(&self, alert: &Alert, notice: Notice) -> Vec<String> {
        let level = Level::parse(&alert.level).unwrap_or(Level::Medium);
        let mut out: Vec<String> = Vec::new();
        for (r, min) in &self.routes {
            let wanted = match notice {
                Notice::Raised => !r.escalation,
                Notice::Escalated => r.escalation,
                Notice::Resolved => r.resolved && !r.escalation,
                Notice::Test => false,
            };
            let rule_ok = r.rules.is_empty()
                || r.rules
                    .iter()
                    .any(|x| x == "*" || *x == alert.rule_id || *x == alert.title);
            let tag_ok = r.tags.is_empty() || r.tags.iter().any(|t| alert.tags.contains(t));
            if wanted && rule_ok && tag_ok && level >= *min {
                for c in &r.channels {
                    if !out.contains(c) {
                        out.push(c.clone());
                    }
                }
            }
        }
        out
    }
}

/// The result of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    Delivered,
    /// Worth retrying (timeout, connection failure, 429, 5xx, transient SMTP reply).
    Retry(String),
    /// Will not succeed by retrying.
    Permanent(String),
}

/// A token bucket per channel.
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Delay before retry `attempt` (1-based): base × 2^(attempt-1), at most 10 minutes, ±25%.
pub fn backoff(base: Duration, attempt: u32) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    let capped = exp.min(Duration::from_secs(600));
    let jitter = 0.75 + fastrand::f64() * 0.5;
    capped.mul_f64(jitter)
}

/// Delivers one message now (no outbox bookkeeping): for `notify test` and the worker.
pub fn attempt(ch: &Channel, msg: &Outgoing) -> Attempt {
    let alert: serde_json::Value = serde_json::from_str(&msg.payload).unwrap_or_default();
    deliver::send(ch, &alert, &msg.notice)
}

/// The worker: drains due outbox messages until `stop` is set. `wake` is signalled when new
/// messages were queued.
pub fn run(
    alerts: Box<dyn Outbox>,
    notifier: Arc<Notifier>,
    wake: std::sync::mpsc::Receiver<()>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    metrics: Arc<Metrics>,
) {
    let mut buckets: HashMap<String, Bucket> = HashMap::new();
    while !stop.load(Relaxed) {
        let now = crate::model::clock::now_micros();
        let due = match alerts.due(now, 100) {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %e, "Reading the outbox failed; retrying.");
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
        };
        for msg in &due {
            if stop.load(Relaxed) {
                return;
            }
            deliver_one(alerts.as_ref(), &notifier, &mut buckets, msg, &metrics);
        }
        // Sleep until the next message is due (at most 1 s) or new ones are queued.
        let wait = match alerts.next_due() {
            Ok(Some(t)) => Duration::from_micros(
                u64::try_from(t - crate::model::clock::now_micros()).unwrap_or(0),
            ),
            _ => Duration::from_secs(1),
        }
        .min(Duration::from_secs(1));
        if !wait.is_zero() {
            match wake.recv_timeout(wait) {
                Ok(()) | Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    std::thread::sleep(wait);
                }
            }
        }
    }
}

fn deliver_one(
    alerts: &dyn Outbox,
    notifier: &Notifier,
    buckets: &mut HashMap<String, Bucket>,
    msg: &Outgoing,
    metrics: &Metrics,
) {
    let now = crate::model::clock::now_micros();
    let log = |r: Result<(), crate::store::alerts::Error>| {
        if let Err(e) = r {
            tracing::error!(error = %e, "Updating the outbox failed.");
        }
    };
    let Some(ch) = notifier.channels.get(&msg.channel) else {
        log(alerts.failed(msg.id, "no such channel in the configuration", None));
        metrics.notify_dead.inc_by(1);
        return;
    };
    // Rate limit: a full bucket of `rate_per_minute` tokens refilling continuously.
    let rate = f64::from(ch.rate_per_minute);
    let b = buckets.entry(msg.channel.clone()).or_insert(Bucket {
        tokens: rate,
        at: Instant::now(),
    });
    let t = Instant::now();
    b.tokens = (b.tokens + t.duration_since(b.at).as_secs_f64() * rate / 60.0).min(rate);
    b.at = t;
    if b.tokens < 1.0 {
        let wait = ((1.0 - b.tokens) * 60.0 / rate * 1e6) as i64;
        metrics.notify_rate_limited.inc_by(1);
        log(alerts.postpone(msg.id, now + wait.max(1000)));
        return;
    }
    b.tokens -= 1.0;
    match attempt(ch, msg) {
        Attempt::Delivered => {
            metrics.notify_sent.inc_by(1);
            log(alerts.sent(msg.id));
        }
        Attempt::Retry(err) if (msg.attempts + 1) < i64::from(ch.max_attempts) => {
            let attempt_no = u32::try_from(msg.attempts + 1).unwrap_or(u32::MAX);
            let delay = backoff(ch.retry_base, attempt_no);
            tracing::warn!(channel = %msg.channel, attempt = attempt_no, error = %err, retry_in = ?delay, "Notification failed; retrying.");
            metrics.notify_retried.inc_by(1);
            log(alerts.failed(
                msg.id,
                &err,
                Some(now + i64::try_from(delay.as_micros()).unwrap_or(i64::MAX / 2)),
            ));
        }
        Attempt::Retry(err) | Attempt::Permanent(err) => {
            tracing::error!(channel = %msg.channel, error = %err, "Notification dead-lettered.");
            metrics.notify_dead.inc_by(1);
            log(alerts.failed(msg.id, &err, None));
        }
    }
}

#[cfg(test)]
mod tests;
