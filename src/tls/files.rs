//! Reading a server's TLS files: the certificate chain and key (checked to belong together),
//! the client CAs (a PEM file or a directory of them), what a certificate says (subject, names,
//! expiry) and the checks `picket config check` reports (expiry soon, a key others can read).
//! [`server_config`] turns them into the rustls configuration a listener hands out.

use super::verify::PeerVerifier;
use super::{Error, Fingerprint, MinVersion, Purpose, Settings};
use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::ServerConfig;
use rustls::sign::CertifiedKey;
use std::path::Path;
use std::sync::Arc;

/// The crypto provider every Picket TLS endpoint uses.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Every certificate of a PEM file, in file order.
pub fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let pem = read(path)?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&pem)
        .filter_map(Result::ok)
        .collect();
    if certs.is_empty() {
        return Err(Error::Pem {
            path: path.to_path_buf(),
            what: "PEM certificate",
        });
    }
    Ok(certs)
}

/// The certificate chain and its key, checked to belong together.
pub fn certified_key(cert: &Path, key: &Path) -> Result<Arc<CertifiedKey>, Error> {
    let chain = certificates(cert)?;
    let pem = read(key)?;
    let key_der = PrivateKeyDer::from_pem_slice(&pem).map_err(|_| Error::Pem {
        path: key.to_path_buf(),
        what: "PEM private key",
    })?;
    let signer = provider()
        .key_provider
        .load_private_key(key_der)
        .map_err(|e| Error::Pair {
            detail: format!("the key cannot be used: {e}"),
        })?;
    let ck = CertifiedKey::new(chain, signer);
    ck.keys_match().map_err(|e| Error::Pair {
        detail: format!("the key does not belong to the certificate ({e})"),
    })?;
    Ok(Arc::new(ck))
}

/// The CAs of a PEM file, or of every file in a directory (files that hold no certificate are
/// skipped; a directory without any is an error).
pub fn roots(path: &Path) -> Result<RootCertStore, Error> {
    let mut store = RootCertStore::empty();
    let files: Vec<std::path::PathBuf> = if path.is_dir() {
        let entries = std::fs::read_dir(path).map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut v: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        v.sort();
        v
    } else {
        vec![path.to_path_buf()]
    };
    for f in &files {
        let Ok(certs) = certificates(f) else {
            continue;
        };
        for c in certs {
            store.add(c).map_err(|e| Error::ClientCa {
                detail: format!("{}: {e}", f.display()),
            })?;
        }
    }
    if store.is_empty() {
        return Err(Error::ClientCa {
            detail: format!("{} holds no CA certificate", path.display()),
        });
    }
    Ok(store)
}

/// What a certificate says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    /// The subject, as `CN=…, O=…`.
    pub subject: String,
    /// Its DNS subject alternative names.
    pub dns_names: Vec<String>,
    /// Its subject common name, if any.
    pub common_name: Option<String>,
    /// The end of its validity, seconds since the epoch.
    pub not_after: i64,
    /// Its SHA-256 fingerprint.
    pub fingerprint: Fingerprint,
}

/// Reads a DER certificate (`None` if it does not parse as X.509).
pub fn info(der: &[u8]) -> Option<Info> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let dns_names = match cert.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .filter_map(|n| match n {
                x509_parser::extensions::GeneralName::DNSName(d) => Some(d.to_string()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let common_name = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_string);
    Some(Info {
        subject: cert.subject().to_string(),
        dns_names,
        common_name,
        not_after: cert.validity().not_after.timestamp(),
        fingerprint: Fingerprint::of(der),
    })
}

/// What the first certificate of a PEM file (the served one, before its chain) says.
pub fn leaf(path: &Path) -> Option<Info> {
    certificates(path).ok()?.first().and_then(|d| info(d))
}

/// The rustls configuration for these settings and this purpose.
pub fn server_config(s: &Settings, purpose: Purpose) -> Result<ServerConfig, Error> {
    let key = certified_key(&s.cert, &s.key)?;
    let versions: &[&rustls::SupportedProtocolVersion] = match s.min_version {
        MinVersion::Tls12 => &[&rustls::version::TLS13, &rustls::version::TLS12],
        MinVersion::Tls13 => &[&rustls::version::TLS13],
    };
    let builder = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .map_err(|e| Error::Pair {
            detail: format!("protocol versions: {e}"),
        })?;
    let verifier = PeerVerifier::new(s)?;
    let mut config = match verifier {
        Some(v) => builder.with_client_cert_verifier(Arc::new(v)),
        None => builder.with_no_client_auth(),
    }
    .with_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(key)));
    match purpose {
        Purpose::Syslog => config.send_tls13_tickets = 0,
        Purpose::Https => config.alpn_protocols = vec![b"http/1.1".to_vec()],
    }
    Ok(config)
}

/// What `picket config check` says about a server's TLS files beyond "they load".
pub fn warnings(s: &Settings, now_secs: i64) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(i) = leaf(&s.cert) {
        let left = i.not_after - now_secs;
        if left < 0 {
            out.push(format!(
                "{}: the certificate expired {} days ago",
                s.cert.display(),
                -left / 86_400
            ));
        } else if left < 30 * 86_400 {
            out.push(format!(
                "{}: the certificate expires in {} days",
                s.cert.display(),
                left / 86_400
            ));
        }
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if let Ok(m) = std::fs::metadata(&s.key) {
            if m.permissions().mode() & 0o004 != 0 {
                out.push(format!(
                    "{}: the private key is readable by every user (chmod 600 or 640)",
                    s.key.display()
                ));
            }
        }
    }
    out
}
