//! Picket: one binary that receives syslog and SNMP traps, stores every event in an embedded
//! database, and makes it searchable. See `DESIGN.md` for the data flow:
//! ingest → spool → parse → store, with the web layer reading the store.

pub mod alerts;
pub mod auth;
pub mod cli;
pub mod config;
pub mod disk;
pub mod enrich;
pub mod ingest;
pub mod lifecycle;
pub mod model;
pub mod notify;
pub mod parse;
pub mod pipeline;
pub mod poll;
pub mod priority;
pub mod query;
pub mod rules;
pub mod snmp;
pub mod spool;
pub mod store;
pub mod telemetry;
#[doc(hidden)]
pub mod test_util;
pub mod tls;
pub mod web;
