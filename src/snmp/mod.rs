//! SNMP traps and informs: v1, v2c and v3 with USM.
#![warn(clippy::indexing_slicing)]

pub mod event;
pub mod listener;
pub mod message;
pub mod mib;
pub mod names;
pub mod receiver;
pub mod usm;
