//! The `rules`, `alerts` and `notify` subcommands.

use crate::alerts::{Alerts, State};
use crate::config::Config;
use crate::rules::Rules;
use anyhow::{Context, Result, bail};
use std::io::{BufRead, Write};
use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum RulesCommand {
    /// Load every rule and report each one that does not load (exit 2 if any).
    Check,
    /// Run the rules over a file of lines with their own timestamps and print what would
    /// fire, and when (JSON lines).
    Test {
        /// The file (one message per line; `-` for stdin).
        #[arg(long)]
        input: std::path::PathBuf,
        /// The sender address the lines are taken to come from.
        #[arg(long, default_value = "127.0.0.1")]
        sender: std::net::IpAddr,
    },
}

#[derive(clap::Subcommand)]
pub enum AlertsCommand {
    /// List alerts, newest first (JSON lines).
    List {
        /// Only alerts in this state (open, acknowledged, resolved).
        #[arg(long)]
        state: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// One alert with its linked events, audit trail and notifications (JSON).
    Show { id: i64 },
    /// Acknowledge an alert.
    Ack(Change),
    /// Resolve an alert.
    Resolve(Change),
    /// Reopen an alert.
    Reopen(Change),
}

#[derive(clap::Args)]
pub struct Change {
    id: i64,
    /// Who does it (recorded in the audit trail).
    #[arg(long, default_value = "cli")]
    user: String,
    #[arg(long)]
    comment: Option<String>,
}

#[derive(clap::Subcommand)]
pub enum NotifyCommand {
    /// Send a test message on a channel now and report the result.
    Test { channel: String },
    /// List dead-lettered notifications (JSON lines).
    Dead {
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Queue a dead-lettered notification again.
    Retry { id: i64 },
}

fn print_json(v: &impl serde::Serialize) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, v).context("writing stdout")?;
    out.write_all(b"\n").context("writing stdout")?;
    Ok(())
}

pub fn rules_check(config: Config) -> Result<ExitCode> {
    let (rules, problems) = Rules::load(&config.rules);
    for p in &problems {
        eprintln!("picket: {p}");
    }
    println!(
        "{} rule(s) loaded from {}{}",
        rules.len(),
        config.rules.dir.display(),
        if config.rules.dir.exists() {
            ""
        } else {
            " (missing: the built-in starter rules)"
        }
    );
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

pub fn rules_test(
    config: Config,
    input: &std::path::Path,
    sender: std::net::IpAddr,
) -> Result<ExitCode> {
    let (mut rules, problems) = Rules::load(&config.rules);
    for p in &problems {
        eprintln!("picket: {p}");
    }
    let chain = super::chain(&config);
    let (enricher, problems) = crate::enrich::Enricher::load(&config.enrich);
    for p in problems {
        eprintln!("picket: {p}");
    }
    let reader: Box<dyn BufRead> = if input.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(input).with_context(|| format!("opening {}", input.display()))?,
        ))
    };
    let peer = std::net::SocketAddr::new(sender, 514);
    let mut fired = 0usize;
    for (n, line) in reader.split(b'\n').enumerate() {
        let line = line.with_context(|| format!("reading {}", input.display()))?;
        let f = super::line_frame(&line, peer, crate::model::clock::now_micros());
        if f.bytes.is_empty() {
            continue;
        }
        let mut ev = chain.parse(&f);
        enricher.enrich(&mut ev);
        // The line's own time is the clock.
        let at = ev.timestamp;
        let mut out = rules.process(&ev, n as i64 + 1, "file", at);
        out.extend(rules.tick(at, &[]));
        for f in out {
            fired += 1;
            print_json(&serde_json::json!({
                "at": crate::model::event::format_micros(f.at),
                "line": n + 1,
                "rule_id": f.rule_id,
                "title": f.title,
                "level": f.level,
                "kind": f.kind,
                "group": f.group_text(),
                "count": f.count,
            }))?;
        }
    }
    eprintln!("picket: {fired} alert(s) would fire");
    Ok(ExitCode::SUCCESS)
}

fn open_alerts(config: &Config) -> Result<Alerts> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating {}", config.data_dir.display()))?;
    Ok(crate::alerts::open(&config.data_dir)?)
}

pub fn alerts(config: Config, cmd: AlertsCommand) -> Result<ExitCode> {
    match cmd {
        AlertsCommand::List { state, limit, .. } => {
            let a = open_alerts(&config)?;
            let state = state.as_deref().map(State::parse).transpose()?;
            for al in a.list(state, limit)? {
                print_json(&al)?;
            }
        }
        AlertsCommand::Show { id, .. } => {
            let a = open_alerts(&config)?;
            let Some(al) = a.get(id)? else {
                bail!("no alert {id}");
            };
            print_json(&serde_json::json!({
                "alert": al,
                "audit": a.audit(id)?,
                "notifications": a.outbox_of(id)?,
            }))?;
        }
        AlertsCommand::Ack(c) | AlertsCommand::Resolve(c) | AlertsCommand::Reopen(c)
            if c.user.trim().is_empty() =>
        {
            bail!("--user must not be empty");
        }
        AlertsCommand::Ack(c) => change(&config, c, State::Acknowledged)?,
        AlertsCommand::Resolve(c) => change(&config, c, State::Resolved)?,
        AlertsCommand::Reopen(c) => change(&config, c, State::Open)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn change(config: &Config, c: Change, to: State) -> Result<()> {
    let mut a = open_alerts(config)?;
    let al = a.set_state(
        c.id,
        to,
        &c.user,
        c.comment.as_deref(),
        config.notify.as_ref(),
    )?;
    print_json(&al)
}

pub fn notify(config: Config, cmd: NotifyCommand) -> Result<ExitCode> {
    match cmd {
        NotifyCommand::Test { channel, .. } => {
            let Some(ch) = config.notify.channels.get(&channel) else {
                let mut names: Vec<&String> = config.notify.channels.keys().collect();
                names.sort();
                bail!("no channel {channel:?} (configured: {names:?})");
            };
            let msg = crate::alerts::Outgoing {
                id: 0,
                channel: channel.clone(),
                alert_id: None,
                notice: "test".into(),
                payload: serde_json::json!({"test": true, "id": 0, "title": "Picket test notification", "level": "informational", "group": "-", "rule_id": "picket-test", "count": 1, "state": "open", "kind": "test", "first_seen": crate::model::clock::now_micros(), "last_seen": crate::model::clock::now_micros()}).to_string(),
                attempts: 0,
                state: "pending".into(),
                last_error: None,
                next_at: 0,
            };
            match crate::notify::attempt(ch, &msg) {
                crate::notify::Attempt::Delivered => {
                    println!("sent a test message on {channel}");
                    Ok(ExitCode::SUCCESS)
                }
                crate::notify::Attempt::Retry(e) | crate::notify::Attempt::Permanent(e) => {
                    eprintln!("picket: sending on {channel} failed: {e}");
                    Ok(ExitCode::from(2))
                }
            }
        }
        NotifyCommand::Dead { limit, .. } => {
            for m in open_alerts(&config)?.dead_letters(limit)? {
                print_json(&m)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        NotifyCommand::Retry { id, .. } => {
            if open_alerts(&config)?.retry_dead(id)? {
                println!("notification {id} queued again");
                Ok(ExitCode::SUCCESS)
            } else {
                bail!("no dead-lettered notification {id}")
            }
        }
    }
}
