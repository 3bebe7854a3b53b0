//! The SNMP protocol: messages (v1, v2c, v3), USM security, the receiving engine (envelopes,
//! authentication, decryption, inform answers), MIB files and OID names. A library for the
//! stages: `ingest/snmp.rs` listens with it, `parse/snmp.rs` turns what it spooled into events.
#![warn(clippy::indexing_slicing)]

pub mod message;
pub mod mib;
pub mod names;
pub mod receiver;
pub mod settings;
pub mod usm;
pub mod v3;
