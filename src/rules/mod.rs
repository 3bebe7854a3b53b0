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
pub mod compile;
pub mod run;
pub mod window;

/// The firing and its level are shared with the alert side (`model::alert`).
pub use crate::model::alert::{Firing, Level};
use crate::model::event::format_micros;
use crate::model::{Event, FieldValue, fields as f};
use absence::Absence;
use compile::{Fields, Matcher, Slots, Val};
use rsigma_parser::{CorrelationRule, SigmaRule};
use std::borrow::Cow;
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

/// A Sigma level as Picket's (medium when missing or unknown).
fn level_from_sigma(l: Option<&rsigma_parser::Level>) -> Level {
    l.and_then(|l| Level::parse(l.as_str()))
        .unwrap_or(Level::Medium)
}

/// A compiled detection rule.
struct Rule {
    key: String,
    title: String,
    level: Level,
    tags: Vec<String>,
    matcher: Matcher,
    /// `picket-group-by` slots, for its own alerts.
    group_by: Vec<(String, u16)>,
    /// Raises alerts of its own (false when it only feeds correlations).
    emits: bool,
    /// (correlation, position of this rule in it).
    feeds: Vec<(u32, usize)>,
    /// The absence rule it is the detection of.
    absence: Option<usize>,
}

/// A compiled correlation rule.
struct CorrRule {
    key: String,
    title: String,
    level: Level,
    tags: Vec<String>,
}

/// Slots of the fields every event has.
#[derive(Default)]
struct Core {
    host: Option<u16>,
    app: Option<u16>,
    pid: Option<u16>,
    msgid: Option<u16>,
    dataset: Option<u16>,
    parser: Option<u16>,
    listener: Option<u16>,
    sender: Option<u16>,
    severity: Option<u16>,
    facility: Option<u16>,
    message: Option<u16>,
    timestamp: Option<u16>,
    id: Option<u16>,
}

/// What the dashboard shows of a loaded rule.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RuleMeta {
    /// The id alerts carry.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its level.
    pub level: &'static str,
    /// `detection`, `correlation` or `absence`.
    pub kind: &'static str,
    /// The file it came from.
    pub file: String,
}

/// The loaded rules and their window state.
pub struct Rules {
    /// Every rule that loaded, in load order.
    pub meta: Vec<RuleMeta>,
    /// The text of every rule file read, by file name.
    pub sources: HashMap<String, String>,
    rules: Vec<Rule>,
    corr_rules: Vec<CorrRule>,
    corrs: Vec<window::Corr>,
    windows: window::Windows,
    fields: Fields,
    core: Core,
    /// Rules by the `event.dataset` values their condition requires; `general` need none.
    buckets: rustc_hash::FxHashMap<String, Vec<u32>>,
    general: Vec<u32>,
    keywords: bool,
    absence: Vec<Absence>,
    names: Vec<String>,
    /// Detection rule ids and names → index.
    refs: HashMap<String, usize>,
    pipelines: Vec<rsigma_eval::Pipeline>,
    /// Slot of each static field name seen, by address and length.
    key_cache: std::cell::RefCell<rustc_hash::FxHashMap<(usize, usize), Option<u16>>>,
    /// Hashes group keys (random keys per process).
    group_hash: std::hash::RandomState,
    /// Links kept per alert.
    max_links: usize,
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

    /// Compiles rule files given as (name, YAML text) with the given mapping pipelines.
    pub fn from_sources(
        files: Vec<(String, String)>,
        pipelines: Vec<rsigma_eval::Pipeline>,
        max_keys: usize,
    ) -> (Rules, Vec<Problem>) {
        let mut problems = Vec::new();
        let mut rules = Rules::empty(max_keys, pipelines);
        rules.sources = files.iter().cloned().collect();
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
                match rules.add_rule(r, None) {
                    Ok(()) => rules.meta.push(RuleMeta {
                        id: rule_key(r.id.as_deref(), &r.title),
                        title: r.title.clone(),
                        level: level_from_sigma(r.level.as_ref()).as_str(),
                        kind: "detection",
                        file: file.clone(),
                    }),
                    Err(reason) => problems.push(Problem {
                        file: file.clone(),
                        reason: format!("rule {:?}: {reason}", r.title),
                    }),
                }
            }
        }
        for (file, p) in &parsed {
            for c in &p.correlations {
                match rules.add_correlation(c) {
                    Ok(()) => rules.meta.push(RuleMeta {
                        id: rule_key(c.id.as_deref(), &c.title),
                        title: c.title.clone(),
                        level: level_from_sigma(c.level.as_ref()).as_str(),
                        kind: "correlation",
                        file: file.clone(),
                    }),
                    Err(reason) => problems.push(Problem {
                        file: file.clone(),
                        reason: format!("correlation {:?}: {reason}", c.title),
                    }),
                }
            }
        }
        for (file, p) in parsed {
            for a in p.absence {
                let meta = RuleMeta {
                    id: a.id().to_owned(),
                    title: a.title.clone(),
                    level: a.level().as_str(),
                    kind: "absence",
                    file: file.clone(),
                };
                match rules.add_absence(a) {
                    Ok(()) => rules.meta.push(meta),
                    Err(reason) => problems.push(Problem {
                        file: file.clone(),
                        reason: format!("absence rule: {reason}"),
                    }),
                }
            }
        }
        rules.index();
        (rules, problems)
    }

    fn empty(max_keys: usize, pipelines: Vec<rsigma_eval::Pipeline>) -> Rules {
        let fields = Fields::default();
        Rules {
            meta: Vec::new(),
            sources: HashMap::new(),
            rules: Vec::new(),
            corr_rules: Vec::new(),
            corrs: Vec::new(),
            windows: window::Windows::new(max_keys),
            fields,
            core: Core::default(),
            buckets: Default::default(),
            general: Vec::new(),
            keywords: false,
            absence: Vec::new(),
            names: Vec::new(),
            refs: HashMap::new(),
            pipelines,
            key_cache: Default::default(),
            group_hash: std::hash::RandomState::new(),
            max_links: 50,
            evicted: 0,
            longest_window_secs: 0,
        }
    }

    /// Sets how many matching event ids an alert links (default 50).
    pub fn set_max_links(&mut self, n: usize) {
        self.max_links = n.max(1);
    }

    fn add_rule(&mut self, r: &SigmaRule, absence: Option<usize>) -> Result<(), String> {
        let mut r = r.clone();
        rsigma_eval::apply_pipelines(&self.pipelines, &mut r).map_err(|e| e.to_string())?;
        let key = rule_key(r.id.as_deref(), &r.title);
        if absence.is_none() && self.refs.contains_key(&key) {
            return Err(format!("duplicate rule id {key}"));
        }
        let group_by = match r.custom_attributes.get("picket-group-by") {
            None => Vec::new(),
            Some(v) => string_list(v).ok_or("picket-group-by must be a list of field names")?,
        };
        let matcher = Matcher::compile(&r.detection, &mut self.fields)?;
        self.keywords |= r.detection.named.values().any(has_keywords);
        let group_by = group_by
            .into_iter()
            .map(|g| {
                let s = self.fields.slot(&g);
                (g, s)
            })
            .collect();
        let idx = self.rules.len();
        if absence.is_none() {
            self.refs.insert(key.clone(), idx);
            if let Some(n) = &r.name {
                self.refs.insert(n.clone(), idx);
            }
            self.names.push(r.title.clone());
        }
        self.rules.push(Rule {
            key,
            title: r.title.clone(),
            level: level_from_sigma(r.level.as_ref()),
            tags: r.tags.clone(),
            matcher,
            group_by,
            emits: absence.is_none(),
            feeds: Vec::new(),
            absence,
        });
        Ok(())
    }

    fn add_correlation(&mut self, c: &CorrelationRule) -> Result<(), String> {
        use rsigma_parser::{CorrelationCondition, CorrelationType as T, WindowMode};
        let mut c = c.clone();
        rsigma_eval::pipeline::apply_pipelines_to_correlation(&self.pipelines, &mut c)
            .map_err(|e| e.to_string())?;
        if !matches!(
            c.correlation_type,
            T::EventCount | T::ValueCount | T::Temporal | T::TemporalOrdered
        ) {
            return Err(format!(
                "correlation type {} is not supported (event_count, value_count, temporal, temporal_ordered)",
                c.correlation_type.as_str()
            ));
        }
        if c.window != WindowMode::Sliding {
            return Err(format!(
                "window {} is not supported (sliding)",
                c.window.as_str()
            ));
        }
        if !c.aliases.is_empty() {
            return Err("field aliases are not supported".into());
        }
        let mut positions = Vec::new();
        for r in &c.rules {
            let Some(&i) = self.refs.get(r) else {
                return Err(format!("refers to rule {r:?}, which is not loaded"));
            };
            positions.push(i);
        }
        if positions.is_empty() {
            return Err("names no rule".into());
        }
        let (predicates, field) = match &c.condition {
            CorrelationCondition::Threshold {
                predicates,
                field,
                percentile: None,
            } => (
                predicates.clone(),
                field.as_ref().and_then(|f| f.first().cloned()),
            ),
            CorrelationCondition::Threshold { .. } => {
                return Err("percentiles are not supported".into());
            }
            CorrelationCondition::Extended(_) => {
                return Err("extended correlation conditions are not supported".into());
            }
        };
        if matches!(c.correlation_type, T::EventCount | T::ValueCount) && predicates.is_empty() {
            return Err("a threshold condition is required".into());
        }
        let field = match (c.correlation_type, field) {
            (T::ValueCount, None) => return Err("value_count needs `condition: field:`".into()),
            (T::ValueCount, Some(f)) => Some(self.fields.slot(&f)),
            _ => None,
        };
        let ci = u32::try_from(self.corrs.len()).map_err(|_| "too many correlations")?;
        let group_by = c
            .group_by
            .iter()
            .map(|g| (g.clone(), self.fields.slot(g)))
            .collect();
        for (pos, i) in positions.iter().enumerate() {
            if let Some(r) = self.rules.get_mut(*i) {
                r.feeds.push((ci, pos));
                if !c.generate {
                    r.emits = false;
                }
            }
        }
        self.corrs.push(window::Corr {
            kind: c.correlation_type,
            timespan: i64::try_from(c.timespan.seconds)
                .unwrap_or(i64::MAX / 2_000_000)
                .saturating_mul(1_000_000),
            group_by,
            field,
            needs_exact: predicates.iter().any(|(op, _)| {
                matches!(
                    op,
                    rsigma_parser::ConditionOperator::Lt
                        | rsigma_parser::ConditionOperator::Lte
                        | rsigma_parser::ConditionOperator::Eq
                        | rsigma_parser::ConditionOperator::Neq
                )
            }),
            predicates,
            rules: positions.len(),
        });
        self.corr_rules.push(CorrRule {
            key: rule_key(c.id.as_deref(), &c.title),
            title: c.title.clone(),
            level: level_from_sigma(c.level.as_ref()),
            tags: c.tags.clone(),
        });
        self.longest_window_secs = self.longest_window_secs.max(c.timespan.seconds);
        self.names.push(c.title.clone());
        Ok(())
    }

    fn add_absence(&mut self, a: Absence) -> Result<(), String> {
        let ai = self.absence.len();
        if let Some(text) = &a.sigma {
            let c = rsigma_parser::parse_sigma_yaml(text).map_err(|e| e.to_string())?;
            if let Some(e) = c.errors.first() {
                return Err(format!("{:?}: {e}", a.title));
            }
            let [rule] = c.rules.as_slice() else {
                return Err(format!(
                    "{:?}: the detection part must be one Sigma rule",
                    a.title
                ));
            };
            self.add_rule(rule, Some(ai))
                .map_err(|e| format!("{:?}: {e}", a.title))?;
        }
        let mut a = a;
        a.slots = a.group_by.iter().map(|g| self.fields.slot(g)).collect();
        self.longest_window_secs = self.longest_window_secs.max(a.window_secs);
        self.names.push(a.title.clone());
        self.absence.push(a);
        Ok(())
    }

    /// Buckets rules by required dataset and resolves the core slots.
    fn index(&mut self) {
        let ds = self.fields.get(f::EVENT_DATASET);
        for (i, r) in self.rules.iter().enumerate() {
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            match r.matcher.datasets(ds) {
                Some(sets) => {
                    let mut sets = sets;
                    sets.sort();
                    sets.dedup();
                    for d in sets {
                        self.buckets.entry(d).or_default().push(i);
                    }
                }
                None => self.general.push(i),
            }
        }
        let g = |n: &str| self.fields.get(n);
        self.core = Core {
            host: g(f::HOST_NAME),
            app: g(f::PROCESS_NAME),
            pid: g(f::PROCESS_PID),
            msgid: g(f::LOG_SYSLOG_MSGID),
            dataset: g(f::EVENT_DATASET),
            parser: g(f::PICKET_PARSER),
            listener: g(f::PICKET_LISTENER),
            sender: g(f::OBSERVER_IP),
            severity: g(f::LOG_SYSLOG_SEVERITY),
            facility: g(f::LOG_SYSLOG_FACILITY),
            message: g("message"),
            timestamp: g(f::TIMESTAMP),
            id: g(f::PICKET_ID),
        };
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
        self.windows.len()
    }

    /// A keyed hash of the values in `slots` (a missing value hashes as such).
    fn hash_slots(&self, slots: &Slots<'_>, which: impl Iterator<Item = u16>) -> u64 {
        use std::hash::{BuildHasher, Hash, Hasher};
        let mut h = self.group_hash.build_hasher();
        for s in which {
            match slots.vals.get(usize::from(s)).and_then(Option::as_ref) {
                Some(v) => {
                    1u8.hash(&mut h);
                    v.text().hash(&mut h);
                }
                None => 0u8.hash(&mut h),
            }
        }
        h.finish()
    }

    /// Resolves the event's fields into slots.
    fn slots<'a>(&self, ev: &'a Event, id: i64, listener: &'a str) -> Slots<'a> {
        let mut vals: Vec<Option<Val<'a>>> = vec![None; self.fields.len()];
        let c = &self.core;
        let mut put = |slot: Option<u16>, v: Option<Val<'a>>| {
            if let (Some(s), Some(v)) = (slot, v) {
                if let Some(x) = vals.get_mut(usize::from(s)) {
                    *x = Some(v);
                }
            }
        };
        let text = |s: &'a Option<String>| s.as_deref().map(|s| Val::Str(Cow::Borrowed(s)));
        put(c.host, text(&ev.host));
        put(c.app, text(&ev.app));
        put(c.msgid, text(&ev.msgid));
        put(
            c.pid,
            ev.pid.as_deref().map(|p| match p.parse::<i64>() {
                Ok(n) => Val::Int(n),
                Err(_) => Val::Str(Cow::Borrowed(p)),
            }),
        );
        put(
            c.dataset,
            Some(Val::Str(Cow::Borrowed(ev.dataset.as_ref()))),
        );
        put(c.parser, Some(Val::Str(Cow::Borrowed(ev.parser))));
        put(c.listener, Some(Val::Str(Cow::Borrowed(listener))));
        if c.sender.is_some() {
            put(
                c.sender,
                Some(Val::Str(Cow::Owned(ev.peer.ip().to_string()))),
            );
        }
        put(c.severity, ev.severity.map(|v| Val::Int(i64::from(v))));
        put(c.facility, ev.facility.map(|v| Val::Int(i64::from(v))));
        if c.message.is_some() {
            put(c.message, Some(Val::Str(ev.message())));
        }
        if c.timestamp.is_some() {
            put(
                c.timestamp,
                Some(Val::Str(Cow::Owned(format_micros(ev.timestamp)))),
            );
        }
        put(c.id, Some(Val::Int(id)));
        let mut cache = self.key_cache.borrow_mut();
        for (k, v) in &ev.fields {
            // Most keys are static strings: their slot is cached by address, which is far
            // cheaper than hashing the name.
            let slot = match k {
                Cow::Borrowed(name) => *cache
                    .entry((name.as_ptr() as usize, name.len()))
                    .or_insert_with(|| self.fields.get(name)),
                Cow::Owned(name) => self.fields.get(name),
            };
            if let Some(s) = slot {
                if let Some(x) = vals.get_mut(usize::from(s)) {
                    if x.is_none() {
                        *x = Some(match v {
                            FieldValue::Str(t) => Val::Str(Cow::Borrowed(t.as_str())),
                            FieldValue::Int(n) => Val::Int(*n),
                            FieldValue::Bool(b) => Val::Bool(*b),
                        });
                    }
                }
            }
        }
        let mut strings = Vec::new();
        if self.keywords {
            strings.push(ev.message());
            strings.extend(
                [&ev.host, &ev.app, &ev.msgid]
                    .into_iter()
                    .flatten()
                    .map(|s| Cow::Borrowed(s.as_str())),
            );
            strings.extend(ev.fields.iter().filter_map(|(_, v)| match v {
                FieldValue::Str(t) => Some(Cow::Borrowed(t.as_str())),
                _ => None,
            }));
        }
        let lower = std::iter::repeat_with(std::cell::OnceCell::new)
            .take(self.fields.len())
            .collect();
        Slots {
            vals,
            lower,
            strings,
        }
    }

    /// Evaluates one event (stored as `id`) at `now` (microseconds on the engine's clock).
    pub fn process(&mut self, ev: &Event, id: i64, listener: &str, now: i64) -> Vec<Firing> {
        let mut out = Vec::new();
        let slots = self.slots(ev, id, listener);
        let bucket = self.buckets.get(ev.dataset.as_ref());
        let candidates = self.general.iter().chain(bucket.into_iter().flatten());
        let mut matched: Vec<u32> = Vec::new();
        for &ri in candidates {
            if self
                .rules
                .get(ri as usize)
                .is_some_and(|r| r.matcher.matches(&slots))
            {
                matched.push(ri);
            }
        }
        let text_of = |s: u16| {
            slots
                .vals
                .get(usize::from(s))
                .and_then(Option::as_ref)
                .map(|v| v.text().into_owned())
        };
        let mut hashed: Vec<(&[(String, u16)], u64)> = Vec::new();
        for ri in matched {
            let Some(r) = self.rules.get(ri as usize) else {
                continue;
            };
            if let Some(ai) = r.absence {
                if let Some(a) = self.absence.get_mut(ai) {
                    let g: Vec<String> = a
                        .slots
                        .iter()
                        .map(|s| text_of(*s).unwrap_or_default())
                        .collect();
                    a.seen(g.join("\u{1f}"), now);
                }
                continue;
            }
            if r.emits {
                let mut group: Vec<(String, String)> = r
                    .group_by
                    .iter()
                    .filter_map(|(n, s)| text_of(*s).map(|v| (n.clone(), v)))
                    .collect();
                if group.is_empty() {
                    group = vec![match &ev.host {
                        Some(h) => (f::HOST_NAME.to_string(), h.clone()),
                        None => (f::OBSERVER_IP.to_string(), ev.peer.ip().to_string()),
                    }];
                }
                out.push(Firing {
                    rule_id: r.key.clone(),
                    title: r.title.clone(),
                    level: r.level,
                    tags: r.tags.clone(),
                    kind: "detection",
                    group,
                    events: vec![id],
                    count: 1,
                    at: now,
                    trigger: id,
                });
            }
            for &(ci, pos) in &r.feeds {
                let Some(c) = self.corrs.get(ci as usize) else {
                    continue;
                };
                // Keyed per process: a sender cannot craft values that collide. Several
                // correlations usually group by the same fields: hashed once per event.
                let key = match hashed.iter().find(|(g, _)| *g == c.group_by.as_slice()) {
                    Some((_, h)) => *h,
                    None => {
                        let h = self.hash_slots(&slots, c.group_by.iter().map(|(_, s)| *s));
                        hashed.push((c.group_by.as_slice(), h));
                        h
                    }
                };
                let value = c.field.and_then(|f| {
                    slots
                        .vals
                        .get(usize::from(f))
                        .and_then(Option::as_ref)
                        .map(|_| self.hash_slots(&slots, std::iter::once(f)))
                });
                if matches!(c.kind, rsigma_parser::CorrelationType::ValueCount) && value.is_none() {
                    continue;
                }
                if let Some(fired) = self.windows.update(
                    ci,
                    c,
                    &self.corrs,
                    key,
                    pos,
                    value,
                    id,
                    now,
                    self.max_links,
                ) {
                    let group = c
                        .group_by
                        .iter()
                        .map(|(n, s)| (n.clone(), text_of(*s).unwrap_or_default()))
                        .collect();
                    if let Some(cr) = self.corr_rules.get(ci as usize) {
                        out.push(Firing {
                            rule_id: cr.key.clone(),
                            title: cr.title.clone(),
                            level: cr.level,
                            tags: cr.tags.clone(),
                            kind: "correlation",
                            group,
                            events: fired.events,
                            count: fired.count,
                            at: now,
                            trigger: id,
                        });
                    }
                }
            }
        }
        for a in &mut self.absence {
            a.clock(now);
        }
        self.evicted = self.windows.evicted;
        out
    }

    /// Absence checks at `now`, given the registry of senders; expires old windows.
    pub fn tick(&mut self, now: i64, senders: &[crate::store::SenderInfo]) -> Vec<Firing> {
        let mut out = Vec::new();
        for a in &mut self.absence {
            out.extend(a.check(now, senders));
        }
        self.windows.expire(now, &self.corrs);
        out
    }

    /// Stateless detection only (no windows): how many rules match `ev`. For benchmarks.
    pub fn detections(&self, ev: &Event) -> usize {
        let slots = self.slots(ev, 0, "bench");
        let bucket = self.buckets.get(ev.dataset.as_ref());
        self.general
            .iter()
            .chain(bucket.into_iter().flatten())
            .filter(|ri| {
                self.rules
                    .get(**ri as usize)
                    .is_some_and(|r| r.matcher.matches(&slots))
            })
            .count()
    }

    /// True when some absence rule needs the registry of senders.
    pub fn needs_registry(&self) -> bool {
        self.absence.iter().any(|a| a.per_sender)
    }
}

fn has_keywords(d: &rsigma_parser::Detection) -> bool {
    match d {
        rsigma_parser::Detection::Keywords(_) => true,
        rsigma_parser::Detection::AnyOf(ds) => ds.iter().any(has_keywords),
        _ => false,
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
    for doc in yaml_serde::Deserializer::from_str(text) {
        let v = match yaml_serde::Value::deserialize(doc) {
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
            sigma_docs.push(yaml_serde::to_string(&v).map_err(|e| e.to_string())?);
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
