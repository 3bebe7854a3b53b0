//! Sockets only: listeners that turn bytes into [`Frame`](crate::model::Frame)s and hand them,
//! in batches, to a bounded queue. UDP drops (and counts) when the queue is full; TCP waits,
//! which back-pressures the sender.

pub mod framing;
pub mod tcp;
pub mod udp;

use crate::model::Frame;

/// The queue receivers feed: batches of frames.
pub type FrameSender = tokio::sync::mpsc::Sender<Vec<Frame>>;

/// Microseconds since the Unix epoch, now.
pub fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}
