//! SNMP traps and informs: v1, v2c and v3 with USM.

pub mod message;
pub mod receiver;
pub mod usm;
