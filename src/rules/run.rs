//! The rules thread: evaluates every stored event as it passes, records what fires as alerts,
//! runs absence checks and escalation once a second, and wakes the notifier.
//!
//! It sits after the store writer (events carry their store ids, so alerts link to them) and
//! before the parse thread's recycling. On start it first replays the last window of events
//! from the store, so a restart neither loses nor double-fires an alert (see `alerts`).

use super::{Firing, Rules, Settings};
use crate::alerts::{Alerts, Recorded, Router};
use crate::model::Event;
use crate::store::{EventReader, StoredBatch};
use crate::telemetry::Metrics;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};

/// Events replayed at most after a restart.
const REPLAY_MAX_EVENTS: usize = 2_000_000;
/// History replayed at most (rules with longer windows start from this much).
const REPLAY_MAX_SECS: u64 = 6 * 3600;

/// What the rules thread needs.
pub struct Context {
    pub rules: Rules,
    pub settings: Settings,
    pub alerts: Alerts,
    pub router: Arc<dyn Router + Send + Sync>,
    pub reader: Box<dyn EventReader>,
    pub listener_names: Vec<String>,
    pub metrics: Arc<Metrics>,
    /// Signalled when notifications were queued.
    pub wake: SyncSender<()>,
    /// Where evaluated batches go back for reuse.
    pub recycle: Option<SyncSender<Vec<Event>>>,
    /// Rules switched off on the dashboard: they are evaluated but raise nothing.
    pub disabled: Disabled,
}

/// The ids of rules switched off, shared with the dashboard.
pub type Disabled = Arc<std::sync::RwLock<std::collections::HashSet<String>>>;

/// Records firings as alerts; true when a notification may have been queued.
fn record(ctx: &mut Context, firings: Vec<Firing>) -> bool {
    let suppress = i64::try_from(ctx.settings.suppress_secs).unwrap_or(0) * 1_000_000;
    let mut queued = false;
    if firings.is_empty() {
        return false;
    }
    let firings: Vec<Firing> = {
        let off = match ctx.disabled.read() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        firings
            .into_iter()
            .filter(|f| !off.contains(&f.rule_id))
            .collect()
    };
    for f in firings {
        match ctx.alerts.record(
            &f,
            suppress,
            ctx.settings.max_linked_events,
            ctx.router.as_ref(),
        ) {
            Ok(Recorded::Raised(id)) => {
                ctx.metrics.alerts_raised.inc_by(1);
                tracing::info!(alert = id, rule = %f.title, group = %f.group_text(), level = f.level.as_str(), "Alert raised.");
                queued = true;
            }
            Ok(Recorded::Updated(_)) => {
                ctx.metrics.alerts_updated.inc_by(1);
            }
            Ok(Recorded::Ignored) => {}
            Err(e) => {
                static LIMIT: crate::telemetry::events::RateLimit =
                    crate::telemetry::events::RateLimit::new(10);
                if let Some(more) = LIMIT.occurred() {
                    tracing::error!(error = %e, rule = %f.title, suppressed = more, "Could not record an alert.");
                }
            }
        }
    }
    queued
}

fn evaluate(ctx: &mut Context, events: &[Event], first_id: i64) -> Vec<Firing> {
    let mut out = Vec::new();
    for (i, ev) in events.iter().enumerate() {
        let name = ctx
            .listener_names
            .get(usize::from(ev.listener))
            .map_or("unknown", String::as_str);
        out.extend(
            ctx.rules
                .process(ev, first_id + i as i64, name, ev.ingested),
        );
    }
    out
}

/// Rebuilds the windows from the events received in the last window (bounded).
pub fn replay(ctx: &mut Context, now: i64) -> usize {
    let secs = ctx.rules.longest_window_secs.min(REPLAY_MAX_SECS);
    if secs == 0 {
        return 0;
    }
    let since = now.saturating_sub(i64::try_from(secs).unwrap_or(0) * 1_000_000);
    let events = match ctx.reader.received_since(since, REPLAY_MAX_EVENTS) {
        Ok(e) => e,
        Err(e) => {
            tracing::error!(error = %e, "Could not replay recent events into the rules; windows start empty.");
            return 0;
        }
    };
    let n = events.len();
    let mut firings = Vec::new();
    for s in &events {
        firings.extend(
            ctx.rules
                .process(&s.event, s.id, &s.listener, s.event.ingested),
        );
    }
    if record(ctx, firings) {
        ctx.wake.try_send(()).unwrap_or(());
    }
    n
}

/// The loop: until `rx` closes.
pub fn run(mut ctx: Context, rx: Receiver<StoredBatch>) {
    let started = Instant::now();
    let replayed = replay(&mut ctx, crate::model::clock::now_micros());
    tracing::info!(
        rules = ctx.rules.len(),
        replayed,
        seconds = started.elapsed().as_secs_f64(),
        "Rules running."
    );
    let mut last_tick = Instant::now();
    let mut last_registry = Instant::now() - Duration::from_secs(60);
    let mut senders = Vec::new();
    loop {
        match rx.recv_timeout(Duration::from_millis(250)) {
            Ok(batch) => {
                let firings = evaluate(&mut ctx, &batch.events, batch.first_id);
                let n = batch.events.len() as u64;
                if let Some(back) = &ctx.recycle {
                    let _unsent = back.try_send(batch.events);
                }
                if record(&mut ctx, firings) {
                    ctx.wake.try_send(()).unwrap_or(());
                }
                // Counted once recorded: a test that sees N evaluated also sees their alerts.
                ctx.metrics.rules_evaluated.inc_by(n);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if last_tick.elapsed() >= Duration::from_secs(1) {
            last_tick = Instant::now();
            let now = crate::model::clock::now_micros();
            if ctx.rules.needs_registry() && last_registry.elapsed() >= Duration::from_secs(5) {
                last_registry = Instant::now();
                match ctx.reader.senders(1) {
                    Ok(s) => senders = s,
                    Err(e) => tracing::warn!(error = %e, "Could not read the registry of senders."),
                }
            }
            let firings = ctx.rules.tick(now, &senders);
            let mut queued = record(&mut ctx, firings);
            let after = i64::try_from(ctx.settings.escalate_after_secs).unwrap_or(0) * 1_000_000;
            let factor = i64::try_from(ctx.settings.escalate_count_factor).unwrap_or(0);
            match ctx.alerts.escalate(now, after, factor, ctx.router.as_ref()) {
                Ok(n) if n > 0 => {
                    ctx.metrics.alerts_escalated.inc_by(n as u64);
                    queued = true;
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "Escalation check failed."),
            }
            if queued {
                ctx.wake.try_send(()).unwrap_or(());
            }
            crate::telemetry::count_up_to(&ctx.metrics.rules_evicted_keys, ctx.rules.evicted);
            ctx.metrics
                .rules_state_keys
                .set(ctx.rules.state_keys() as i64);
        }
    }
}
