//! Polling SNMP agents: sessions with agents (v1, v2c, v3), table reads in few round trips,
//! and the `.snmprec` recordings of walks. A source beside `ingest/`: it asks devices instead
//! of listening, and its codec is the trap receiver's (`snmp/`).

pub mod book;
pub mod client;
pub mod credentials;
pub mod device;
pub mod interfaces;
pub mod rates;
pub mod scheduler;
pub mod settings;
pub mod snmprec;
pub mod walk;
