//! The layout's rules, checked on the source: imports point down the data flow
//! (ingest → spool → parse → enrich → store/rules → alerts → notify, with web reading the store),
//! only `src/store/` knows SQLite, and every file says what it is for. docs/architecture.md
//! draws the same picture; this test keeps the two from drifting apart.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn src() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (rel, std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}

/// The file's code outside its `#[cfg(test)]` modules and comments (tests may reach anywhere).
fn code(text: &str) -> String {
    let mut out = String::new();
    let mut skip_depth: Option<usize> = None;
    let mut depth = 0usize;
    let mut pending_cfg_test = false;
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with("//") {
            continue;
        }
        if skip_depth.is_none() && t.starts_with("#[cfg(test)]") {
            pending_cfg_test = true;
            continue;
        }
        let opens = line.matches('{').count();
        let closes = line.matches('}').count();
        if pending_cfg_test {
            // The item after `#[cfg(test)]`: one line, or a block skipped to its end.
            pending_cfg_test = false;
            if opens > closes {
                skip_depth = Some(depth);
                depth += opens - closes;
            }
            continue;
        }
        depth = (depth + opens).saturating_sub(closes);
        if let Some(d) = skip_depth {
            if depth <= d {
                skip_depth = None;
            }
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn room(rel: &str) -> &str {
    let first = rel.split('/').next().unwrap();
    first.strip_suffix(".rs").unwrap_or(first)
}

fn is_test_file(rel: &str) -> bool {
    rel.ends_with("tests.rs") || rel.contains("/tests/") || rel == "test_util.rs"
}

#[test]
fn only_the_store_knows_sqlite() {
    let offenders: Vec<String> = src()
        .into_iter()
        .filter(|(rel, text)| !rel.starts_with("store/") && code(text).contains("rusqlite"))
        .map(|(rel, _)| rel)
        .collect();
    assert!(
        offenders.is_empty(),
        "rusqlite outside src/store/: {offenders:?}"
    );
}

#[test]
fn imports_point_down_the_data_flow() {
    // For each room, the rooms it must not import: the ones upstream of it, and the
    // composition roots (config, pipeline, cli, web) that wire everything.
    let roots = ["config", "pipeline", "cli", "web", "lifecycle"];
    let rules: &[(&str, &[&str])] = &[
        ("model", &["*"]),
        ("telemetry", &["*"]),
        ("query", &["*"]),
        ("snmp", &["*"]),
        ("tls", &["*"]),
        ("spool", &["*"]),
        (
            "ingest",
            &[
                "parse", "enrich", "store", "rules", "alerts", "notify", "auth",
            ],
        ),
        (
            "poll",
            &[
                "ingest", "spool", "parse", "enrich", "rules", "alerts", "notify", "auth",
            ],
        ),
        (
            "parse",
            &[
                "ingest", "spool", "enrich", "store", "rules", "alerts", "notify", "auth", "poll",
            ],
        ),
        (
            "enrich",
            &[
                "ingest", "spool", "parse", "store", "rules", "alerts", "notify", "auth",
            ],
        ),
        (
            "store",
            &[
                "ingest", "spool", "parse", "enrich", "rules", "alerts", "notify", "auth", "poll",
            ],
        ),
        (
            "rules",
            &["ingest", "spool", "parse", "enrich", "notify", "auth"],
        ),
        (
            "alerts",
            &[
                "ingest", "spool", "parse", "enrich", "rules", "notify", "auth",
            ],
        ),
        (
            "notify",
            &[
                "ingest", "spool", "parse", "enrich", "rules", "alerts", "auth",
            ],
        ),
        (
            "auth",
            &[
                "ingest", "spool", "parse", "enrich", "rules", "alerts", "notify",
            ],
        ),
    ];
    // Leaves: only the model (and themselves).
    let leaf_may = ["model", "test_util"];
    let mut problems = Vec::new();
    for (rel, text) in src() {
        if is_test_file(&rel) {
            continue;
        }
        let me = room(&rel);
        let Some((_, banned)) = rules.iter().find(|(r, _)| *r == me) else {
            continue;
        };
        let body = code(&text);
        for used in body.split("crate::").skip(1).map(|rest| {
            rest.split(|c: char| !c.is_alphanumeric() && c != '_')
                .next()
                .unwrap_or("")
        }) {
            if used == me || used.is_empty() {
                continue;
            }
            let bad = if banned == &["*"] {
                !leaf_may.contains(&used)
            } else {
                banned.contains(&used) || roots.contains(&used)
            };
            if bad {
                problems.push(format!("src/{rel} imports crate::{used}"));
            }
        }
    }
    problems.sort();
    problems.dedup();
    assert!(
        problems.is_empty(),
        "imports pointing up:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_backend_is_chosen_in_few_places() {
    // Everything else works through the store's traits, so a second backend changes these.
    let allowed = [
        "alerts/mod.rs",
        "poll/book.rs",
        "auth/mod.rs",
        "config.rs",
        "lifecycle.rs",
        "pipeline/mod.rs",
        "cli/mod.rs",
        "cli/retention.rs",
    ];
    let offenders: Vec<String> = src()
        .into_iter()
        .filter(|(rel, text)| {
            !rel.starts_with("store/")
                && !is_test_file(rel)
                && !allowed.contains(&rel.as_str())
                && code(text).contains("store::sqlite")
        })
        .map(|(rel, _)| rel)
        .collect();
    assert!(
        offenders.is_empty(),
        "naming the SQLite backend: {offenders:?}"
    );
}

#[test]
fn every_file_says_what_it_is_for() {
    let missing: Vec<String> = src()
        .into_iter()
        .filter(|(_, text)| !text.trim_start().starts_with("//"))
        .map(|(rel, _)| rel)
        .collect();
    assert!(missing.is_empty(), "no opening comment: {missing:?}");
}

#[test]
fn the_checker_sees_code_and_skips_only_tests_and_comments() {
    let text = "use crate::alerts::X;\n// crate::web in a comment\n#[cfg(test)]\nmod tests;\n#[cfg(test)]\nmod inline {\n    fn f() { crate::rules::y(); }\n}\nfn g() {\n    crate::notify::z();\n}\n";
    let c = code(text);
    assert!(
        c.contains("crate::alerts") && c.contains("crate::notify"),
        "{c}"
    );
    assert!(
        !c.contains("crate::web") && !c.contains("crate::rules") && !c.contains("mod tests"),
        "{c}"
    );
}
