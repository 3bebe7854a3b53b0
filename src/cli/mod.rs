//! The subcommands of DESIGN.md, each a few lines calling into a module. `--config` and
//! `--data-dir` are global: they go before or after any subcommand. The `rules`, `alerts` and
//! `notify` commands are in `rules.rs`, `retention` in `retention.rs`.

use crate::config::{Config, Overrides, Raw};
use crate::model::clock::now_micros;
use crate::model::{Frame, Transport};
use crate::parse::{Chain, HeaderOptions};
use crate::query::{SearchQuery, parse_time};
use crate::store::sqlite::{Options, SqliteStore};
use crate::store::{EventReader, EventWriter};
use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

mod device;
mod retention;
mod rules;

#[derive(Parser)]
#[command(
    name = "picket",
    version,
    about = "Syslog and SNMP collector with an embedded, searchable store."
)]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone, Default)]
pub struct Common {
    /// Configuration file (default: picket.toml if present, else built-in defaults).
    #[arg(long, value_name = "FILE", global = true)]
    config: Option<PathBuf>,
    /// Data directory (overrides the file).
    #[arg(long, value_name = "DIR", global = true)]
    data_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the collector.
    Serve {
        /// Listen for syslog on UDP and TCP at ADDR (repeatable; replaces the file's listeners).
        #[arg(long, value_name = "ADDR")]
        syslog_listen: Vec<String>,
        /// The address of the TLS syslog listener (the file's listener with `tls = true`).
        #[arg(long, value_name = "ADDR")]
        syslog_tls_listen: Option<String>,
        /// Serve the web interface, /metrics and /healthz at ADDR.
        #[arg(long, value_name = "ADDR")]
        web_listen: Option<String>,
        /// Receive SNMP traps and informs on UDP ADDR (default 0.0.0.0:1162).
        #[arg(long, value_name = "ADDR")]
        snmp_listen: Option<String>,
    },
    /// Parse lines from stdin and print one JSON object per line.
    Parse {
        /// Also list, for each line, the parsers tried before the one that matched and what
        /// each needs (`picket.explain`).
        #[arg(long)]
        explain: bool,
    },
    /// Store a file's lines as if they had been received.
    Replay {
        /// The file (one message per line).
        file: PathBuf,
        /// The sender address to record.
        #[arg(long, default_value = "127.0.0.1")]
        sender: std::net::IpAddr,
    },
    /// Search stored events, newest first; prints JSON lines.
    Search {
        /// Query: `field:value` filters (sender, host.name, source.ip, destination.ip,
        /// process.name, event.dataset) and free-text terms.
        #[arg(default_value = "")]
        query: String,
        /// Earliest time: RFC 3339, a date, `now`, or relative (-24h).
        #[arg(long, allow_hyphen_values = true)]
        from: Option<String>,
        /// Latest time (exclusive).
        #[arg(long, allow_hyphen_values = true)]
        to: Option<String>,
        /// Most events to print.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Search an archive directory (`retention.archive_dir`, or a subdirectory of it)
        /// instead of the store.
        #[arg(long)]
        archive: Option<PathBuf>,
    },
    /// List every sender seen (the registry), most recently seen first; prints JSON lines.
    Senders {
        /// Days of per-day event counts to show.
        #[arg(long, default_value_t = 7)]
        days: i64,
    },
    /// Delete every stored event of a sender (by address or host name) and its registry
    /// entry. Runs beside a live collector, in small batches.
    ForgetHost {
        /// The sender's address (`observer.ip`) or host name (`host.name`).
        host: String,
        /// Do not ask for confirmation (required when stdin is not a terminal).
        #[arg(long)]
        yes: bool,
    },
    /// What the store holds and how long it lasts: bytes per dataset, the oldest event, days
    /// left, the retention runs; `--dry-run` shows what the next run would remove.
    Retention {
        /// Also show what the next retention run would remove (nothing is removed).
        #[arg(long)]
        dry_run: bool,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Detection rules: check them, or test them on a file.
    Rules {
        #[command(subcommand)]
        command: rules::RulesCommand,
    },
    /// Alerts: list, show, acknowledge, resolve, reopen.
    Alerts {
        #[command(subcommand)]
        command: rules::AlertsCommand,
    },
    /// Notifications: send a test message, see and retry dead letters.
    Notify {
        #[command(subcommand)]
        command: rules::NotifyCommand,
    },
    /// Dashboard users (add, passwd, list, disable, enable) and API tokens (token-add,
    /// token-list, token-revoke).
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Polled devices: add, list, rm, and walk a device to a `.snmprec` recording.
    Device {
        #[command(subcommand)]
        command: Box<device::DeviceCommand>,
    },
    /// Configuration commands.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user; the password is read from stdin (first line), or generated and printed.
    Add {
        name: String,
        /// admin, analyst or viewer.
        #[arg(long, default_value = "viewer")]
        role: String,
        /// Read the password from stdin instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a user's password (first line of stdin); ends their sessions.
    Passwd { name: String },
    /// List users (JSON lines).
    List,
    /// Disable a user (ends their sessions).
    Disable { name: String },
    /// Enable a disabled user.
    Enable { name: String },
    /// Remove a user's second factor (when the phone is lost).
    TotpOff { name: String },
    /// Create an API token with a role; the token is printed once.
    TokenAdd {
        name: String,
        #[arg(long, default_value = "viewer")]
        role: String,
    },
    /// List API tokens (JSON lines; never the tokens themselves).
    TokenList,
    /// Revoke an API token.
    TokenRevoke { name: String },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate the configuration and exit 0, or print the problem and exit 2.
    Check,
}

/// Parses the command line and runs it.
pub fn run() -> Result<ExitCode> {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            e.print().unwrap_or(());
            return Ok(ExitCode::from(code));
        }
    };
    let common = cli.common;
    let config = |o: &Overrides| load(&common, o);
    let with_dir = || load(&common, &overrides(&common));
    match cli.command {
        Command::Serve {
            syslog_listen,
            syslog_tls_listen,
            web_listen,
            snmp_listen,
        } => serve(config(&Overrides {
            data_dir: common.data_dir.clone(),
            syslog_listen,
            syslog_tls_listen,
            web_listen,
            snmp_listen,
        })?),
        Command::Parse { explain } => parse(config(&Overrides::default())?, explain),
        Command::Replay { file, sender } => replay(with_dir()?, &file, sender),
        Command::Search {
            query,
            from,
            to,
            limit,
            archive,
        } => search(with_dir()?, &query, (from, to), limit, archive),
        Command::Rules { command } => match command {
            rules::RulesCommand::Check => rules::rules_check(with_dir()?),
            rules::RulesCommand::Test { input, sender } => {
                rules::rules_test(with_dir()?, &input, sender)
            }
        },
        Command::Alerts { command } => rules::alerts(with_dir()?, command),
        Command::Notify { command } => rules::notify(with_dir()?, command),
        Command::User { command } => user(with_dir()?, command),
        Command::Device { command } => device::run(with_dir()?, *command),
        Command::Senders { days } => senders(with_dir()?, days),
        Command::Retention { dry_run, json } => retention::run(with_dir()?, dry_run, json),
        Command::ForgetHost { host, yes } => forget_host(with_dir()?, &host, yes),
        Command::Config {
            command: ConfigCommand::Check,
        } => {
            let c = config(&Overrides::default())?;
            let (chain, problems) = crate::parse::configured_with(
                header_options(&c),
                &c.parsers_dir,
                c.hints.clone(),
                c.parse_body,
            );
            let mut problems = problems;
            let mut mib_names = 0;
            let (enricher, enrich_problems) = crate::enrich::Enricher::load(&c.enrich);
            problems.extend(enrich_problems);
            let (rules, rule_problems) = crate::rules::Rules::load(&c.rules);
            if c.rules.enabled {
                problems.extend(rule_problems.iter().map(ToString::to_string));
            }
            if let Some(s) = &c.snmp {
                let (defs, errors) = crate::snmp::mib::load_dir(&s.mibs_dir);
                mib_names = defs.len();
                problems.extend(errors.iter().map(ToString::to_string));
            }
            if !problems.is_empty() {
                for p in &problems {
                    eprintln!("picket: {p}");
                }
                return Ok(ExitCode::from(2));
            }
            println!("parsers: {}", chain.parser_names().join(", "));
            println!("enrichment: {}", enricher.summary());
            if c.rules.enabled {
                println!(
                    "rules: {} loaded, {} notification channel(s)",
                    rules.len(),
                    c.notify.channels.len()
                );
            }
            if let Some(s) = &c.snmp {
                println!(
                    "snmp: traps and informs on {}, {} v3 user(s), {mib_names} name(s) from MIB files in {}",
                    s.listen,
                    s.users.len(),
                    s.mibs_dir.display()
                );
            }
            let now = crate::model::clock::now_micros() / 1_000_000;
            let tls_servers = c
                .listeners
                .iter()
                .filter_map(|l| Some((l.name.as_str(), l.address, l.tls.as_ref()?)))
                .chain(c.web_tls.as_ref().map(|t| ("web", c.web_listen, t)));
            for (name, address, t) in tls_servers {
                if let Some(i) = crate::tls::files::leaf(&t.cert) {
                    println!(
                        "tls: {} on {}: certificate {} (SHA-256 {}), {} days left; client certificates {}",
                        name,
                        address,
                        i.subject,
                        i.fingerprint,
                        (i.not_after - now) / 86_400,
                        t.client_auth.as_str()
                    );
                }
                for w in crate::tls::files::warnings(t, now) {
                    eprintln!("picket: warning: {w}");
                }
            }
            println!(
                "configuration ok: {} listener(s), data in {}",
                c.listeners.len(),
                c.data_dir.display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn overrides(c: &Common) -> Overrides {
    Overrides {
        data_dir: c.data_dir.clone(),
        ..Overrides::default()
    }
}

fn load(c: &Common, o: &Overrides) -> Result<Config> {
    let path = match &c.config {
        Some(p) => Some(p.clone()),
        None => Some(PathBuf::from("picket.toml")).filter(|p| p.exists()),
    };
    let (raw, path) = Raw::load(path.as_deref())?;
    Ok(raw.validate(&path, o)?)
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn serve(config: Config) -> Result<ExitCode> {
    crate::telemetry::init_logging();
    let _lock = DataLock::acquire(&config.data_dir)?;
    let rt = runtime()?;
    rt.block_on(crate::pipeline::serve(
        config,
        crate::pipeline::shutdown_signal(),
        |b| {
            let mut out = std::io::stdout().lock();
            // If stdout is gone nobody is waiting for the line; serving goes on regardless.
            writeln!(out, "{}", b.ready_line())
                .and_then(|()| out.flush())
                .unwrap_or(());
        },
    ))?;
    Ok(ExitCode::SUCCESS)
}

fn header_options(c: &Config) -> Vec<HeaderOptions> {
    let max_future_us = i64::try_from(c.max_future.as_micros()).unwrap_or(i64::MAX);
    c.listeners
        .iter()
        .map(|l| HeaderOptions {
            tz: l.timezone,
            max_future_us,
        })
        .collect()
}

pub(crate) fn line_frame(line: &[u8], peer: std::net::SocketAddr, received_at: i64) -> Frame {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    Frame {
        bytes: bytes::Bytes::copy_from_slice(line),
        peer,
        listener: 0,
        transport: Transport::File,
        received_at,
        truncated: false,
    }
}

/// The configured parse chain; problems with parser files are reported on stderr.
pub(crate) fn chain(config: &Config) -> Chain {
    let (chain, problems) = crate::parse::configured_with(
        header_options(config),
        &config.parsers_dir,
        config.hints.clone(),
        config.parse_body,
    );
    for p in problems {
        eprintln!("picket: warning: {p}");
    }
    chain
}

fn parse(config: Config, explain: bool) -> Result<ExitCode> {
    let chain = chain(&config);
    let (enricher, problems) = crate::enrich::Enricher::load(&config.enrich);
    for p in problems {
        eprintln!("picket: {p}");
    }
    let name = config
        .listeners
        .first()
        .map_or("stdin", |l| l.name.as_str())
        .to_string();
    let peer: std::net::SocketAddr = ([127, 0, 0, 1], 0).into();
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut line = Vec::new();
    loop {
        line.clear();
        if input
            .read_until(b'\n', &mut line)
            .context("reading stdin")?
            == 0
        {
            break;
        }
        let f = line_frame(&line, peer, now_micros());
        if f.bytes.is_empty() {
            continue;
        }
        let json = if explain {
            let (mut ev, trace) = chain.explain(&f);
            enricher.enrich(&mut ev);
            let mut m = ev.to_flat_json(&name);
            let lines: Vec<serde_json::Value> = trace
                .into_iter()
                .map(|(p, matched, needs)| {
                    serde_json::Value::String(if matched {
                        format!("{p}: matched")
                    } else {
                        format!("{p}: no match (needs {needs})")
                    })
                })
                .collect();
            m.insert("picket.explain".into(), serde_json::Value::Array(lines));
            m
        } else {
            let mut ev = chain.parse(&f);
            enricher.enrich(&mut ev);
            ev.to_flat_json(&name)
        };
        serde_json::to_writer(&mut out, &json).context("writing stdout")?;
        out.write_all(b"\n").context("writing stdout")?;
    }
    out.flush().context("writing stdout")?;
    Ok(ExitCode::SUCCESS)
}

fn replay(config: Config, file: &std::path::Path, sender: std::net::IpAddr) -> Result<ExitCode> {
    let _lock = DataLock::acquire(&config.data_dir)?;
    let text = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let total = text
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .count();
    let store = open_store(&config)?;
    let metrics = std::sync::Arc::new(crate::telemetry::Metrics::new(
        config.listeners.iter().map(|l| l.name.clone()),
    ));
    let mut writer = Box::new(store.writer(
        config.listeners.iter().map(|l| l.name.clone()).collect(),
        metrics,
    )?);
    let checkpoint = store.checkpoint();
    let chain = chain(&config);
    let peer = std::net::SocketAddr::new(sender, 0);
    let tty = std::io::stderr().is_terminal();
    let mut done = 0usize;
    let mut batch = Vec::with_capacity(10_000);
    for line in text.split(|b| *b == b'\n') {
        let f = line_frame(line, peer, now_micros());
        if f.bytes.is_empty() {
            continue;
        }
        batch.push(chain.parse(&f));
        if batch.len() == 10_000 {
            writer.write_batch(&batch, checkpoint)?;
            done += batch.len();
            batch.clear();
            if tty {
                progress(done, total);
            }
        }
    }
    writer.write_batch(&batch, checkpoint)?;
    done += batch.len();
    if tty {
        progress(done, total);
        eprintln!();
    }
    // The indexer defers sealed segments while batches come in full: say the writer is idle,
    // let it finish them, and only then stop it (closing first left it nothing to run on).
    writer.maintain()?;
    if !store.wait_indexed(std::time::Duration::from_secs(600)) {
        eprintln!("some sealed segments are not indexed yet; the next `serve` indexes them");
    }
    writer.close()?;
    eprintln!("replayed {done} lines from {}", file.display());
    Ok(ExitCode::SUCCESS)
}

fn progress(done: usize, total: usize) {
    let pct = (done * 100).checked_div(total).unwrap_or(100);
    let bar: String = (0..40)
        .map(|i| if i * 100 / 40 < pct { '#' } else { '.' })
        .collect();
    eprint!("\r[{bar}] {done}/{total} lines ({pct}%)");
}

fn open_store(config: &Config) -> Result<SqliteStore> {
    let dir = config.data_dir.join("store");
    SqliteStore::open(&dir, config.store_options(0))
        .with_context(|| format!("opening the store in {}", dir.display()))
}

fn search(
    config: Config,
    query: &str,
    (from, to): (Option<String>, Option<String>),
    limit: usize,
    archive: Option<PathBuf>,
) -> Result<ExitCode> {
    let now = now_micros();
    let mut q = SearchQuery::parse(query, limit)?;
    q.from = from.map(|t| parse_time(&t, now)).transpose()?;
    q.to = to.map(|t| parse_time(&t, now)).transpose()?;
    let store = match archive {
        Some(dir) => {
            if !dir.is_dir() {
                bail!("no archive in {}", dir.display());
            }
            SqliteStore::open(&dir, Options::default())
                .with_context(|| format!("opening the archive in {}", dir.display()))?
        }
        None => existing_store(&config)?,
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for hit in store.reader().search(&q)? {
        let mut m = hit.event.to_flat_json(&hit.listener);
        m.insert(
            crate::model::fields::PICKET_ID.into(),
            serde_json::Value::from(hit.id),
        );
        serde_json::to_writer(&mut out, &m).context("writing stdout")?;
        out.write_all(b"\n").context("writing stdout")?;
    }
    out.flush().context("writing stdout")?;
    Ok(ExitCode::SUCCESS)
}

fn read_password_line() -> Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the password from stdin")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

fn user(config: Config, cmd: UserCommand) -> Result<ExitCode> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating {}", config.data_dir.display()))?;
    let users = crate::auth::Users::open(&config.data_dir)?;
    let actor = "cli";
    match cmd {
        UserCommand::Add {
            name,
            role,
            password_stdin,
            ..
        } => {
            let role = crate::auth::Role::parse(&role)?;
            let (pw, generated) = if password_stdin {
                (read_password_line()?, false)
            } else {
                (crate::auth::random_hex(12)?, true)
            };
            users.add(&name, &pw, role, actor)?;
            if generated {
                println!("user {name} added as {}; password: {pw}", role.as_str());
            } else {
                println!("user {name} added as {}", role.as_str());
            }
        }
        UserCommand::Passwd { name, .. } => {
            let pw = read_password_line()?;
            users.set_password(&name, &pw, actor)?;
            println!("password of {name} changed");
        }
        UserCommand::List => {
            let mut out = std::io::stdout().lock();
            for u in users.list()? {
                serde_json::to_writer(&mut out, &u).context("writing stdout")?;
                out.write_all(b"\n").context("writing stdout")?;
            }
        }
        UserCommand::Disable { name, .. } => {
            users.set_disabled(&name, true, actor)?;
            println!("user {name} disabled");
        }
        UserCommand::Enable { name, .. } => {
            users.set_disabled(&name, false, actor)?;
            println!("user {name} enabled");
        }
        UserCommand::TotpOff { name, .. } => {
            users.session_user_id(&name)?;
            users.totp_off(&name, actor)?;
            println!("second factor of {name} removed");
        }
        UserCommand::TokenAdd { name, role, .. } => {
            let role = crate::auth::Role::parse(&role)?;
            let token = users.add_token(&name, role, actor)?;
            println!("API token {name} ({}): {token}", role.as_str());
        }
        UserCommand::TokenList => {
            let mut out = std::io::stdout().lock();
            for t in users.tokens()? {
                serde_json::to_writer(&mut out, &t).context("writing stdout")?;
                out.write_all(b"\n").context("writing stdout")?;
            }
        }
        UserCommand::TokenRevoke { name, .. } => {
            users.revoke_token(&name, actor)?;
            println!("API token {name} revoked");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The store of `config`, which must exist already.
fn existing_store(config: &Config) -> Result<SqliteStore> {
    if !config.data_dir.join("store").exists() {
        bail!(
            "no store in {} (has `picket serve` run with this data directory?)",
            config.data_dir.display()
        );
    }
    open_store(config)
}

fn micros_to_rfc3339(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        .unwrap_or_default()
}

fn senders(config: Config, days: i64) -> Result<ExitCode> {
    let store = existing_store(&config)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for s in store.reader().senders(days.clamp(1, 3660))? {
        let per_day: serde_json::Map<String, serde_json::Value> = s
            .per_day
            .iter()
            .map(|(day, n)| {
                let date = micros_to_rfc3339(day.saturating_mul(86_400_000_000));
                (date.get(..10).unwrap_or_default().to_owned(), (*n).into())
            })
            .collect();
        let line = serde_json::json!({
            "sender": s.sender,
            "first_seen": micros_to_rfc3339(s.first_seen),
            "last_seen": micros_to_rfc3339(s.last_seen),
            "events": s.events,
            "events_per_day": per_day,
            "listener": s.listener,
            "parser": s.parser,
            "dataset": s.dataset,
            "host": s.host,
        });
        serde_json::to_writer(&mut out, &line).context("writing stdout")?;
        out.write_all(b"\n").context("writing stdout")?;
    }
    out.flush().context("writing stdout")?;
    Ok(ExitCode::SUCCESS)
}

fn forget_host(config: Config, host: &str, yes: bool) -> Result<ExitCode> {
    if host.trim().is_empty() {
        bail!("forget-host needs a sender address or host name");
    }
    let store = existing_store(&config)?;
    if !yes {
        if !std::io::stdin().is_terminal() {
            bail!("forget-host deletes data: confirm with --yes");
        }
        eprint!("Delete every stored event of {host} and its registry entry? [y/N] ");
        let mut answer = String::new();
        std::io::stdin()
            .read_line(&mut answer)
            .context("reading the answer")?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            eprintln!("Nothing deleted.");
            return Ok(ExitCode::from(1));
        }
    }
    let tty = std::io::stderr().is_terminal();
    let report = store.forget_host(host, &crate::store::sqlite::ForgetOptions::default(), |n| {
        if tty {
            eprint!("\rdeleted {n} events");
        }
    })?;
    if tty {
        eprintln!();
    }
    // Copies that alerts kept of the host's events after retention go too.
    let kept = crate::alerts::open(&config.data_dir)
        .and_then(|mut a| a.forget_evidence(host))
        .context("forgetting the host's events kept with alerts")?;
    let mut out = serde_json::to_value(&report).context("writing the report")?;
    if let Some(o) = out.as_object_mut() {
        o.insert("alert_evidence".into(), kept.into());
    }
    println!("{out}");
    Ok(ExitCode::SUCCESS)
}

/// An exclusive lock on the data directory: one writer (serve or replay) at a time.
struct DataLock {
    _lock: nix::fcntl::Flock<std::fs::File>,
}

impl DataLock {
    fn acquire(dir: &std::path::Path) -> Result<DataLock> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating data directory {}", dir.display()))?;
        let path = dir.join("picket.lock");
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        match nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusiveNonblock) {
            Ok(l) => Ok(DataLock { _lock: l }),
            Err((_, e)) => bail!(
                "data directory {} is in use by another picket process ({e}); stop it or use another --data-dir",
                dir.display()
            ),
        }
    }
}
