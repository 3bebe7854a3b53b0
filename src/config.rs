//! `picket.toml`: raw serde structs that reject unknown keys, checked by [`Raw::validate`] into
//! the [`Config`] the program runs with. Without a file, the built-in defaults apply.
//!
//! Each section a room owns is written and checked in that room: `[retention]` in
//! `store/retention/settings.rs`, `[parse]` in `parse/settings.rs`, `[enrich]` in
//! `enrich/settings.rs`, `[snmp]` in `snmp/settings.rs` (its severities in `parse/snmp.rs`),
//! `[rules]` in `rules/mod.rs`, `[notify]` in `notify/mod.rs`. What stays here are the listeners,
//! the web, store and spool settings, and placing every section's error in the file.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A configuration that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not valid TOML for Picket (unknown key, wrong type); the message names the
    /// line and the key.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong and where.
        message: String,
    },
    /// A value is out of range or inconsistent.
    #[error("{path}: {key}: {message}")]
    Invalid {
        /// The file (or `<defaults>`).
        path: PathBuf,
        /// The key.
        key: String,
        /// What is wrong.
        message: String,
    },
}

/// Text that is not TOML for Picket (an unknown key, a wrong type), and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
pub struct TomlError {
    /// 1-based line, when the parser knows it.
    pub line: Option<usize>,
    /// What is wrong (it names the key).
    pub message: String,
}

/// The file's shape, exactly as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    /// Where the database and spool live.
    pub data_dir: Option<PathBuf>,
    #[serde(default)]
    pub syslog: RawSyslog,
    #[serde(default)]
    pub web: RawWeb,
    #[serde(default)]
    pub store: RawStore,
    #[serde(default)]
    pub spool: RawSpool,
    #[serde(default)]
    pub retention: crate::store::retention::RawRetention,
    #[serde(default)]
    pub parse: crate::parse::settings::RawParse,
    #[serde(default)]
    pub snmp: crate::snmp::settings::RawSnmp,
    #[serde(default)]
    pub enrich: crate::enrich::settings::RawEnrich,
    #[serde(default)]
    pub rules: crate::rules::Settings,
    #[serde(default)]
    pub notify: crate::notify::Settings,
    #[serde(default)]
    pub poll: crate::poll::settings::RawPoll,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSyslog {
    pub timezone: Option<String>,
    pub max_frame_bytes: Option<usize>,
    pub max_connections: Option<usize>,
    pub idle_timeout_secs: Option<u64>,
    pub udp_recv_buffer_bytes: Option<usize>,
    pub max_future_secs: Option<u64>,
    #[serde(default)]
    pub listener: Vec<RawListener>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawListener {
    /// Default 0.0.0.0:1514, or 0.0.0.0:6514 with `tls = true`.
    pub address: Option<String>,
    pub udp: Option<bool>,
    pub tcp: Option<bool>,
    pub timezone: Option<String>,
    pub name: Option<String>,
    /// Speak only TLS (RFC 5425) on the TCP address; see `tls::settings`.
    pub tls: Option<bool>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub tls_client_auth: Option<String>,
    pub tls_client_ca: Option<PathBuf>,
    #[serde(default)]
    pub tls_permitted_peers: Vec<String>,
    #[serde(default)]
    pub tls_permitted_fingerprints: Vec<String>,
    pub tls_min_version: Option<String>,
    pub tls_handshake_timeout_secs: Option<u64>,
}

impl RawListener {
    fn tls_keys(&self) -> crate::tls::settings::Raw {
        crate::tls::settings::Raw {
            cert: self.tls_cert.clone(),
            key: self.tls_key.clone(),
            client_auth: self.tls_client_auth.clone(),
            client_ca: self.tls_client_ca.clone(),
            permitted_peers: self.tls_permitted_peers.clone(),
            permitted_fingerprints: self.tls_permitted_fingerprints.clone(),
            min_version: self.tls_min_version.clone(),
            handshake_timeout_secs: self.tls_handshake_timeout_secs,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWeb {
    pub listen: Option<String>,
    /// Mark the session cookie `Secure` (when served over HTTPS).
    pub secure_cookie: Option<bool>,
    /// Serve HTTPS with this certificate (and chain) and key.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// `Strict-Transport-Security: max-age` when serving HTTPS.
    pub hsts_max_age_secs: Option<u64>,
    /// A plain-HTTP port that only redirects to HTTPS.
    pub redirect_listen: Option<String>,
    /// Addresses or networks of reverse proxies whose X-Forwarded-* headers are believed.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStore {
    pub batch_max_events: Option<usize>,
    pub batch_max_ms: Option<u64>,
    pub segment_max_events: Option<u64>,
    pub segment_max_age_secs: Option<u64>,
    /// Rewrite sealed segments compressed (true).
    pub compress: Option<bool>,
}

impl Config {
    /// The event store's settings. `reserve_bytes`: what the store writer keeps free (0 for
    /// the commands that only read or delete).
    pub fn store_options(&self, reserve_bytes: u64) -> crate::store::sqlite::Options {
        crate::store::sqlite::Options {
            segment_max_events: self.segment_max_events,
            segment_max_age: self.segment_max_age,
            compress: self.compress,
            // Checked when the configuration was read.
            classes: self.retention.classes().unwrap_or_default(),
            archive_dir: self.retention.archive_dir.clone(),
            reserve_bytes,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSpool {
    pub max_bytes: Option<u64>,
}

/// One syslog listener.
#[derive(Debug, Clone)]
pub struct Listener {
    /// Its name (metric label and `picket.listener`).
    pub name: String,
    /// The address to bind.
    pub address: SocketAddr,
    /// Listen on UDP.
    pub udp: bool,
    /// Listen on TCP.
    pub tcp: bool,
    /// Speak TLS on the TCP address (then `udp` and `tcp` are false).
    pub tls: Option<crate::tls::Settings>,
    /// Zone for timestamps without an offset.
    pub timezone: chrono_tz::Tz,
}

/// The checked configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub listeners: Vec<Listener>,
    pub max_frame_bytes: usize,
    pub max_connections: usize,
    pub idle_timeout: Duration,
    pub udp_recv_buffer_bytes: usize,
    pub max_future: Duration,
    pub web_listen: SocketAddr,
    pub batch_max_events: usize,
    pub batch_max_wait: Duration,
    pub segment_max_events: u64,
    pub segment_max_age: Duration,
    /// Sealed segments are stored compressed (`[store] compress`).
    pub compress: bool,
    pub spool_max_bytes: u64,
    /// What the store keeps (`[retention]`).
    pub retention: crate::store::retention::Policy,
    /// Folder of user-defined parsers (`parsers/` by default).
    pub parsers_dir: PathBuf,
    /// Parsers to try first per sender network or listener.
    pub hints: Vec<crate::parse::Hint>,
    /// Parse message bodies (false: header fields only).
    pub parse_body: bool,
    /// The SNMP trap listener, when enabled.
    pub snmp: Option<SnmpConfig>,
    /// What enrichment loads.
    pub enrich: crate::enrich::Settings,
    /// Reverse DNS, when enabled.
    pub reverse_dns: Option<crate::enrich::rdns::Options>,
    /// Mark the dashboard's session cookie `Secure` (`web.secure_cookie`; set it when Picket
    /// is served over HTTPS, directly or behind a proxy).
    pub web_secure_cookie: bool,
    /// HTTPS for the dashboard (`web.tls_cert`, `web.tls_key`).
    pub web_tls: Option<crate::tls::Settings>,
    /// HSTS max-age when serving HTTPS.
    pub web_hsts_max_age: u64,
    /// The plain-HTTP port that redirects to HTTPS.
    pub web_redirect_listen: Option<SocketAddr>,
    /// Reverse proxies whose `X-Forwarded-For` / `X-Forwarded-Proto` are believed.
    pub web_trusted_proxies: Vec<ipnet::IpNet>,
    /// Detection rules.
    pub rules: crate::rules::Settings,
    /// Notification channels and routes, checked.
    pub notify: std::sync::Arc<crate::notify::Notifier>,
    /// SNMP polling: the file's devices and the credentials key.
    pub poll: crate::poll::settings::Settings,
}

/// The validated `[snmp]` section.
#[derive(Debug, Clone)]
pub struct SnmpConfig {
    /// Where traps are received.
    pub listen: SocketAddr,
    /// Accepted communities (`None`: any). A community is a password.
    pub communities: Option<Vec<crate::model::Secret>>,
    /// v3 users with their derived keys.
    pub users: Vec<crate::snmp::usm::User>,
    /// Severity per notification name or numeric OID.
    pub severity: Vec<(String, u8)>,
    /// MIB files to load names from.
    pub mibs_dir: PathBuf,
}

/// Command-line overrides of `serve`.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub data_dir: Option<PathBuf>,
    pub syslog_listen: Vec<String>,
    /// The address of the TLS syslog listener (the file's first `tls = true` listener).
    pub syslog_tls_listen: Option<String>,
    pub web_listen: Option<String>,
    pub snmp_listen: Option<String>,
}

pub const DEFAULT_SYSLOG: &str = "0.0.0.0:1514";
/// RFC 5425's port for syslog over TLS.
pub const DEFAULT_SYSLOG_TLS: &str = "0.0.0.0:6514";
pub const DEFAULT_WEB: &str = "0.0.0.0:8080";
pub const DEFAULT_SNMP: &str = "0.0.0.0:1162";

impl Raw {
    /// Reads `path`; `None` means the built-in defaults.
    pub fn load(path: Option<&Path>) -> Result<(Raw, PathBuf), Error> {
        let Some(path) = path else {
            return Ok((Raw::default(), PathBuf::from("<defaults>")));
        };
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let raw = Raw::parse(&text).map_err(|e| Error::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Ok((raw, path.to_path_buf()))
    }

    /// Parses TOML text; the error names the line and the key.
    pub fn parse(text: &str) -> Result<Raw, TomlError> {
        toml::from_str(text).map_err(|e: toml::de::Error| TomlError {
            line: e.span().map(|s| {
                text.get(..s.start)
                    .unwrap_or_default()
                    .matches('\n')
                    .count()
                    + 1
            }),
            message: e.message().trim().to_string(),
        })
    }

    /// Checks every value and applies overrides.
    pub fn validate(self, path: &Path, o: &Overrides) -> Result<Config, Error> {
        let bad = |key: &str, message: String| Error::Invalid {
            path: path.to_path_buf(),
            key: key.into(),
            message,
        };
        // A section's own check names the key; this adds the file.
        let invalid = |e: crate::model::Invalid| Error::Invalid {
            path: path.to_path_buf(),
            key: e.key,
            message: e.message,
        };
        let tz_of = |key: &str, s: Option<&str>| -> Result<chrono_tz::Tz, Error> {
            match s {
                None => Ok(chrono_tz::Tz::UTC),
                Some(s) => s.parse().map_err(|_| {
                    bad(
                        key,
                        format!(
                            "unknown time zone `{s}` (use an IANA name like Europe/Berlin, or UTC)"
                        ),
                    )
                }),
            }
        };
        let default_tz = tz_of("syslog.timezone", self.syslog.timezone.as_deref())?;
        let addr = |key: &str, s: &str| -> Result<SocketAddr, Error> {
            s.parse()
                .map_err(|_| bad(key, format!("`{s}` is not an IP:port address")))
        };
        let mut listeners = Vec::new();
        // `--syslog-listen` replaces the file's plain listeners; its TLS listeners stay. A file
        // with only TLS listeners gets no plain one.
        if !o.syslog_listen.is_empty() {
            for (i, a) in o.syslog_listen.iter().enumerate() {
                listeners.push(Listener {
                    name: format!("syslog{i}"),
                    address: addr("--syslog-listen", a)?,
                    udp: true,
                    tcp: true,
                    tls: None,
                    timezone: default_tz,
                });
            }
        } else if self.syslog.listener.is_empty() {
            listeners.push(Listener {
                name: "syslog0".into(),
                address: addr("syslog", DEFAULT_SYSLOG)?,
                udp: true,
                tcp: true,
                tls: None,
                timezone: default_tz,
            });
        }
        let mut tls_overridden = false;
        {
            for (i, l) in self.syslog.listener.iter().enumerate() {
                let is_tls = l.tls == Some(true);
                if !o.syslog_listen.is_empty() && !is_tls {
                    continue;
                }
                let key = format!("syslog.listener[{i}]");
                let name = l.name.clone().unwrap_or_else(|| {
                    if is_tls {
                        format!("tls{i}")
                    } else {
                        format!("syslog{i}")
                    }
                });
                if name.is_empty()
                    || !name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                {
                    return Err(bad(
                        &format!("{key}.name"),
                        "use letters, digits, '_' and '-'".into(),
                    ));
                }
                let tls_keys = l.tls_keys();
                let (udp, tcp, tls) = if is_tls {
                    if l.udp == Some(true) || l.tcp == Some(true) {
                        return Err(bad(
                            &key,
                            "a TLS listener speaks only TLS on its TCP address; give plain TCP and UDP a listener of their own".into(),
                        ));
                    }
                    let s = tls_keys.validate(&format!("{key}.")).map_err(invalid)?;
                    (false, false, Some(s))
                } else {
                    if tls_keys.any() {
                        return Err(bad(
                            &format!("{key}.tls"),
                            "tls_* keys are set but tls is not true".into(),
                        ));
                    }
                    let (udp, tcp) = (l.udp.unwrap_or(true), l.tcp.unwrap_or(true));
                    if !udp && !tcp {
                        return Err(bad(&key, "enables neither udp nor tcp".into()));
                    }
                    (udp, tcp, None)
                };
                let default = if is_tls {
                    DEFAULT_SYSLOG_TLS
                } else {
                    DEFAULT_SYSLOG
                };
                let mut address = addr(
                    &format!("{key}.address"),
                    l.address.as_deref().unwrap_or(default),
                )?;
                if let (true, false, Some(a)) = (is_tls, tls_overridden, &o.syslog_tls_listen) {
                    address = addr("--syslog-tls-listen", a)?;
                    tls_overridden = true;
                }
                listeners.push(Listener {
                    name,
                    address,
                    udp,
                    tcp,
                    tls,
                    timezone: match &l.timezone {
                        Some(t) => tz_of(&format!("{key}.timezone"), Some(t))?,
                        None => default_tz,
                    },
                });
            }
        }
        if o.syslog_tls_listen.is_some() && !tls_overridden {
            return Err(bad(
                "--syslog-tls-listen",
                "no TLS listener is configured: add a [[syslog.listener]] with tls = true, tls_cert and tls_key".into(),
            ));
        }
        let mut names: Vec<&str> = listeners.iter().map(|l| l.name.as_str()).collect();
        names.sort_unstable();
        if names.windows(2).any(|w| w.first() == w.get(1)) {
            return Err(bad(
                "syslog.listener.name",
                "listener names must be unique".into(),
            ));
        }
        let s = &self.syslog;
        let max_frame_bytes = s.max_frame_bytes.unwrap_or(64 * 1024);
        if !(480..=16 * 1024 * 1024).contains(&max_frame_bytes) {
            return Err(bad(
                "syslog.max_frame_bytes",
                "must be between 480 and 16777216".into(),
            ));
        }
        let max_connections = s.max_connections.unwrap_or(4096);
        if max_connections == 0 {
            return Err(bad("syslog.max_connections", "must be at least 1".into()));
        }
        let batch_max_events = self.store.batch_max_events.unwrap_or(8192);
        if batch_max_events == 0 {
            return Err(bad("store.batch_max_events", "must be at least 1".into()));
        }
        let segment_max_events = self.store.segment_max_events.unwrap_or(262_144);
        if segment_max_events < 1000 {
            return Err(bad(
                "store.segment_max_events",
                "must be at least 1000".into(),
            ));
        }
        let retention = self.retention.validate().map_err(invalid)?;
        if self.store.compress == Some(false)
            && !(retention.audit_queries.is_empty() && retention.overrides.is_empty())
        {
            return Err(bad(
                "store.compress",
                "must stay on with retention.audit_queries or [[retention.override]]: classes are kept apart when segments are compressed".into(),
            ));
        }
        let spool_max_bytes = self.spool.max_bytes.unwrap_or(8 << 30);
        if spool_max_bytes < 65_536 {
            return Err(bad("spool.max_bytes", "must be at least 65536".into()));
        }
        let listener_names: Vec<&str> = listeners.iter().map(|l| l.name.as_str()).collect();
        let hints = self.parse.hints(&listener_names).map_err(invalid)?;
        let web = o
            .web_listen
            .clone()
            .or(self.web.listen.clone())
            .unwrap_or_else(|| DEFAULT_WEB.into());
        let web_tls = match (&self.web.tls_cert, &self.web.tls_key) {
            (None, None) => None,
            (cert, key) => Some(
                crate::tls::settings::Raw {
                    cert: cert.clone(),
                    key: key.clone(),
                    ..Default::default()
                }
                .validate("web.")
                .map_err(invalid)?,
            ),
        };
        let web_redirect_listen = match &self.web.redirect_listen {
            Some(a) if web_tls.is_none() => {
                return Err(bad(
                    "web.redirect_listen",
                    format!(
                        "`{a}` would redirect to HTTPS, but web.tls_cert and web.tls_key are not set"
                    ),
                ));
            }
            Some(a) => Some(addr("web.redirect_listen", a)?),
            None => None,
        };
        let web_trusted_proxies = self
            .web
            .trusted_proxies
            .iter()
            .map(|p| {
                p.parse::<ipnet::IpNet>()
                    .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        bad(
                            "web.trusted_proxies",
                            format!("`{p}` is not an address or network (10.0.0.1, 10.0.0.0/24)"),
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let snmp = if self.snmp.enabled == Some(false) && o.snmp_listen.is_none() {
            None
        } else {
            let listen = o
                .snmp_listen
                .clone()
                .or(self.snmp.listen.clone())
                .unwrap_or_else(|| DEFAULT_SNMP.into());
            let users = self.snmp.users().map_err(invalid)?;
            let severity = crate::parse::snmp::severities(&self.snmp.severity).map_err(invalid)?;
            Some(SnmpConfig {
                listen: addr("snmp.listen", &listen)?,
                communities: self.snmp.communities.clone(),
                users,
                severity,
                mibs_dir: self
                    .snmp
                    .mibs
                    .clone()
                    .unwrap_or_else(|| PathBuf::from("mibs")),
            })
        };
        let (enrich, reverse_dns) = self.enrich.validate().map_err(invalid)?;
        let notify = self.notify.validate().map_err(invalid)?;
        if self.rules.suppress_secs > 30 * 86_400 {
            return Err(bad("rules.suppress_secs", "at most 30 days".into()));
        }
        let data_dir = o
            .data_dir
            .clone()
            .or(self.data_dir)
            .unwrap_or_else(|| PathBuf::from("picket-data"));
        // The archive is relative to the data directory.
        let mut retention = retention;
        retention.archive_dir = retention.archive_dir.map(|a| data_dir.join(a));
        let poll = self.poll.validate(&data_dir).map_err(invalid)?;
        Ok(Config {
            poll,
            web_secure_cookie: self.web.secure_cookie.unwrap_or(false) || web_tls.is_some(),
            web_tls,
            web_hsts_max_age: self.web.hsts_max_age_secs.unwrap_or(31_536_000),
            web_redirect_listen,
            web_trusted_proxies,
            rules: self.rules,
            notify: std::sync::Arc::new(notify),
            reverse_dns,
            enrich,
            snmp,
            data_dir,
            listeners,
            max_frame_bytes,
            max_connections,
            idle_timeout: Duration::from_secs(s.idle_timeout_secs.unwrap_or(600).max(1)),
            udp_recv_buffer_bytes: s.udp_recv_buffer_bytes.unwrap_or(64 << 20),
            max_future: Duration::from_secs(s.max_future_secs.unwrap_or(900)),
            web_listen: addr("web.listen", &web)?,
            batch_max_events,
            batch_max_wait: Duration::from_millis(self.store.batch_max_ms.unwrap_or(200).max(1)),
            segment_max_events,
            segment_max_age: Duration::from_secs(
                self.store.segment_max_age_secs.unwrap_or(600).max(1),
            ),
            compress: self.store.compress.unwrap_or(true),
            spool_max_bytes,
            retention,
            parse_body: self.parse.body.unwrap_or(true),
            parsers_dir: self.parse.dir.unwrap_or_else(|| PathBuf::from("parsers")),
            hints,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate() {
        let c = Raw::default()
            .validate(Path::new("x"), &Overrides::default())
            .unwrap();
        assert_eq!(c.listeners.len(), 1);
        assert_eq!(c.listeners[0].address.to_string(), DEFAULT_SYSLOG);
        assert_eq!(c.max_frame_bytes, 65536);
    }

    /// Passwords, keys, communities, webhook URLs and header values never show in `Debug`,
    /// neither in the file's form nor in the checked configuration.
    #[test]
    fn debug_never_shows_a_secret() {
        let text = r#"
[snmp]
communities = ["community-s3cret"]
[[snmp.user]]
name = "ops"
auth = "SHA"
auth_password = "authpass-s3cret"
privacy = "AES"
privacy_password = "privpass-s3cret"
[[notify.channel]]
name = "hook"
kind = "webhook"
url = "https://127.0.0.1/hook/url-s3cret"
hmac_secret = "hmac-s3cret"
headers = { Authorization = "Bearer header-s3cret" }
[[notify.channel]]
name = "pd"
kind = "pagerduty"
routing_key = "routing-s3cret"
[[notify.channel]]
name = "mail"
kind = "email"
smtp_host = "127.0.0.1"
from = "picket@example.org"
to = ["ops@example.org"]
username = "picket"
password = "smtp-s3cret"
"#;
        let raw = Raw::parse(text).unwrap();
        let raw_shown = format!("{raw:?}");
        let checked = raw.validate(Path::new("x"), &Overrides::default()).unwrap();
        for shown in [raw_shown, format!("{checked:#?}")] {
            assert!(
                shown.contains("hook") && shown.contains("<redacted>"),
                "{shown}"
            );
            assert!(
                !shown.contains("s3cret"),
                "a secret shows in Debug: {shown}"
            );
        }
    }

    #[test]
    fn unknown_key_names_key_and_line() {
        let e = Raw::parse("[syslog]\ntimezone = \"UTC\"\nmax_frame = 3\n").unwrap_err();
        assert_eq!(e.line, Some(3));
        let e = e.to_string();
        assert!(e.contains("line 3") && e.contains("max_frame"), "{e}");
    }

    #[test]
    fn example_config_is_valid() {
        let text = include_str!("../picket.example.toml");
        let raw = Raw::parse(text).unwrap();
        raw.validate(Path::new("picket.example.toml"), &Overrides::default())
            .unwrap();
    }

    /// TLS listener keys that cannot work are named before any file is read.
    #[test]
    fn tls_listener_mistakes_are_named() {
        let check = |text: &str, o: &Overrides| {
            Raw::parse(text)
                .unwrap()
                .validate(Path::new("f"), o)
                .unwrap_err()
                .to_string()
        };
        let none = Overrides::default();
        let e = check("[[syslog.listener]]\ntls = true\n", &none);
        assert!(e.contains("syslog.listener[0].tls_cert"), "{e}");
        let e = check(
            "[[syslog.listener]]\ntls = true\ntcp = true\ntls_cert = \"c\"\ntls_key = \"k\"\n",
            &none,
        );
        assert!(e.contains("speaks only TLS"), "{e}");
        let e = check("[[syslog.listener]]\ntls_cert = \"c\"\n", &none);
        assert!(
            e.contains("syslog.listener[0].tls") && e.contains("not true"),
            "{e}"
        );
        let e = check(
            "[[syslog.listener]]\ntls = true\ntls_cert = \"c\"\ntls_key = \"k\"\ntls_permitted_peers = [\"fw.*.net\"]\ntls_client_ca = \"ca\"\n",
            &none,
        );
        assert!(e.contains("tls_permitted_peers"), "{e}");
        let e = check(
            "[[syslog.listener]]\ntls = true\ntls_cert = \"c\"\ntls_key = \"k\"\ntls_permitted_fingerprints = [\"AB:CD\"]\n",
            &none,
        );
        assert!(e.contains("not a SHA-256 fingerprint"), "{e}");
        let o = Overrides {
            syslog_tls_listen: Some("127.0.0.1:0".into()),
            ..Overrides::default()
        };
        let e = check("", &o);
        assert!(e.contains("no TLS listener is configured"), "{e}");
        let e = check("[web]\nredirect_listen = \"127.0.0.1:0\"\n", &none);
        assert!(e.contains("web.redirect_listen"), "{e}");
        let e = check("[web]\ntrusted_proxies = [\"proxy\"]\n", &none);
        assert!(e.contains("web.trusted_proxies"), "{e}");
    }

    #[test]
    fn bad_values_are_named() {
        let raw = Raw::parse("[syslog]\ntimezone = \"Mars/Olympus\"\n").unwrap();
        let e = raw
            .validate(Path::new("f"), &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("syslog.timezone") && e.contains("Mars/Olympus"),
            "{e}"
        );
        let raw = Raw::parse("[[syslog.listener]]\naddress = \"nope\"\n").unwrap();
        assert!(
            raw.validate(Path::new("f"), &Overrides::default())
                .unwrap_err()
                .to_string()
                .contains("address")
        );
    }

    #[test]
    fn retention_keys_take_strings_and_numbers() {
        let ok = |t: &str| {
            Raw::parse(t)
                .unwrap()
                .validate(Path::new("f"), &Overrides::default())
        };
        let c = ok("[retention]\nmax_age = \"12h\"\nmax_bytes = \"2GB\"\nmin_free = \"5%\"\nreserve = 1048576\n")
            .unwrap();
        assert_eq!(c.retention.max_age, Duration::from_secs(43_200));
        assert_eq!(c.retention.max_bytes, Some(2_000_000_000));
        assert_eq!(c.retention.reserve, 1 << 20);
        let c = ok("[retention]\nmax_bytes = 5000000\nmin_free = \"1GiB\"\n").unwrap();
        assert_eq!(c.retention.max_bytes, Some(5_000_000));
        for (text, key) in [
            (
                "[retention]\nmax_age = \"3 fortnights\"\n",
                "retention.max_age",
            ),
            ("[retention]\nmax_age = \"0d\"\n", "retention.max_age"),
            ("[retention]\nmax_bytes = \"lots\"\n", "retention.max_bytes"),
            ("[retention]\nmax_bytes = 10\n", "retention.max_bytes"),
            ("[retention]\nmin_free = \"99%\"\n", "retention.min_free"),
        ] {
            let e = ok(text).unwrap_err().to_string();
            assert!(e.contains(key), "{text}: {e}");
        }
    }

    #[test]
    fn overrides_win() {
        let o = Overrides {
            syslog_listen: vec!["127.0.0.1:0".into(), "[::1]:0".into()],
            web_listen: Some("127.0.0.1:0".into()),
            data_dir: Some("d".into()),
            snmp_listen: Some("127.0.0.1:0".into()),
            ..Overrides::default()
        };
        let c = Raw::default().validate(Path::new("x"), &o).unwrap();
        assert_eq!(c.listeners.len(), 2);
        assert_eq!(c.data_dir, PathBuf::from("d"));
    }
}
