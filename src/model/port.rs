//! One polled port's status and rates, as the poller reports them and the device book keeps
//! them (between `poll/interfaces.rs`, which measures, and `store/`, which keeps).

use serde::{Deserialize, Serialize};

/// A port's rates from the last poll (per second; bits for octets).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PortReport {
    /// The stable key (ifName, else ifDescr).
    pub name: String,
    /// ifIndex now.
    pub index: u32,
    /// ifAlias.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// Speed in bits per second (ifHighSpeed, else ifSpeed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speed_bps: Option<f64>,
    /// ifOperStatus: `up`, `down`, … .
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oper: Option<String>,
    /// Inbound bits per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_bps: Option<f64>,
    /// Outbound bits per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub out_bps: Option<f64>,
    /// Inbound errors per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_errors: Option<f64>,
    /// Outbound errors per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub out_errors: Option<f64>,
    /// Inbound discards per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_discards: Option<f64>,
    /// Outbound discards per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub out_discards: Option<f64>,
}
