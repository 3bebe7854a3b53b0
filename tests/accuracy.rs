//! Parser accuracy against Elastic's expected ECS fields for real vendor lines
//! (`shared/corpus/vendors/<vendor>/*.expected.jsonl`). Every line goes through the same parse
//! chain as `picket parse`; the fields the issue names are compared wherever Elastic's output
//! has them. Prints a per-vendor agreement table and fails below 95% for every vendor that has a
//! parser (vendors still waiting for theirs are listed, not asserted).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use picket::model::{Frame, Transport};
use picket::parse::{Chain, HeaderOptions};

const FIELDS: &[&str] = &[
    "source.ip",
    "destination.ip",
    "source.port",
    "destination.port",
    "network.transport",
    "event.action",
    "event.outcome",
    "user.name",
    "rule.id",
    "rule.name",
    "event.code",
];

/// Vendors whose parser is built; the 95% bar applies to these.
const ASSERTED: &[&str] = &[
    "fortinet_fortigate",
    "cisco_asa",
    "pfsense",
    "linux_auth",
    "juniper_srx",
    "panw",
];

fn as_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[test]
fn vendor_field_agreement_is_at_least_95_percent() {
    let root = picket::test_util::corpus_dir().join("vendors");
    let chain = Chain::new(vec![HeaderOptions {
        max_future_us: i64::MAX / 4,
        ..HeaderOptions::default()
    }]);
    let mut vendors: Vec<_> = std::fs::read_dir(&root)
        .expect("corpus vendors folder")
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    vendors.sort();
    let mut failures = Vec::new();
    println!(
        "{:<22} {:>7} {:>7} {:>8}  worst fields",
        "vendor", "fields", "agree", "percent"
    );
    for dir in vendors {
        let vendor = dir.file_name().unwrap().to_string_lossy().into_owned();
        let (mut total, mut ok) = (0usize, 0usize);
        let mut misses: std::collections::BTreeMap<&str, usize> = Default::default();
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with(".expected.jsonl"))
            .collect();
        files.sort();
        for exp in files {
            let log =
                std::path::PathBuf::from(exp.to_string_lossy().replace(".expected.jsonl", ".log"));
            let raw = std::fs::read(&log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
            let lines: Vec<&[u8]> = raw
                .split(|b| *b == b'\n')
                .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
                .collect();
            for l in std::fs::read_to_string(&exp).unwrap().lines() {
                let case: serde_json::Value = serde_json::from_str(l).unwrap();
                let n = case["line"].as_u64().unwrap() as usize;
                let line = lines[n - 1];
                let frame = Frame {
                    bytes: line.to_vec().into(),
                    peer: "192.0.2.1:514".parse().unwrap(),
                    listener: 0,
                    transport: Transport::Udp,
                    received_at: 1_764_000_000_000_000,
                    truncated: false,
                };
                let got = chain.parse(&frame).to_flat_json("test");
                for f in FIELDS {
                    let Some(want) = case["expected"].get(*f) else {
                        continue;
                    };
                    total += 1;
                    if got.get(*f).map(as_text) == Some(as_text(want)) {
                        ok += 1;
                    } else {
                        *misses.entry(f).or_default() += 1;
                        if std::env::var_os("PICKET_ACCURACY_VERBOSE").is_some() {
                            println!(
                                "  {vendor} {}:{n} {f}: want {want}, got {:?}",
                                log.file_name().unwrap().to_string_lossy(),
                                got.get(*f)
                            );
                        }
                    }
                }
            }
        }
        let pct = if total == 0 {
            100.0
        } else {
            ok as f64 * 100.0 / total as f64
        };
        let mut worst: Vec<_> = misses.into_iter().collect();
        worst.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
        let worst: Vec<String> = worst
            .iter()
            .take(4)
            .map(|(f, n)| format!("{f}:{n}"))
            .collect();
        let mark = if total == 0 {
            " (the corpus gives no expected fields)"
        } else if ASSERTED.contains(&vendor.as_str()) {
            ""
        } else {
            " (no parser yet)"
        };
        println!(
            "{vendor:<22} {total:>7} {ok:>7} {pct:>7.1}%  {}{mark}",
            worst.join(" ")
        );
        if ASSERTED.contains(&vendor.as_str()) && pct < 95.0 {
            failures.push(format!("{vendor}: {pct:.1}%"));
        }
    }
    assert!(failures.is_empty(), "below 95%: {failures:?}");
}
