//! The intake spool: receivers' frames are appended to files on disk at socket speed, and the
//! parse stage reads them back at the store's pace (DESIGN.md, "intake is decoupled from
//! indexing"). A burst larger than the store can index is absorbed here instead of being
//! dropped, and what was accepted survives a crash: the store commits the spool position of
//! the last event it wrote in the same transaction, so a restart resumes exactly there.
//!
//! Files are `NNNNNNNNNNNNNNNN.spool`, each a run of records:
//! `len:u32le crc32:u32le body[len]`, body = `flags:u8 transport:u8 listener:u16le
//! port:u16le family:u8 addr:[u8;16] received_at:i64le payload`. A new file is started at
//! every start and every `FILE_BYTES`, so only the newest file is ever appended to; a torn
//! record at the end of an older file (a crash mid-write) is counted and skipped.
//!
//! The spool is bounded: when the unread backlog exceeds the configured maximum, the writer
//! waits; its input queue then fills, UDP drops (counted) and TCP back-pressures.
#![warn(clippy::indexing_slicing)]

mod reader;
mod writer;

pub use reader::SpoolReader;
pub use writer::SpoolWriter;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// A file is closed and the next begun past this size.
pub const FILE_BYTES: u64 = 64 << 20;
/// Record body bytes before the payload.
const BODY_HEADER: usize = 1 + 1 + 2 + 2 + 1 + 16 + 8;
/// Largest payload a record may hold (frames are far smaller; this bounds a corrupt length).
const MAX_PAYLOAD: usize = 16 << 20;

/// A position in the spool (the store commits it with the events it covers).
pub use crate::model::Checkpoint as SpoolPos;

/// Errors of the spool.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A spool file or directory could not be read or written.
    #[error("spool I/O on {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

#[derive(Debug, Default)]
struct State {
    /// Everything before this position is flushed and readable.
    written: SpoolPos,
    /// The writer has stopped; nothing more will be written.
    writer_done: bool,
    /// Bytes appended since start plus the backlog found at start.
    written_bytes: u64,
    /// Bytes the store has committed.
    committed_bytes: u64,
    /// Set to stop readers waiting for data.
    stop_readers: bool,
}

/// State shared by the writer, the reader and the store's commits.
#[derive(Debug)]
pub struct Shared {
    dir: PathBuf,
    state: Mutex<State>,
    cond: Condvar,
    max_backlog: u64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock means a spool thread panicked; the state itself is plain numbers.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Unread bytes in the spool.
    pub fn backlog_bytes(&self) -> u64 {
        let s = self.lock();
        s.written_bytes.saturating_sub(s.committed_bytes)
    }

    /// Records that the store committed everything up to `pos` (`bytes` more than before),
    /// and deletes spool files wholly before it.
    pub fn committed(&self, pos: SpoolPos, bytes: u64) {
        {
            let mut s = self.lock();
            s.committed_bytes = s.committed_bytes.saturating_add(bytes);
        }
        self.cond.notify_all();
        if let Ok(files) = list_files(&self.dir) {
            for (seq, path) in files {
                if seq < pos.file {
                    if let Err(e) = std::fs::remove_file(&path) {
                        tracing::warn!(path = %path.display(), error = %e, "Could not delete a consumed spool file.");
                    }
                }
            }
        }
    }

    /// Wakes readers blocked waiting for data so that they return what they have.
    pub fn stop_readers(&self) {
        self.lock().stop_readers = true;
        self.cond.notify_all();
    }
}

/// Opens the spool in `dir`, positioned to resume at `resume` (the store's committed position).
/// Returns the writer (which starts a new file), the reader, and the shared handle.
pub fn open(
    dir: &Path,
    resume: SpoolPos,
    max_backlog: u64,
) -> Result<(SpoolWriter, SpoolReader, Arc<Shared>), Error> {
    let io = |source| Error::Io {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let files = list_files(dir).map_err(io)?;
    let mut backlog = 0u64;
    for (seq, path) in &files {
        if *seq < resume.file {
            std::fs::remove_file(path).map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
        } else {
            let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
            backlog += if *seq == resume.file {
                len.saturating_sub(resume.offset)
            } else {
                len
            };
        }
    }
    let next = files
        .last()
        .map_or(resume.file, |(seq, _)| seq + 1)
        .max(resume.file + 1);
    let shared = Arc::new(Shared {
        dir: dir.to_path_buf(),
        state: Mutex::new(State {
            written: SpoolPos {
                file: next,
                offset: 0,
            },
            written_bytes: backlog,
            ..State::default()
        }),
        cond: Condvar::new(),
        max_backlog,
    });
    let writer = SpoolWriter::create(shared.clone(), next)?;
    let reader = SpoolReader::new(shared.clone(), resume);
    Ok((writer, reader, shared))
}

fn file_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:016}.spool"))
}

/// Spool files in `dir`, oldest first.
fn list_files(dir: &Path) -> std::io::Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let seq = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".spool"))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(seq) = seq {
            out.push((seq, path));
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests;
