//! A polled device as written (`[[poll.device]]` in the file; the same fields for devices added
//! in the web UI or with `picket device add`, which the store keeps with the secrets
//! encrypted) and as checked: its address, SNMP version and credentials, interval, group,
//! tags, parent and profile.

use super::client::Security;
use crate::model::{Invalid, Secret};
use crate::snmp::message::Version;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// The default poll interval.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
/// The default per-request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(1_500);
/// The default retries after a timeout.
pub const DEFAULT_RETRIES: u32 = 1;

/// One device as written. Secrets are [`Secret`]s: never in `Debug`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDevice {
    /// Unique name (letters, digits, `.`, `-`, `_`).
    pub name: String,
    /// Host name or address, with an optional `:port` (default 161; `[v6]:port`).
    pub address: String,
    /// `1`, `2c` (default) or `3`.
    #[serde(default)]
    pub version: Option<String>,
    /// v1/v2c community.
    #[serde(default)]
    pub community: Option<Secret>,
    /// v3 user name.
    #[serde(default)]
    pub user: Option<String>,
    /// v3 authentication protocol (as in `[[snmp.user]]`).
    #[serde(default)]
    pub auth: Option<String>,
    /// v3 authentication password.
    #[serde(default)]
    pub auth_password: Option<Secret>,
    /// v3 privacy protocol.
    #[serde(default)]
    pub privacy: Option<String>,
    /// v3 privacy password.
    #[serde(default)]
    pub privacy_password: Option<Secret>,
    /// Poll interval (default 60).
    #[serde(default)]
    pub interval_secs: Option<u64>,
    /// Per-request timeout (default 1,500 ms).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Retries after a timeout (default 1).
    #[serde(default)]
    pub retries: Option<u32>,
    /// A group name for the devices page.
    #[serde(default)]
    pub group: Option<String>,
    /// Free tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The device this one is reached through: when it is down, this one is not reported.
    #[serde(default)]
    pub parent: Option<String>,
    /// A profile name instead of the one sysObjectID chooses.
    #[serde(default)]
    pub profile: Option<String>,
}

/// Where a device is defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// `picket.toml`: read-only in the UI.
    File,
    /// Added in the web UI or with `picket device add`.
    Store,
}

/// A checked device.
#[derive(Debug, Clone)]
pub struct Device {
    /// Unique name.
    pub name: String,
    /// Host name or address.
    pub host: String,
    /// UDP port.
    pub port: u16,
    /// Version and credentials.
    pub security: Security,
    /// Poll interval.
    pub interval: Duration,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Retries after a timeout.
    pub retries: u32,
    /// Group.
    pub group: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Parent device name.
    pub parent: Option<String>,
    /// Profile chosen by hand.
    pub profile: Option<String>,
    /// Where it is defined.
    pub origin: Origin,
}

impl Device {
    /// `host:port` as written for display (`[v6]:port` for IPv6).
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Splits `host`, `host:port`, `[v6]` or `[v6]:port`; a bare IPv6 address has no port.
pub fn split_address(a: &str) -> Option<(String, u16)> {
    let a = a.trim();
    if a.is_empty() {
        return None;
    }
    if let Some(rest) = a.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => 161,
            None => return None,
        };
        return Some((host.to_string(), port));
    }
    if a.matches(':').count() > 1 {
        // A bare IPv6 address.
        return a
            .parse::<std::net::Ipv6Addr>()
            .ok()
            .map(|ip| (ip.to_string(), 161));
    }
    match a.split_once(':') {
        Some((h, p)) if !h.is_empty() => Some((h.to_string(), p.parse().ok()?)),
        Some(_) => None,
        None => Some((a.to_string(), 161)),
    }
}

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 64
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

impl RawDevice {
    /// Checks the device; `key` names it in errors (`poll.device[2]`, `device`).
    pub fn check(&self, key: &str, origin: Origin) -> Result<Device, Invalid> {
        let err = |k: &str, m: &str| Invalid::new(format!("{key}.{k}"), m);
        if !valid_name(&self.name) {
            return Err(err(
                "name",
                "must be 1 to 64 letters, digits, '.', '-' or '_'",
            ));
        }
        let (host, port) = split_address(&self.address).ok_or_else(|| {
            err(
                "address",
                "must be a host or address with an optional :port",
            )
        })?;
        let version = match self.version.as_deref().unwrap_or("2c") {
            "1" => Version::V1,
            "2c" | "2" => Version::V2c,
            "3" => Version::V3,
            _ => return Err(err("version", "must be 1, 2c or 3")),
        };
        let security = match version {
            Version::V1 | Version::V2c => {
                if self.user.is_some() || self.auth.is_some() || self.privacy.is_some() {
                    return Err(err("user", "v3 keys need version = \"3\""));
                }
                let community = self
                    .community
                    .as_ref()
                    .ok_or_else(|| err("community", "is required for SNMP v1 and v2c"))?;
                Security::Community {
                    version,
                    community: community.expose().as_bytes().to_vec(),
                }
            }
            Version::V3 => {
                if self.community.is_some() {
                    return Err(err("community", "is for v1 and v2c; v3 uses `user`"));
                }
                let user = self
                    .user
                    .as_deref()
                    .ok_or_else(|| err("user", "is required for SNMP v3"))?;
                let u = crate::snmp::settings::usm_user(
                    key,
                    ("user", user),
                    (&self.auth, &self.auth_password),
                    (&self.privacy, &self.privacy_password),
                )?;
                Security::Usm(Arc::new(u))
            }
        };
        let interval = Duration::from_secs(self.interval_secs.unwrap_or(60));
        if !(Duration::from_secs(1)..=Duration::from_secs(86_400)).contains(&interval) {
            return Err(err("interval_secs", "must be 1 to 86400"));
        }
        let timeout = self
            .timeout_ms
            .map_or(DEFAULT_TIMEOUT, Duration::from_millis);
        if !(Duration::from_millis(10)..=Duration::from_secs(60)).contains(&timeout) {
            return Err(err("timeout_ms", "must be 10 to 60000"));
        }
        let retries = self.retries.unwrap_or(DEFAULT_RETRIES);
        if retries > 10 {
            return Err(err("retries", "must be 0 to 10"));
        }
        if self.parent.as_deref() == Some(self.name.as_str()) {
            return Err(err("parent", "a device cannot be its own parent"));
        }
        Ok(Device {
            name: self.name.clone(),
            host,
            port,
            security,
            interval,
            timeout,
            retries,
            group: self.group.clone().filter(|g| !g.is_empty()),
            tags: self.tags.clone(),
            parent: self.parent.clone().filter(|p| !p.is_empty()),
            profile: self.profile.clone().filter(|p| !p.is_empty()),
            origin,
        })
    }
}

/// Checks a list of devices: each one, unique names, and parents that exist without cycles.
pub fn check_all(raw: &[(RawDevice, Origin)]) -> Result<Vec<Device>, Invalid> {
    let mut out = Vec::with_capacity(raw.len());
    for (i, (d, origin)) in raw.iter().enumerate() {
        let key = match origin {
            Origin::File => format!("poll.device[{i}]"),
            Origin::Store => format!("device {}", d.name),
        };
        out.push(d.check(&key, *origin)?);
    }
    let mut names: std::collections::HashMap<&str, Option<&str>> = Default::default();
    for d in &out {
        if names.insert(&d.name, d.parent.as_deref()).is_some() {
            return Err(Invalid::new(
                "poll.device.name",
                format!("{} is defined twice", d.name),
            ));
        }
    }
    for d in &out {
        let mut at = d.parent.as_deref();
        let mut hops = 0;
        while let Some(p) = at {
            let Some(next) = names.get(p) else {
                return Err(Invalid::new(
                    format!("device {}.parent", d.name),
                    format!("no device is named {p}"),
                ));
            };
            hops += 1;
            if hops > out.len() {
                return Err(Invalid::new(
                    format!("device {}.parent", d.name),
                    "parents form a cycle",
                ));
            }
            at = *next;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(t: &str) -> RawDevice {
        toml::from_str(t).unwrap()
    }

    #[test]
    fn addresses_split_with_default_port() {
        assert_eq!(split_address("sw1"), Some(("sw1".into(), 161)));
        assert_eq!(
            split_address("10.0.0.1:1161"),
            Some(("10.0.0.1".into(), 1161))
        );
        assert_eq!(split_address("[::1]:16161"), Some(("::1".into(), 16161)));
        assert_eq!(split_address("::1"), Some(("::1".into(), 161)));
        assert_eq!(split_address("[::1]x"), None);
        assert_eq!(split_address(":161"), None);
        assert_eq!(split_address("h:notaport"), None);
    }

    #[test]
    fn v2c_and_v3_devices_check_and_hide_secrets() {
        let d = raw("name = \"sw1\"\naddress = \"127.0.0.1:1161\"\ncommunity = \"s3cret\"\n")
            .check("d", Origin::File)
            .unwrap();
        assert_eq!(d.port, 1161);
        assert_eq!(d.interval, DEFAULT_INTERVAL);
        assert!(!format!("{d:?}").contains("s3cret"));
        let v3 = raw(
            "name = \"fw\"\naddress = \"fw.example\"\nversion = \"3\"\nuser = \"u\"\nauth = \"SHA-256\"\nauth_password = \"authpass1\"\nprivacy = \"AES-256-C\"\nprivacy_password = \"privpass1\"\n",
        );
        assert!(!format!("{v3:?}").contains("authpass1"));
        let d = v3.check("d", Origin::Store).unwrap();
        assert_eq!(d.security.version(), Version::V3);
        assert!(!format!("{d:?}").contains("privpass1"));
    }

    #[test]
    fn mistakes_are_named() {
        let e = |t: &str| {
            raw(t)
                .check("poll.device[0]", Origin::File)
                .unwrap_err()
                .to_string()
        };
        assert!(e("name = \"a b\"\naddress = \"x\"\ncommunity = \"c\"").contains("name"));
        assert!(e("name = \"a\"\naddress = \"x\"").contains("community"));
        assert!(e("name = \"a\"\naddress = \"x\"\nversion = \"3\"").contains("user"));
        assert!(
            e("name = \"a\"\naddress = \"x\"\nversion = \"4\"\ncommunity = \"c\"")
                .contains("version")
        );
        assert!(
            e("name = \"a\"\naddress = \"x\"\ncommunity = \"c\"\ninterval_secs = 0")
                .contains("interval_secs")
        );
        let both = |a: &str, b: &str| check_all(&[(raw(a), Origin::File), (raw(b), Origin::Store)]);
        let a = "name = \"a\"\naddress = \"x\"\ncommunity = \"c\"\nparent = \"b\"";
        let b = "name = \"b\"\naddress = \"y\"\ncommunity = \"c\"\nparent = \"a\"";
        assert!(both(a, b).unwrap_err().to_string().contains("cycle"));
        let c = "name = \"b\"\naddress = \"y\"\ncommunity = \"c\"";
        assert_eq!(both(a, c).unwrap().len(), 2);
        assert!(both(c, c).unwrap_err().to_string().contains("twice"));
        let orphan = "name = \"a\"\naddress = \"x\"\ncommunity = \"c\"\nparent = \"zz\"";
        assert!(both(orphan, c).unwrap_err().to_string().contains("zz"));
    }
}
