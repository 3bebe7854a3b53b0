//! TLS material shared by the TLS syslog listener (`ingest/tls.rs`) and HTTPS for the dashboard:
//! what a server-side TLS setting says ([`Settings`]), loading and checking the PEM files
//! ([`files`]), deciding which client certificates to accept ([`verify`]), and rebuilding the
//! rustls configuration when the files change ([`reload`]).
//!
//! rustls with the `ring` provider (already built for mail and webhooks); no OpenSSL. This room
//! does no I/O beyond reading the files it is pointed at, and knows nothing of syslog or HTTP.

pub mod files;
pub mod peers;
pub mod reload;
pub mod settings;
pub mod verify;

use std::path::PathBuf;
use std::time::Duration;

/// Whether a server asks its clients for a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// Never asked for.
    None,
    /// Asked for; a client without one is accepted, one with a bad one is refused.
    Optional,
    /// A client without an acceptable certificate is refused.
    Required,
}

impl ClientAuth {
    /// The configuration word.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientAuth::None => "none",
            ClientAuth::Optional => "optional",
            ClientAuth::Required => "required",
        }
    }

    /// `none`, `optional` or `required`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "none" => Some(ClientAuth::None),
            "optional" => Some(ClientAuth::Optional),
            "required" => Some(ClientAuth::Required),
            _ => None,
        }
    }
}

/// The lowest protocol version a server accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MinVersion {
    /// TLS 1.2 and 1.3.
    Tls12,
    /// TLS 1.3 only.
    Tls13,
}

impl MinVersion {
    /// `1.2` or `1.3`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "1.2" => Some(MinVersion::Tls12),
            "1.3" => Some(MinVersion::Tls13),
            _ => None,
        }
    }
}

/// What a server configuration is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Syslog (RFC 5425): no ALPN, and no TLS 1.3 session tickets. Senders only write; a
    /// ticket they never read makes their kernel answer their own close with a reset, which
    /// throws away what the server had not read yet.
    Syslog,
    /// The dashboard: ALPN `http/1.1`, session tickets for quick reconnects.
    Https,
}

/// A SHA-256 certificate fingerprint (of the DER encoding).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// The fingerprint of a DER certificate.
    pub fn of(der: &[u8]) -> Self {
        use sha2::Digest as _;
        Fingerprint(sha2::Sha256::digest(der).into())
    }

    /// Reads `AB:CD:…` (as `openssl x509 -fingerprint -sha256` prints it), with or without the
    /// colons and an `SHA256:`/`sha256/` prefix, in either case.
    pub fn parse(s: &str) -> Option<Self> {
        // `openssl x509 -fingerprint` prints `sha256 Fingerprint=AB:…`.
        let s = s.trim();
        let s = s.rsplit_once('=').map_or(s, |(_, f)| f);
        let s = ["SHA256:", "sha256:", "SHA256/", "sha256/"]
            .iter()
            .find_map(|p| s.strip_prefix(p))
            .unwrap_or(s);
        let hex: String = s.chars().filter(|c| *c != ':').collect();
        let bytes = data_encoding::HEXUPPER_PERMISSIVE
            .decode(hex.as_bytes())
            .ok()?;
        Some(Fingerprint(bytes.try_into().ok()?))
    }
}

impl std::fmt::Display for Fingerprint {
    /// `AB:CD:…`, the form `openssl` prints and the configuration takes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

/// A server's TLS settings, as checked from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// PEM: the certificate, then its chain.
    pub cert: PathBuf,
    /// PEM: the private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// Whether clients are asked for a certificate.
    pub client_auth: ClientAuth,
    /// PEM file, or a directory of them, of the CAs client certificates must chain to.
    pub client_ca: Option<PathBuf>,
    /// Names a client certificate must carry (DNS SAN or CN; `*.` a leading wildcard).
    pub permitted_peers: Vec<String>,
    /// Client certificates accepted by fingerprint alone, without the chain.
    pub permitted_fingerprints: Vec<Fingerprint>,
    /// The lowest protocol version accepted.
    pub min_version: MinVersion,
    /// Connections that have not finished the handshake in this time are closed.
    pub handshake_timeout: Duration,
}

/// Why TLS material could not be used.
#[derive(Debug)]
pub enum Error {
    /// A file could not be read.
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A file held no usable PEM item of the kind wanted.
    Pem { path: PathBuf, what: &'static str },
    /// The key does not belong to the certificate, or rustls refused the pair.
    Pair { detail: String },
    /// The client CAs could not be used.
    ClientCa { detail: String },
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Read { path, source } => write!(f, "cannot read {}: {source}", path.display()),
            Error::Pem { path, what } => write!(f, "{} holds no {what}", path.display()),
            Error::Pair { detail } => write!(f, "certificate and key: {detail}"),
            Error::ClientCa { detail } => write!(f, "client CA: {detail}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Read { source, .. } => Some(source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_read_as_openssl_prints_them() {
        let f = Fingerprint::of(b"x");
        let shown = f.to_string();
        assert_eq!(shown.len(), 32 * 3 - 1);
        assert_eq!(Fingerprint::parse(&shown), Some(f));
        assert_eq!(Fingerprint::parse(&shown.to_lowercase()), Some(f));
        assert_eq!(
            Fingerprint::parse(&format!("sha256/{}", shown.replace(':', ""))),
            Some(f)
        );
        assert_eq!(
            Fingerprint::parse(&format!("SHA256 Fingerprint={shown}")),
            Some(f)
        );
        assert_eq!(Fingerprint::parse("AB:CD"), None);
        assert_eq!(Fingerprint::parse("zz"), None);
    }
}
