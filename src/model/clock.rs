//! The clock: microseconds since the Unix epoch, the unit of every timestamp in Picket. It is
//! here, at the bottom of the data flow, so that intake, the store, the rules, alerts, auth and
//! the web layer all read time from one place instead of from the intake module.
//!
//! [`Clock`] is the injectable form: a component that takes one can be driven by a test's
//! clock; [`now_micros`] is the system clock for the rest.

/// A source of the current time.
pub trait Clock: Send + Sync {
    /// Microseconds since the Unix epoch, now.
    fn now_micros(&self) -> i64;
}

/// The system's real-time clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_micros(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
    }
}

/// Microseconds since the Unix epoch, now, on the system clock.
pub fn now_micros() -> i64 {
    SystemClock.now_micros()
}
