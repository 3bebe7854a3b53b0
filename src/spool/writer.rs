//! The spool's writing side: one thread appends frames and publishes what is flushed.

use super::{BODY_HEADER, Error, FILE_BYTES, Shared, SpoolPos, file_path};
use crate::model::Frame;
use std::fs::File;
use std::io::Write;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Bytes buffered before a write to the file.
const BUF_BYTES: usize = 1 << 20;

/// Appends frames to the spool. Owned by the `picket-spool-writer` thread.
///
/// Records are buffered whole in `buf` and written by [`SpoolWriter::flush`]. A failed write
/// (a full disk) keeps whatever was not written in the buffer, and a failed append adds
/// nothing, so the caller can simply retry the same frame later: the file never holds half a
/// record followed by a repeat.
pub struct SpoolWriter {
    shared: Arc<Shared>,
    file: File,
    buf: Vec<u8>,
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
            file,
            buf: Vec::with_capacity(BUF_BYTES),
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

    /// Appends one frame (buffered; see [`SpoolWriter::flush`]). On error nothing of the frame
    /// was added.
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
        if !self.buf.is_empty() && self.buf.len() + head.len() + f.bytes.len() > BUF_BYTES {
            self.write_buffer()?;
        }
        self.buf.extend_from_slice(&head);
        self.buf.extend_from_slice(&f.bytes);
        let n = (8 + body_len) as u64;
        self.offset += n;
        self.unpublished += n;
        Ok(())
    }

    /// Writes buffered records to the file, publishes them to readers, rotates the file when
    /// it is full and syncs to disk at most once a second.
    pub fn flush(&mut self) -> Result<(), Error> {
        self.write_buffer()?;
        let io = |seq, source| Error::Io {
            path: file_path(&self.shared.dir, seq),
            source,
        };
        if self.unpublished > 0
            && (self.sync_queued.0 != self.seq
                || self.sync_queued.1.elapsed() >= Duration::from_millis(250))
        {
            self.sync.add(&self.file);
            self.sync_queued = (self.seq, Instant::now());
        }
        let rotate = self.offset >= FILE_BYTES;
        if rotate {
            let next = self.seq + 1;
            let path = file_path(&self.shared.dir, next);
            self.file = File::create(&path).map_err(|e| io(next, e))?;
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

    /// Writes the buffer to the file. What a failed write did not take stays buffered, so a
    /// later call continues exactly where this one stopped.
    fn write_buffer(&mut self) -> Result<(), Error> {
        let mut done = 0;
        let r = loop {
            let Some(rest) = self.buf.get(done..).filter(|r| !r.is_empty()) else {
                break Ok(());
            };
            // `write`, not `write_all`: the count of a short write is what keeps the buffer
            // exact when the disk fills mid-record.
            #[allow(clippy::disallowed_methods)]
            let written = self.file.write(rest);
            match written {
                Ok(0) => break Err(std::io::Error::from(std::io::ErrorKind::WriteZero)),
                Ok(n) => done += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        self.buf.drain(..done);
        r.map_err(|source| Error::Io {
            path: file_path(&self.shared.dir, self.seq),
            source,
        })
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
