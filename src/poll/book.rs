//! The devices Picket polls, from both places they are defined: `[[poll.device]]` in the file
//! and the store's device book (web UI and `picket device add`). Stored credentials are sealed
//! here with the device key before the store sees them and opened here when read back.

use super::credentials::Vault;
use super::device::{Device, RawDevice};
use super::settings::Settings;
use crate::model::Secret;
use crate::store::devices::{DeviceBook, StoredDevice};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Why the device list could not be read or changed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::Error),
    /// The device key failed.
    #[error(transparent)]
    Key(#[from] super::credentials::Error),
    /// A definition is invalid.
    #[error(transparent)]
    Invalid(#[from] crate::model::Invalid),
    /// A stored definition no longer reads.
    #[error("device {name}: stored definition does not read: {why}")]
    Stored { name: String, why: String },
}

/// Opens the device book of `data_dir`.
pub fn open(data_dir: &Path) -> Result<Box<dyn DeviceBook>, crate::store::Error> {
    Ok(Box::new(
        crate::store::sqlite::devices::SqliteDevices::open(data_dir)?,
    ))
}

/// The stored JSON form: the definition with each secret sealed.
#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
struct Sealed {
    name: String,
    address: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    community: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_password: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    privacy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    privacy_password: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    interval_secs: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timeout_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retries: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    profile: Option<String>,
}

/// The stored form of `d`, its secrets sealed under `vault`.
pub fn seal(d: &RawDevice, vault: &Vault, by: &str, now: i64) -> StoredDevice {
    let s = |x: &Option<Secret>| x.as_ref().map(|v| vault.seal(v));
    let sealed = Sealed {
        name: d.name.clone(),
        address: d.address.clone(),
        version: d.version.clone(),
        community: s(&d.community),
        user: d.user.clone(),
        auth: d.auth.clone(),
        auth_password: s(&d.auth_password),
        privacy: d.privacy.clone(),
        privacy_password: s(&d.privacy_password),
        interval_secs: d.interval_secs,
        timeout_ms: d.timeout_ms,
        retries: d.retries,
        group: d.group.clone(),
        tags: d.tags.clone(),
        parent: d.parent.clone(),
        profile: d.profile.clone(),
    };
    StoredDevice {
        name: d.name.clone(),
        definition: serde_json::to_string(&sealed).unwrap_or_default(),
        changed_by: by.to_string(),
        changed_at: now,
    }
}

/// The definition back, its secrets opened.
pub fn open_stored(s: &StoredDevice, vault: &Vault) -> Result<RawDevice, Error> {
    let bad = |why: String| Error::Stored {
        name: s.name.clone(),
        why,
    };
    let d: Sealed = serde_json::from_str(&s.definition).map_err(|e| bad(e.to_string()))?;
    let o = |x: &Option<String>| -> Result<Option<Secret>, Error> {
        x.as_deref()
            .map(|v| vault.open(v))
            .transpose()
            .map_err(|e| bad(e.to_string()))
    };
    Ok(RawDevice {
        community: o(&d.community)?,
        auth_password: o(&d.auth_password)?,
        privacy_password: o(&d.privacy_password)?,
        name: d.name,
        address: d.address,
        version: d.version,
        user: d.user,
        auth: d.auth,
        privacy: d.privacy,
        interval_secs: d.interval_secs,
        timeout_ms: d.timeout_ms,
        retries: d.retries,
        group: d.group,
        tags: d.tags,
        parent: d.parent,
        profile: d.profile,
    })
}

/// Every device, file and store, checked together.
pub fn all(
    settings: &Settings,
    book: &dyn DeviceBook,
    vault: &Vault,
) -> Result<Vec<Device>, Error> {
    let stored = book
        .devices()?
        .iter()
        .map(|s| open_stored(s, vault))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(settings.devices(&stored)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_definitions_hold_no_secret_in_the_clear() {
        let vault = Vault::from_key([3; 32]).unwrap();
        let d: RawDevice = toml::from_str(
            "name = \"fw\"\naddress = \"10.0.0.1\"\nversion = \"3\"\nuser = \"u\"\nauth = \"SHA\"\nauth_password = \"authpass1\"\nprivacy = \"AES\"\nprivacy_password = \"privpass1\"\ntags = [\"dc1\"]\n",
        )
        .unwrap();
        let s = seal(&d, &vault, "cli", 5);
        assert!(!s.definition.contains("authpass1"), "{}", s.definition);
        assert!(!s.definition.contains("privpass1"));
        assert!(s.definition.contains("\"user\":\"u\""));
        assert_eq!(open_stored(&s, &vault).unwrap(), d);
        let other = Vault::from_key([4; 32]).unwrap();
        assert!(matches!(open_stored(&s, &other), Err(Error::Stored { .. })));
    }
}
