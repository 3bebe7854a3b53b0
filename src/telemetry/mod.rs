//! The metrics registry behind `/metrics`, and logging setup.
//!
//! Metrics are prometheus-client's counters, gauges and histograms (and the kinds in
//! [`families`]), registered into one `Registry` and rendered by the crate's Prometheus text
//! encoder (format 0.0.4, the one scrapers, `bench/` and `loadgen` read). Modules bump the
//! handles kept here once per batch where possible; optional stages register their own with
//! [`Metrics::register`]. Labels come from fixed sets (listener names from the config, drop
//! reasons from [`DropReason`], parser names from the parser chain), never from peer addresses.
//! Typed occurrences live in [`events`].

pub mod events;
pub mod families;

pub use families::{Flag, Labeled};
pub use prometheus_client::metrics::counter::Counter;
pub use prometheus_client::metrics::gauge::Gauge;
pub use prometheus_client::metrics::histogram::Histogram;

use families::KernelUdpDrops;
use prometheus_client::encoding::{EncodeMetric, prometheus_text};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

/// Why a frame was dropped. The label values are part of the public metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// The intake queue was full (UDP only: TCP waits instead).
    QueueFull,
    /// The spool could not be written (disk full, I/O error).
    SpoolError,
    /// A spool record failed its checksum (torn write after a crash).
    SpoolCorrupt,
    /// The spool reached its size limit while the indexer lagged (UDP only).
    SpoolFull,
    /// The data directory's file system is full (or under the reserved space): UDP datagrams
    /// and SNMP notifications are dropped while TCP waits.
    DiskFull,
}

impl DropReason {
    pub const ALL: [DropReason; 5] = [
        DropReason::QueueFull,
        DropReason::SpoolError,
        DropReason::SpoolCorrupt,
        DropReason::SpoolFull,
        DropReason::DiskFull,
    ];

    /// The `reason` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::QueueFull => "queue_full",

            DropReason::SpoolError => "spool_error",
            DropReason::SpoolCorrupt => "spool_corrupt",
            DropReason::SpoolFull => "spool_full",
            DropReason::DiskFull => "disk_full",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Upper bounds (seconds) of the store batch and index histograms' buckets.
const BATCH_BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];

fn seconds_histogram() -> Histogram {
    Histogram::new(BATCH_BUCKETS)
}

/// Per-listener counters (handles into the `picket_frames_received*` families).
#[derive(Debug)]
pub struct ListenerMetrics {
    /// The listener's name (label value).
    pub name: String,
    /// Frames received.
    pub received: Counter,
    /// Bytes received.
    pub received_bytes: Counter,
    /// The UDP socket's inode, for reading its kernel drop counter from `/proc/net/udp*`.
    pub udp_inode: Arc<AtomicU64>,
}

/// Every metric of the pipeline's own stages, each registered in [`Metrics::new`]; optional
/// stages (reverse DNS) register theirs with [`Metrics::register`] when they start.
#[derive(Debug)]
pub struct Metrics {
    registry: RwLock<Registry>,
    /// One entry per listener, indexed by `ListenerId`.
    pub listeners: Vec<ListenerMetrics>,
    dropped: [Counter; DropReason::ALL.len()],
    /// (when, frames received per listener), the last minute or so (see `listener_rates`).
    rate_samples: Mutex<std::collections::VecDeque<(std::time::Instant, Vec<u64>)>>,
    /// Frames cut at the maximum frame size.
    pub truncated: Counter,
    /// Frames that were not valid UTF-8.
    pub invalid_utf8: Counter,
    /// Timestamps in the future clamped to the receive time.
    pub clamped: Counter,
    parsed: Labeled,
    /// Events committed to the store.
    pub stored: Counter,
    /// Store batch commit durations.
    pub batch_seconds: Histogram,
    /// Open TCP connections.
    pub tcp_connections: Gauge,
    /// TCP connections accepted.
    pub tcp_accepted: Counter,
    /// TCP connections refused at the connection limit.
    pub tcp_rejected: Counter,
    /// TCP connections closed by the idle timeout.
    pub tcp_idle_closed: Counter,
    /// Bytes appended to the spool.
    pub spool_written_bytes: Counter,
    /// Bytes in the spool not yet stored.
    pub spool_backlog_bytes: Gauge,
    /// Raised while the spool is at its size limit (intake waits; UDP drops count as `spool_full`).
    pub spool_full: Flag,
    /// Raised while intake waits for disk space (a full file system or one under the reserve):
    /// TCP is not read, UDP and SNMP drops count as `disk_full`, `/healthz` answers 503.
    pub disk_full: Flag,
    /// Raised while the store writer cannot commit (its batch is retried; the spool keeps it).
    pub store_failing: Flag,
    /// Store commits that failed and were retried.
    pub store_write_errors: Counter,
    /// Free bytes on the data directory's file system at the last check (-1: unknown).
    pub disk_free_bytes: Gauge,
    /// Bytes of the event store (segments, their WAL, kept evidence) at the last check.
    pub store_bytes: Gauge,
    /// Retention passes that removed something.
    pub retention_runs: Counter,
    /// Segments removed by retention.
    pub retention_segments: Counter,
    /// Events removed by retention.
    pub retention_events: Counter,
    /// Bytes freed by retention.
    pub retention_bytes: Counter,
    /// Alert evidence events copied out of segments before retention removed them.
    pub retention_evidence_kept: Counter,
    /// Segment files written to the archive before retention removed them.
    pub retention_archived: Counter,
    /// Bytes of the archive (`retention.archive_dir`).
    pub archive_bytes: Gauge,
    /// `@timestamp` (seconds) of the oldest event left in the store (0 if none).
    pub oldest_event_seconds: Gauge,
    /// Segments sealed and indexed.
    pub segments_indexed: Counter,
    /// Bytes of sealed segments before compaction rewrote them.
    pub compact_bytes_in: Counter,
    /// Bytes of the compressed segments compaction wrote.
    pub compact_bytes_out: Counter,
    /// Distinct values the overview's counters did not keep (too many in one flush interval).
    pub stats_overflow: Counter,
    /// Seconds spent building segment indexes.
    pub index_seconds: Histogram,
    /// SNMP notifications accepted, by version (1, 2c, 3).
    pub snmp_accepted: [Counter; 3],
    /// SNMP datagrams refused, by reason (the SNMP engine declares the reasons).
    pub snmp_rejected: Labeled,
    /// Responses sent to informs.
    pub snmp_informs_answered: Counter,
    /// Retransmitted informs answered and not stored again.
    pub snmp_inform_duplicates: Counter,
    /// Reports sent (engine-ID discovery, unknown user, time window).
    pub snmp_reports: Counter,
    /// Security notices stored (rate-limited: one per sender and reason per minute).
    pub snmp_security_events: Counter,
    /// Stored events the rules skipped because their queue was full.
    pub rules_dropped: Counter,
    /// Events the rules evaluated.
    pub rules_evaluated: Counter,
    /// Window-state keys evicted at the cap.
    pub rules_evicted_keys: Counter,
    /// Window-state keys held.
    pub rules_state_keys: Gauge,
    /// Alerts raised.
    pub alerts_raised: Counter,
    /// Matches folded into an existing alert (suppression).
    pub alerts_updated: Counter,
    /// Alerts escalated.
    pub alerts_escalated: Counter,
    /// Notifications delivered.
    pub notify_sent: Counter,
    /// Delivery attempts that failed and will be retried.
    pub notify_retried: Counter,
    /// Notifications dead-lettered after the last attempt or a permanent error.
    pub notify_dead: Counter,
    /// Deliveries postponed by a channel's rate limit.
    pub notify_rate_limited: Counter,
}

impl Metrics {
    /// Metrics for listeners with these names, in `ListenerId` order, registered in the order
    /// `/metrics` shows them.
    pub fn new(listener_names: impl IntoIterator<Item = String>) -> Self {
        let received = Labeled::new("listener");
        let received_bytes = Labeled::new("listener");
        let listeners: Vec<ListenerMetrics> = listener_names
            .into_iter()
            .map(|name| ListenerMetrics {
                received: received.counter(&name),
                received_bytes: received_bytes.counter(&name),
                udp_inode: Arc::default(),
                name,
            })
            .collect();
        let reasons = Labeled::new("reason");
        let versions = Labeled::new("version");
        let parsed = Labeled::new("parser");
        parsed.declare(&["none"]);
        let m = Metrics {
            registry: RwLock::new(Registry::default()),
            dropped: DropReason::ALL.map(|r| reasons.counter(r.as_str())),
            rate_samples: Mutex::new(std::collections::VecDeque::new()),
            truncated: Counter::default(),
            invalid_utf8: Counter::default(),
            clamped: Counter::default(),
            parsed,
            stored: Counter::default(),
            batch_seconds: seconds_histogram(),
            tcp_connections: Gauge::default(),
            tcp_accepted: Counter::default(),
            tcp_rejected: Counter::default(),
            tcp_idle_closed: Counter::default(),
            spool_written_bytes: Counter::default(),
            spool_backlog_bytes: Gauge::default(),
            spool_full: Flag::default(),
            disk_full: Flag::default(),
            store_failing: Flag::default(),
            store_write_errors: Counter::default(),
            disk_free_bytes: Gauge::default(),
            store_bytes: Gauge::default(),
            retention_runs: Counter::default(),
            retention_segments: Counter::default(),
            retention_events: Counter::default(),
            retention_bytes: Counter::default(),
            retention_evidence_kept: Counter::default(),
            retention_archived: Counter::default(),
            archive_bytes: Gauge::default(),
            oldest_event_seconds: Gauge::default(),
            segments_indexed: Counter::default(),
            compact_bytes_in: Counter::default(),
            compact_bytes_out: Counter::default(),
            stats_overflow: Counter::default(),
            index_seconds: seconds_histogram(),
            snmp_accepted: ["1", "2c", "3"].map(|v| versions.counter(v)),
            snmp_rejected: Labeled::new("reason"),
            snmp_informs_answered: Counter::default(),
            snmp_inform_duplicates: Counter::default(),
            snmp_reports: Counter::default(),
            snmp_security_events: Counter::default(),
            rules_dropped: Counter::default(),
            rules_evaluated: Counter::default(),
            rules_evicted_keys: Counter::default(),
            rules_state_keys: Gauge::default(),
            alerts_raised: Counter::default(),
            alerts_updated: Counter::default(),
            alerts_escalated: Counter::default(),
            notify_sent: Counter::default(),
            notify_retried: Counter::default(),
            notify_dead: Counter::default(),
            notify_rate_limited: Counter::default(),
            listeners,
        };
        m.disk_free_bytes.set(-1);
        let udp = KernelUdpDrops {
            listeners: m
                .listeners
                .iter()
                .map(|l| (l.name.clone(), l.udp_inode.clone()))
                .collect(),
        };
        m.register(
            "picket_frames_received_total",
            "Frames received, by listener.",
            received.clone(),
        );
        m.register(
            "picket_frames_received_bytes_total",
            "Bytes received, by listener.",
            received_bytes.clone(),
        );
        m.register(
            "picket_frames_dropped_total",
            "Frames dropped before storage, by reason.",
            reasons.clone(),
        );
        m.register(
            "picket_udp_kernel_drops_total",
            "Datagrams the kernel dropped on a UDP socket (receive buffer full), from /proc/net/udp.",
            udp,
        );
        m.register(
            "picket_frames_truncated_total",
            "Frames cut at the maximum frame size.",
            m.truncated.clone(),
        );
        m.register(
            "picket_frames_invalid_utf8_total",
            "Frames that were not valid UTF-8 (kept losslessly).",
            m.invalid_utf8.clone(),
        );
        m.register(
            "picket_timestamps_clamped_total",
            "Message timestamps in the future clamped to the receive time.",
            m.clamped.clone(),
        );
        m.register(
            "picket_events_parsed_total",
            "Events parsed, by the body parser that matched (none: header only).",
            m.parsed.clone(),
        );
        m.register(
            "picket_events_stored_total",
            "Events committed to the store.",
            m.stored.clone(),
        );
        m.register(
            "picket_store_batch_seconds",
            "Time to write and commit one store batch.",
            m.batch_seconds.clone(),
        );
        m.register(
            "picket_tcp_connections",
            "Open TCP connections.",
            m.tcp_connections.clone(),
        );
        m.register(
            "picket_tcp_connections_accepted_total",
            "TCP connections accepted.",
            m.tcp_accepted.clone(),
        );
        m.register(
            "picket_tcp_connections_rejected_total",
            "TCP connections refused at the connection limit.",
            m.tcp_rejected.clone(),
        );
        m.register(
            "picket_tcp_connections_idle_closed_total",
            "TCP connections closed by the idle timeout.",
            m.tcp_idle_closed.clone(),
        );
        m.register(
            "picket_spool_written_bytes_total",
            "Bytes appended to the intake spool.",
            m.spool_written_bytes.clone(),
        );
        m.register(
            "picket_spool_backlog_bytes",
            "Spooled bytes not yet stored.",
            m.spool_backlog_bytes.clone(),
        );
        m.register(
            "picket_spool_full",
            "1 while the spool is at its size limit and intake waits for the store.",
            m.spool_full.clone(),
        );
        m.register("picket_disk_full", "1 while intake waits for disk space (TCP not read, UDP and SNMP dropped as disk_full).", m.disk_full.clone());
        m.register(
            "picket_store_failing",
            "1 while the store writer cannot commit and retries its batch.",
            m.store_failing.clone(),
        );
        m.register(
            "picket_store_write_errors_total",
            "Store commits that failed and were retried.",
            m.store_write_errors.clone(),
        );
        m.register(
            "picket_disk_free_bytes",
            "Free bytes on the data directory's file system at the last check (-1: unknown).",
            m.disk_free_bytes.clone(),
        );
        m.register(
            "picket_store_bytes",
            "Bytes of the event store: segments with their WAL and kept alert evidence.",
            m.store_bytes.clone(),
        );
        m.register(
            "picket_retention_runs_total",
            "Retention passes that removed data.",
            m.retention_runs.clone(),
        );
        m.register(
            "picket_retention_segments_total",
            "Store segments removed by retention.",
            m.retention_segments.clone(),
        );
        m.register(
            "picket_retention_events_total",
            "Events removed by retention.",
            m.retention_events.clone(),
        );
        m.register(
            "picket_retention_bytes_total",
            "Bytes freed by retention.",
            m.retention_bytes.clone(),
        );
        m.register(
            "picket_retention_evidence_kept_total",
            "Alert evidence events copied into alerts.db before their segment was removed.",
            m.retention_evidence_kept.clone(),
        );
        m.register(
            "picket_retention_archived_total",
            "Segment files written to the archive before retention removed them.",
            m.retention_archived.clone(),
        );
        m.register(
            "picket_archive_bytes",
            "Bytes of the archive (retention.archive_dir).",
            m.archive_bytes.clone(),
        );
        m.register(
            "picket_store_oldest_event_seconds",
            "@timestamp of the oldest event left in the store, seconds since the epoch (0: none).",
            m.oldest_event_seconds.clone(),
        );
        m.register(
            "picket_store_segments_indexed_total",
            "Store segments sealed and indexed.",
            m.segments_indexed.clone(),
        );
        m.register(
            "picket_store_compact_bytes_in_total",
            "Bytes of sealed segments before compaction rewrote them compressed.",
            m.compact_bytes_in.clone(),
        );
        m.register(
            "picket_store_compact_bytes_out_total",
            "Bytes of the compressed segments compaction wrote.",
            m.compact_bytes_out.clone(),
        );
        m.register(
            "picket_stats_overflow_total",
            "Values (senders, addresses, actions) the overview's counters did not keep.",
            m.stats_overflow.clone(),
        );
        m.register(
            "picket_store_index_seconds",
            "Time to index one sealed segment.",
            m.index_seconds.clone(),
        );
        m.register(
            "picket_snmp_notifications_total",
            "SNMP traps and informs accepted, by version.",
            versions.clone(),
        );
        m.register(
            "picket_snmp_rejected_total",
            "SNMP datagrams refused, by reason (never stored as events).",
            m.snmp_rejected.clone(),
        );
        m.register(
            "picket_snmp_informs_answered_total",
            "Responses sent to SNMP informs.",
            m.snmp_informs_answered.clone(),
        );
        m.register(
            "picket_snmp_inform_duplicates_total",
            "Retransmitted informs answered again and not stored twice.",
            m.snmp_inform_duplicates.clone(),
        );
        m.register(
            "picket_snmp_reports_total",
            "SNMPv3 Reports sent (engine-ID discovery, unknown user, time window).",
            m.snmp_reports.clone(),
        );
        m.register(
            "picket_snmp_security_events_total",
            "SNMP authentication-failure events stored (one per sender and reason per minute).",
            m.snmp_security_events.clone(),
        );
        m.register(
            "picket_rules_dropped_total",
            "Stored events not evaluated by the rules because their queue was full.",
            m.rules_dropped.clone(),
        );
        m.register(
            "picket_rules_evaluated_total",
            "Events evaluated by the rules.",
            m.rules_evaluated.clone(),
        );
        m.register(
            "picket_rules_evicted_keys_total",
            "Window-state keys evicted at the cap (rules.max_keys).",
            m.rules_evicted_keys.clone(),
        );
        m.register(
            "picket_alerts_raised_total",
            "Alerts raised.",
            m.alerts_raised.clone(),
        );
        m.register(
            "picket_alerts_updated_total",
            "Matches folded into an open alert during its suppression period.",
            m.alerts_updated.clone(),
        );
        m.register(
            "picket_alerts_escalated_total",
            "Alerts escalated (not acknowledged in time, or count kept growing).",
            m.alerts_escalated.clone(),
        );
        m.register(
            "picket_notify_sent_total",
            "Notifications delivered.",
            m.notify_sent.clone(),
        );
        m.register(
            "picket_notify_retried_total",
            "Notification attempts that failed and are retried.",
            m.notify_retried.clone(),
        );
        m.register(
            "picket_notify_dead_total",
            "Notifications dead-lettered.",
            m.notify_dead.clone(),
        );
        m.register(
            "picket_notify_rate_limited_total",
            "Deliveries postponed by a channel's rate limit.",
            m.notify_rate_limited.clone(),
        );
        m.register(
            "picket_rules_state_keys",
            "Window-state keys held by the rules.",
            m.rules_state_keys.clone(),
        );
        m
    }

    /// Registers a metric under its public name (a counter's ends in `_total`) with a help
    /// sentence. Shown after the metrics registered before it.
    pub fn register(
        &self,
        name: &str,
        help: &str,
        metric: impl EncodeMetric + Send + Sync + std::fmt::Debug + 'static,
    ) {
        // The crate adds `_total` to a counter's name and a full stop to the help text.
        let name = match metric.metric_type() {
            MetricType::Counter => name.strip_suffix("_total").unwrap_or(name),
            _ => name,
        };
        let help = help.strip_suffix('.').unwrap_or(help);
        let mut r = self
            .registry
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        r.register(name, help, metric);
    }

    /// Counts `n` frames received on a listener.
    pub fn add_received(&self, listener: u16, frames: u64, bytes: u64) {
        if let Some(l) = self.listeners.get(usize::from(listener)) {
            l.received.inc_by(frames);
            l.received_bytes.inc_by(bytes);
        }
    }

    /// Frames received on all listeners.
    pub fn received_total(&self) -> u64 {
        self.listeners.iter().map(|l| l.received.get()).sum()
    }

    /// Counts `n` dropped frames.
    pub fn add_dropped(&self, reason: DropReason, n: u64) {
        if let Some(c) = self.dropped.get(reason.index()) {
            c.inc_by(n);
        }
    }

    /// Takes a sample of each listener's frame counter (at most one per second is kept, for
    /// 70 seconds) and returns frames per second per listener over the sampled span, up to a
    /// minute; `None` until two samples a second apart exist. A task calls this every few
    /// seconds so that the dashboard has rates at once.
    pub fn listener_rates(&self) -> Option<Vec<f64>> {
        let now = std::time::Instant::now();
        let current: Vec<u64> = self.listeners.iter().map(|l| l.received.get()).collect();
        let mut g = self
            .rate_samples
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let keep_new = g
            .back()
            .is_none_or(|(t, _)| now.duration_since(*t).as_secs_f64() >= 1.0);
        if keep_new {
            g.push_back((now, current.clone()));
        }
        while g
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t).as_secs() > 70)
        {
            g.pop_front();
        }
        let (t0, old) = g
            .iter()
            .find(|(t, _)| now.duration_since(*t).as_secs() <= 60)?;
        let secs = now.duration_since(*t0).as_secs_f64();
        if secs < 1.0 {
            return None;
        }
        Some(
            current
                .iter()
                .zip(old)
                .map(|(c, o)| c.saturating_sub(*o) as f64 / secs)
                .collect(),
        )
    }

    /// Frames dropped before storage, all reasons.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().map(Counter::get).sum()
    }

    /// Frames dropped for this reason so far.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped.get(reason.index()).map_or(0, Counter::get)
    }

    /// Adds per-parser counts (one call per batch).
    pub fn add_parsed(&self, counts: &[(&'static str, u64)]) {
        for (p, n) in counts {
            self.parsed.add(p, *n);
        }
    }

    /// Events parsed by this parser so far.
    pub fn parsed(&self, parser: &str) -> u64 {
        self.parsed.get(parser)
    }

    /// The Prometheus text exposition (format 0.0.4) of every registered metric.
    pub fn render(&self) -> String {
        let mut o = String::with_capacity(8192);
        let r = self.registry.read().unwrap_or_else(PoisonError::into_inner);
        // Writing into a String cannot fail, and no Picket metric refuses to encode.
        prometheus_text::encode(&mut o, &r).unwrap_or(());
        o
    }
}

/// Raises a counter to `total`, a count its owner keeps itself (never lowers it).
pub fn count_up_to(counter: &Counter, total: u64) {
    counter.inc_by(total.saturating_sub(counter.get()));
}

/// Installs the `tracing` subscriber: logs to stderr, level from `PICKET_LOG` (default `info`).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PICKET_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Fails only if a subscriber is already installed (tests), which is fine.
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        // Colours only on a terminal: log files and journald get plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init()
        .unwrap_or(());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `/metrics` serves, values left out: every family's `# HELP` and `# TYPE` line and
    /// every sample's name and labels. Scrapers, `bench/` and `loadgen` read these, so a change
    /// of how the text is produced (a metrics crate, say) must leave this file as it is.
    /// `PICKET_BLESS=1` rewrites it after a deliberate change; review the diff.
    #[test]
    fn the_exposition_keeps_its_names_types_and_help() {
        let m = Metrics::new(["syslog0".to_string(), "snmp".to_string()]);
        // As `pipeline` names them (tests may reach up; the module may not).
        m.snmp_rejected.declare(
            &crate::snmp::receiver::Reject::ALL.map(crate::snmp::receiver::Reject::as_str),
        );
        let shape: String = m
            .render()
            .lines()
            .map(|l| {
                if l.starts_with('#') {
                    l.to_string()
                } else {
                    // The value is the last field; names and labels stay.
                    let name = l.rsplit_once(' ').map_or(l, |(n, _)| n);
                    format!("{name} N")
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
            + "\n";
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/telemetry/exposition.txt");
        if std::env::var_os("PICKET_BLESS").is_some() {
            std::fs::write(&path, &shape).unwrap();
        }
        let want = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            want == shape,
            "the /metrics exposition changed; if on purpose, rerun with PICKET_BLESS=1 and review src/telemetry/exposition.txt"
        );
    }

    /// Counted values reach the text: labelled families in their declared order, flags as 0/1,
    /// histogram buckets cumulative, counters set from a total never going down, and a metric a
    /// stage registers later shown after the others.
    #[test]
    fn counted_values_are_rendered() {
        let m = Metrics::new(["a".to_string(), "b".to_string()]);
        m.add_received(1, 3, 300);
        m.add_dropped(DropReason::DiskFull, 2);
        m.add_parsed(&[("cisco_asa", 4), ("none", 1)]);
        m.disk_full.set(true);
        m.batch_seconds.observe(0.003);
        m.batch_seconds.observe(0.3);
        count_up_to(&m.stats_overflow, 7);
        count_up_to(&m.stats_overflow, 5);
        m.disk_free_bytes.set(-1);
        let late: Counter = Counter::default();
        late.inc_by(9);
        m.register("picket_late_total", "Registered late.", late);
        let text = m.render();
        for want in [
            "picket_frames_received_total{listener=\"a\"} 0\npicket_frames_received_total{listener=\"b\"} 3\n",
            "picket_frames_received_bytes_total{listener=\"b\"} 300\n",
            "picket_frames_dropped_total{reason=\"disk_full\"} 2\n",
            "picket_events_parsed_total{parser=\"none\"} 1\npicket_events_parsed_total{parser=\"cisco_asa\"} 4\n",
            "picket_disk_full 1\n",
            "picket_spool_full 0\n",
            "picket_store_batch_seconds_bucket{le=\"0.0025\"} 0\npicket_store_batch_seconds_bucket{le=\"0.005\"} 1\n",
            "picket_store_batch_seconds_bucket{le=\"0.5\"} 2\n",
            "picket_store_batch_seconds_bucket{le=\"+Inf\"} 2\npicket_store_batch_seconds_sum 0.303\npicket_store_batch_seconds_count 2\n",
            "picket_stats_overflow_total 7\n",
            "picket_disk_free_bytes -1\n",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
        assert!(
            text.ends_with("# HELP picket_late_total Registered late.\n# TYPE picket_late_total counter\npicket_late_total 9\n"),
            "{text}"
        );
        assert!(!text.contains("# EOF"), "Prometheus text, not OpenMetrics");
    }
}
