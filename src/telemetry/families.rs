//! Metric kinds Picket registers beside prometheus-client's own `Counter`, `Gauge` and
//! `Histogram`: a labelled family that keeps its label values in the order they were
//! declared (listeners in config order, drop reasons in enum order) where the crate's `Family`
//! would hash them into a new order on every scrape; a 0/1 flag; and the kernel's UDP drop
//! counters, read from `/proc` when scraped.
//!
//! Each implements `EncodeMetric`, so it is registered like any other metric and rendered by the
//! crate's Prometheus text encoder.

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::{MetricType, TypedMetric};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, PoisonError, RwLock};

/// (label value, its metric), in declaration order.
type Values<M> = Vec<(Cow<'static, str>, M)>;

/// Metrics with one label (counters unless said otherwise), in declaration order. Values met
/// later (a parser's name, say) are appended. Hot paths keep the handle [`Labeled::handle`]
/// returns.
#[derive(Clone, Debug)]
pub struct Labeled<M = Counter> {
    label: &'static str,
    values: Arc<RwLock<Values<M>>>,
}

impl<M: Clone + Default> Labeled<M> {
    /// An empty family whose samples carry `label`.
    pub fn new(label: &'static str) -> Self {
        Labeled {
            label,
            values: Arc::default(),
        }
    }

    /// The metric of `value`, added (at zero) if the family has none yet.
    pub fn handle(&self, value: &str) -> M {
        if let Some(c) = self.find(value) {
            return c;
        }
        let mut g = self.values.write().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, c)) = g.iter().find(|(v, _)| v == value) {
            return c.clone();
        }
        let c = M::default();
        g.push((Cow::Owned(value.to_string()), c.clone()));
        c
    }

    /// Declares these values (at zero, in this order) so that they show before anything is
    /// counted; values already present keep their place.
    pub fn declare(&self, values: &[&'static str]) {
        let mut g = self.values.write().unwrap_or_else(PoisonError::into_inner);
        for v in values {
            if !g.iter().any(|(have, _)| have == v) {
                g.push((Cow::Borrowed(*v), M::default()));
            }
        }
    }

    fn find(&self, value: &str) -> Option<M> {
        let g = self.values.read().unwrap_or_else(PoisonError::into_inner);
        g.iter().find(|(v, _)| v == value).map(|(_, c)| c.clone())
    }
}

impl Labeled<Counter> {
    /// The counter of `value` (see [`Labeled::handle`]).
    pub fn counter(&self, value: &str) -> Counter {
        self.handle(value)
    }

    /// Adds `n` to the counter of `value`.
    pub fn add(&self, value: &str, n: u64) {
        self.handle(value).inc_by(n);
    }

    /// The count of `value` (0 if never counted).
    pub fn get(&self, value: &str) -> u64 {
        self.find(value).map_or(0, |c| c.get())
    }
}

impl<M: EncodeMetric + TypedMetric + std::fmt::Debug + Send + Sync> EncodeMetric for Labeled<M> {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let g = self.values.read().unwrap_or_else(PoisonError::into_inner);
        for (value, c) in g.iter() {
            let labels = [(self.label, value.as_ref())];
            c.encode(encoder.encode_family(&labels)?)?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        M::TYPE
    }
}

/// A condition shown as a gauge of 0 or 1 (the spool is full, the disk is full, …).
#[derive(Clone, Debug, Default)]
pub struct Flag(Arc<AtomicBool>);

impl Flag {
    /// Raises or clears the flag; returns whether it was raised before.
    pub fn set(&self, on: bool) -> bool {
        self.0.swap(on, Relaxed)
    }

    /// Whether the flag is raised.
    pub fn is_set(&self) -> bool {
        self.0.load(Relaxed)
    }
}

impl EncodeMetric for Flag {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        encoder.encode_gauge(&i64::from(self.is_set()))
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Gauge
    }
}

/// The kernel's drop counter of each listener's UDP socket, read from `/proc/net/udp*` at
/// scrape time by the socket's inode (listeners without a UDP socket have no sample).
#[derive(Debug)]
pub struct KernelUdpDrops {
    /// (listener name, the socket's inode; 0 until bound).
    pub listeners: Vec<(String, Arc<AtomicU64>)>,
}

impl EncodeMetric for KernelUdpDrops {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let drops = kernel_udp_drops();
        for (name, inode) in &self.listeners {
            let inode = inode.load(Relaxed);
            if inode != 0 {
                let d = drops.get(&inode).copied().unwrap_or(0);
                let labels = [("listener", name.as_str())];
                encoder
                    .encode_family(&labels)?
                    .encode_counter::<NoLabelSet, _, u64>(&d, None)?;
            }
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Counter
    }
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
