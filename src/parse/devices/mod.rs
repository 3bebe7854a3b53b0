//! Device parsers: one file per vendor product (FortiGate, Cisco ASA/FTD, Juniper SRX, pfSense
//! and OPNsense, PAN-OS, Windows via Snare, Linux auth), each mapping the vendor's documented
//! log format to ECS fields. They are tried before the generic formats, each with a cheap check
//! first.

pub mod cisco_asa;
pub mod fortigate;
pub mod juniper_srx;
pub mod linux_auth;
pub mod panos;
pub mod pfsense;
pub mod windows;
