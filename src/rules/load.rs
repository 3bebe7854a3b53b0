//! Loading rules: the rule files of the rules folder (or the built-in starter rules), the
//! mapping pipelines under `pipelines/`, and one [`Problem`] per file or rule that does not load
//! while the others still do.

use super::absence::{self, Absence};
use super::set::{RuleMeta, Rules, rule_key};
use super::{Problem, Settings, level_from_sigma};
use rsigma_parser::{CorrelationRule, SigmaRule};
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

/// One parsed rule file.
pub(super) struct Parsed {
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
pub(super) fn load_pipelines(
    dir: Option<&Path>,
    problems: &mut Vec<Problem>,
) -> Vec<rsigma_eval::Pipeline> {
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
                Err(e) => errors.push(e.to_string()),
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
