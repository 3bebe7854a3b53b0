//! The `tls_*` keys of a `[[syslog.listener]]` (and `web.tls_cert`/`web.tls_key`), checked into
//! [`Settings`]: which files, which client certificates, which protocol versions. The files are
//! loaded once here too, so that `picket config check` and start-up report a bad pair at once.

use super::{ClientAuth, Fingerprint, MinVersion, Settings};
use crate::model::Invalid;
use std::path::PathBuf;
use std::time::Duration;

/// The TLS keys as written.
#[derive(Debug, Default, Clone)]
pub struct Raw {
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub client_auth: Option<String>,
    pub client_ca: Option<PathBuf>,
    pub permitted_peers: Vec<String>,
    pub permitted_fingerprints: Vec<String>,
    pub min_version: Option<String>,
    pub handshake_timeout_secs: Option<u64>,
}

/// Default `tls_handshake_timeout_secs`.
pub const HANDSHAKE_TIMEOUT_SECS: u64 = 10;

impl Raw {
    /// Whether any key beyond the on/off switch is set.
    pub fn any(&self) -> bool {
        self.cert.is_some()
            || self.key.is_some()
            || self.client_auth.is_some()
            || self.client_ca.is_some()
            || !self.permitted_peers.is_empty()
            || !self.permitted_fingerprints.is_empty()
            || self.min_version.is_some()
            || self.handshake_timeout_secs.is_some()
    }

    /// Checks the keys (named `{prefix}tls_…`) and loads the files.
    pub fn validate(&self, prefix: &str) -> Result<Settings, Invalid> {
        let key = |k: &str| format!("{prefix}tls_{k}");
        let cert = self
            .cert
            .clone()
            .ok_or_else(|| Invalid::new(key("cert"), "a TLS listener needs a certificate file"))?;
        let private = self
            .key
            .clone()
            .ok_or_else(|| Invalid::new(key("key"), "a TLS listener needs a key file"))?;
        let permitted_fingerprints = self
            .permitted_fingerprints
            .iter()
            .map(|f| {
                Fingerprint::parse(f).ok_or_else(|| {
                    Invalid::new(
                        key("permitted_fingerprints"),
                        format!(
                            "`{f}` is not a SHA-256 fingerprint (AB:CD:… as openssl prints it)"
                        ),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let client_auth = match self.client_auth.as_deref() {
            None if self.client_ca.is_some() || !permitted_fingerprints.is_empty() => {
                ClientAuth::Required
            }
            None => ClientAuth::None,
            Some(s) => ClientAuth::parse(s).ok_or_else(|| {
                Invalid::new(
                    key("client_auth"),
                    format!("`{s}`: use none, optional or required"),
                )
            })?,
        };
        if !self.permitted_peers.is_empty() && self.client_ca.is_none() {
            return Err(Invalid::new(
                key("permitted_peers"),
                "names are checked on certificates that chain to tls_client_ca; set it too",
            ));
        }
        for p in &self.permitted_peers {
            let rest = p.strip_prefix("*.").unwrap_or(p);
            if rest.is_empty() || rest.contains('*') {
                return Err(Invalid::new(
                    key("permitted_peers"),
                    format!("`{p}`: `*.` is allowed only as a leading label"),
                ));
            }
        }
        let min_version = match self.min_version.as_deref() {
            None => MinVersion::Tls12,
            Some(s) => MinVersion::parse(s).ok_or_else(|| {
                Invalid::new(key("min_version"), format!("`{s}`: use 1.2 or 1.3"))
            })?,
        };
        let secs = self
            .handshake_timeout_secs
            .unwrap_or(HANDSHAKE_TIMEOUT_SECS);
        if secs == 0 {
            return Err(Invalid::new(
                key("handshake_timeout_secs"),
                "must be at least 1",
            ));
        }
        let s = Settings {
            cert,
            key: private,
            client_auth,
            client_ca: self.client_ca.clone(),
            permitted_peers: self.permitted_peers.clone(),
            permitted_fingerprints,
            min_version,
            handshake_timeout: Duration::from_secs(secs),
        };
        if s.client_auth != ClientAuth::None
            && s.client_ca.is_none()
            && s.permitted_fingerprints.is_empty()
        {
            return Err(Invalid::new(
                key("client_auth"),
                "client certificates are asked for: set tls_client_ca or tls_permitted_fingerprints to say which are accepted",
            ));
        }
        super::files::server_config(&s, super::Purpose::Https)
            .map_err(|e| Invalid::new(key("cert"), e))?;
        Ok(s)
    }
}
