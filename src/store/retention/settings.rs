//! The `[retention]` section of `picket.toml` as written, and its check into the [`Policy`]
//! (durations, sizes, the free-space share, the classes' queries). `config.rs` only places it.

use super::{Override, Policy, ValueError, parse_duration, parse_free, parse_size};
use crate::model::Invalid;
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// `[retention]`: how long and how much the store keeps (see `docs/storage.md`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetention {
    /// Events older than this go (`"30d"`).
    pub max_age: Option<String>,
    /// Cap on the event store (`"50GB"` or bytes).
    pub max_bytes: Option<RawSize>,
    /// Free space to keep on the data directory's file system (`"10%"` or a size).
    pub min_free: Option<String>,
    /// Intake stops while less than this is free (`"64MB"`).
    pub reserve: Option<RawSize>,
    /// How often the policy is applied (`"30s"`).
    pub interval: Option<String>,
    /// Resolved alerts with their history and evidence (`"365d"`).
    pub alerts_max_age: Option<String>,
    /// Delivered or dead notifications (`"30d"`).
    pub outbox_max_age: Option<String>,
    /// The security log (`"365d"`).
    pub audit_max_age: Option<String>,
    /// Events kept with each alert when their segment goes (100).
    pub evidence_per_alert: Option<usize>,
    /// Queries whose events join the audit class (kept `audit_max_age`).
    #[serde(default)]
    pub audit_queries: Vec<String>,
    /// `[[retention.override]]`: events a query picks, kept for their own age.
    #[serde(default, rename = "override")]
    pub overrides: Vec<RawOverride>,
    /// Where removed segments are written first (relative to the data directory).
    pub archive_dir: Option<PathBuf>,
    /// Cap on the archive (`"500GB"` or bytes).
    pub archive_max_bytes: Option<RawSize>,
}

/// One `[[retention.override]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOverride {
    pub name: String,
    pub query: String,
    pub max_age: String,
}

/// A size: a number of bytes or a string such as `"50GB"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawSize {
    Bytes(u64),
    Text(String),
}

impl RawSize {
    /// The size in bytes.
    pub fn bytes(&self) -> Result<u64, ValueError> {
        match self {
            RawSize::Bytes(b) => Ok(*b),
            RawSize::Text(t) => parse_size(t),
        }
    }
}

impl RawRetention {
    /// Checks the section into the policy; the error names the key.
    pub fn validate(&self) -> Result<Policy, Invalid> {
        let d = Policy::default();
        let dur = |key: &str, v: &Option<String>, default: Duration| match v {
            Some(t) => parse_duration(t)
                .map_err(|m| Invalid::new(format!("retention.{key}"), m))
                .and_then(|x| {
                    if x.is_zero() {
                        Err(Invalid::new(
                            format!("retention.{key}"),
                            "must be more than 0",
                        ))
                    } else {
                        Ok(x)
                    }
                }),
            None => Ok(default),
        };
        let size = |key: &str, v: &Option<RawSize>| {
            v.as_ref()
                .map(|s| {
                    s.bytes()
                        .map_err(|m| Invalid::new(format!("retention.{key}"), m))
                })
                .transpose()
        };
        let policy = Policy {
            max_age: dur("max_age", &self.max_age, d.max_age)?,
            max_bytes: size("max_bytes", &self.max_bytes)?,
            min_free: match &self.min_free {
                Some(t) => parse_free(t).map_err(|m| Invalid::new("retention.min_free", m))?,
                None => d.min_free,
            },
            reserve: size("reserve", &self.reserve)?.unwrap_or(d.reserve),
            interval: dur("interval", &self.interval, d.interval)?,
            alerts_max_age: dur("alerts_max_age", &self.alerts_max_age, d.alerts_max_age)?,
            outbox_max_age: dur("outbox_max_age", &self.outbox_max_age, d.outbox_max_age)?,
            audit_max_age: dur("audit_max_age", &self.audit_max_age, d.audit_max_age)?,
            evidence_per_alert: self.evidence_per_alert.unwrap_or(d.evidence_per_alert),
            audit_queries: self.audit_queries.clone(),
            archive_dir: self.archive_dir.clone(),
            archive_max_bytes: size("archive_max_bytes", &self.archive_max_bytes)?,
            overrides: self
                .overrides
                .iter()
                .enumerate()
                .map(|(i, o)| {
                    Ok(Override {
                        name: o.name.clone(),
                        query: o.query.clone(),
                        max_age: dur(
                            &format!("override[{i}].max_age"),
                            &Some(o.max_age.clone()),
                            d.max_age,
                        )?,
                    })
                })
                .collect::<Result<_, Invalid>>()?,
        };
        policy.classes()?;
        if policy.max_bytes.is_some_and(|b| b < 1 << 20) {
            return Err(Invalid::new(
                "retention.max_bytes",
                "must be at least 1 MiB",
            ));
        }
        if policy.evidence_per_alert > 10_000 {
            return Err(Invalid::new(
                "retention.evidence_per_alert",
                "must be at most 10000",
            ));
        }
        Ok(policy)
    }
}
