//! Certificate renewal without a restart: [`Watched`] holds the rustls configuration built from a
//! server's files and rebuilds it when they change (a renewal tool renaming new files into place
//! changes their inode and mtime) or when asked (SIGHUP). New handshakes take the configuration
//! current when they start; established connections keep theirs. A pair that does not load keeps
//! the previous configuration, and the caller logs and counts the error.

use super::{Error, Purpose, Settings};
use rustls::server::ServerConfig;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::SystemTime;

/// What a file looked like: (modified, length, inode), or `None` if it could not be read.
type Look = Option<(SystemTime, u64, u64)>;

fn look(path: &Path) -> Look {
    let m = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let ino = std::os::unix::fs::MetadataExt::ino(&m);
    #[cfg(not(unix))]
    let ino = 0;
    Some((m.modified().ok()?, m.len(), ino))
}

/// The looks of every file the settings name (a CA directory: the directory and its files).
fn looks(s: &Settings) -> Vec<(PathBuf, Look)> {
    let mut paths = vec![s.cert.clone(), s.key.clone()];
    if let Some(ca) = &s.client_ca {
        paths.push(ca.clone());
        if let Ok(rd) = std::fs::read_dir(ca) {
            let mut inner: Vec<PathBuf> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
            inner.sort();
            paths.extend(inner);
        }
    }
    paths
        .into_iter()
        .map(|p| {
            let l = look(&p);
            (p, l)
        })
        .collect()
}

/// A server configuration kept current with its files.
#[derive(Debug)]
pub struct Watched {
    settings: Settings,
    purpose: Purpose,
    state: RwLock<State>,
}

#[derive(Debug)]
struct State {
    config: Arc<ServerConfig>,
    seen: Vec<(PathBuf, Look)>,
    not_after: i64,
}

/// What [`Watched::check`] did.
#[derive(Debug)]
pub enum Checked {
    /// Nothing changed.
    Unchanged,
    /// The files changed and the new configuration is in use.
    Reloaded,
    /// The files changed but do not load; the previous configuration stays in use.
    Failed(Error),
}

impl Watched {
    /// Loads the files (an error if they do not load).
    pub fn new(settings: Settings, purpose: Purpose) -> Result<Self, Error> {
        let seen = looks(&settings);
        let config = super::files::server_config(&settings, purpose)?;
        let not_after = expiry(&settings);
        Ok(Watched {
            purpose,
            settings,
            state: RwLock::new(State {
                config: Arc::new(config),
                seen,
                not_after,
            }),
        })
    }

    /// The configuration for a new handshake.
    pub fn current(&self) -> Arc<ServerConfig> {
        let g = self.state.read().unwrap_or_else(PoisonError::into_inner);
        g.config.clone()
    }

    /// The end of the served certificate's validity, seconds since the epoch (0: unknown).
    pub fn not_after(&self) -> i64 {
        let g = self.state.read().unwrap_or_else(PoisonError::into_inner);
        g.not_after
    }

    /// The settings it was built from.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Rebuilds the configuration if a file changed since the last look, or always if `force`
    /// (SIGHUP).
    pub fn check(&self, force: bool) -> Checked {
        let now = looks(&self.settings);
        {
            let g = self.state.read().unwrap_or_else(PoisonError::into_inner);
            if !force && g.seen == now {
                return Checked::Unchanged;
            }
        }
        let built = super::files::server_config(&self.settings, self.purpose);
        let mut g = self.state.write().unwrap_or_else(PoisonError::into_inner);
        // Looked at again only after the next change: a half-renewed pair (the certificate
        // renamed, the key not yet) fails once and loads when the key arrives.
        g.seen = now;
        match built {
            Ok(c) => {
                g.config = Arc::new(c);
                g.not_after = expiry(&self.settings);
                Checked::Reloaded
            }
            Err(e) => Checked::Failed(e),
        }
    }
}

fn expiry(s: &Settings) -> i64 {
    super::files::leaf(&s.cert).map_or(0, |i| i.not_after)
}

/// Checks every `every` (and forced on SIGHUP) whether the files of `watched` changed, until
/// `cancel`; `report` hears of each reload or failure (with the position in `watched`).
pub async fn watch<F>(
    watched: Vec<Arc<Watched>>,
    every: std::time::Duration,
    cancel: tokio_util::sync::CancellationToken,
    report: F,
) where
    F: Fn(usize, Checked) + Send + 'static,
{
    #[cfg(unix)]
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    loop {
        #[cfg(unix)]
        let forced = tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(every) => false,
            Some(()) = async {
                match hup.as_mut() {
                    Some(h) => h.recv().await,
                    None => std::future::pending().await,
                }
            } => true,
        };
        #[cfg(not(unix))]
        let forced = tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(every) => false,
        };
        for (i, w) in watched.iter().enumerate() {
            let w = w.clone();
            match tokio::task::spawn_blocking(move || w.check(forced)).await {
                Ok(Checked::Unchanged) => {}
                Ok(c) => report(i, c),
                Err(e) => tracing::error!(error = %e, "TLS reload check failed."),
            }
        }
    }
}
