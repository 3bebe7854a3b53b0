//! `picket retention`: what the store holds and how long it lasts. Bytes per dataset, the
//! oldest event, days left at the current rate before `max_bytes` or `min_free` is reached
//! (whichever comes first), the logged retention runs, and with `--dry-run` what the next run
//! would remove. Reads the store beside a running collector and changes nothing.

use crate::config::Config;
use crate::store::retention::{Free, days_left};
use crate::store::sqlite::{SqliteStore, retention as sr};
use anyhow::{Context, Result, bail};
use std::process::ExitCode;

/// Prints the status (JSON with `json`).
pub fn run(config: Config, dry_run: bool, json: bool) -> Result<ExitCode> {
    let dir = config.data_dir.join("store");
    if !dir.exists() {
        bail!(
            "no store in {} (has `picket serve` run with this data directory?)",
            config.data_dir.display()
        );
    }
    let store = SqliteStore::open(&dir, config.store_options(0))
        .with_context(|| format!("opening the store in {}", dir.display()))?;
    let policy = &config.retention;
    let now = crate::model::clock::now_micros();
    let segments = store.segments();
    let evidence = crate::alerts::open(&config.data_dir)
        .and_then(|a| a.evidence_bytes())
        .unwrap_or(0);
    let bytes = store.bytes() + evidence;
    let space = crate::disk::space(&config.data_dir).ok();
    let per_day = sr::bytes_per_day(&segments, now);
    let left = days_left(policy, bytes, space, per_day);
    let datasets = sr::datasets(&segments).context("counting events per dataset")?;
    let runs = sr::runs(store.dir(), 10).context("reading the retention log")?;
    let next = if dry_run {
        Some(store.retention_dry_run(policy, evidence, space, now))
    } else {
        None
    };
    let oldest = segments
        .iter()
        .filter(|s| s.rows > 0)
        .map(|s| s.min_ts)
        .min();
    let events: u64 = segments.iter().map(|s| s.rows).sum();
    let time = |us: i64| crate::model::event::format_micros(us);
    // Per retention class: files, events, bytes, the oldest event, and how long it is kept.
    let mut classes: std::collections::BTreeMap<&str, (usize, u64, u64, Option<i64>)> =
        std::collections::BTreeMap::new();
    for s in &segments {
        let c = classes.entry(sr::class_label(&s.class)).or_default();
        c.0 += 1;
        c.1 += s.rows;
        c.2 += sr::segment_bytes(&s.path);
        if s.rows > 0 {
            c.3 = Some(c.3.map_or(s.min_ts, |o| o.min(s.min_ts)));
        }
    }
    let keep_days = |class: &str| {
        let c = if class == "bulk" { "" } else { class };
        policy.keep(c).0.as_secs() / 86_400
    };
    if json {
        let v = serde_json::json!({
            "store_bytes": bytes,
            "evidence_bytes": evidence,
            "segments": segments.len(),
            "events": events,
            "oldest_event": oldest.map(time),
            "disk_total": space.map(|s| s.total),
            "disk_free": space.map(|s| s.free),
            "bytes_per_day": per_day,
            "days_left": left,
            "classes": classes.iter().map(|(c, (files, n, b, old))| serde_json::json!({
                "class": c, "files": files, "events": n, "bytes": b,
                "oldest_event": old.map(time), "max_age_days": keep_days(c),
            })).collect::<Vec<_>>(),
            "datasets": datasets.iter().map(|(d, n, b)| serde_json::json!({"dataset": d, "events": n, "bytes": b})).collect::<Vec<_>>(),
            "runs": runs,
            "next_run": next,
        });
        println!("{v}");
        return Ok(ExitCode::SUCCESS);
    }
    let mb = |b: u64| format!("{:.1} MB", b as f64 / 1e6);
    println!(
        "Event store {}: {} in {} segments, {} events (alert evidence {}).",
        dir.display(),
        mb(bytes),
        segments.len(),
        events,
        mb(evidence)
    );
    println!(
        "Oldest event: {}.",
        oldest.map_or_else(|| "none".to_string(), time)
    );
    let free = match policy.min_free {
        Free::Percent(p) => format!("{p}%"),
        Free::Bytes(b) => mb(b),
    };
    println!(
        "Policy: max_age {} days, max_bytes {}, min_free {free}; disk {}.",
        policy.max_age.as_secs() / 86_400,
        policy.max_bytes.map_or_else(|| "none".into(), mb),
        space.map_or_else(
            || "unknown".into(),
            |s| format!("{} free of {}", mb(s.free), mb(s.total))
        )
    );
    match left {
        Some(d) => println!(
            "Growth: {}/day; {d:.1} days left before max_bytes or min_free is reached.",
            mb(per_day as u64)
        ),
        None => println!("Growth: too little history to tell, or no size limit applies."),
    }
    println!("Classes:");
    for (c, (files, n, b, old)) in &classes {
        println!(
            "  {c:<16} kept {:>4} days {files:>6} files {n:>12} events {:>12}, oldest {}",
            keep_days(c),
            mb(*b),
            old.map_or_else(|| "none".to_string(), time)
        );
    }
    println!("Datasets:");
    for (d, n, b) in &datasets {
        println!("  {d:<28} {n:>12} events {:>12}", mb(*b));
    }
    println!("Last retention runs:");
    if runs.is_empty() {
        println!("  none yet");
    }
    for r in &runs {
        println!(
            "  {} {}: {} segments, {} events, {} (evidence kept: {}), oldest left {}",
            time(r.at),
            r.reason,
            r.segments,
            r.events,
            mb(u64::try_from(r.bytes).unwrap_or(0)),
            r.evidence,
            r.oldest_left.map_or_else(|| "none".to_string(), time)
        );
    }
    if let Some(next) = next {
        println!("The next run would remove:");
        if next.is_empty() {
            println!("  nothing");
        }
        for r in &next {
            println!(
                "  segment {} {} ({}): {} events, {}, {} to {}",
                r.segment,
                r.class,
                r.reason,
                r.events,
                mb(r.bytes),
                time(r.min_ts),
                time(r.max_ts)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
