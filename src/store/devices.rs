//! Polled devices in the store behind one narrow trait, [`DeviceBook`]: the devices added in
//! the web UI or with `picket device add` (their definitions, with credentials already sealed
//! by `poll::credentials`: a backend never sees them in the clear), and each device's polled
//! state (status, last poll, ports). SQLite fills it in `store/sqlite/devices.rs`.

use super::Error;
use serde::{Deserialize, Serialize};

/// A device definition as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDevice {
    /// Unique name.
    pub name: String,
    /// The definition as JSON, secrets sealed.
    pub definition: String,
    /// Who added or last changed it.
    pub changed_by: String,
    /// When (µs since the epoch).
    pub changed_at: i64,
}

/// What the poller last learned about a device.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeviceState {
    /// Device name.
    pub name: String,
    /// `up`, `down` or `unknown`.
    pub status: String,
    /// Why it is down: `icmp`, `snmp` or `icmp+snmp`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The parent whose outage hides this device's (no event was sent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppressed_by: Option<String>,
    /// The last SNMP error (`timeout`, `wrong_digest`, `unknown_user` …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When the last poll ended (µs since the epoch).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_poll: Option<i64>,
    /// How long it took (ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub poll_ms: Option<u64>,
    /// Interfaces found.
    pub ports: u64,
    /// sysName.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sys_name: Option<String>,
    /// sysDescr.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sys_descr: Option<String>,
    /// sysObjectID (dotted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sys_object_id: Option<String>,
    /// The profile in use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// The v3 engine ID (hex).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engine_id: Option<String>,
    /// Per-poll telemetry: requests, retries and timeouts of the last poll.
    pub pdus: u64,
    /// Retries in the last poll.
    pub retries: u64,
    /// Timeouts in the last poll.
    pub timeouts: u64,
    /// Each port's status and rates from the last poll.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub interfaces: Vec<crate::model::port::PortReport>,
}

/// Devices and their state.
pub trait DeviceBook: Send {
    /// Every stored device, by name.
    fn devices(&self) -> Result<Vec<StoredDevice>, Error>;
    /// Adds (or, with `replace`, replaces) a device; false when the name is taken and
    /// `replace` is false.
    fn put_device(&mut self, d: &StoredDevice, replace: bool) -> Result<bool, Error>;
    /// Removes a device and its state; false when there was none.
    fn remove_device(&mut self, name: &str) -> Result<bool, Error>;
    /// A number that changes whenever a device is added, changed or removed.
    fn revision(&self) -> Result<i64, Error>;
    /// Records a device's state.
    fn set_state(&mut self, s: &DeviceState) -> Result<(), Error>;
    /// Every recorded state, by name.
    fn states(&self) -> Result<Vec<DeviceState>, Error>;
}
