//! Login throttling that slows attackers down without locking anyone out. Failed logins are
//! counted per address and per (address, user name) in a sliding window; past their limits
//! that address, or that address for that name, waits (HTTP 429 with `Retry-After`). A user
//! name under attack from many addresses is slowed down, not locked: each further failure
//! doubles the wait (up to a minute), and the wait applies only to addresses that have failed
//! themselves, so the right password from an address with no failures always gets through.
//! The console (`picket user …`) needs no login at all, so an admin is never shut out.
//!
//! Kept in memory (a restart forgets it) and bounded.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long a failure counts.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failures one address may have within [`WINDOW`], whatever the user names.
pub const ADDRESS_LIMIT: usize = 20;
/// Failures one address may have for one user name within [`WINDOW`].
pub const PAIR_LIMIT: usize = 5;
/// Failures of a user name (from every address) before it is slowed down.
pub const USER_FREE: usize = 5;
/// The longest wait a user name's slow-down imposes.
pub const USER_MAX_WAIT: Duration = Duration::from_secs(60);
/// Entries kept per map at most; past it, entries without a failure in the window go, and if
/// that is not enough the map starts again (counted in the log).
const CAP: usize = 50_000;

#[derive(Debug, Default)]
struct State {
    by_address: HashMap<String, Vec<Instant>>,
    by_pair: HashMap<(String, String), Vec<Instant>>,
    by_user: HashMap<String, Slow>,
}

#[derive(Debug)]
struct Slow {
    failures: Vec<Instant>,
    until: Instant,
}

/// Failed-login bookkeeping.
#[derive(Debug, Default)]
pub struct Throttle {
    state: Mutex<State>,
}

fn recent(v: &mut Vec<Instant>, now: Instant) {
    v.retain(|t| now.duration_since(*t) < WINDOW);
}

/// The wait until the oldest of `v` leaves the window.
fn until_oldest_leaves(v: &[Instant], now: Instant) -> Duration {
    v.iter().min().map_or(Duration::ZERO, |t| {
        (*t + WINDOW).saturating_duration_since(now)
    })
}

fn bound<K: std::hash::Hash + Eq, V>(m: &mut HashMap<K, V>, live: impl Fn(&V) -> bool) {
    if m.len() > CAP {
        m.retain(|_, v| live(v));
        if m.len() > CAP {
            tracing::warn!(
                entries = m.len(),
                "Login throttling forgot its failures: more addresses or names failed than it keeps."
            );
            m.clear();
        }
    }
}

impl Throttle {
    /// `Err(wait)` when a login by `user` from `address` must wait before it is even checked.
    pub fn check(&self, address: &str, user: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let mut g = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let mut wait = Duration::ZERO;
        let mut address_failed = false;
        if let Some(v) = g.by_address.get_mut(address) {
            recent(v, now);
            address_failed = !v.is_empty();
            if v.len() >= ADDRESS_LIMIT {
                wait = wait.max(until_oldest_leaves(v, now));
            }
        }
        if let Some(v) = g.by_pair.get_mut(&(address.to_string(), user.to_string())) {
            recent(v, now);
            if v.len() >= PAIR_LIMIT {
                wait = wait.max(until_oldest_leaves(v, now));
            }
        }
        if address_failed {
            if let Some(s) = g.by_user.get(user) {
                wait = wait.max(s.until.saturating_duration_since(now));
            }
        }
        if wait.is_zero() { Ok(()) } else { Err(wait) }
    }

    /// Records a failed login.
    pub fn failed(&self, address: &str, user: &str) {
        let now = Instant::now();
        let mut g = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        bound(&mut g.by_address, |v| {
            v.iter().any(|t| now.duration_since(*t) < WINDOW)
        });
        bound(&mut g.by_pair, |v| {
            v.iter().any(|t| now.duration_since(*t) < WINDOW)
        });
        bound(&mut g.by_user, |s| {
            s.failures.iter().any(|t| now.duration_since(*t) < WINDOW)
        });
        g.by_address
            .entry(address.to_string())
            .or_default()
            .push(now);
        g.by_pair
            .entry((address.to_string(), user.to_string()))
            .or_default()
            .push(now);
        let s = g.by_user.entry(user.to_string()).or_insert(Slow {
            failures: Vec::new(),
            until: now,
        });
        recent(&mut s.failures, now);
        s.failures.push(now);
        if let Some(over) = s.failures.len().checked_sub(USER_FREE) {
            let secs = 1u64 << over.min(6);
            s.until = now + Duration::from_secs(secs).min(USER_MAX_WAIT);
        }
    }

    /// Records a successful login: that address's failures for that name are forgotten.
    pub fn succeeded(&self, address: &str, user: &str) {
        let mut g = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        g.by_pair.remove(&(address.to_string(), user.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attacker_waits_while_a_clean_address_gets_through() {
        let t = Throttle::default();
        for _ in 0..PAIR_LIMIT {
            assert!(t.check("192.0.2.66", "admin").is_ok());
            t.failed("192.0.2.66", "admin");
        }
        let wait = t.check("192.0.2.66", "admin").unwrap_err();
        assert!(wait > Duration::from_secs(60) && wait <= WINDOW, "{wait:?}");
        // Another address is not slowed by the name's failures.
        assert!(t.check("192.0.2.7", "admin").is_ok());
        // The attacker's address may still try other names, up to its own limit.
        for i in 0..(ADDRESS_LIMIT - PAIR_LIMIT) {
            let name = format!("user{i}");
            // The first failure for each name passes; the name's own slow-down starts later.
            assert!(t.check("192.0.2.66", &name).is_ok(), "{i}");
            t.failed("192.0.2.66", &name);
        }
        assert!(t.check("192.0.2.66", "someone").is_err());
    }

    #[test]
    fn a_name_attacked_from_many_addresses_is_slowed_for_them_only() {
        let t = Throttle::default();
        for i in 0..(USER_FREE + 2) {
            t.failed(&format!("198.51.100.{i}"), "admin");
        }
        // Every failing address now waits for the name, a few seconds, not a lock-out.
        let wait = t.check("198.51.100.0", "admin").unwrap_err();
        assert!(wait <= Duration::from_secs(4), "{wait:?}");
        assert!(t.check("203.0.113.5", "admin").is_ok());
    }
}
