//! Writes the benchmark rule set (`picket::test_util::synthetic_rules`: 100 rules, half of
//! them windowed) into a folder, plus the latency probe rule used by `alert_latency`.
//! usage: bench_rules DIR [N]
#![allow(clippy::unwrap_used, clippy::expect_used)]

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().unwrap_or_else(|| {
        eprintln!("usage: bench_rules DIR [N]");
        std::process::exit(2)
    }));
    let n: usize = args.next().map_or(100, |s| s.parse().unwrap_or(100));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in picket::test_util::synthetic_rules(n) {
        std::fs::write(dir.join(name), text).unwrap();
    }
    std::fs::write(
        dir.join("latency_probe.yml"),
        "title: latency probe\nid: latency-probe\nlevel: high\ndetection:\n  sel:\n    message|contains: LATPROBE\n  condition: sel\npicket-group-by:\n  - host.name\n",
    )
    .unwrap();
}
