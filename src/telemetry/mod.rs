//! Counters and gauges, rendered in the Prometheus text format at `/metrics`, and logging setup.
//!
//! Counters are plain atomics bumped once per batch where possible; labels come from fixed sets
//! (listener names from the config, drop reasons from [`DropReason`], parser names from the
//! parser chain), never from peer addresses. Typed occurrences live in [`events`].

pub mod events;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

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

/// Upper bounds (seconds) of the store batch histogram's buckets.
const BATCH_BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];

/// A fixed-bucket histogram of seconds.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; BATCH_BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, seconds: f64) {
        for (i, le) in BATCH_BUCKETS.iter().enumerate() {
            if seconds <= *le {
                if let Some(b) = self.buckets.get(i) {
                    b.fetch_add(1, Relaxed);
                }
            }
        }
        self.count.fetch_add(1, Relaxed);
        self.sum_micros.fetch_add((seconds * 1e6) as u64, Relaxed);
    }

    fn render(&self, name: &str, out: &mut String) {
        writeln!(out, "# TYPE {name} histogram").unwrap_or(());
        for (i, le) in BATCH_BUCKETS.iter().enumerate() {
            let v = self.buckets.get(i).map_or(0, |b| b.load(Relaxed));
            writeln!(out, "{name}_bucket{{le=\"{le}\"}} {v}").unwrap_or(());
        }
        let count = self.count.load(Relaxed);
        writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}").unwrap_or(());
        let sum = self.sum_micros.load(Relaxed) as f64 / 1e6;
        writeln!(out, "{name}_sum {sum}").unwrap_or(());
        writeln!(out, "{name}_count {count}").unwrap_or(());
    }
}

/// Per-listener counters.
#[derive(Debug)]
pub struct ListenerMetrics {
    /// The listener's name (label value).
    pub name: String,
    /// Frames received.
    pub received: AtomicU64,
    /// Bytes received.
    pub received_bytes: AtomicU64,
    /// The UDP socket's inode, for reading its kernel drop counter from `/proc/net/udp*`.
    pub udp_inode: AtomicU64,
}

/// Every counter Picket keeps.
#[derive(Debug)]
pub struct Metrics {
    /// One entry per listener, indexed by `ListenerId`.
    pub listeners: Vec<ListenerMetrics>,
    dropped: [AtomicU64; DropReason::ALL.len()],
    /// (when, frames received per listener), the last minute or so (see `listener_rates`).
    rate_samples: Mutex<std::collections::VecDeque<(std::time::Instant, Vec<u64>)>>,
    /// Frames cut at the maximum frame size.
    pub truncated: AtomicU64,
    /// Frames that were not valid UTF-8.
    pub invalid_utf8: AtomicU64,
    /// Timestamps in the future clamped to the receive time.
    pub clamped: AtomicU64,
    parsed: Mutex<BTreeMap<&'static str, u64>>,
    /// Events committed to the store.
    pub stored: AtomicU64,
    /// Store batch commit durations.
    pub batch_seconds: Histogram,
    /// Open TCP connections.
    pub tcp_connections: AtomicI64,
    /// TCP connections accepted.
    pub tcp_accepted: AtomicU64,
    /// TCP connections refused at the connection limit.
    pub tcp_rejected: AtomicU64,
    /// TCP connections closed by the idle timeout.
    pub tcp_idle_closed: AtomicU64,
    /// Bytes appended to the spool.
    pub spool_written_bytes: AtomicU64,
    /// Bytes in the spool not yet stored (gauge).
    pub spool_backlog_bytes: AtomicI64,
    /// Set while the spool is at its size limit (intake waits; UDP drops count as `spool_full`).
    pub spool_full: std::sync::atomic::AtomicBool,
    /// Set while intake waits for disk space (a full file system or one under the reserve):
    /// TCP is not read, UDP and SNMP drops count as `disk_full`, `/healthz` answers 503.
    pub disk_full: std::sync::atomic::AtomicBool,
    /// Set while the store writer cannot commit (its batch is retried; the spool keeps it).
    pub store_failing: std::sync::atomic::AtomicBool,
    /// Store commits that failed and were retried.
    pub store_write_errors: AtomicU64,
    /// Free bytes on the data directory's file system at the last check (gauge).
    pub disk_free_bytes: AtomicI64,
    /// Bytes of the event store (segments, their WAL, kept evidence) at the last check.
    pub store_bytes: AtomicI64,
    /// Retention passes that removed something.
    pub retention_runs: AtomicU64,
    /// Segments removed by retention.
    pub retention_segments: AtomicU64,
    /// Events removed by retention.
    pub retention_events: AtomicU64,
    /// Bytes freed by retention.
    pub retention_bytes: AtomicU64,
    /// Alert evidence events copied out of segments before retention removed them.
    pub retention_evidence_kept: AtomicU64,
    /// Segment files written to the archive before retention removed them.
    pub retention_archived: AtomicU64,
    /// Bytes of the archive (`retention.archive_dir`).
    pub archive_bytes: AtomicI64,
    /// `@timestamp` (microseconds) of the oldest event left in the store (gauge; 0 if none).
    pub oldest_event_us: AtomicI64,
    /// Segments sealed and indexed.
    pub segments_indexed: AtomicU64,
    /// Bytes of sealed segments before compaction rewrote them.
    pub compact_bytes_in: AtomicU64,
    /// Bytes of the compressed segments compaction wrote.
    pub compact_bytes_out: AtomicU64,
    /// Distinct values the overview's counters did not keep (too many in one flush interval).
    pub stats_overflow: AtomicU64,
    /// Seconds spent building segment indexes.
    pub index_seconds: Histogram,
    /// SNMP notifications accepted, by version (1, 2c, 3).
    pub snmp_accepted: [AtomicU64; 3],
    /// SNMP datagrams refused, by reason (the SNMP engine names the reasons).
    pub snmp_rejected: Labeled<10>,
    /// Responses sent to informs.
    pub snmp_informs_answered: AtomicU64,
    /// Retransmitted informs answered and not stored again.
    pub snmp_inform_duplicates: AtomicU64,
    /// Reports sent (engine-ID discovery, unknown user, time window).
    pub snmp_reports: AtomicU64,
    /// Security notices stored (rate-limited: one per sender and reason per minute).
    pub snmp_security_events: AtomicU64,
    /// Reverse-DNS counters, when reverse DNS is on.
    pub rdns: std::sync::OnceLock<Arc<RdnsStats>>,
    /// Stored events the rules skipped because their queue was full.
    pub rules_dropped: AtomicU64,
    /// Events the rules evaluated.
    pub rules_evaluated: AtomicU64,
    /// Window-state keys evicted at the cap.
    pub rules_evicted_keys: AtomicU64,
    /// Window-state keys held (gauge).
    pub rules_state_keys: AtomicI64,
    /// Alerts raised.
    pub alerts_raised: AtomicU64,
    /// Matches folded into an existing alert (suppression).
    pub alerts_updated: AtomicU64,
    /// Alerts escalated.
    pub alerts_escalated: AtomicU64,
    /// Notifications delivered.
    pub notify_sent: AtomicU64,
    /// Delivery attempts that failed and will be retried.
    pub notify_retried: AtomicU64,
    /// Notifications dead-lettered after the last attempt or a permanent error.
    pub notify_dead: AtomicU64,
    /// Deliveries postponed by a channel's rate limit.
    pub notify_rate_limited: AtomicU64,
}

impl Metrics {
    /// Counters for listeners with these names, in `ListenerId` order.
    pub fn new(listener_names: impl IntoIterator<Item = String>) -> Self {
        Metrics {
            listeners: listener_names
                .into_iter()
                .map(|name| ListenerMetrics {
                    name,
                    received: AtomicU64::new(0),
                    received_bytes: AtomicU64::new(0),
                    udp_inode: AtomicU64::new(0),
                })
                .collect(),
            dropped: Default::default(),
            rate_samples: Mutex::new(std::collections::VecDeque::new()),
            truncated: AtomicU64::new(0),
            invalid_utf8: AtomicU64::new(0),
            clamped: AtomicU64::new(0),
            parsed: Mutex::new(BTreeMap::new()),
            stored: AtomicU64::new(0),
            batch_seconds: Histogram::default(),
            tcp_connections: AtomicI64::new(0),
            tcp_accepted: AtomicU64::new(0),
            tcp_rejected: AtomicU64::new(0),
            tcp_idle_closed: AtomicU64::new(0),
            spool_written_bytes: AtomicU64::new(0),
            spool_backlog_bytes: AtomicI64::new(0),
            spool_full: std::sync::atomic::AtomicBool::new(false),
            disk_full: std::sync::atomic::AtomicBool::new(false),
            store_failing: std::sync::atomic::AtomicBool::new(false),
            store_write_errors: AtomicU64::new(0),
            disk_free_bytes: AtomicI64::new(-1),
            store_bytes: AtomicI64::new(0),
            retention_runs: AtomicU64::new(0),
            retention_segments: AtomicU64::new(0),
            retention_events: AtomicU64::new(0),
            retention_bytes: AtomicU64::new(0),
            retention_evidence_kept: AtomicU64::new(0),
            retention_archived: AtomicU64::new(0),
            archive_bytes: AtomicI64::new(0),
            oldest_event_us: AtomicI64::new(0),
            segments_indexed: AtomicU64::new(0),
            compact_bytes_in: AtomicU64::new(0),
            compact_bytes_out: AtomicU64::new(0),
            stats_overflow: AtomicU64::new(0),
            snmp_accepted: Default::default(),
            snmp_rejected: Default::default(),
            snmp_informs_answered: AtomicU64::new(0),
            snmp_inform_duplicates: AtomicU64::new(0),
            snmp_reports: AtomicU64::new(0),
            snmp_security_events: AtomicU64::new(0),
            rdns: std::sync::OnceLock::new(),
            index_seconds: Histogram::default(),
            rules_dropped: AtomicU64::new(0),
            rules_evaluated: AtomicU64::new(0),
            rules_evicted_keys: AtomicU64::new(0),
            rules_state_keys: AtomicI64::new(0),
            alerts_raised: AtomicU64::new(0),
            alerts_updated: AtomicU64::new(0),
            alerts_escalated: AtomicU64::new(0),
            notify_sent: AtomicU64::new(0),
            notify_retried: AtomicU64::new(0),
            notify_dead: AtomicU64::new(0),
            notify_rate_limited: AtomicU64::new(0),
        }
    }

    /// Counts `n` frames received on a listener.
    pub fn add_received(&self, listener: u16, frames: u64, bytes: u64) {
        if let Some(l) = self.listeners.get(usize::from(listener)) {
            l.received.fetch_add(frames, Relaxed);
            l.received_bytes.fetch_add(bytes, Relaxed);
        }
    }

    /// Frames received on all listeners.
    pub fn received_total(&self) -> u64 {
        self.listeners
            .iter()
            .map(|l| l.received.load(Relaxed))
            .sum()
    }

    /// Counts `n` dropped frames.
    pub fn add_dropped(&self, reason: DropReason, n: u64) {
        if let Some(c) = self.dropped.get(reason.index()) {
            c.fetch_add(n, Relaxed);
        }
    }

    /// Frames dropped for this reason so far.
    /// Takes a sample of each listener's frame counter (at most one per second is kept, for
    /// 70 seconds) and returns frames per second per listener over the sampled span, up to a
    /// minute; `None` until two samples a second apart exist. A task calls this every few
    /// seconds so that the dashboard has rates at once.
    pub fn listener_rates(&self) -> Option<Vec<f64>> {
        let now = std::time::Instant::now();
        let current: Vec<u64> = self
            .listeners
            .iter()
            .map(|l| l.received.load(Relaxed))
            .collect();
        let mut g = match self.rate_samples.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
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
        self.dropped.iter().map(|c| c.load(Relaxed)).sum()
    }

    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped
            .get(reason.index())
            .map_or(0, |c| c.load(Relaxed))
    }

    /// Adds per-parser counts (one call per batch).
    pub fn add_parsed(&self, counts: &[(&'static str, u64)]) {
        if let Ok(mut m) = self.parsed.lock() {
            for (p, n) in counts {
                *m.entry(p).or_insert(0) += n;
            }
        }
    }

    /// Events parsed by this parser so far.
    pub fn parsed(&self, parser: &str) -> u64 {
        self.parsed
            .lock()
            .ok()
            .and_then(|m| m.get(parser).copied())
            .unwrap_or(0)
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut o = String::with_capacity(4096);
        let w = &mut o;
        counter_header(
            w,
            "picket_frames_received_total",
            "Frames received, by listener.",
        );
        for l in &self.listeners {
            writeln!(
                w,
                "picket_frames_received_total{{listener=\"{}\"}} {}",
                l.name,
                l.received.load(Relaxed)
            )
            .unwrap_or(());
        }
        counter_header(
            w,
            "picket_frames_received_bytes_total",
            "Bytes received, by listener.",
        );
        for l in &self.listeners {
            writeln!(
                w,
                "picket_frames_received_bytes_total{{listener=\"{}\"}} {}",
                l.name,
                l.received_bytes.load(Relaxed)
            )
            .unwrap_or(());
        }
        counter_header(
            w,
            "picket_frames_dropped_total",
            "Frames dropped before storage, by reason.",
        );
        for r in DropReason::ALL {
            writeln!(
                w,
                "picket_frames_dropped_total{{reason=\"{}\"}} {}",
                r.as_str(),
                self.dropped(r)
            )
            .unwrap_or(());
        }
        counter_header(
            w,
            "picket_udp_kernel_drops_total",
            "Datagrams the kernel dropped on a UDP socket (receive buffer full), from /proc/net/udp.",
        );
        let drops = kernel_udp_drops();
        for l in &self.listeners {
            let inode = l.udp_inode.load(Relaxed);
            if inode != 0 {
                let d = drops.get(&inode).copied().unwrap_or(0);
                writeln!(
                    w,
                    "picket_udp_kernel_drops_total{{listener=\"{}\"}} {d}",
                    l.name
                )
                .unwrap_or(());
            }
        }
        simple(
            w,
            "counter",
            "picket_frames_truncated_total",
            "Frames cut at the maximum frame size.",
            self.truncated.load(Relaxed),
        );
        simple(
            w,
            "counter",
            "picket_frames_invalid_utf8_total",
            "Frames that were not valid UTF-8 (kept losslessly).",
            self.invalid_utf8.load(Relaxed),
        );
        simple(
            w,
            "counter",
            "picket_timestamps_clamped_total",
            "Message timestamps in the future clamped to the receive time.",
            self.clamped.load(Relaxed),
        );
        counter_header(
            w,
            "picket_events_parsed_total",
            "Events parsed, by the body parser that matched (none: header only).",
        );
        if let Ok(m) = self.parsed.lock() {
            if !m.contains_key("none") {
                writeln!(w, "picket_events_parsed_total{{parser=\"none\"}} 0").unwrap_or(());
            }
            for (p, n) in m.iter() {
                writeln!(w, "picket_events_parsed_total{{parser=\"{p}\"}} {n}").unwrap_or(());
            }
        }
        simple(
            w,
            "counter",
            "picket_events_stored_total",
            "Events committed to the store.",
            self.stored.load(Relaxed),
        );
        writeln!(
            w,
            "# HELP picket_store_batch_seconds Time to write and commit one store batch."
        )
        .unwrap_or(());
        self.batch_seconds.render("picket_store_batch_seconds", w);
        simple(
            w,
            "gauge",
            "picket_tcp_connections",
            "Open TCP connections.",
            self.tcp_connections.load(Relaxed).max(0) as u64,
        );
        simple(
            w,
            "counter",
            "picket_tcp_connections_accepted_total",
            "TCP connections accepted.",
            self.tcp_accepted.load(Relaxed),
        );
        simple(
            w,
            "counter",
            "picket_tcp_connections_rejected_total",
            "TCP connections refused at the connection limit.",
            self.tcp_rejected.load(Relaxed),
        );
        simple(
            w,
            "counter",
            "picket_tcp_connections_idle_closed_total",
            "TCP connections closed by the idle timeout.",
            self.tcp_idle_closed.load(Relaxed),
        );
        simple(
            w,
            "counter",
            "picket_spool_written_bytes_total",
            "Bytes appended to the intake spool.",
            self.spool_written_bytes.load(Relaxed),
        );
        simple(
            w,
            "gauge",
            "picket_spool_backlog_bytes",
            "Spooled bytes not yet stored.",
            self.spool_backlog_bytes.load(Relaxed).max(0) as u64,
        );
        simple(
            w,
            "gauge",
            "picket_spool_full",
            "1 while the spool is at its size limit and intake waits for the store.",
            u64::from(self.spool_full.load(Relaxed)),
        );
        simple(
            w,
            "gauge",
            "picket_disk_full",
            "1 while intake waits for disk space (TCP not read, UDP and SNMP dropped as disk_full).",
            u64::from(self.disk_full.load(Relaxed)),
        );
        simple(
            w,
            "gauge",
            "picket_store_failing",
            "1 while the store writer cannot commit and retries its batch.",
            u64::from(self.store_failing.load(Relaxed)),
        );
        simple(
            w,
            "counter",
            "picket_store_write_errors_total",
            "Store commits that failed and were retried.",
            self.store_write_errors.load(Relaxed),
        );
        gauge_i(
            w,
            "picket_disk_free_bytes",
            "Free bytes on the data directory's file system at the last check (-1: unknown).",
            self.disk_free_bytes.load(Relaxed),
        );
        gauge_i(
            w,
            "picket_store_bytes",
            "Bytes of the event store: segments with their WAL and kept alert evidence.",
            self.store_bytes.load(Relaxed),
        );
        for (name, help, v) in [
            (
                "picket_retention_runs_total",
                "Retention passes that removed data.",
                &self.retention_runs,
            ),
            (
                "picket_retention_segments_total",
                "Store segments removed by retention.",
                &self.retention_segments,
            ),
            (
                "picket_retention_events_total",
                "Events removed by retention.",
                &self.retention_events,
            ),
            (
                "picket_retention_bytes_total",
                "Bytes freed by retention.",
                &self.retention_bytes,
            ),
            (
                "picket_retention_evidence_kept_total",
                "Alert evidence events copied into alerts.db before their segment was removed.",
                &self.retention_evidence_kept,
            ),
            (
                "picket_retention_archived_total",
                "Segment files written to the archive before retention removed them.",
                &self.retention_archived,
            ),
        ] {
            simple(w, "counter", name, help, v.load(Relaxed));
        }
        gauge_i(
            w,
            "picket_archive_bytes",
            "Bytes of the archive (retention.archive_dir).",
            self.archive_bytes.load(Relaxed),
        );
        gauge_i(
            w,
            "picket_store_oldest_event_seconds",
            "@timestamp of the oldest event left in the store, seconds since the epoch (0: none).",
            self.oldest_event_us.load(Relaxed) / 1_000_000,
        );
        simple(
            w,
            "counter",
            "picket_store_segments_indexed_total",
            "Store segments sealed and indexed.",
            self.segments_indexed.load(Relaxed),
        );
        simple(
            w,
            "counter",
            "picket_store_compact_bytes_in_total",
            "Bytes of sealed segments before compaction rewrote them compressed.",
            self.compact_bytes_in.load(Relaxed),
        );
        simple(
            w,
            "counter",
            "picket_store_compact_bytes_out_total",
            "Bytes of the compressed segments compaction wrote.",
            self.compact_bytes_out.load(Relaxed),
        );
        simple(
            w,
            "counter",
            "picket_stats_overflow_total",
            "Values (senders, addresses, actions) the overview's counters did not keep.",
            self.stats_overflow.load(Relaxed),
        );
        writeln!(
            w,
            "# HELP picket_store_index_seconds Time to index one sealed segment."
        )
        .unwrap_or(());
        self.index_seconds.render("picket_store_index_seconds", w);
        counter_header(
            w,
            "picket_snmp_notifications_total",
            "SNMP traps and informs accepted, by version.",
        );
        for (i, v) in ["1", "2c", "3"].iter().enumerate() {
            let n = self.snmp_accepted.get(i).map_or(0, |c| c.load(Relaxed));
            writeln!(w, "picket_snmp_notifications_total{{version=\"{v}\"}} {n}").unwrap_or(());
        }
        counter_header(
            w,
            "picket_snmp_rejected_total",
            "SNMP datagrams refused, by reason (never stored as events).",
        );
        for (label, n) in self.snmp_rejected.samples() {
            writeln!(w, "picket_snmp_rejected_total{{reason=\"{label}\"}} {n}").unwrap_or(());
        }
        simple(
            w,
            "counter",
            "picket_snmp_informs_answered_total",
            "Responses sent to SNMP informs.",
            self.snmp_informs_answered.load(Relaxed),
        );
        simple(
            w,
            "counter",
            "picket_snmp_inform_duplicates_total",
            "Retransmitted informs answered again and not stored twice.",
            self.snmp_inform_duplicates.load(Relaxed),
        );
        simple(
            w,
            "counter",
            "picket_snmp_reports_total",
            "SNMPv3 Reports sent (engine-ID discovery, unknown user, time window).",
            self.snmp_reports.load(Relaxed),
        );
        simple(
            w,
            "counter",
            "picket_snmp_security_events_total",
            "SNMP authentication-failure events stored (one per sender and reason per minute).",
            self.snmp_security_events.load(Relaxed),
        );
        if let Some(r) = self.rdns.get() {
            for (name, help, v) in [
                (
                    "picket_rdns_cache_hits_total",
                    "Reverse-DNS answers from the cache.",
                    &r.hits,
                ),
                (
                    "picket_rdns_queued_total",
                    "Addresses queued for a reverse lookup.",
                    &r.queued,
                ),
                (
                    "picket_rdns_dropped_total",
                    "Addresses not looked up because the lookup queue was full.",
                    &r.dropped,
                ),
                (
                    "picket_rdns_resolved_total",
                    "Reverse lookups that gave a name.",
                    &r.resolved,
                ),
                (
                    "picket_rdns_failed_total",
                    "Reverse lookups that gave no name (none, timeout, error).",
                    &r.failed,
                ),
            ] {
                simple(w, "counter", name, help, v.load(Relaxed));
            }
        }
        for (name, help, v) in [
            (
                "picket_rules_dropped_total",
                "Stored events not evaluated by the rules because their queue was full.",
                &self.rules_dropped,
            ),
            (
                "picket_rules_evaluated_total",
                "Events evaluated by the rules.",
                &self.rules_evaluated,
            ),
            (
                "picket_rules_evicted_keys_total",
                "Window-state keys evicted at the cap (rules.max_keys).",
                &self.rules_evicted_keys,
            ),
            (
                "picket_alerts_raised_total",
                "Alerts raised.",
                &self.alerts_raised,
            ),
            (
                "picket_alerts_updated_total",
                "Matches folded into an open alert during its suppression period.",
                &self.alerts_updated,
            ),
            (
                "picket_alerts_escalated_total",
                "Alerts escalated (not acknowledged in time, or count kept growing).",
                &self.alerts_escalated,
            ),
            (
                "picket_notify_sent_total",
                "Notifications delivered.",
                &self.notify_sent,
            ),
            (
                "picket_notify_retried_total",
                "Notification attempts that failed and are retried.",
                &self.notify_retried,
            ),
            (
                "picket_notify_dead_total",
                "Notifications dead-lettered.",
                &self.notify_dead,
            ),
            (
                "picket_notify_rate_limited_total",
                "Deliveries postponed by a channel's rate limit.",
                &self.notify_rate_limited,
            ),
        ] {
            simple(w, "counter", name, help, v.load(Relaxed));
        }
        writeln!(
            w,
            "# HELP picket_rules_state_keys Window-state keys held by the rules.\n# TYPE picket_rules_state_keys gauge\npicket_rules_state_keys {}",
            self.rules_state_keys.load(Relaxed)
        )
        .unwrap_or(());
        o
    }
}

fn counter_header(w: &mut String, name: &str, help: &str) {
    writeln!(w, "# HELP {name} {help}\n# TYPE {name} counter").unwrap_or(());
}

fn gauge_i(w: &mut String, name: &str, help: &str, v: i64) {
    writeln!(w, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}").unwrap_or(());
}

fn simple(w: &mut String, kind: &str, name: &str, help: &str, v: u64) {
    writeln!(w, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}").unwrap_or(());
}

/// Kernel drop counters of every UDP socket of this process's network namespace, by inode.
fn kernel_udp_drops() -> BTreeMap<u64, u64> {
    let mut out = BTreeMap::new();
    for path in ["/proc/net/udp", "/proc/net/udp6"] {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        for line in text.lines().skip(1) {
            // Columns: sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
            let cols: Vec<&str> = line.split_whitespace().collect();
            if let (Some(inode), Some(drops)) = (cols.get(9), cols.get(12)) {
                if let (Ok(i), Ok(d)) = (inode.parse::<u64>(), drops.parse::<u64>()) {
                    out.insert(i, d);
                }
            }
        }
    }
    out
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

/// A counter family with one label whose values the counting module names when it starts
/// ([`Labeled::name`]), so that this module need not know them. Until named it has no samples.
#[derive(Debug)]
pub struct Labeled<const N: usize> {
    names: std::sync::OnceLock<[&'static str; N]>,
    counts: [AtomicU64; N],
}

impl<const N: usize> Default for Labeled<N> {
    fn default() -> Self {
        Labeled {
            names: std::sync::OnceLock::new(),
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl<const N: usize> Labeled<N> {
    /// Names the label values, in the order [`Labeled::add`] indexes them (first call wins).
    pub fn name(&self, names: [&'static str; N]) {
        self.names.set(names).unwrap_or(());
    }

    /// Adds `n` to the value at `index` (ignored past the end).
    pub fn add(&self, index: usize, n: u64) {
        if let Some(c) = self.counts.get(index) {
            c.fetch_add(n, Relaxed);
        }
    }

    /// (label value, count) in order, once named.
    pub fn samples(&self) -> Vec<(&'static str, u64)> {
        self.names.get().map_or_else(Vec::new, |names| {
            names
                .iter()
                .zip(&self.counts)
                .map(|(l, c)| (*l, c.load(Relaxed)))
                .collect()
        })
    }
}

/// Counters of the reverse-DNS stage (shown as `picket_rdns_*` once reverse DNS is on).
#[derive(Debug, Default)]
pub struct RdnsStats {
    /// Answers from the cache (positive or negative).
    pub hits: AtomicU64,
    /// Addresses queued for lookup.
    pub queued: AtomicU64,
    /// Addresses not queued because the queue was full.
    pub dropped: AtomicU64,
    /// Lookups that gave a name.
    pub resolved: AtomicU64,
    /// Lookups that gave none (no PTR, NXDOMAIN, timeout, error).
    pub failed: AtomicU64,
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
        m.snmp_rejected
            .name(crate::snmp::receiver::Reject::ALL.map(crate::snmp::receiver::Reject::as_str));
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
}
