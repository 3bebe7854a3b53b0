//! Detection rules: Sigma detection and correlation rules from `rules/`, evaluated on every
//! event as it passes, plus Picket's one extension, *absence* (see `absence.rs`).
//!
//! Rules are parsed by `rsigma-parser` and compiled and evaluated by `rsigma-eval` (sliding
//! windows per rule and group key, bounded state). Before compiling, the processing pipeline
//! `rules/pipelines/picket-ecs.yml` maps Sigma's taxonomy (logsources, generic field names) to
//! Picket's datasets and ECS fields; users extend it with their own pipeline files there.
//!
//! Time is always given by the caller ([`Rules::process`] takes `now`), so the collector uses
//! arrival time, `picket rules test` uses each line's own timestamp, and tests need no sleeps.

pub mod absence;
pub mod event;
pub mod run;

use crate::model::Event;
use absence::Absence;
use event::RuleEvent;
use rsigma_eval::{
    CorrelationConfig, CorrelationEngine, CorrelationEventMode, EvaluationResult, ResultBody,
};
use rsigma_parser::{CorrelationRule, SigmaRule};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The built-in mapping pipeline, used when the rules folder has none of that name.
pub const DEFAULT_PIPELINE: &str = include_str!("../../rules/pipelines/picket-ecs.yml");

/// The starter rules, built in: used when the configured rules folder does not exist, so that
/// a collector started with no files at all still detects the common attacks.
pub const STARTER_RULES: &[(&str, &str)] = &[
    (
        "ssh_bruteforce.yml",
        include_str!("../../rules/ssh_bruteforce.yml"),
    ),
    (
        "ssh_success_after_failures.yml",
        include_str!("../../rules/ssh_success_after_failures.yml"),
    ),
    ("port_scan.yml", include_str!("../../rules/port_scan.yml")),
    (
        "firewall_deny_burst.yml",
        include_str!("../../rules/firewall_deny_burst.yml"),
    ),
    (
        "admin_login_new_country.yml",
        include_str!("../../rules/admin_login_new_country.yml"),
    ),
    (
        "threat_list_hit.yml",
        include_str!("../../rules/threat_list_hit.yml"),
    ),
    (
        "sender_silent.yml",
        include_str!("../../rules/sender_silent.yml"),
    ),
    (
        "snmp_linkdown_critical.yml",
        include_str!("../../rules/snmp_linkdown_critical.yml"),
    ),
    (
        "snmp_auth_failure.yml",
        include_str!("../../rules/snmp_auth_failure.yml"),
    ),
    (
        "windows_4625_burst.yml",
        include_str!("../../rules/windows_4625_burst.yml"),
    ),
    (
        "windows_4720_user_created.yml",
        include_str!("../../rules/windows_4720_user_created.yml"),
    ),
    (
        "asa_vpn_auth_failures.yml",
        include_str!("../../rules/asa_vpn_auth_failures.yml"),
    ),
    (
        "fortigate_admin_login_failure.yml",
        include_str!("../../rules/fortigate_admin_login_failure.yml"),
    ),
];

/// Settings of `[rules]`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Evaluate rules at all.
    pub enabled: bool,
    /// The rules folder (`*.yml`/`*.yaml`, recursively; `pipelines/` holds mapping pipelines).
    pub dir: PathBuf,
    /// Window state kept per rule and group key, across all rules; past it the stalest keys
    /// are evicted (and counted).
    pub max_keys: usize,
    /// After an alert, further matches of the same rule and group key update it for this long
    /// instead of raising a new one.
    pub suppress_secs: u64,
    /// Raise an unacknowledged alert's severity after this long (0: never).
    pub escalate_after_secs: u64,
    /// Raise an alert's severity when its count reaches this multiple of the count it was
    /// raised with (0: never).
    pub escalate_count_factor: u64,
    /// Matching event ids kept per alert.
    pub max_linked_events: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            enabled: true,
            dir: PathBuf::from("rules"),
            max_keys: 100_000,
            suppress_secs: 600,
            escalate_after_secs: 3600,
            escalate_count_factor: 10,
            max_linked_events: 50,
        }
    }
}

/// A problem with one rule file; the other files still load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file.
    pub file: String,
    /// What is wrong.
    pub reason: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "rule file {}: {}", self.file, self.reason)
    }
}

/// Alert severity, Sigma's levels in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Level {
    /// The level's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Informational => "informational",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }

    /// Parses a level name.
    pub fn parse(s: &str) -> Option<Level> {
        Some(match s.to_ascii_lowercase().as_str() {
            "informational" | "info" => Level::Informational,
            "low" => Level::Low,
            "medium" => Level::Medium,
            "high" => Level::High,
            "critical" => Level::Critical,
            _ => return None,
        })
    }

    /// The next level up (critical stays critical).
    pub fn raised(self) -> Level {
        match self {
            Level::Informational => Level::Low,
            Level::Low => Level::Medium,
            Level::Medium => Level::High,
            Level::High | Level::Critical => Level::Critical,
        }
    }

    fn from_sigma(l: Option<&rsigma_parser::Level>) -> Level {
        l.and_then(|l| Level::parse(l.as_str()))
            .unwrap_or(Level::Medium)
    }
}

/// What a rule says about a rule that fired.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Firing {
    /// The rule's id (or title when it has none).
    pub rule_id: String,
    /// The rule's title.
    pub title: String,
    /// Its level.
    pub level: Level,
    /// Its tags.
    pub tags: Vec<String>,
    /// `detection`, `correlation` or `absence`.
    pub kind: &'static str,
    /// The group key: (field, value) pairs.
    pub group: Vec<(String, String)>,
    /// Ids of the matching events known (the completing one last).
    pub events: Vec<i64>,
    /// The count that triggered it (events, distinct values, or 1).
    pub count: u64,
    /// When, on the engine's clock (microseconds).
    pub at: i64,
    /// The completing event's id (0 for absence).
    pub trigger: i64,
}

impl Firing {
    /// The group key as one string (`field=value, ...`), `-` when there is none.
    pub fn group_text(&self) -> String {
        if self.group.is_empty() {
            return "-".into();
        }
        self.group
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Per-rule data Picket keeps beside the engine.
#[derive(Debug, Clone)]
struct Meta {
    group_by: Vec<String>,
}

/// The loaded rules and their window state.
pub struct Rules {
    engine: CorrelationEngine,
    absence: Vec<Absence>,
    meta: HashMap<String, Meta>,
    names: Vec<String>,
    /// Ids and names of the detection rules, which correlations refer to.
    refs: HashMap<String, String>,
    /// Keys of detection rules that only feed correlations (`generate: false`).
    correlation_only: std::collections::HashSet<String>,
    max_keys: usize,
    pipelines: Vec<rsigma_eval::Pipeline>,
    /// Keys evicted because the cap was reached.
    pub evicted: u64,
    /// The longest window of any rule (seconds): how much history a restart replays.
    pub longest_window_secs: u64,
}

/// One parsed rule file.
struct Parsed {
    rules: Vec<SigmaRule>,
    correlations: Vec<CorrelationRule>,
    absence: Vec<Absence>,
}

impl Rules {
    /// Loads every rule file under `dir` (or the built-in starter rules when `dir` does not
    /// exist). Returns the rules that loaded and a problem per file or rule that did not.
    pub fn load(settings: &Settings) -> (Rules, Vec<Problem>) {
        let dir = &settings.dir;
        let mut problems = Vec::new();
        let files: Vec<(String, String)> = if dir.exists() {
            let mut paths = Vec::new();
            collect_files(dir, &mut paths, &mut problems);
            paths.sort();
            paths
                .into_iter()
                .filter_map(|p| match std::fs::read_to_string(&p) {
                    Ok(t) => Some((p.display().to_string(), t)),
                    Err(e) => {
                        problems.push(Problem {
                            file: p.display().to_string(),
                            reason: e.to_string(),
                        });
                        None
                    }
                })
                .collect()
        } else {
            STARTER_RULES
                .iter()
                .map(|(n, t)| (format!("(built in) {n}"), (*t).to_string()))
                .collect()
        };
        let pipelines = load_pipelines(Some(&dir.join("pipelines")), &mut problems);
        let (rules, more) = Rules::from_sources(files, pipelines, settings.max_keys);
        problems.extend(more);
        (rules, problems)
    }

    /// Compiles rule files given as (name, YAML text) with the given mapping pipelines.
    pub fn from_sources(
        files: Vec<(String, String)>,
        pipelines: Vec<rsigma_eval::Pipeline>,
        max_keys: usize,
    ) -> (Rules, Vec<Problem>) {
        let mut problems = Vec::new();
        let mut rules = Rules::empty(max_keys, pipelines);
        let parsed: Vec<(String, Parsed)> = files
            .into_iter()
            .filter_map(|(name, text)| match parse_file(&text) {
                Ok((p, errs)) => {
                    problems.extend(errs.into_iter().map(|reason| Problem {
                        file: name.clone(),
                        reason,
                    }));
                    Some((name, p))
                }
                Err(reason) => {
                    problems.push(Problem { file: name, reason });
                    None
                }
            })
            .collect();
        // Detection rules first: correlations refer to them.
        for (file, p) in &parsed {
            for r in &p.rules {
                if let Err(reason) = rules.add_rule(r) {
                    problems.push(Problem {
                        file: file.clone(),
                        reason: format!("rule {:?}: {reason}", r.title),
                    });
                }
            }
        }
        for (file, p) in &parsed {
            for c in &p.correlations {
                if let Err(reason) = rules.add_correlation(c) {
                    problems.push(Problem {
                        file: file.clone(),
                        reason: format!("correlation {:?}: {reason}", c.title),
                    });
                }
            }
        }
        for (file, p) in parsed {
            for mut a in p.absence {
                match a.compile(&rules.pipelines_for_absence()) {
                    Ok(()) => {
                        rules.longest_window_secs = rules.longest_window_secs.max(a.window_secs);
                        rules.names.push(a.title.clone());
                        rules.absence.push(a);
                    }
                    Err(reason) => problems.push(Problem {
                        file: file.clone(),
                        reason: format!("absence rule {:?}: {reason}", a.title),
                    }),
                }
            }
        }
        (rules, problems)
    }

    /// Compiles rules from YAML text with the built-in mapping pipeline.
    pub fn from_yaml(files: &[(&str, &str)], max_keys: usize) -> (Rules, Vec<Problem>) {
        let mut problems = Vec::new();
        let pipelines = load_pipelines(None, &mut problems);
        let files = files
            .iter()
            .map(|(n, t)| ((*n).to_string(), (*t).to_string()))
            .collect();
        let (rules, more) = Rules::from_sources(files, pipelines, max_keys);
        problems.extend(more);
        (rules, problems)
    }

    fn empty(max_keys: usize, pipelines: Vec<rsigma_eval::Pipeline>) -> Rules {
        let config = CorrelationConfig {
            max_state_entries: max_keys.max(16),
            correlation_event_mode: CorrelationEventMode::Refs,
            max_correlation_events: 50,
            emit_detections: false,
            ..CorrelationConfig::default()
        };
        let mut engine = CorrelationEngine::new(config);
        for p in pipelines.iter().cloned() {
            engine.add_pipeline(p);
        }
        Rules {
            engine,
            absence: Vec::new(),
            meta: HashMap::new(),
            names: Vec::new(),
            refs: HashMap::new(),
            correlation_only: Default::default(),
            max_keys: max_keys.max(16),
            evicted: 0,
            longest_window_secs: 0,
            pipelines,
        }
    }

    fn pipelines_for_absence(&self) -> Vec<rsigma_eval::Pipeline> {
        self.pipelines.clone()
    }

    fn add_rule(&mut self, r: &SigmaRule) -> Result<(), String> {
        let key = rule_key(r.id.as_deref(), &r.title);
        if self.meta.contains_key(&key) {
            return Err(format!("duplicate rule id {key}"));
        }
        let group_by = match r.custom_attributes.get("picket-group-by") {
            None => Vec::new(),
            Some(v) => string_list(v).ok_or("picket-group-by must be a list of field names")?,
        };
        self.engine.add_rule(r).map_err(|e| e.to_string())?;
        self.refs.insert(key.clone(), key.clone());
        if let Some(n) = &r.name {
            self.refs.insert(n.clone(), key.clone());
        }
        self.meta.insert(key, Meta { group_by });
        self.names.push(r.title.clone());
        Ok(())
    }

    fn add_correlation(&mut self, c: &CorrelationRule) -> Result<(), String> {
        for r in &c.rules {
            if !self.refs.contains_key(r) {
                return Err(format!("refers to rule {r:?}, which is not loaded"));
            }
        }
        if !c.generate {
            self.correlation_only
                .extend(c.rules.iter().filter_map(|r| self.refs.get(r).cloned()));
        }
        let key = rule_key(c.id.as_deref(), &c.title);
        self.engine.add_correlation(c).map_err(|e| e.to_string())?;
        self.longest_window_secs = self.longest_window_secs.max(c.timespan.seconds);
        self.meta.insert(
            key,
            Meta {
                group_by: c.group_by.clone(),
            },
        );
        self.names.push(c.title.clone());
        Ok(())
    }

    /// Titles of every loaded rule.
    pub fn titles(&self) -> &[String] {
        &self.names
    }

    /// Number of loaded rules (detection, correlation and absence).
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// True when no rule loaded.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Window state entries held.
    pub fn state_keys(&self) -> usize {
        self.engine.state_count()
    }

    /// Evaluates one event (stored as `id`) at `now` (microseconds on the engine's clock).
    pub fn process(&mut self, ev: &Event, id: i64, listener: &str, now: i64) -> Vec<Firing> {
        let re = RuleEvent::new(ev, id, listener);
        let secs = now.div_euclid(1_000_000);
        let before = self.engine.state_count();
        let results = self.engine.process_event_at(&re, secs);
        // The engine evicts the stalest keys when the cap is reached: count what went.
        if before >= self.max_keys {
            let after = self.engine.state_count();
            self.evicted += (before + 1).saturating_sub(after) as u64;
        }
        let mut out: Vec<Firing> = results
            .into_iter()
            .map(|r| self.firing(r, &re, id, now))
            .collect();
        for a in &mut self.absence {
            a.observe(&re, now);
        }
        out.retain(|f| !f.kind.is_empty());
        out
    }

    /// Stateless detection only (no windows): how many rules match `ev`. For benchmarks.
    pub fn detections(&self, ev: &Event) -> usize {
        self.engine.evaluate(&RuleEvent::new(ev, 0, "bench")).len()
    }

    /// Absence checks at `now`, given the registry of senders.
    pub fn tick(&mut self, now: i64, senders: &[crate::store::SenderInfo]) -> Vec<Firing> {
        let mut out = Vec::new();
        for a in &mut self.absence {
            out.extend(a.check(now, senders));
        }
        self.engine.evict_expired(now.div_euclid(1_000_000));
        out
    }

    /// True when some absence rule needs the registry of senders.
    pub fn needs_registry(&self) -> bool {
        self.absence.iter().any(|a| a.per_sender)
    }

    fn firing(&self, r: EvaluationResult, ev: &RuleEvent<'_>, id: i64, now: i64) -> Firing {
        use rsigma_eval::Event as _;
        let h = &r.header;
        let rule_id = h.rule_id.clone().unwrap_or_else(|| h.rule_title.clone());
        let level = Level::from_sigma(h.level.as_ref());
        let (kind, group, events, count) = match &r.body {
            // Detection rules that only feed correlations raise no alert of their own.
            ResultBody::Detection(_) if self.correlation_only.contains(&rule_id) => {
                ("", Vec::new(), Vec::new(), 0)
            }
            ResultBody::Detection(_) => {
                let fields = self
                    .meta
                    .get(&rule_id)
                    .map(|m| m.group_by.clone())
                    .filter(|g| !g.is_empty())
                    .unwrap_or_else(|| vec!["host.name".into()]);
                let mut group: Vec<(String, String)> = fields
                    .iter()
                    .filter_map(|f| {
                        ev.get_field(f)
                            .and_then(|v| v.as_str().map(|s| (f.clone(), s.into_owned())))
                    })
                    .collect();
                if group.is_empty() {
                    group.push((
                        "observer.ip".into(),
                        ev.get_field("observer.ip")
                            .and_then(|v| v.as_str().map(|s| s.into_owned()))
                            .unwrap_or_default(),
                    ));
                }
                ("detection", group, vec![id], 1)
            }
            ResultBody::Correlation(c) => {
                let mut ids: Vec<i64> = c
                    .event_refs
                    .iter()
                    .flatten()
                    .filter_map(|e| e.id.as_deref().and_then(|s| s.parse().ok()))
                    .collect();
                if ids.last() != Some(&id) {
                    ids.push(id);
                }
                let count = if c.aggregated_value.is_finite() && c.aggregated_value > 0.0 {
                    c.aggregated_value as u64
                } else {
                    1
                };
                ("correlation", c.group_key.clone(), ids, count)
            }
        };
        Firing {
            rule_id,
            title: h.rule_title.clone(),
            level,
            tags: h.tags.clone(),
            kind,
            group,
            events,
            count,
            at: now,
            trigger: id,
        }
    }
}

fn rule_key(id: Option<&str>, title: &str) -> String {
    id.unwrap_or(title).to_string()
}

fn string_list(v: &yaml_serde::Value) -> Option<Vec<String>> {
    match v {
        yaml_serde::Value::String(s) => Some(vec![s.clone()]),
        yaml_serde::Value::Sequence(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_owned))
            .collect(),
        _ => None,
    }
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>, problems: &mut Vec<Problem>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            problems.push(Problem {
                file: dir.display().to_string(),
                reason: e.to_string(),
            });
            return;
        }
    };
    for entry in entries.flatten() {
        let p = entry.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n != "pipelines") {
                collect_files(&p, out, problems);
            }
        } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml")) {
            out.push(p);
        }
    }
}

/// The mapping pipelines: every file in `dir`, plus the built-in one unless `dir` has a file
/// of that name.
fn load_pipelines(dir: Option<&Path>, problems: &mut Vec<Problem>) -> Vec<rsigma_eval::Pipeline> {
    let mut out = Vec::new();
    let mut have_default = false;
    if let Some(Ok(entries)) = dir.map(std::fs::read_dir) {
        let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            if !matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml")) {
                continue;
            }
            have_default |= p.file_name().is_some_and(|n| n == "picket-ecs.yml");
            match std::fs::read_to_string(&p)
                .map_err(|e| e.to_string())
                .and_then(|t| rsigma_eval::parse_pipeline(&t).map_err(|e| e.to_string()))
            {
                Ok(pl) => out.push(pl),
                Err(reason) => problems.push(Problem {
                    file: p.display().to_string(),
                    reason: format!("pipeline: {reason}"),
                }),
            }
        }
    }
    if !have_default {
        match rsigma_eval::parse_pipeline(DEFAULT_PIPELINE) {
            Ok(pl) => out.push(pl),
            Err(e) => problems.push(Problem {
                file: "(built in) picket-ecs.yml".into(),
                reason: e.to_string(),
            }),
        }
    }
    rsigma_eval::merge_pipelines(&mut out);
    out
}

/// Splits a file into its YAML documents: Picket's absence rules are taken out, the rest goes
/// to the Sigma parser. Returns the parsed rules and the per-document errors.
fn parse_file(text: &str) -> Result<(Parsed, Vec<String>), String> {
    use serde::Deserialize as _;
    let mut sigma_docs = Vec::new();
    let mut absence = Vec::new();
    let mut errors = Vec::new();
    for doc in serde_yaml_ng::Deserializer::from_str(text) {
        let v = match serde_yaml_ng::Value::deserialize(doc) {
            Ok(v) => v,
            Err(e) => return Err(format!("YAML: {e}")),
        };
        if v.is_null() {
            continue;
        }
        if v.get(absence::KEY).is_some() {
            match Absence::from_yaml(&v) {
                Ok(a) => absence.push(a),
                Err(e) => errors.push(e),
            }
        } else {
            sigma_docs.push(serde_yaml_ng::to_string(&v).map_err(|e| e.to_string())?);
        }
    }
    let mut rules = Vec::new();
    let mut correlations = Vec::new();
    if !sigma_docs.is_empty() {
        let c = rsigma_parser::parse_sigma_yaml(&sigma_docs.join("---\n"))
            .map_err(|e| e.to_string())?;
        errors.extend(c.errors.iter().cloned());
        if !c.filters.is_empty() {
            errors.push("Sigma filter documents are not supported".into());
        }
        rules = c.rules;
        correlations = c.correlations;
    }
    Ok((
        Parsed {
            rules,
            correlations,
            absence,
        },
        errors,
    ))
}

#[cfg(test)]
mod tests;
