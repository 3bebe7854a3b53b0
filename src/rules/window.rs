//! Sigma correlation windows: `event_count`, `value_count`, `temporal` and
//! `temporal_ordered`, sliding over `timespan`, per group key, with a cap on keys.

use rsigma_parser::{ConditionOperator, CorrelationType};
use rustc_hash::FxHashMap;
use std::collections::VecDeque;

/// Distinct values counted per group at most (`value_count` saturates there).
const MAX_DISTINCT: usize = 100_000;

/// A compiled correlation.
#[derive(Debug)]
pub struct Corr {
    pub kind: CorrelationType,
    pub timespan: i64,
    /// Slots of the group-by fields, with their names.
    pub group_by: Vec<(String, u16)>,
    /// `value_count`: the slot of the counted field.
    pub field: Option<u16>,
    /// Threshold predicates, all of which must hold (`event_count`, `value_count`).
    pub predicates: Vec<(ConditionOperator, u64)>,
    /// The rules it counts, in order (index = position for the temporal kinds).
    pub rules: usize,
    /// Some predicate (`lt`, `lte`, `eq`, `neq`) can hold below the threshold: distinct
    /// values are counted exactly at every update.
    pub needs_exact: bool,
}

impl Corr {
    fn holds(&self, n: u64) -> bool {
        self.predicates.iter().all(|(op, v)| match op {
            ConditionOperator::Lt => n < *v,
            ConditionOperator::Lte => n <= *v,
            ConditionOperator::Gt => n > *v,
            ConditionOperator::Gte => n >= *v,
            ConditionOperator::Eq => n == *v,
            ConditionOperator::Neq => n != *v,
        })
    }
}

/// One group's window, in memory bounded by the window's length in seconds, the links kept
/// and the distinct values counted, not by the event rate.
#[derive(Debug, Default)]
struct Group {
    last: i64,
    /// Events per second of arrival: (second, count), oldest first (`event_count`).
    buckets: VecDeque<(i64, u32)>,
    total: u64,
    /// The newest matching events: (time, id), at most the links an alert keeps.
    links: VecDeque<(i64, i64)>,
    /// `value_count`: each distinct value (a keyed 64-bit hash of it) and when it was last
    /// seen.
    distinct: FxHashMap<u64, i64>,
    /// Temporal kinds: per rule position, the time of its last match (unordered) or the
    /// start of the sequence that reached it (ordered).
    seen: Vec<Option<i64>>,
}

/// What a window update found.
pub struct Fired {
    pub count: u64,
    pub events: Vec<i64>,
}

/// Every correlation's groups.
#[derive(Debug, Default)]
pub struct Windows {
    /// By correlation and a 64-bit hash of the group key's values (the text is rebuilt from
    /// the event when an alert fires; hashing saves an allocation per update).
    groups: FxHashMap<(u32, u64), Group>,
    max_keys: usize,
    /// Keys evicted because of the cap.
    pub evicted: u64,
}

impl Windows {
    pub fn new(max_keys: usize) -> Windows {
        Windows {
            max_keys: max_keys.max(16),
            ..Windows::default()
        }
    }

    /// Keys held.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// True when no key is held.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Drops groups whose newest entry left their window.
    pub fn expire(&mut self, now: i64, corrs: &[Corr]) {
        self.groups.retain(|(c, _), g| {
            corrs
                .get(*c as usize)
                .is_some_and(|c| now.saturating_sub(g.last) <= c.timespan)
        });
    }

    fn make_room(&mut self, now: i64, corrs: &[Corr]) {
        if self.groups.len() < self.max_keys {
            return;
        }
        self.expire(now, corrs);
        if self.groups.len() < self.max_keys {
            return;
        }
        // Still full: drop the stalest tenth.
        let mut lasts: Vec<i64> = self.groups.values().map(|g| g.last).collect();
        let cut = lasts.len() / 10;
        lasts.select_nth_unstable(cut);
        let limit = lasts.get(cut).copied().unwrap_or(i64::MIN);
        let before = self.groups.len();
        self.groups.retain(|_, g| g.last > limit);
        self.evicted += (before - self.groups.len()) as u64;
    }

    /// Counts a match of rule position `pos` of correlation `ci` for `group` at `now` (µs).
    /// `value`: the counted field's value (`value_count`).
    #[allow(clippy::too_many_arguments)]
    pub fn update(
        &mut self,
        ci: u32,
        c: &Corr,
        corrs: &[Corr],
        group: u64,
        pos: usize,
        value: Option<u64>,
        id: i64,
        now: i64,
        max_links: usize,
    ) -> Option<Fired> {
        let key = (ci, group);
        if self.groups.len() >= self.max_keys && !self.groups.contains_key(&key) {
            self.make_room(now, corrs);
        }
        let g = self.groups.entry(key).or_default();
        g.last = now;
        let cutoff = now.saturating_sub(c.timespan);
        while g.links.front().is_some_and(|(t, _)| *t < cutoff) {
            g.links.pop_front();
        }
        if g.links.len() >= max_links.max(1) {
            g.links.pop_front();
        }
        g.links.push_back((now, id));
        let links = |g: &Group| g.links.iter().map(|(_, id)| *id).collect::<Vec<_>>();
        match c.kind {
            CorrelationType::EventCount => {
                // One-second buckets: a bucket counts while its second is inside the window.
                let sec = now.div_euclid(1_000_000);
                let cut_sec = cutoff.div_euclid(1_000_000);
                while let Some((s, n)) = g.buckets.front().copied() {
                    if s >= cut_sec {
                        break;
                    }
                    g.total -= u64::from(n);
                    g.buckets.pop_front();
                }
                match g.buckets.back_mut() {
                    Some((s, n)) if *s == sec => *n = n.saturating_add(1),
                    _ => g.buckets.push_back((sec, 1)),
                }
                g.total += 1;
                let n = g.total;
                c.holds(n).then(|| Fired {
                    count: n,
                    events: links(g),
                })
            }
            CorrelationType::ValueCount => {
                if let Some(v) = value {
                    let full = g.distinct.len() >= MAX_DISTINCT;
                    match g.distinct.get_mut(&v) {
                        Some(t) => *t = now,
                        None if !full => {
                            g.distinct.insert(v, now);
                        }
                        None => {
                            // Full: forget values that left the window, then count it if room.
                            g.distinct.retain(|_, t| *t >= cutoff);
                            if g.distinct.len() < MAX_DISTINCT {
                                g.distinct.insert(v, now);
                            }
                        }
                    }
                }
                // The count is exact: values that left the window are dropped before deciding
                // whenever the raw count could satisfy the condition.
                let mut n = g.distinct.len() as u64;
                if c.holds(n) || c.needs_exact {
                    g.distinct.retain(|_, t| *t >= cutoff);
                    n = g.distinct.len() as u64;
                }
                c.holds(n).then(|| Fired {
                    count: n,
                    events: links(g),
                })
            }
            CorrelationType::Temporal => {
                g.seen.resize(c.rules, None);
                if let Some(s) = g.seen.get_mut(pos) {
                    *s = Some(now);
                }
                let all = g.seen.iter().all(|s| s.is_some_and(|t| t >= cutoff));
                all.then(|| {
                    g.seen.iter_mut().for_each(|s| *s = None);
                    Fired {
                        count: c.rules as u64,
                        events: links(g),
                    }
                })
            }
            CorrelationType::TemporalOrdered => {
                g.seen.resize(c.rules, None);
                let start = if pos == 0 {
                    Some(now)
                } else {
                    g.seen
                        .get(pos - 1)
                        .copied()
                        .flatten()
                        .filter(|s| *s >= cutoff)
                };
                if let (Some(start), Some(slot)) = (start, g.seen.get_mut(pos)) {
                    *slot = Some(start);
                }
                let done = g
                    .seen
                    .last()
                    .copied()
                    .flatten()
                    .is_some_and(|s| s >= cutoff);
                done.then(|| {
                    g.seen.iter_mut().for_each(|s| *s = None);
                    Fired {
                        count: c.rules as u64,
                        events: links(g),
                    }
                })
            }
            _ => None,
        }
    }
}
