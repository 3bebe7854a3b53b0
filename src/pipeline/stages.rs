//! The pipeline's own thread loops: the spool writer (frames to disk, holding them while the
//! disk is full), the parse thread (spool to parsed, enriched event batches), and small helpers
//! they share with `mod.rs`.

use super::PARSE_BATCH;
use crate::ingest::FrameReceiver;
use crate::model::Event;
use crate::parse::Chain;
use crate::spool::{self, SpoolReader, SpoolWriter};
use crate::store::EventBatch;
use crate::telemetry::{DropReason, Metrics};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::mpsc::{Receiver, SyncSender};
use std::time::Duration;

/// The spool writer thread: appends every frame batch. It flushes (publishing to the parse
/// thread) once 256 KiB are buffered or the queue has been empty for a millisecond, so that a
/// stream of single datagrams does not cost a write and a wake-up each.
///
/// A full disk never drops a frame here: while less than the reserve is free, or while a write
/// fails, the thread holds the frame and retries every 100 ms without taking more from its
/// queue. The queue then fills: TCP connections stop being read (their senders wait and lose
/// nothing) and UDP datagrams and SNMP notifications are dropped, counted as `disk_full`.
/// Only at shutdown does a frame still held give up (counted as `spool_error`).
pub(super) fn spool_loop(
    mut w: SpoolWriter,
    mut rx: FrameReceiver,
    metrics: Arc<Metrics>,
    room: Room,
    stopping: Arc<AtomicBool>,
) {
    let fail = |n: usize, e: &spool::Error| {
        static LIMIT: crate::telemetry::events::RateLimit =
            crate::telemetry::events::RateLimit::new(10);
        metrics.add_dropped(DropReason::SpoolError, n as u64);
        if let Some(more) = LIMIT.occurred() {
            tracing::error!(error = %e, frames = n, suppressed = more, "Could not write to the spool at shutdown; frames lost.");
        }
    };
    // Runs `op` until it succeeds (and there is room), or shutdown gives up on it.
    let hold = |w: &mut SpoolWriter,
                op: &mut dyn FnMut(&mut SpoolWriter) -> Result<(), spool::Error>|
     -> Result<(), spool::Error> {
        static LIMIT: crate::telemetry::events::RateLimit =
            crate::telemetry::events::RateLimit::new(10);
        let mut waited = false;
        loop {
            let outcome = if room.ok() {
                op(w)
            } else {
                Err(spool::Error::Io {
                    path: room.disk.dir().to_path_buf(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::StorageFull,
                        format!("less than the reserve ({} bytes) is free", room.reserve),
                    ),
                })
            };
            match outcome {
                Ok(()) => {
                    if waited {
                        metrics.disk_full.set(false);
                        tracing::info!("Disk space is back; intake resumes.");
                    }
                    return Ok(());
                }
                Err(e) => {
                    if !waited {
                        metrics.disk_full.set(true);
                        waited = true;
                    }
                    if let Some(more) = LIMIT.occurred() {
                        tracing::error!(error = %e, suppressed = more, "The disk is full: intake waits (TCP senders are held, UDP and SNMP drop as disk_full) until space is freed.");
                    }
                    if stopping.load(Relaxed) {
                        metrics.disk_full.set(false);
                        return Err(e);
                    }
                    std::thread::sleep(Duration::from_millis(100));
                    room.disk.refresh();
                }
            }
        }
    };
    const FLUSH_BYTES: u64 = 256 << 10;
    const LINGER: Duration = Duration::from_millis(1);
    while let Some(first) = rx.blocking_recv() {
        if !w.wait_for_room(Duration::ZERO) {
            metrics.spool_full.set(true);
            tracing::warn!(
                "The spool is full; waiting for the store to catch up (TCP senders are slowed, UDP drops)."
            );
            while !w.wait_for_room(Duration::from_secs(1)) {}
            metrics.spool_full.set(false);
            tracing::info!("The spool has room again.");
        }
        let mut next = Some(first);
        let mut idle_since: Option<std::time::Instant> = None;
        loop {
            if let Some(batch) = next.take() {
                idle_since = None;
                let mut bytes = 0u64;
                // Room is checked once per batch (the reading is cached anyway); a frame is
                // held only when there is none or its append fails.
                if !room.ok() {
                    // Publish what is buffered before waiting, so the store can go on; a
                    // failed flush keeps it buffered for the next one.
                    let _kept_buffered = w.flush();
                    if let Err(e) = hold(&mut w, &mut |_| Ok(())) {
                        fail(0, &e);
                    }
                }
                for f in &batch.frames {
                    let done = match w.append(f) {
                        Ok(()) => Ok(()),
                        Err(_) => hold(&mut w, &mut |w| w.append(f)),
                    };
                    match done {
                        Ok(()) => bytes += f.bytes.len() as u64,
                        Err(e) => fail(1, &e),
                    }
                }
                metrics.spool_written_bytes.inc_by(bytes);
                drop(batch);
                if w.unpublished_bytes() >= FLUSH_BYTES {
                    if let Err(e) = hold(&mut w, &mut |w| w.flush()) {
                        fail(0, &e);
                    }
                }
            }
            match rx.try_recv() {
                Ok(b) => next = Some(b),
                Err(tokio::sync::mpsc::error::TryRecvError::Empty) => {
                    let since = *idle_since.get_or_insert_with(std::time::Instant::now);
                    if since.elapsed() >= LINGER {
                        break;
                    }
                    std::thread::sleep(Duration::from_micros(100));
                }
                Err(tokio::sync::mpsc::error::TryRecvError::Disconnected) => break,
            }
        }
        if let Err(e) = hold(&mut w, &mut |w| w.flush()) {
            fail(0, &e);
        }
    }
    if let Err(e) = w.finish() {
        fail(0, &e);
    }
}

/// Free space the spool writer leaves on the data directory's file system.
pub(super) struct Room {
    pub(super) disk: Arc<crate::disk::Watch>,
    pub(super) reserve: u64,
}

impl Room {
    fn ok(&self) -> bool {
        self.disk.has(self.reserve)
    }
}

/// The parse thread: spool → events → store writer.
pub(super) fn log_reload((files, problems): (Vec<std::path::PathBuf>, Vec<String>)) {
    for p in &problems {
        tracing::error!(problem = %p, "Enrichment reload: a file could not be used.");
    }
    if !files.is_empty() {
        tracing::info!(files = ?files, "Enrichment data reloaded.");
    }
}

pub(super) fn parse_loop(
    mut r: SpoolReader,
    chain: Chain,
    enricher: Arc<crate::enrich::Shared>,
    tx: SyncSender<EventBatch>,
    recycled: Receiver<Vec<Event>>,
    metrics: Arc<Metrics>,
) {
    loop {
        let batch = r.next_batch(PARSE_BATCH, Duration::from_millis(200));
        if batch.corrupt > 0 {
            metrics.add_dropped(DropReason::SpoolCorrupt, batch.corrupt);
        }
        let enrich = enricher.get();
        let mut counts: Vec<(&'static str, u64)> = Vec::new();
        // A vector the store writer is done with, or a new one; either way any events still
        // in it are freed here, by the thread that allocated them.
        let mut events = match recycled.try_recv() {
            Ok(mut v) => {
                v.clear();
                v
            }
            Err(_) => Vec::with_capacity(batch.frames.len()),
        };
        while let Ok(more) = recycled.try_recv() {
            drop(more);
        }
        let (mut invalid, mut clamped) = (0u64, 0u64);
        for f in &batch.frames {
            let mut ev = chain.parse(f);
            enrich.enrich(&mut ev);
            match counts.iter_mut().find(|(p, _)| *p == ev.parser) {
                Some((_, n)) => *n += 1,
                None => counts.push((ev.parser, 1)),
            }
            invalid += u64::from(ev.invalid_utf8);
            clamped += u64::from(ev.clamped_from.is_some());
            events.push(ev);
        }
        metrics.add_parsed(&counts);
        metrics.invalid_utf8.inc_by(invalid);
        metrics.clamped.inc_by(clamped);
        if !events.is_empty() || batch.bytes > 0 {
            let out = EventBatch {
                events,
                checkpoint: batch.end,
                spool_bytes: batch.bytes,
            };
            if tx.send(out).is_err() {
                tracing::error!("The store writer is gone; stopping the parse stage.");
                return;
            }
        }
        if batch.finished {
            return;
        }
    }
}

/// The inode of a socket, to find its kernel counters in /proc/net/udp.
pub(super) fn socket_inode(sock: &std::net::UdpSocket) -> u64 {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/self/fd/{}", sock.as_raw_fd())).map_or(0, |m| m.ino())
}
