//! The `[poll]` section of `picket.toml` as written and as checked: whether the poller runs,
//! where the key that encrypts stored credentials lives, and the `[[poll.device]]` list.
//! `config.rs` only places it.

use super::device::{Device, Origin, RawDevice, check_all};
use crate::model::Invalid;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// `[poll]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPoll {
    /// `false` stops polling (devices stay listed).
    pub enabled: Option<bool>,
    /// The file holding the key that encrypts stored credentials (default
    /// `<data_dir>/device-key`, created with mode 0600). `PICKET_DEVICE_KEY` (64 hex digits)
    /// takes precedence.
    pub key_file: Option<PathBuf>,
    /// Seconds between availability checks (default 10): three misses make a device down.
    pub check_secs: Option<u64>,
    /// Devices defined in the file (read-only in the UI).
    #[serde(default)]
    pub device: Vec<RawDevice>,
}

/// `[poll]` checked.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Whether `serve` polls.
    pub enabled: bool,
    /// Where the credentials key lives.
    pub key_file: PathBuf,
    /// The file's devices, as written (merged with the store's at run time).
    pub file_devices: Vec<RawDevice>,
    /// Time between availability checks.
    pub check_every: std::time::Duration,
}

impl RawPoll {
    /// Checks the section; `data_dir` places the default key file.
    pub fn validate(&self, data_dir: &Path) -> Result<Settings, Invalid> {
        let with_origin: Vec<(RawDevice, Origin)> = self
            .device
            .iter()
            .map(|d| (d.clone(), Origin::File))
            .collect();
        // Parents may name devices from the store, which only `serve` sees: checked there.
        for (i, (d, o)) in with_origin.iter().enumerate() {
            d.check(&format!("poll.device[{i}]"), *o)?;
        }
        let mut seen = std::collections::HashSet::new();
        for d in &self.device {
            if !seen.insert(d.name.as_str()) {
                return Err(Invalid::new(
                    "poll.device.name",
                    format!("{} is defined twice", d.name),
                ));
            }
        }
        let check = self.check_secs.unwrap_or(10);
        if !(1..=3600).contains(&check) {
            return Err(Invalid::new("poll.check_secs", "must be 1 to 3600"));
        }
        Ok(Settings {
            check_every: std::time::Duration::from_secs(check),
            enabled: self.enabled.unwrap_or(true),
            key_file: self
                .key_file
                .clone()
                .unwrap_or_else(|| data_dir.join("device-key")),
            file_devices: self.device.clone(),
        })
    }
}

impl Settings {
    /// The file's devices with `stored`, checked together (unique names, parents).
    pub fn devices(&self, stored: &[RawDevice]) -> Result<Vec<Device>, Invalid> {
        let all: Vec<(RawDevice, Origin)> = self
            .file_devices
            .iter()
            .map(|d| (d.clone(), Origin::File))
            .chain(stored.iter().map(|d| (d.clone(), Origin::Store)))
            .collect();
        check_all(&all)
    }
}
