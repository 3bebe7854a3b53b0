//! Picket's extension to Sigma: **absence** ("no event matching X from group G for W").
//!
//! Sigma can only say what happened. Two alerts admins want are about what did not: a sender
//! that went silent, and a heartbeat ("canary") that did not arrive. A rule document with the
//! extension key `picket-absence` is one of these; it lives in `rules/` beside Sigma rules and
//! is documented in `docs/rules.md`.
//!
//! ```yaml
//! title: A sender went silent
//! id: picket-sender-silent
//! level: high
//! picket-absence:
//!   per: sender       # every sender in the registry seen within `history`
//!   window: 15m       # silent for this long
//!   history: 24h
//! ```
//!
//! With `logsource`/`detection` (ordinary Sigma), only matching events count, grouped by
//! `group-by`; the expected groups are `expect` when given, else every group seen within
//! `history` (since the collector started).

use super::{Firing, RuleError};
use crate::store::SenderInfo;
use std::collections::HashMap;

/// The document key that marks an absence rule.
pub const KEY: &str = "picket-absence";

/// Groups remembered per absence rule; past this the longest-silent are forgotten.
const MAX_GROUPS: usize = 10_000;

/// One absence rule.
pub struct Absence {
    /// Its title.
    pub title: String,
    id: String,
    level: super::Level,
    tags: Vec<String>,
    /// Silent this long (seconds) fires.
    pub window_secs: u64,
    history_secs: u64,
    /// Reads the registry of senders instead of matching events.
    pub per_sender: bool,
    /// The group-by fields, and their slots once compiled.
    pub group_by: Vec<String>,
    pub slots: Vec<u16>,
    expect: Vec<String>,
    /// The Sigma part (logsource and detection), compiled by the rule set.
    pub sigma: Option<String>,
    /// Group → last time seen (microseconds).
    last_seen: HashMap<String, i64>,
    /// Group → the last-seen time it already fired for.
    fired: HashMap<String, i64>,
    /// The first time the rule saw the clock: groups never seen are silent from here.
    started: Option<i64>,
}

fn timespan(v: Option<&yaml_serde::Value>, key: &str, default: &str) -> Result<u64, RuleError> {
    let s = match v {
        None => default.to_string(),
        Some(yaml_serde::Value::String(s)) => s.clone(),
        Some(other) => {
            return Err(RuleError::Invalid(format!(
                "{KEY}.{key} must be a duration such as 15m, not {other:?}"
            )));
        }
    };
    rsigma_parser::Timespan::parse(&s)
        .map(|t| t.seconds)
        .map_err(|e| RuleError::Invalid(format!("{KEY}.{key}: {e}")))
}

fn strings(v: Option<&yaml_serde::Value>, key: &str) -> Result<Vec<String>, RuleError> {
    match v {
        None => Ok(Vec::new()),
        Some(yaml_serde::Value::String(s)) => Ok(vec![s.clone()]),
        Some(yaml_serde::Value::Sequence(items)) => items
            .iter()
            .map(|i| match i {
                yaml_serde::Value::String(s) => Ok(s.clone()),
                yaml_serde::Value::Number(n) => Ok(n.to_string()),
                _ => Err(RuleError::Invalid(format!(
                    "{KEY}.{key} must be a list of strings"
                ))),
            })
            .collect(),
        Some(_) => Err(RuleError::Invalid(format!(
            "{KEY}.{key} must be a list of strings"
        ))),
    }
}

impl Absence {
    /// Its rule id (what alerts carry).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Its level.
    pub fn level(&self) -> super::Level {
        self.level
    }

    /// Reads one absence document.
    pub fn from_yaml(doc: &yaml_serde::Value) -> Result<Absence, RuleError> {
        let title = doc
            .get("title")
            .and_then(|v| v.as_str())
            .ok_or_else(|| RuleError::Invalid("an absence rule needs a title".into()))?
            .to_string();
        let ext = doc
            .get(KEY)
            .ok_or_else(|| RuleError::Invalid("missing picket-absence".into()))?;
        let known = ["per", "window", "history", "group-by", "expect"];
        if let Some(m) = ext.as_mapping() {
            for k in m.keys() {
                let k = k.as_str().unwrap_or_default();
                if !known.contains(&k) {
                    return Err(RuleError::Invalid(format!(
                        "{title:?}: unknown key {KEY}.{k} (known: {known:?})"
                    )));
                }
            }
        } else {
            return Err(RuleError::Invalid(format!(
                "{title:?}: {KEY} must be a mapping"
            )));
        }
        let per_sender = match ext.get("per").and_then(|v| v.as_str()) {
            None => false,
            Some("sender") => true,
            Some(other) => {
                return Err(RuleError::Invalid(format!(
                    "{title:?}: {KEY}.per: only `sender` is supported, not {other:?}"
                )));
            }
        };
        let has_detection = doc.get("detection").is_some();
        if per_sender == has_detection {
            return Err(RuleError::Invalid(format!(
                "{title:?}: an absence rule has either `{KEY}.per: sender` or a `detection`, not both or neither"
            )));
        }
        let level = match doc.get("level").and_then(|v| v.as_str()) {
            None => super::Level::Medium,
            Some(l) => super::Level::parse(l).ok_or(RuleError::Invalid(format!(
                "{title:?}: unknown level {l:?}"
            )))?,
        };
        let sigma = if has_detection {
            let mut d = doc.clone();
            if let Some(m) = d.as_mapping_mut() {
                m.remove(KEY);
            }
            Some(yaml_serde::to_string(&d).map_err(|e| RuleError::Sigma(e.to_string()))?)
        } else {
            None
        };
        let group_by = strings(ext.get("group-by"), "group-by")?;
        if has_detection && group_by.is_empty() {
            return Err(RuleError::Invalid(format!(
                "{title:?}: {KEY}.group-by is required with a detection"
            )));
        }
        Ok(Absence {
            id: doc
                .get("id")
                .and_then(|v| v.as_str())
                .unwrap_or(&title)
                .to_string(),
            tags: strings(doc.get("tags"), "tags")?,
            window_secs: timespan(ext.get("window"), "window", "15m")?,
            history_secs: timespan(ext.get("history"), "history", "24h")?,
            expect: strings(ext.get("expect"), "expect")?,
            title,
            level,
            per_sender,
            group_by,
            slots: Vec::new(),
            sigma,
            last_seen: HashMap::new(),
            fired: HashMap::new(),
            started: None,
        })
    }

    /// Notes the engine's clock (the first time seen starts the grace period).
    pub fn clock(&mut self, now: i64) {
        self.started.get_or_insert(now);
    }

    /// Notes an event of `group` matching the detection at `now`.
    pub fn seen(&mut self, group: String, now: i64) {
        self.started.get_or_insert(now);
        self.fired.remove(&group);
        if self.last_seen.len() >= MAX_GROUPS && !self.last_seen.contains_key(&group) {
            if let Some(oldest) = self
                .last_seen
                .iter()
                .min_by_key(|(_, t)| **t)
                .map(|(k, _)| k.clone())
            {
                self.last_seen.remove(&oldest);
            }
        }
        self.last_seen.insert(group, now);
    }

    fn fire(&self, group: Vec<(String, String)>, now: i64) -> Firing {
        Firing {
            rule_id: self.id.clone(),
            title: self.title.clone(),
            level: self.level,
            tags: self.tags.clone(),
            kind: "absence",
            group,
            events: Vec::new(),
            count: 1,
            at: now,
            trigger: 0,
        }
    }

    /// The groups silent for longer than the window at `now`, each fired once per silence.
    pub fn check(&mut self, now: i64, senders: &[SenderInfo]) -> Vec<Firing> {
        let started = *self.started.get_or_insert(now);
        let window = i64::try_from(self.window_secs)
            .unwrap_or(i64::MAX)
            .saturating_mul(1_000_000);
        let history = i64::try_from(self.history_secs)
            .unwrap_or(i64::MAX)
            .saturating_mul(1_000_000);
        let mut out = Vec::new();
        if self.per_sender {
            for s in senders {
                let silent = now.saturating_sub(s.last_seen);
                if silent > window
                    && silent <= history
                    && self.fired.get(&s.sender) != Some(&s.last_seen)
                {
                    self.fired.insert(s.sender.clone(), s.last_seen);
                    let mut group = vec![("observer.ip".to_string(), s.sender.clone())];
                    if let Some(h) = &s.host {
                        group.push(("host.name".into(), h.clone()));
                    }
                    out.push(self.fire(group, now));
                }
            }
            return out;
        }
        let mut groups: Vec<String> = self.expect.clone();
        if self.expect.is_empty() {
            groups.extend(
                self.last_seen
                    .iter()
                    .filter(|(_, t)| now.saturating_sub(**t) <= history)
                    .map(|(g, _)| g.clone()),
            );
        }
        for g in groups {
            let last = self.last_seen.get(&g).copied().unwrap_or(started);
            if now.saturating_sub(last) > window && self.fired.get(&g) != Some(&last) {
                self.fired.insert(g.clone(), last);
                let group = self
                    .group_by
                    .iter()
                    .cloned()
                    .zip(g.split('\u{1f}').map(str::to_owned))
                    .collect();
                out.push(self.fire(group, now));
            }
        }
        out
    }
}
