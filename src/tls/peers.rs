//! Who the TLS senders are: for each sender address, the client certificate's subject and
//! SHA-256 fingerprint from its latest TLS connection, the listener and when. The syslog
//! listener records each handshake here; the senders page shows it. Kept in memory and bounded
//! (the oldest entries go first); a restart starts empty, and the next connection fills it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};

/// Sender addresses kept at most.
const MAX: usize = 10_000;

/// A sender's latest TLS connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// The listener's name.
    pub listener: String,
    /// The client certificate's subject (`None`: the client sent no certificate).
    pub subject: Option<String>,
    /// Its SHA-256 fingerprint.
    pub fingerprint: Option<String>,
    /// When the handshake finished, microseconds since the epoch.
    pub at: i64,
}

/// The TLS peers by sender address.
#[derive(Debug, Default)]
pub struct Peers {
    map: Mutex<HashMap<IpAddr, Peer>>,
}

impl Peers {
    /// Records a finished handshake.
    pub fn record(&self, ip: IpAddr, peer: Peer) {
        let mut g = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if g.len() >= MAX && !g.contains_key(&ip) {
            if let Some(oldest) = g.iter().min_by_key(|(_, p)| p.at).map(|(ip, _)| *ip) {
                g.remove(&oldest);
            }
        }
        g.insert(ip, peer);
    }

    /// The latest TLS connection of `ip`, if it has made one.
    pub fn get(&self, ip: IpAddr) -> Option<Peer> {
        let g = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        g.get(&ip).cloned()
    }
}
