//! The spool's reading side: the parse stage pulls batches of frames, oldest first.

use super::{BODY_HEADER, MAX_PAYLOAD, Shared, SpoolPos, file_path};
use crate::model::{Frame, Transport};
use bytes::{Buf, BytesMut};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Bytes read from a file at a time.
const READ_BYTES: usize = 1 << 20;

/// What one call to [`SpoolReader::next_batch`] produced.
#[derive(Debug, Default)]
pub struct Batch {
    /// The frames, oldest first.
    pub frames: Vec<Frame>,
    /// The position just after the last frame (or skipped bytes).
    pub end: SpoolPos,
    /// Spool bytes the batch covers (for the backlog gauge).
    pub bytes: u64,
    /// Torn or corrupt records skipped.
    pub corrupt: u64,
    /// The writer is done and everything has been read.
    pub finished: bool,
}

/// Reads frames back from the spool.
pub struct SpoolReader {
    shared: Arc<Shared>,
    pos: SpoolPos,
    file: Option<File>,
    /// Bytes read from the file starting at `pos.offset`, not yet parsed.
    buf: BytesMut,
}

impl SpoolReader {
    pub(super) fn new(shared: Arc<Shared>, pos: SpoolPos) -> Self {
        SpoolReader {
            shared,
            pos,
            file: None,
            buf: BytesMut::new(),
        }
    }

    /// The position of the next unread record.
    pub fn position(&self) -> SpoolPos {
        self.pos
    }

    /// Reads up to `max` frames, waiting up to `wait` when there is nothing to read.
    pub fn next_batch(&mut self, max: usize, wait: Duration) -> Batch {
        let mut batch = Batch {
            end: self.pos,
            ..Batch::default()
        };
        let deadline = Instant::now() + wait;
        while batch.frames.len() < max {
            let (written, done, stopping) = {
                let s = self.shared.lock();
                (s.written, s.writer_done, s.stop_readers)
            };
            // How far this file may be read.
            let limit = if self.pos.file < written.file {
                u64::MAX
            } else {
                written.offset
            };
            let readable_in_buf = self.parse_available(&mut batch, max);
            if readable_in_buf {
                continue;
            }
            if batch.frames.len() >= max {
                break;
            }
            let file_pos = self.pos.offset + self.buf.len() as u64;
            if file_pos < limit {
                match self.fill(limit - file_pos) {
                    Ok(n) if n > 0 => continue,
                    Ok(_) => {}
                    Err(e) => {
                        tracing::error!(file = self.pos.file, error = %e, "Could not read a spool file; skipping it.");
                        if self.pos.file < written.file {
                            self.next_file(&mut batch, true);
                            continue;
                        }
                    }
                }
            }
            if self.pos.file < written.file {
                // End of an older file: anything left in the buffer is a torn record.
                let torn = !self.buf.is_empty();
                self.next_file(&mut batch, torn);
                continue;
            }
            // Caught up with the writer.
            if !batch.frames.is_empty() || done || stopping {
                batch.finished = done && self.buf.is_empty();
                break;
            }
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            let s = self.shared.lock();
            if s.written == written && !s.writer_done && !s.stop_readers {
                drop(self.shared.cond.wait_timeout(s, deadline - now));
            }
        }
        batch.end = self.pos;
        batch
    }

    /// Parses whole records from the buffer into the batch. Returns true when it made progress.
    fn parse_available(&mut self, batch: &mut Batch, max: usize) -> bool {
        let mut progressed = false;
        while batch.frames.len() < max {
            let Some(head) = self.buf.first_chunk::<8>() else {
                break;
            };
            let [l0, l1, l2, l3, c0, c1, c2, c3] = *head;
            let len = u32::from_le_bytes([l0, l1, l2, l3]) as usize;
            let crc = u32::from_le_bytes([c0, c1, c2, c3]);
            if !(BODY_HEADER..=BODY_HEADER + MAX_PAYLOAD).contains(&len) {
                self.corrupt_skip(batch);
                return true;
            }
            let Some(body) = self.buf.get(8..8 + len) else {
                break;
            };
            if crc32fast::hash(body) != crc {
                self.corrupt_skip(batch);
                return true;
            }
            let Some(h) = body.first_chunk::<BODY_HEADER>() else {
                break;
            };
            let h: [u8; BODY_HEADER] = *h;
            let [flags, transport, l0, l1, p0, p1, family, rest @ ..] = h;
            let transport = Transport::from_byte(transport);
            let listener = u16::from_le_bytes([l0, l1]);
            let port = u16::from_le_bytes([p0, p1]);
            let (addr, ts) = rest.split_at(16);
            let addr: [u8; 16] = addr.try_into().unwrap_or([0; 16]);
            let ts: [u8; 8] = ts.try_into().unwrap_or([0; 8]);
            let v6 = Ipv6Addr::from(addr);
            let ip = match (family, v6.to_ipv4_mapped()) {
                (4, Some(v4)) => IpAddr::V4(v4),
                _ => IpAddr::V6(v6),
            };
            self.buf.advance(8 + BODY_HEADER);
            let bytes = self.buf.split_to(len - BODY_HEADER).freeze();
            batch.frames.push(Frame {
                bytes,
                peer: SocketAddr::new(ip, port),
                listener,
                transport,
                received_at: i64::from_le_bytes(ts),
                truncated: flags & 1 != 0,
            });
            let n = (8 + len) as u64;
            self.pos.offset += n;
            batch.bytes += n;
            progressed = true;
        }
        progressed
    }

    /// A record failed its length or checksum: skip the rest of this file.
    fn corrupt_skip(&mut self, batch: &mut Batch) {
        tracing::error!(
            file = self.pos.file,
            offset = self.pos.offset,
            "Skipped a corrupt spool record and the rest of its file."
        );
        self.next_file(batch, true);
    }

    fn next_file(&mut self, batch: &mut Batch, corrupt: bool) {
        if corrupt {
            batch.corrupt += 1;
        }
        let file_len = self
            .file
            .as_ref()
            .and_then(|f| f.metadata().ok())
            .map_or(0, |m| m.len());
        batch.bytes += file_len.saturating_sub(self.pos.offset);
        self.pos = SpoolPos {
            file: self.pos.file + 1,
            offset: 0,
        };
        self.file = None;
        self.buf.clear();
    }

    /// Reads up to `limit` more bytes of the current file into the buffer.
    fn fill(&mut self, limit: u64) -> std::io::Result<usize> {
        if self.file.is_none() {
            let path = file_path(&self.shared.dir, self.pos.file);
            let mut f = match File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
                Err(e) => return Err(e),
            };
            f.seek(SeekFrom::Start(self.pos.offset + self.buf.len() as u64))?;
            self.file = Some(f);
        }
        let Some(f) = self.file.as_mut() else {
            return Ok(0);
        };
        let want = READ_BYTES.min(usize::try_from(limit).unwrap_or(usize::MAX));
        let start = self.buf.len();
        self.buf.resize(start + want, 0);
        let mut got = 0;
        while got < want {
            let Some(dst) = self.buf.get_mut(start + got..start + want) else {
                break;
            };
            match f.read(dst) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.buf.truncate(start + got);
                    return Err(e);
                }
            }
        }
        self.buf.truncate(start + got);
        Ok(got)
    }
}
