//! Golden files: `tests/golden/<dataset>/<name>.log` beside `<name>.log-expected.json` (the
//! elastic/integrations convention). Every line goes through the configured parse chain (the
//! built-ins plus the shipped `parsers/`) with a fixed clock and sender; the flat JSON must
//! equal the expectation, and every line in a dataset's folder must come out as that dataset.
//! `PICKET_BLESS=1 cargo test --test golden` rewrites the expectations; review the diff.
//!
//! Lines written here live in `.log` files. Lines of `../shared/corpus` (or `$PICKET_CORPUS`) are
//! never copied in: a `.refs` file names them (`FILE LINE`, or `FILE raw N` for the Nth `raw`
//! string of a JSON file) and they are read in place; their expectations leave out the fields
//! that repeat the line (`message`, `event.original`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use picket::model::{Frame, Transport};
use picket::parse::HeaderOptions;
use std::path::Path;

const RECEIVED: i64 = 1_795_348_800_000_000; // 2026-11-22T12:00:00Z

#[test]
fn golden_files_match() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let (chain, problems) = picket::parse::configured(
        vec![HeaderOptions::default()],
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("parsers"),
        Vec::new(),
    );
    assert!(problems.is_empty(), "{problems:?}");
    let bless = std::env::var_os("PICKET_BLESS").is_some();
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 12, "golden folders missing");
    let mut failures = Vec::new();
    let mut lines_checked = 0;
    for dir in dirs {
        let dataset = dir.file_name().unwrap().to_string_lossy().into_owned();
        let mut logs: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "log" || x == "refs"))
            .collect();
        logs.sort();
        for log in logs {
            let refs = log.extension().is_some_and(|x| x == "refs");
            let lines: Vec<Vec<u8>> = if refs {
                corpus_lines(&log)
            } else {
                std::fs::read(&log)
                    .unwrap()
                    .split(|b| *b == b'\n')
                    .filter(|l| !l.is_empty())
                    .map(<[u8]>::to_vec)
                    .collect()
            };
            let mut got = Vec::new();
            for line in &lines {
                let line = line.as_slice();
                let frame = Frame {
                    bytes: line.to_vec().into(),
                    peer: "192.0.2.10:514".parse().unwrap(),
                    listener: 0,
                    transport: Transport::Udp,
                    received_at: RECEIVED,
                    truncated: false,
                };
                let ev = chain.parse(&frame);
                let want_dataset = match dataset.as_str() {
                    "user-defined" => None,
                    other => Some(other),
                };
                if let Some(w) = want_dataset {
                    if ev.dataset != w {
                        failures.push(format!(
                            "{}: parsed as {} by {}, not {w}: {}",
                            log.display(),
                            ev.dataset,
                            ev.parser,
                            String::from_utf8_lossy(line)
                        ));
                    }
                } else if ev.dataset == "syslog" {
                    failures.push(format!(
                        "{}: no user-defined parser matched: {}",
                        log.display(),
                        String::from_utf8_lossy(line)
                    ));
                }
                let mut flat = ev.to_flat_json("golden");
                if refs {
                    flat.remove("message");
                    flat.remove("event.original");
                }
                got.push(serde_json::Value::Object(flat));
                lines_checked += 1;
            }
            let expected_path =
                std::path::PathBuf::from(format!("{}-expected.json", log.display()));
            let got_text = serde_json::to_string_pretty(&got).unwrap() + "\n";
            if bless {
                std::fs::write(&expected_path, &got_text).unwrap();
                continue;
            }
            let want = std::fs::read_to_string(&expected_path).unwrap_or_else(|_| {
                panic!(
                    "{} missing: run with PICKET_BLESS=1 and review",
                    expected_path.display()
                )
            });
            if want != got_text {
                let want_v: Vec<serde_json::Value> = serde_json::from_str(&want).unwrap();
                for (i, (w, g)) in want_v.iter().zip(&got).enumerate() {
                    if w != g {
                        failures.push(format!(
                            "{} line {}: expected\n{w}\ngot\n{g}",
                            log.display(),
                            i + 1
                        ));
                    }
                }
                if want_v.len() != got.len() {
                    failures.push(format!(
                        "{}: {} lines expected, {} parsed",
                        log.display(),
                        want_v.len(),
                        got.len()
                    ));
                }
            }
        }
    }
    assert!(lines_checked >= 60, "{lines_checked}");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The corpus lines a `.refs` file names, read from `$PICKET_CORPUS` or `../shared/corpus`.
fn corpus_lines(refs: &Path) -> Vec<Vec<u8>> {
    let root = std::env::var_os("PICKET_CORPUS").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"),
        std::path::PathBuf::from,
    );
    let mut out = Vec::new();
    for r in std::fs::read_to_string(refs).unwrap().lines() {
        let r = r.trim();
        if r.is_empty() || r.starts_with('#') {
            continue;
        }
        let parts: Vec<&str> = r.split_whitespace().collect();
        let file = root.join(parts[0]);
        let text = std::fs::read(&file).unwrap_or_else(|e| {
            panic!(
                "{}: corpus file {} is missing: {e}",
                refs.display(),
                file.display()
            )
        });
        let line = match parts[1..] {
            [n] => {
                let n: usize = n.parse().unwrap();
                let l = text.split(|b| *b == b'\n').nth(n - 1).unwrap();
                l.strip_suffix(b"\r").unwrap_or(l).to_vec()
            }
            ["raw", n] => {
                let n: usize = n.parse().unwrap();
                let mut raws = Vec::new();
                raw_values(&serde_json::from_slice(&text).unwrap(), &mut raws);
                raws[n - 1].as_bytes().to_vec()
            }
            _ => panic!("{}: bad reference {r:?}", refs.display()),
        };
        out.push(line);
    }
    out
}

/// Every string under a `raw` key, in document order (keys sorted, as `serde_json` keeps them).
fn raw_values(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Array(a) => a.iter().for_each(|x| raw_values(x, out)),
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                match x {
                    serde_json::Value::String(s) if k == "raw" => out.push(s.clone()),
                    other => raw_values(other, out),
                }
            }
        }
        _ => {}
    }
}
