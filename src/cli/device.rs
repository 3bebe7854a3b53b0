//! `picket device add|list|rm|walk`: the devices Picket polls, beside a running `serve` (the
//! device book is its own SQLite file; `serve` picks changes up within seconds). Secrets are
//! taken from flags or, better (no shell history, no `ps`), from `PICKET_SNMP_COMMUNITY`,
//! `PICKET_SNMP_AUTH_PASSWORD` and `PICKET_SNMP_PRIVACY_PASSWORD`.

use crate::config::Config;
use crate::model::Secret;
use crate::poll::client::Session;
use crate::poll::credentials::Vault;
use crate::poll::device::{Origin, RawDevice};
use crate::poll::{book, snmprec, walk};
use anyhow::{Context, Result, bail};
use clap::Subcommand;
use std::process::ExitCode;
use std::time::Instant;

/// SNMP version and credentials on the command line.
#[derive(clap::Args, Clone, Default)]
pub struct SnmpArgs {
    /// SNMP version: 1, 2c or 3.
    #[arg(long = "snmp-version", value_name = "V")]
    version: Option<String>,
    /// v1/v2c community (or PICKET_SNMP_COMMUNITY).
    #[arg(long)]
    community: Option<String>,
    /// v3 user name.
    #[arg(long)]
    user: Option<String>,
    /// v3 authentication protocol (MD5, SHA, SHA-224, SHA-256, SHA-384, SHA-512).
    #[arg(long)]
    auth: Option<String>,
    /// v3 authentication password (or PICKET_SNMP_AUTH_PASSWORD).
    #[arg(long)]
    auth_password: Option<String>,
    /// v3 privacy protocol (DES, AES, AES-192, AES-256, AES-192-C, AES-256-C).
    #[arg(long)]
    privacy: Option<String>,
    /// v3 privacy password (or PICKET_SNMP_PRIVACY_PASSWORD).
    #[arg(long)]
    privacy_password: Option<String>,
    /// Per-request timeout in milliseconds.
    #[arg(long)]
    timeout_ms: Option<u64>,
    /// Retries after a timeout.
    #[arg(long)]
    retries: Option<u32>,
}

fn secret(flag: &Option<String>, env: &str) -> Option<Secret> {
    flag.clone()
        .or_else(|| std::env::var(env).ok())
        .filter(|s| !s.is_empty())
        .map(Secret::new)
}

impl SnmpArgs {
    fn into_raw(self, name: &str, address: &str) -> RawDevice {
        let v3 = self.version.as_deref() == Some("3") || self.user.is_some();
        RawDevice {
            name: name.to_string(),
            address: address.to_string(),
            version: self.version.or_else(|| v3.then(|| "3".to_string())),
            community: if v3 {
                None
            } else {
                secret(&self.community, "PICKET_SNMP_COMMUNITY")
            },
            user: self.user,
            auth_password: self
                .auth
                .as_ref()
                .and_then(|_| secret(&self.auth_password, "PICKET_SNMP_AUTH_PASSWORD")),
            auth: self.auth,
            privacy_password: self
                .privacy
                .as_ref()
                .and_then(|_| secret(&self.privacy_password, "PICKET_SNMP_PRIVACY_PASSWORD")),
            privacy: self.privacy,
            timeout_ms: self.timeout_ms,
            retries: self.retries,
            ..RawDevice::default()
        }
    }
}

/// The `device` subcommands.
#[derive(Subcommand)]
pub enum DeviceCommand {
    /// Add a device to poll (stored with its credentials encrypted).
    Add {
        /// Unique name.
        name: String,
        /// Host or address, with an optional :port (default 161).
        address: String,
        #[command(flatten)]
        snmp: SnmpArgs,
        /// Poll interval in seconds (default 60).
        #[arg(long)]
        interval_secs: Option<u64>,
        /// Group shown on the devices page.
        #[arg(long)]
        group: Option<String>,
        /// A tag (repeatable).
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// The device this one is reached through.
        #[arg(long)]
        parent: Option<String>,
        /// A profile instead of the one sysObjectID chooses.
        #[arg(long)]
        profile: Option<String>,
        /// Replace a stored device of the same name.
        #[arg(long)]
        replace: bool,
    },
    /// List devices with their status (JSON lines).
    List,
    /// Remove a stored device (devices from the file are removed in the file).
    Rm {
        /// The device's name.
        name: String,
    },
    /// Walk a device (a configured name, or an address with credentials) and print the
    /// objects as `.snmprec` lines (OID|TAG|VALUE).
    Walk {
        /// A configured device's name, or an address.
        target: String,
        /// Only the subtree under this OID (default: everything from 1.3.6.1).
        #[arg(long, default_value = "1.3.6.1")]
        root: String,
        #[command(flatten)]
        snmp: SnmpArgs,
    },
}

/// Runs a `device` subcommand.
pub fn run(config: Config, cmd: DeviceCommand) -> Result<ExitCode> {
    match cmd {
        DeviceCommand::Add {
            name,
            address,
            snmp,
            interval_secs,
            group,
            tags,
            parent,
            profile,
            replace,
        } => {
            let mut raw = snmp.into_raw(&name, &address);
            raw.interval_secs = interval_secs;
            raw.group = group;
            raw.tags = tags;
            raw.parent = parent;
            raw.profile = profile;
            raw.check("device", Origin::Store)?;
            if config.poll.file_devices.iter().any(|d| d.name == name) {
                bail!("device {name} is defined in the configuration file; change it there");
            }
            let vault = Vault::load_or_create(&config.poll.key_file)?;
            let mut b = book::open(&config.data_dir)?;
            // Checked with every other device: unique names, parents that exist.
            let mut stored: Vec<RawDevice> = b
                .devices()?
                .iter()
                .map(|s| book::open_stored(s, &vault))
                .collect::<Result<_, _>>()?;
            stored.retain(|d| d.name != name);
            stored.push(raw.clone());
            config.poll.devices(&stored)?;
            let s = book::seal(&raw, &vault, "cli", crate::model::clock::now_micros());
            if !b.put_device(&s, replace)? {
                bail!("device {name} exists (use --replace to change it)");
            }
            println!("added device {name} ({address})");
            Ok(ExitCode::SUCCESS)
        }
        DeviceCommand::List => {
            let vault = Vault::load_or_create(&config.poll.key_file)?;
            let b = book::open(&config.data_dir)?;
            let devices = book::all(&config.poll, b.as_ref(), &vault)?;
            let states = b.states()?;
            let out = std::io::stdout();
            let mut out = out.lock();
            for d in devices {
                let st = states.iter().find(|s| s.name == d.name);
                let mut o = serde_json::json!({
                    "name": d.name,
                    "address": d.address(),
                    "version": d.security.version().as_str(),
                    "origin": d.origin,
                    "interval_secs": d.interval.as_secs(),
                    "status": st.map_or("unknown", |s| s.status.as_str()),
                    "last_poll": st.and_then(|s| s.last_poll).map(super::micros_to_rfc3339),
                    "ports": st.map_or(0, |s| s.ports),
                });
                if let (Some(m), Some(s)) = (o.as_object_mut(), st) {
                    if let Ok(serde_json::Value::Object(extra)) = serde_json::to_value(s) {
                        for (k, v) in extra {
                            if !m.contains_key(&k) && k != "name" {
                                m.insert(k, v);
                            }
                        }
                    }
                }
                if let Some(m) = o.as_object_mut() {
                    for (k, v) in [("group", &d.group), ("parent", &d.parent)] {
                        if let Some(v) = v {
                            m.insert(k.into(), v.clone().into());
                        }
                    }
                    if !d.tags.is_empty() {
                        m.insert("tags".into(), d.tags.clone().into());
                    }
                }
                use std::io::Write;
                writeln!(out, "{o}")?;
            }
            Ok(ExitCode::SUCCESS)
        }
        DeviceCommand::Rm { name } => {
            if config.poll.file_devices.iter().any(|d| d.name == name) {
                bail!("device {name} is defined in the configuration file; remove it there");
            }
            let mut b = book::open(&config.data_dir)?;
            if !b.remove_device(&name)? {
                bail!("no stored device is named {name}");
            }
            println!("removed device {name}");
            Ok(ExitCode::SUCCESS)
        }
        DeviceCommand::Walk { target, root, snmp } => walk_cmd(&config, &target, &root, snmp),
    }
}

fn walk_cmd(config: &Config, target: &str, root: &str, snmp: SnmpArgs) -> Result<ExitCode> {
    let root = snmprec::parse_oid(root).context("--root is not a dotted OID")?;
    let no_credentials = snmp.community.is_none()
        && snmp.user.is_none()
        && std::env::var_os("PICKET_SNMP_COMMUNITY").is_none();
    let configured = if no_credentials {
        let vault = Vault::load_or_create(&config.poll.key_file)?;
        let b = book::open(&config.data_dir)?;
        book::all(&config.poll, b.as_ref(), &vault)?
            .into_iter()
            .find(|d| d.name == target)
    } else {
        None
    };
    let device = match configured {
        Some(d) => d,
        None => snmp
            .into_raw("walk", target)
            .check("walk", Origin::Store)
            .map_err(|e| {
                anyhow::anyhow!("{e} (give the credentials, or a configured device's name)")
            })?,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let started = Instant::now();
    let (rows, telemetry) = rt.block_on(async {
        let addr = tokio::net::lookup_host((device.host.as_str(), device.port))
            .await?
            .next()
            .context("the address does not resolve")?;
        let mut s = Session::open(
            addr,
            device.security.clone(),
            device.timeout,
            device.retries,
        )
        .await?;
        let mut sizer = walk::Sizer::default();
        let rows = walk::subtree(&mut s, &root, &mut sizer).await?;
        anyhow::Ok((rows, s.telemetry))
    })?;
    let out = std::io::stdout();
    let mut out = out.lock();
    use std::io::Write;
    for (oid, v) in &rows {
        if let Some(l) = snmprec::line(oid, v) {
            match writeln!(out, "{l}") {
                // `| head`: the reader has what it wanted.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                    return Ok(ExitCode::SUCCESS);
                }
                r => r?,
            }
        }
    }
    eprintln!(
        "picket: {} objects in {} requests ({} retries) in {:.2} s",
        rows.len(),
        telemetry.pdus,
        telemetry.retries,
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}
