//! The `[snmp]` section of `picket.toml` as written: the trap listener, the communities, the
//! SNMPv3 users (checked here into USM users with their keys) and the severity map (checked by
//! `parse::snmp`, which applies it). `config.rs` only places it.

use super::usm::{AuthProto, PrivProto, User};
use crate::model::{Invalid, Secret};
use serde::Deserialize;
use std::path::PathBuf;

/// `[snmp]`: the trap listener, communities, v3 users and severities.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSnmp {
    /// Listen address (default 0.0.0.0:1162); `enabled = false` turns the listener off.
    pub listen: Option<String>,
    pub enabled: Option<bool>,
    /// Directory of MIB files whose names are used for OIDs (default `mibs`).
    pub mibs: Option<PathBuf>,
    /// When set, only these v1/v2c communities are accepted (others are counted and refused).
    pub communities: Option<Vec<Secret>>,
    #[serde(default)]
    pub user: Vec<RawSnmpUser>,
    /// Notification name or numeric OID → syslog severity (0–7 or a keyword like `warning`).
    #[serde(default)]
    pub severity: std::collections::BTreeMap<String, toml::Value>,
}

/// `[[snmp.user]]`: an SNMPv3 USM user (no engine ID: keys are localised per sender).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSnmpUser {
    pub name: String,
    pub auth: Option<String>,
    pub auth_password: Option<Secret>,
    pub privacy: Option<String>,
    pub privacy_password: Option<Secret>,
}

impl RawSnmp {
    /// The v3 users, checked, with unique names.
    pub fn users(&self) -> Result<Vec<User>, Invalid> {
        let users = self
            .user
            .iter()
            .enumerate()
            .map(|(i, u)| user(&format!("snmp.user[{i}]"), u))
            .collect::<Result<Vec<_>, _>>()?;
        let mut names: Vec<&str> = users.iter().map(|u| u.name.as_str()).collect();
        names.sort_unstable();
        if names.windows(2).any(|w| w.first() == w.get(1)) {
            return Err(Invalid::new("snmp.user.name", "user names must be unique"));
        }
        Ok(users)
    }
}

/// Checks one `[[snmp.user]]` and derives its keys.
fn user(key: &str, u: &RawSnmpUser) -> Result<User, Invalid> {
    usm_user(
        key,
        ("name", &u.name),
        (&u.auth, &u.auth_password),
        (&u.privacy, &u.privacy_password),
    )
}

/// Checks a USM user as written (the trap receiver's users and polled devices' credentials,
/// under the same key names) and derives its keys; `name` is (key, user name).
pub fn usm_user(
    key: &str,
    name: (&str, &str),
    auth: (&Option<String>, &Option<Secret>),
    privacy: (&Option<String>, &Option<Secret>),
) -> Result<User, Invalid> {
    let err = |k: &str, m: &str| Invalid::new(format!("{key}.{k}"), m);
    if name.1.is_empty() || name.1.len() > 32 {
        return Err(err(name.0, "must be 1 to 32 characters"));
    }
    let auth = match auth {
        (None, None) => None,
        (Some(a), Some(p)) => {
            let proto = AuthProto::parse(a)
                .ok_or_else(|| err("auth", "use MD5, SHA, SHA-224, SHA-256, SHA-384 or SHA-512"))?;
            if p.expose().len() < 8 {
                return Err(err(
                    "auth_password",
                    "must be at least 8 characters (RFC 3414)",
                ));
            }
            Some((proto, p.expose()))
        }
        (Some(_), None) => return Err(err("auth_password", "is required with `auth`")),
        (None, Some(_)) => return Err(err("auth", "is required with `auth_password`")),
    };
    let privacy = match privacy {
        (None, None) => None,
        (Some(x), Some(p)) => {
            if auth.is_none() {
                return Err(err("privacy", "needs `auth` too (authPriv)"));
            }
            let proto = PrivProto::parse(x).ok_or_else(|| {
                err(
                    "privacy",
                    "use DES, AES, AES-192, AES-256, AES-192-C or AES-256-C",
                )
            })?;
            if p.expose().len() < 8 {
                return Err(err(
                    "privacy_password",
                    "must be at least 8 characters (RFC 3414)",
                ));
            }
            Some((proto, p.expose()))
        }
        (Some(_), None) => return Err(err("privacy_password", "is required with `privacy`")),
        (None, Some(_)) => return Err(err("privacy", "is required with `privacy_password`")),
    };
    Ok(User::new(name.1, auth, privacy))
}
