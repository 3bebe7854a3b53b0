//! The compiled rule set: each Sigma detection, correlation and absence rule turned into
//! matchers over field slots, indexed by the datasets their conditions require, with the window
//! state they share. Loading (files, pipelines) is in `load.rs`; evaluating an event is in
//! `eval.rs`.

use super::absence::Absence;
use super::compile::{Fields, Matcher};
use super::{Level, RuleError, level_from_sigma, window};
use crate::model::fields as f;
use rsigma_parser::{CorrelationRule, SigmaRule};
use std::collections::HashMap;

/// A compiled detection rule.
pub(super) struct Rule {
    pub(super) key: String,
    pub(super) title: String,
    pub(super) level: Level,
    pub(super) tags: Vec<String>,
    pub(super) matcher: Matcher,
    /// `picket-group-by` slots, for its own alerts.
    pub(super) group_by: Vec<(String, u16)>,
    /// Raises alerts of its own (false when it only feeds correlations).
    pub(super) emits: bool,
    /// (correlation, position of this rule in it).
    pub(super) feeds: Vec<(u32, usize)>,
    /// The absence rule it is the detection of.
    pub(super) absence: Option<usize>,
}

/// A compiled correlation rule.
pub(super) struct CorrRule {
    pub(super) key: String,
    pub(super) title: String,
    pub(super) level: Level,
    pub(super) tags: Vec<String>,
}

/// Slots of the fields every event has.
#[derive(Default)]
pub(super) struct Core {
    pub(super) host: Option<u16>,
    pub(super) app: Option<u16>,
    pub(super) pid: Option<u16>,
    pub(super) msgid: Option<u16>,
    pub(super) dataset: Option<u16>,
    pub(super) parser: Option<u16>,
    pub(super) listener: Option<u16>,
    pub(super) sender: Option<u16>,
    pub(super) severity: Option<u16>,
    pub(super) facility: Option<u16>,
    pub(super) message: Option<u16>,
    pub(super) timestamp: Option<u16>,
    pub(super) id: Option<u16>,
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
    pub(super) rules: Vec<Rule>,
    pub(super) corr_rules: Vec<CorrRule>,
    pub(super) corrs: Vec<window::Corr>,
    pub(super) windows: window::Windows,
    pub(super) fields: Fields,
    pub(super) core: Core,
    /// Rules by the `event.dataset` values their condition requires; `general` need none.
    pub(super) buckets: rustc_hash::FxHashMap<String, Vec<u32>>,
    pub(super) general: Vec<u32>,
    pub(super) keywords: bool,
    pub(super) absence: Vec<Absence>,
    pub(super) names: Vec<String>,
    /// Detection rule ids and names → index.
    pub(super) refs: HashMap<String, usize>,
    pub(super) pipelines: Vec<rsigma_eval::Pipeline>,
    /// Slot of each static field name seen, by address and length.
    pub(super) key_cache: std::cell::RefCell<rustc_hash::FxHashMap<(usize, usize), Option<u16>>>,
    /// Hashes group keys (random keys per process).
    pub(super) group_hash: std::hash::RandomState,
    /// Links kept per alert.
    pub(super) max_links: usize,
    /// Keys evicted because the cap was reached.
    pub evicted: u64,
    /// The longest window of any rule (seconds): how much history a restart replays.
    pub longest_window_secs: u64,
}

impl Rules {
    pub(super) fn empty(max_keys: usize, pipelines: Vec<rsigma_eval::Pipeline>) -> Rules {
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

    pub(super) fn add_rule(
        &mut self,
        r: &SigmaRule,
        absence: Option<usize>,
    ) -> Result<(), RuleError> {
        let mut r = r.clone();
        rsigma_eval::apply_pipelines(&self.pipelines, &mut r)
            .map_err(|e| RuleError::Sigma(e.to_string()))?;
        let key = rule_key(r.id.as_deref(), &r.title);
        if absence.is_none() && self.refs.contains_key(&key) {
            return Err(RuleError::Invalid(format!("duplicate rule id {key}")));
        }
        let group_by = match r.custom_attributes.get("picket-group-by") {
            None => Vec::new(),
            Some(v) => string_list(v).ok_or_else(|| {
                RuleError::Invalid("picket-group-by must be a list of field names".into())
            })?,
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

    pub(super) fn add_correlation(&mut self, c: &CorrelationRule) -> Result<(), RuleError> {
        use rsigma_parser::{CorrelationCondition, CorrelationType as T, WindowMode};
        let mut c = c.clone();
        rsigma_eval::pipeline::apply_pipelines_to_correlation(&self.pipelines, &mut c)
            .map_err(|e| RuleError::Sigma(e.to_string()))?;
        if !matches!(
            c.correlation_type,
            T::EventCount | T::ValueCount | T::Temporal | T::TemporalOrdered
        ) {
            return Err(RuleError::Unsupported(format!(
                "correlation type {} is not supported (event_count, value_count, temporal, temporal_ordered)",
                c.correlation_type.as_str()
            )));
        }
        if c.window != WindowMode::Sliding {
            return Err(RuleError::Unsupported(format!(
                "window {} is not supported (sliding)",
                c.window.as_str()
            )));
        }
        if !c.aliases.is_empty() {
            return Err(RuleError::Unsupported(
                "field aliases are not supported".into(),
            ));
        }
        let mut positions = Vec::new();
        for r in &c.rules {
            let Some(&i) = self.refs.get(r) else {
                return Err(RuleError::Invalid(format!(
                    "refers to rule {r:?}, which is not loaded"
                )));
            };
            positions.push(i);
        }
        if positions.is_empty() {
            return Err(RuleError::Invalid("names no rule".into()));
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
                return Err(RuleError::Unsupported(
                    "percentiles are not supported".into(),
                ));
            }
            CorrelationCondition::Extended(_) => {
                return Err(RuleError::Unsupported(
                    "extended correlation conditions are not supported".into(),
                ));
            }
        };
        if matches!(c.correlation_type, T::EventCount | T::ValueCount) && predicates.is_empty() {
            return Err(RuleError::Invalid(
                "a threshold condition is required".into(),
            ));
        }
        let field = match (c.correlation_type, field) {
            (T::ValueCount, None) => {
                return Err(RuleError::Invalid(
                    "value_count needs `condition: field:`".into(),
                ));
            }
            (T::ValueCount, Some(f)) => Some(self.fields.slot(&f)),
            _ => None,
        };
        let ci = u32::try_from(self.corrs.len())
            .map_err(|_| RuleError::Invalid("too many correlations".into()))?;
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

    pub(super) fn add_absence(&mut self, a: Absence) -> Result<(), RuleError> {
        let ai = self.absence.len();
        if let Some(text) = &a.sigma {
            let c = rsigma_parser::parse_sigma_yaml(text)
                .map_err(|e| RuleError::Sigma(e.to_string()))?;
            if let Some(e) = c.errors.first() {
                return Err(RuleError::Sigma(format!("{:?}: {e}", a.title)));
            }
            let [rule] = c.rules.as_slice() else {
                return Err(RuleError::Invalid(format!(
                    "{:?}: the detection part must be one Sigma rule",
                    a.title
                )));
            };
            self.add_rule(rule, Some(ai))
                .map_err(|e| e.within(&format!("{:?}", a.title)))?;
        }
        let mut a = a;
        a.slots = a.group_by.iter().map(|g| self.fields.slot(g)).collect();
        self.longest_window_secs = self.longest_window_secs.max(a.window_secs);
        self.names.push(a.title.clone());
        self.absence.push(a);
        Ok(())
    }

    /// Buckets rules by required dataset and resolves the core slots.
    pub(super) fn index(&mut self) {
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

    /// True when some absence rule needs the registry of senders.
    pub fn needs_registry(&self) -> bool {
        self.absence.iter().any(|a| a.per_sender)
    }
}

pub(super) fn has_keywords(d: &rsigma_parser::Detection) -> bool {
    match d {
        rsigma_parser::Detection::Keywords(_) => true,
        rsigma_parser::Detection::AnyOf(ds) => ds.iter().any(has_keywords),
        _ => false,
    }
}

pub(super) fn rule_key(id: Option<&str>, title: &str) -> String {
    id.unwrap_or(title).to_string()
}

pub(super) fn string_list(v: &yaml_serde::Value) -> Option<Vec<String>> {
    match v {
        yaml_serde::Value::String(s) => Some(vec![s.clone()]),
        yaml_serde::Value::Sequence(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_owned))
            .collect(),
        _ => None,
    }
}
