//! Vendor parsers: one file per dataset, each mapping a vendor's documented log format to ECS
//! fields. They are tried before the generic formats, each with a cheap check first.

pub mod cisco_asa;
pub mod fortigate;
pub mod juniper_srx;
pub mod linux_auth;
pub mod panos;
pub mod pfsense;
pub mod windows;
