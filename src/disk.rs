//! Free space on the data directory's file system: the one fact that the spool's reserve, the
//! store writer's pause, the retention policy and the health check share, read from
//! `statvfs` and cached for a moment so that the hot paths can ask per batch.
//!
//! Picket stops taking in data before the disk is full: intake waits while less than the
//! reserve is free, the store writer while less than half of it is, so that what is left can
//! still take the disk alert, the notification outbox and the security log.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Size and free bytes of a file system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Space {
    /// Bytes in all.
    pub total: u64,
    /// Bytes an unprivileged writer may still use.
    pub free: u64,
}

/// Reads the space of the file system holding `path`.
pub fn space(path: &Path) -> std::io::Result<Space> {
    let s = nix::sys::statvfs::statvfs(path).map_err(std::io::Error::from)?;
    let frag = s.fragment_size().max(1);
    Ok(Space {
        total: s.blocks().saturating_mul(frag),
        free: s.blocks_available().saturating_mul(frag),
    })
}

/// How long a reading is reused.
const FRESH: Duration = Duration::from_millis(100);

/// A cached view of the free space under a directory.
#[derive(Debug)]
pub struct Watch {
    dir: PathBuf,
    last: Mutex<Option<(Instant, Space)>>,
}

impl Watch {
    /// Watches the file system of `dir`.
    pub fn new(dir: &Path) -> Watch {
        Watch {
            dir: dir.to_path_buf(),
            last: Mutex::new(None),
        }
    }

    /// The directory watched.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The space now (at most [`FRESH`] old). `None` when it cannot be read: callers then go
    /// on as if there were room, and the write itself reports a full disk.
    pub fn get(&self) -> Option<Space> {
        let mut g = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, s)) = *g {
            if at.elapsed() < FRESH {
                return Some(s);
            }
        }
        let s = space(&self.dir).ok()?;
        *g = Some((Instant::now(), s));
        Some(s)
    }

    /// Forgets the cached reading (after something freed space).
    pub fn refresh(&self) {
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// True while at least `bytes` are free (or the space cannot be read).
    pub fn has(&self, bytes: u64) -> bool {
        self.get().is_none_or(|s| s.free >= bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_real_file_system() {
        let dir = tempfile::tempdir().unwrap();
        let s = space(dir.path()).unwrap();
        assert!(s.total > 0 && s.free <= s.total, "{s:?}");
        let w = Watch::new(dir.path());
        assert!(w.has(0));
        assert!(!w.has(u64::MAX));
    }
}
