//! Retention: how long and how much data the store keeps, and which of it goes first. The
//! policy and the choice of what to remove are backend-neutral and pure (a list of the store's
//! time slices in, the slices to remove out), so that the SQLite store (whole segment files)
//! and a PostgreSQL store (whole partitions) apply the same rules, and tests need no disk.
//!
//! The rules (see `docs/storage.md`):
//! - each slice belongs to a class: bulk events, an override (events a query picks, kept for
//!   their own `max_age`), or the audit class (events the audit queries pick, kept for
//!   `audit_max_age`);
//! - a slice whose newest event is older than its class's age goes;
//! - then slices go while the store is over `max_bytes` or the file system has less than
//!   `min_free` free, the one that would expire first going first (oldest first within a class;
//!   a 7-day class before bulk events of the same day, a 365-day class after them). Audit slices
//!   never go for space and do not count toward `max_bytes`;
//! - the slice being written is never removed; if removing everything else cannot restore
//!   `min_free`, nothing more goes and the disk alert is raised instead.

mod settings;

pub use settings::{RawOverride, RawRetention, RawSize};

use crate::model::Invalid;
use std::time::Duration;

/// The `[retention]` policy, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Events older than this go (by their newest `@timestamp` per slice).
    pub max_age: Duration,
    /// Cap on the event store's bytes; `None`: no cap.
    pub max_bytes: Option<u64>,
    /// What must stay free on the data directory's file system.
    pub min_free: Free,
    /// Intake stops while less than this is free (the store writer at half of it), so that
    /// alerts, the outbox and the security log can still be written.
    pub reserve: u64,
    /// How often the policy is applied.
    pub interval: Duration,
    /// Resolved alerts, their history and evidence are removed this long after their last
    /// change.
    pub alerts_max_age: Duration,
    /// Delivered or dead-lettered notifications are removed this long after they were queued.
    pub outbox_max_age: Duration,
    /// The security log (logins, user and token changes) is kept this long.
    pub audit_max_age: Duration,
    /// Events kept with one alert when their segment goes.
    pub evidence_per_alert: usize,
    /// Queries whose events join the audit class (kept `audit_max_age`, never removed for
    /// space), in the search language.
    pub audit_queries: Vec<String>,
    /// Classes of events kept for their own age, first match wins (after the audit queries).
    pub overrides: Vec<Override>,
    /// Where a removed slice is written first, compressed (`None`: nowhere).
    pub archive_dir: Option<std::path::PathBuf>,
    /// Cap on the archive; the oldest archived files go past it (`None`: no cap).
    pub archive_max_bytes: Option<u64>,
}

/// `[[retention.override]]`: events a query picks, kept for their own age.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// The class's name (`[a-z0-9_]`, part of file names).
    pub name: String,
    /// The query, in the search language.
    pub query: String,
    /// How long its events are kept.
    pub max_age: Duration,
}

/// The name of the audit class.
pub const AUDIT: &str = "audit";

/// A class as the store applies it: its name (part of file names) and what picks its events.
#[derive(Debug, Clone)]
pub struct ClassRule {
    pub name: String,
    pub expr: crate::query::Expr,
}

/// True when `name` can name a class: 1–32 of `a-z`, `0-9`, `_`.
pub fn valid_class(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl Policy {
    /// The classes in the order they pick events: the audit queries (as one class), then the
    /// overrides. Each query is checked when the configuration is read; the `Err` names the
    /// key and the problem.
    pub fn classes(&self) -> Result<Vec<ClassRule>, Invalid> {
        let mut out = Vec::new();
        let mut audit = Vec::new();
        for (i, q) in self.audit_queries.iter().enumerate() {
            let e = crate::query::parse_expr(q)
                .map_err(|e| Invalid::new(format!("retention.audit_queries[{i}]"), e))?;
            audit.push(e);
        }
        if !audit.is_empty() {
            out.push(ClassRule {
                name: AUDIT.into(),
                expr: crate::query::Expr::Or(audit),
            });
        }
        for (i, o) in self.overrides.iter().enumerate() {
            let key = format!("retention.override[{i}]");
            if !valid_class(&o.name) || o.name == AUDIT {
                return Err(Invalid::new(
                    format!("{key}.name"),
                    format!(
                        "{:?} must be 1-32 of a-z, 0-9 and _, and not \"audit\"",
                        o.name
                    ),
                ));
            }
            if out.iter().any(|c| c.name == o.name) {
                return Err(Invalid::new(
                    format!("{key}.name"),
                    format!("{:?} is used twice", o.name),
                ));
            }
            let expr = crate::query::parse_expr(&o.query)
                .map_err(|e| Invalid::new(format!("{key}.query"), e))?;
            if expr.is_all() {
                return Err(Invalid::new(
                    format!("{key}.query"),
                    "must not match every event",
                ));
            }
            out.push(ClassRule {
                name: o.name.clone(),
                expr,
            });
        }
        Ok(out)
    }

    /// How long a class's events are kept, and whether it is the audit class (never removed
    /// for space). `""` is bulk; a class no longer configured is kept as bulk events are.
    pub fn keep(&self, class: &str) -> (Duration, bool) {
        if class == AUDIT {
            return (self.audit_max_age, true);
        }
        let age = self
            .overrides
            .iter()
            .find(|o| o.name == class)
            .map_or(self.max_age, |o| o.max_age);
        (age, false)
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            max_age: Duration::from_secs(30 * 86_400),
            max_bytes: None,
            min_free: Free::Percent(10.0),
            reserve: 64 << 20,
            interval: Duration::from_secs(30),
            alerts_max_age: Duration::from_secs(365 * 86_400),
            outbox_max_age: Duration::from_secs(30 * 86_400),
            audit_max_age: Duration::from_secs(365 * 86_400),
            evidence_per_alert: 100,
            audit_queries: Vec::new(),
            overrides: Vec::new(),
            archive_dir: None,
            archive_max_bytes: None,
        }
    }
}

/// Free space to keep: a share of the file system or a size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Free {
    /// Percent of the file system's size.
    Percent(f64),
    /// Bytes.
    Bytes(u64),
}

impl Free {
    /// The bytes this means on a file system of `total` bytes.
    pub fn bytes(self, total: u64) -> u64 {
        match self {
            Free::Percent(p) => (total as f64 * p / 100.0) as u64,
            Free::Bytes(b) => b,
        }
    }
}

/// One removable time slice of the store (a segment file, a partition).
#[derive(Debug, Clone, PartialEq)]
pub struct Slice {
    /// Its id.
    pub id: u32,
    /// Its retention class (`""`: bulk).
    pub class: String,
    /// Bytes it takes on disk.
    pub bytes: u64,
    /// Events in it.
    pub rows: u64,
    /// Its oldest and newest `@timestamp`, microseconds.
    pub min_ts: i64,
    pub max_ts: i64,
    /// It is being written (never removed).
    pub active: bool,
}

/// Why a slice is removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Older than `max_age`.
    Age,
    /// The store is over `max_bytes`.
    Bytes,
    /// The file system has less than `min_free` free.
    Free,
}

impl Reason {
    /// The name used in the run log and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Age => "max_age",
            Reason::Bytes => "max_bytes",
            Reason::Free => "min_free",
        }
    }
}

/// What the policy decided.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// Slices to remove (indexes into the slices given), in order, with the reason.
    pub remove: Vec<(usize, Reason)>,
    /// Even after removing everything allowed, `min_free` is not met (the disk alert).
    pub short_of_space: bool,
}

/// Chooses what to remove. `slices` oldest first; `store_bytes` the whole store (slices and
/// whatever else the cap counts, audit slices included: they are taken off here); `free`/`total`
/// the file system, when known.
pub fn plan(
    policy: &Policy,
    slices: &[Slice],
    store_bytes: u64,
    space: Option<crate::disk::Space>,
    now_us: i64,
) -> Plan {
    let mut out = Plan::default();
    let micros = |d: Duration| i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
    let audit_bytes: u64 = slices
        .iter()
        .filter(|s| policy.keep(&s.class).1)
        .map(|s| s.bytes)
        .sum();
    let mut bytes = store_bytes.saturating_sub(audit_bytes);
    let mut free = space.map(|s| s.free);
    let want_free = space.map(|s| policy.min_free.bytes(s.total));
    // When each slice is due: its newest event plus its class's age.
    let mut due: Vec<(i64, usize)> = Vec::new();
    for (i, s) in slices.iter().enumerate().filter(|(_, s)| !s.active) {
        let (age, audit) = policy.keep(&s.class);
        let expires = s.max_ts.saturating_add(micros(age));
        if s.rows > 0 && expires < now_us {
            out.remove.push((i, Reason::Age));
            bytes = bytes.saturating_sub(if audit { 0 } else { s.bytes });
            free = free.map(|f| f.saturating_add(s.bytes));
        } else if !audit {
            due.push((expires, i));
        }
    }
    // For space: the slice due first goes first.
    due.sort();
    for (_, i) in due {
        let reason = if policy.max_bytes.is_some_and(|cap| bytes > cap) {
            Reason::Bytes
        } else if matches!((free, want_free), (Some(f), Some(w)) if f < w) {
            Reason::Free
        } else {
            break;
        };
        out.remove.push((i, reason));
        bytes = bytes.saturating_sub(slices[i].bytes);
        free = free.map(|f| f.saturating_add(slices[i].bytes));
    }
    out.short_of_space = matches!((free, want_free), (Some(f), Some(w)) if f < w);
    out
}

/// A policy value that cannot be read; the text says which and how to write it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValueError {
    #[error("{0:?} is not a duration like \"30d\", \"12h\" or \"90m\"")]
    NotDuration(String),
    #[error("unknown unit {unit:?} in {text:?} (use s, m, h, d, w or y)")]
    DurationUnit { unit: String, text: String },
    #[error("{0:?} is too long")]
    TooLong(String),
    #[error("{0:?} is not a size like \"50GB\" or \"512MiB\"")]
    NotSize(String),
    #[error("unknown unit {unit:?} in {text:?} (use B, KB, MB, GB, TB or KiB…TiB)")]
    SizeUnit { unit: String, text: String },
    #[error("{0:?} is out of range")]
    OutOfRange(String),
    #[error("{0:?} is not a percentage like \"10%\"")]
    NotPercent(String),
    #[error("{0:?} must be between 0% and 90%")]
    PercentRange(String),
}

/// Parses a duration such as `30d`, `12h`, `90m`, `45s`, `2w` (a bare number is seconds).
pub fn parse_duration(s: &str) -> Result<Duration, ValueError> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| ValueError::NotDuration(s.into()))?;
    let secs = match unit.trim() {
        "" | "s" => 1,
        "m" | "min" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        "y" => 365 * 86_400,
        other => {
            return Err(ValueError::DurationUnit {
                unit: other.into(),
                text: s.into(),
            });
        }
    };
    n.checked_mul(secs)
        .map(Duration::from_secs)
        .ok_or_else(|| ValueError::TooLong(s.into()))
}

/// Parses a size such as `50GB`, `512MiB`, `1.5G` or a bare number of bytes. `KB`/`MB`/`GB`/`TB`
/// are powers of 1000, `KiB`… powers of 1024, `K`/`M`/`G`/`T` alone powers of 1024 too.
pub fn parse_size(s: &str) -> Result<u64, ValueError> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().map_err(|_| ValueError::NotSize(s.into()))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "tb" => 1e12,
        "k" | "kib" => 1024.0,
        "m" | "mib" => 1024.0 * 1024.0,
        "g" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        other => {
            return Err(ValueError::SizeUnit {
                unit: other.into(),
                text: s.into(),
            });
        }
    };
    let v = n * mult;
    if !v.is_finite() || v < 0.0 || v > u64::MAX as f64 {
        return Err(ValueError::OutOfRange(s.into()));
    }
    Ok(v as u64)
}

/// Parses `min_free`: a percentage (`"10%"`) or a size.
pub fn parse_free(s: &str) -> Result<Free, ValueError> {
    match s.trim().strip_suffix('%') {
        Some(p) => {
            let v: f64 = p
                .trim()
                .parse()
                .map_err(|_| ValueError::NotPercent(s.into()))?;
            if !(0.0..=90.0).contains(&v) {
                return Err(ValueError::PercentRange(s.into()));
            }
            Ok(Free::Percent(v))
        }
        None => parse_size(s).map(Free::Bytes),
    }
}

/// Days until the store reaches `max_bytes` or the disk `min_free`, whichever comes first, at
/// `bytes_per_day`; `None` when neither limit applies or nothing grows.
pub fn days_left(
    policy: &Policy,
    store_bytes: u64,
    space: Option<crate::disk::Space>,
    bytes_per_day: f64,
) -> Option<f64> {
    if bytes_per_day <= 0.0 {
        return None;
    }
    let by_cap = policy
        .max_bytes
        .map(|cap| cap.saturating_sub(store_bytes) as f64 / bytes_per_day);
    let by_free =
        space.map(|s| s.free.saturating_sub(policy.min_free.bytes(s.total)) as f64 / bytes_per_day);
    match (by_cap, by_free) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disk::Space;

    const DAY: i64 = 86_400_000_000;

    fn slice(id: u32, day: i64, bytes: u64) -> Slice {
        Slice {
            id,
            class: String::new(),
            bytes,
            rows: 10,
            min_ts: day * DAY,
            max_ts: day * DAY + DAY / 2,
            active: false,
        }
    }

    #[test]
    fn durations_sizes_and_shares() {
        assert_eq!(
            parse_duration("30d").unwrap(),
            Duration::from_secs(30 * 86_400)
        );
        assert_eq!(parse_duration("12h").unwrap(), Duration::from_secs(43_200));
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert!(parse_duration("3 fortnights").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("99999999999999999999d").is_err());
        assert_eq!(parse_size("50GB").unwrap(), 50_000_000_000);
        assert_eq!(parse_size("512MiB").unwrap(), 512 << 20);
        assert_eq!(parse_size("1.5G").unwrap(), 1_610_612_736);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert!(parse_size("lots").is_err());
        assert!(parse_size("5XB").is_err());
        assert_eq!(parse_free("10%").unwrap(), Free::Percent(10.0));
        assert_eq!(parse_free("2GB").unwrap(), Free::Bytes(2_000_000_000));
        assert!(parse_free("95%").is_err());
        assert_eq!(Free::Percent(10.0).bytes(1000), 100);
    }

    #[test]
    fn age_goes_first_and_the_active_slice_stays() {
        let p = Policy {
            max_age: Duration::from_secs(10 * 86_400),
            ..Policy::default()
        };
        let mut s: Vec<Slice> = (0..20).map(|d| slice(d as u32 + 1, d, 100)).collect();
        s.last_mut().unwrap().active = true;
        let plan = plan(&p, &s, 2000, None, 20 * DAY);
        // Days 0..=9 end before day 10 (the cutoff).
        assert_eq!(plan.remove.len(), 10);
        assert!(plan.remove.iter().all(|(_, r)| *r == Reason::Age));
        assert_eq!(plan.remove.first().unwrap().0, 0);
        assert!(!plan.short_of_space);
        // An active slice is kept even when it is old.
        let old = vec![Slice {
            active: true,
            ..slice(1, 0, 100)
        }];
        assert!(
            super::plan(&p, &old, 100, None, 100 * DAY)
                .remove
                .is_empty()
        );
    }

    #[test]
    fn bytes_and_free_space_remove_oldest_first_until_met() {
        let p = Policy {
            max_bytes: Some(1000),
            ..Policy::default()
        };
        let s: Vec<Slice> = (0..15).map(|d| slice(d as u32 + 1, d, 100)).collect();
        let now = 16 * DAY;
        let plan1 = plan(&p, &s, 1500, None, now);
        assert_eq!(
            plan1.remove,
            (0..5).map(|i| (i, Reason::Bytes)).collect::<Vec<_>>()
        );
        // Free space: 10% of 10,000 must stay free; 700 free, so 300 bytes must go.
        let p = Policy::default();
        let space = Space {
            total: 10_000,
            free: 700,
        };
        let plan2 = plan(&p, &s, 1500, Some(space), now);
        assert_eq!(
            plan2.remove,
            (0..3).map(|i| (i, Reason::Free)).collect::<Vec<_>>()
        );
        // Another program filled the disk: everything removable goes, and it is not enough.
        let space = Space {
            total: 100_000,
            free: 100,
        };
        let plan3 = plan(&p, &s, 1500, Some(space), now);
        assert_eq!(plan3.remove.len(), 15);
        assert!(plan3.short_of_space);
    }

    #[test]
    fn each_class_keeps_its_own_age_and_audit_never_goes_for_space() {
        let p = Policy {
            max_age: Duration::from_secs(10 * 86_400),
            max_bytes: Some(1000),
            audit_max_age: Duration::from_secs(100 * 86_400),
            overrides: vec![
                Override {
                    name: "auth".into(),
                    query: "event.dataset:system.auth".into(),
                    max_age: Duration::from_secs(50 * 86_400),
                },
                Override {
                    name: "accept".into(),
                    query: "event.action:accept".into(),
                    max_age: Duration::from_secs(2 * 86_400),
                },
            ],
            ..Policy::default()
        };
        let classed = |id: u32, day: i64, class: &str| Slice {
            class: class.into(),
            ..slice(id, day, 100)
        };
        let now = 20 * DAY;
        // Day 5 of each class; then day 15 of each.
        let s = vec![
            classed(1, 5, ""),
            classed(1, 5, "auth"),
            classed(1, 5, "accept"),
            classed(1, 5, AUDIT),
            classed(2, 15, ""),
            classed(2, 15, "auth"),
            classed(2, 15, "accept"),
            classed(2, 15, AUDIT),
            classed(3, 19, "gone_class"),
        ];
        // 900 bytes, audit's 200 not counted: under the cap. Age alone decides: bulk of day 5
        // (10 d), accept of days 5 and 15 (2 d); auth (50 d), audit (100 d) and the unknown class
        // (as bulk, 10 d) stay.
        let got = plan(&p, &s, 900, None, now);
        assert_eq!(
            got.remove,
            vec![(0, Reason::Age), (2, Reason::Age), (6, Reason::Age)]
        );
        // Over the cap by 450 (audit's 200 aside): after age, the slice due first goes first:
        // bulk day 15 (due day 25), then the unknown class (day 29); auth day 5 (due day 55)
        // stays, and audit is never removed for space.
        let got = plan(&p, &s, 1650, None, now);
        assert_eq!(
            got.remove,
            vec![
                (0, Reason::Age),
                (2, Reason::Age),
                (6, Reason::Age),
                (4, Reason::Bytes),
                (8, Reason::Bytes),
            ]
        );
        // Only audit data left, and the disk is short: nothing goes, the alert is raised.
        let only_audit = vec![classed(1, 15, AUDIT), classed(2, 19, AUDIT)];
        let space = crate::disk::Space {
            total: 100_000,
            free: 100,
        };
        let got = plan(&p, &only_audit, 200, Some(space), now);
        assert!(got.remove.is_empty());
        assert!(got.short_of_space);
        // Audit data past its own age does go.
        let got = plan(&p, &only_audit, 200, None, 200 * DAY);
        assert_eq!(got.remove.len(), 2);
    }

    #[test]
    fn days_left_takes_the_nearer_limit() {
        let p = Policy {
            max_bytes: Some(10_000),
            ..Policy::default()
        };
        let space = Space {
            total: 100_000,
            free: 50_000,
        };
        // Cap: 9,000 left at 1,000 a day; disk: 40,000 above min_free.
        assert_eq!(days_left(&p, 1000, Some(space), 1000.0), Some(9.0));
        assert_eq!(
            days_left(&Policy::default(), 1000, Some(space), 1000.0),
            Some(40.0)
        );
        assert_eq!(days_left(&p, 1000, Some(space), 0.0), None);
    }
}
