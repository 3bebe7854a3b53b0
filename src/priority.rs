//! Thread priorities: intake first. Everything behind the spool (parse, store writer, rules,
//! indexer, retention) may fall behind during a burst, because the spool holds what it has not
//! read yet; the UDP, SNMP and spool threads may not, because a UDP datagram the socket buffer
//! has no room for is lost. On 2 cores a 400,000/s UDP burst lost up to 10% in the kernel while
//! the parse, store and rules threads took their share of the CPU (bench/compare.sh udp-400k).
//!
//! A background thread raises its own nice value, which needs no privilege and affects only the
//! calling thread on Linux.

/// How much less CPU weight a background thread has: nice 5 is about a third of nice 0.
const BACKGROUND_NICE: i32 = 5;

/// Marks the calling thread as background work. Best effort: where the system refuses, the
/// thread runs at the normal priority and nothing else changes.
pub fn background() {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::process::nice(BACKGROUND_NICE) {
        tracing::debug!(error = %e, "Could not lower this thread's priority.");
    }
}
