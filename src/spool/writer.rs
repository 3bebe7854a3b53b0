//! The spool's writing side: one thread appends frames and publishes what is flushed.

use super::{BODY_HEADER, Error, FILE_BYTES, Shared, SpoolPos, file_path};
use crate::model::Frame;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Bytes buffered before a write to the file.
const BUF_BYTES: usize = 1 << 20;

/// Appends frames to the spool. Owned by the `picket-spool-writer` thread.
pub struct SpoolWriter {
    shared: Arc<Shared>,
    file: BufWriter<File>,
    seq: u64,
    offset: u64,
    unpublished: u64,
    sync: Syncer,
    /// The file last handed to the syncer, and when.
    sync_queued: (u64, Instant),
}

/// Syncs spool files to disk once a second on its own thread (`picket-spool-sync`), so that a
/// slow fsync never stalls intake: a process crash loses nothing written to the page cache,
/// and a power cut at most the last second.
struct Syncer {
    files: Arc<std::sync::Mutex<Vec<File>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Syncer {
    fn start() -> Syncer {
        let files: Arc<std::sync::Mutex<Vec<File>>> = Arc::default();
        let stop: Arc<std::sync::atomic::AtomicBool> = Arc::default();
        let (f, s) = (files.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("picket-spool-sync".into())
            .spawn(move || {
                while !s.load(std::sync::atomic::Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(250));
                    Syncer::sync_all(&f);
                }
            })
            .map_err(|e| tracing::error!(error = %e, "Could not start the spool sync thread; the spool is synced at shutdown only."))
            .ok();
        Syncer {
            files,
            stop,
            thread,
        }
    }

    /// Queues a handle of a file to sync (the current file, once per flush interval).
    fn add(&self, file: &File) {
        if let (Ok(dup), Ok(mut g)) = (file.try_clone(), self.files.lock()) {
            if g.len() < 64 {
                g.push(dup);
            }
        }
    }

    fn sync_all(files: &std::sync::Mutex<Vec<File>>) {
        let batch: Vec<File> = match files.lock() {
            Ok(mut g) => std::mem::take(&mut *g),
            Err(_) => return,
        };
        for f in batch {
            if let Err(e) = f.sync_data() {
                tracing::error!(error = %e, "Could not sync a spool file to disk.");
            }
        }
    }

    fn stop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                tracing::error!("The spool sync thread panicked.");
            }
        }
        Syncer::sync_all(&self.files);
    }
}

impl SpoolWriter {
    pub(super) fn create(shared: Arc<Shared>, seq: u64) -> Result<Self, Error> {
        let path = file_path(&shared.dir, seq);
        let file = File::create(&path).map_err(|source| Error::Io { path, source })?;
        Ok(SpoolWriter {
            shared,
            file: BufWriter::with_capacity(BUF_BYTES, file),
            seq,
            offset: 0,
            unpublished: 0,
            sync: Syncer::start(),
            sync_queued: (u64::MAX, Instant::now()),
        })
    }

    /// Waits while the backlog is over the limit (this is what back-pressures TCP senders).
    /// Returns false if it gave up after `max_wait`.
    pub fn wait_for_room(&self, max_wait: Duration) -> bool {
        let deadline = Instant::now() + max_wait;
        let mut s = self.shared.lock();
        loop {
            if s.written_bytes.saturating_sub(s.committed_bytes) < self.shared.max_backlog {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            s = match self.shared.cond.wait_timeout(s, deadline - now) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        }
    }

    /// Appends one frame (buffered; see [`SpoolWriter::flush`]).
    pub fn append(&mut self, f: &Frame) -> Result<(), Error> {
        let mut head = [0u8; 8 + BODY_HEADER];
        let body_len = BODY_HEADER + f.bytes.len();
        let (family, addr) = match f.peer.ip() {
            IpAddr::V4(a) => (4u8, a.to_ipv6_mapped().octets()),
            IpAddr::V6(a) => (6u8, a.octets()),
        };
        let mut w = Cursor {
            buf: &mut head,
            pos: 8,
        };
        w.put(&[u8::from(f.truncated), f.transport.to_byte()]);
        w.put(&f.listener.to_le_bytes());
        w.put(&f.peer.port().to_le_bytes());
        w.put(&[family]);
        w.put(&addr);
        w.put(&f.received_at.to_le_bytes());
        let mut crc = crc32fast::Hasher::new();
        crc.update(head.get(8..).unwrap_or_default());
        crc.update(&f.bytes);
        let mut w = Cursor {
            buf: &mut head,
            pos: 0,
        };
        w.put(&(body_len as u32).to_le_bytes());
        w.put(&crc.finalize().to_le_bytes());
        let io = |source| Error::Io {
            path: file_path(&self.shared.dir, self.seq),
            source,
        };
        self.file.write_all(&head).map_err(io)?;
        self.file.write_all(&f.bytes).map_err(io)?;
        let n = (8 + body_len) as u64;
        self.offset += n;
        self.unpublished += n;
        Ok(())
    }

    /// Writes buffered records to the file, publishes them to readers, rotates the file when
    /// it is full and syncs to disk at most once a second.
    pub fn flush(&mut self) -> Result<(), Error> {
        let io = |seq, source| Error::Io {
            path: file_path(&self.shared.dir, seq),
            source,
        };
        self.file.flush().map_err(|e| io(self.seq, e))?;
        if self.unpublished > 0
            && (self.sync_queued.0 != self.seq
                || self.sync_queued.1.elapsed() >= Duration::from_millis(250))
        {
            self.sync.add(self.file.get_ref());
            self.sync_queued = (self.seq, Instant::now());
        }
        let rotate = self.offset >= FILE_BYTES;
        if rotate {
            let next = self.seq + 1;
            let path = file_path(&self.shared.dir, next);
            let file = File::create(&path).map_err(|e| io(next, e))?;
            self.file = BufWriter::with_capacity(BUF_BYTES, file);
            self.seq = next;
            self.offset = 0;
        }
        {
            let mut s = self.shared.lock();
            s.written = SpoolPos {
                file: self.seq,
                offset: self.offset,
            };
            s.written_bytes += self.unpublished;
        }
        self.unpublished = 0;
        self.shared.cond.notify_all();
        Ok(())
    }

    /// Bytes appended but not yet flushed and published.
    pub fn unpublished_bytes(&self) -> u64 {
        self.unpublished
    }

    /// Flushes, syncs and tells readers that nothing more will come.
    pub fn finish(mut self) -> Result<(), Error> {
        let r = self.flush();
        self.sync.stop();
        self.shared.lock().writer_done = true;
        self.shared.cond.notify_all();
        r
    }
}

impl Drop for SpoolWriter {
    fn drop(&mut self) {
        self.sync.stop();
        self.shared.lock().writer_done = true;
        self.shared.cond.notify_all();
    }
}

struct Cursor<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn put(&mut self, bytes: &[u8]) {
        if let Some(dst) = self.buf.get_mut(self.pos..self.pos + bytes.len()) {
            dst.copy_from_slice(bytes);
        }
        self.pos += bytes.len();
    }
}
