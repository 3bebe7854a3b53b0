//! One type per occurrence worth counting or logging (Vector's `internal_events` pattern):
//! call sites stay one line, names stay consistent, and per-event logs are rate-limited.

use super::{DropReason, Metrics};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering::Relaxed};

/// Logs at most once per `every_secs` per call site.
pub struct RateLimit {
    last: AtomicI64,
    every_secs: i64,
    /// Occurrences not logged since the last line.
    suppressed: std::sync::atomic::AtomicU64,
}

impl RateLimit {
    /// A limiter that lets one message through every `every_secs` seconds.
    pub const fn new(every_secs: i64) -> Self {
        RateLimit {
            last: AtomicI64::new(i64::MIN),
            every_secs,
            suppressed: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Counts one occurrence; when a line may be logged now, returns how many occurrences
    /// were not logged since the previous line (what that line should report).
    pub fn occurred(&self) -> Option<u64> {
        if self.allow() {
            Some(self.suppressed.swap(0, Relaxed))
        } else {
            self.suppressed.fetch_add(1, Relaxed);
            None
        }
    }

    /// True when a message may be logged now.
    pub fn allow(&self) -> bool {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let last = self.last.load(Relaxed);
        if last != i64::MIN && now.saturating_sub(last) < self.every_secs {
            return false;
        }
        self.last
            .compare_exchange(last, now, Relaxed, Relaxed)
            .is_ok()
    }
}

/// Frames were dropped.
pub struct FramesDropped<'a> {
    pub reason: DropReason,
    pub count: u64,
    pub listener: &'a str,
}

impl FramesDropped<'_> {
    pub fn emit(self, m: &Metrics) {
        static LIMIT: RateLimit = RateLimit::new(10);
        m.add_dropped(self.reason, self.count);
        if LIMIT.allow() {
            tracing::error!(
                reason = self.reason.as_str(),
                count = self.count,
                listener = self.listener,
                "Dropped frames."
            );
        }
    }
}

/// A frame was longer than the maximum and was cut.
pub struct FrameTruncated<'a> {
    pub peer: SocketAddr,
    pub listener: &'a str,
    pub max: usize,
}

impl FrameTruncated<'_> {
    pub fn emit(self, m: &Metrics) {
        static LIMIT: RateLimit = RateLimit::new(10);
        m.truncated.inc();
        if LIMIT.allow() {
            tracing::warn!(peer = %self.peer, listener = self.listener, max_bytes = self.max, "Truncated a frame over the maximum size.");
        }
    }
}

/// A TCP connection was refused because the connection limit was reached.
pub struct TcpConnectionRejected {
    pub peer: SocketAddr,
    pub limit: usize,
}

impl TcpConnectionRejected {
    pub fn emit(self, m: &Metrics) {
        static LIMIT: RateLimit = RateLimit::new(10);
        m.tcp_rejected.inc();
        if LIMIT.allow() {
            tracing::warn!(peer = %self.peer, limit = self.limit, "Refused a TCP connection at the connection limit.");
        }
    }
}

/// A TCP connection ended with an I/O error.
pub struct TcpConnectionError<'a> {
    pub peer: SocketAddr,
    pub error: &'a std::io::Error,
}

impl TcpConnectionError<'_> {
    pub fn emit(self) {
        static LIMIT: RateLimit = RateLimit::new(10);
        if LIMIT.allow() {
            tracing::debug!(peer = %self.peer, error = %self.error, "Closed TCP connection after an I/O error.");
        }
    }
}
