//! Sockets only: listeners (UDP, TCP and TLS syslog, SNMP notifications) that turn bytes into [`Frame`](crate::model::Frame)s and hand them,
//! in batches, to a bounded queue. UDP drops (and counts) when the queue is full; TCP waits,
//! which back-pressures the sender.

pub mod framing;
pub mod snmp;
pub mod tcp;
pub mod tls;
pub mod udp;

use crate::model::Frame;

use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

/// A batch of frames in the intake queue, holding its share of the queue's byte budget until
/// the spool writer has taken it.
pub struct FrameBatch {
    /// The frames.
    pub frames: Vec<Frame>,
    _permit: OwnedSemaphorePermit,
}

/// The queue receivers feed, bounded in bytes (UDP batches hold a few datagrams, TCP batches
/// up to a socket read, so a count of batches would bound neither memory nor loss well).
#[derive(Clone)]
pub struct FrameSender {
    tx: mpsc::Sender<FrameBatch>,
    budget: Arc<Semaphore>,
    max_kib: u32,
}

/// Receiving end of the intake queue.
pub type FrameReceiver = mpsc::Receiver<FrameBatch>;

/// A queue holding at most `max_bytes` of frames.
pub fn frame_queue(max_bytes: usize) -> (FrameSender, FrameReceiver) {
    let max_kib = u32::try_from(max_bytes / 1024).unwrap_or(u32::MAX).max(64);
    // The byte budget is the real bound; the batch count only has to be larger than it allows.
    let (tx, rx) = mpsc::channel(65_536);
    let budget = Arc::new(Semaphore::new(max_kib as usize));
    (
        FrameSender {
            tx,
            budget,
            max_kib,
        },
        rx,
    )
}

fn kib(frames: &[Frame], max: u32) -> u32 {
    let bytes: usize = frames.iter().map(|f| f.bytes.len() + 64).sum();
    u32::try_from(bytes.div_ceil(1024))
        .unwrap_or(u32::MAX)
        .clamp(1, max)
}

/// Why a batch was not queued.
pub enum SendError {
    /// The queue is full (UDP drops and counts these).
    Full(Vec<Frame>),
    /// The spool writer is gone (shutting down).
    Closed,
}

impl FrameSender {
    /// Queues a batch if there is room now (UDP).
    pub fn try_send(&self, frames: Vec<Frame>) -> Result<(), SendError> {
        let n = kib(&frames, self.max_kib);
        let Ok(permit) = self.budget.clone().try_acquire_many_owned(n) else {
            return Err(SendError::Full(frames));
        };
        self.tx
            .try_send(FrameBatch {
                frames,
                _permit: permit,
            })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(b) => SendError::Full(b.frames),
                mpsc::error::TrySendError::Closed(_) => SendError::Closed,
            })
    }

    /// Queues a batch, waiting for room (TCP: this is what slows a sender down).
    pub async fn send(&self, frames: Vec<Frame>) -> Result<(), SendError> {
        let n = kib(&frames, self.max_kib);
        let Ok(permit) = self.budget.clone().acquire_many_owned(n).await else {
            return Err(SendError::Closed);
        };
        self.tx
            .send(FrameBatch {
                frames,
                _permit: permit,
            })
            .await
            .map_err(|_| SendError::Closed)
    }
}
