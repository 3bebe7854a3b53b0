//! Encryption of device credentials kept in the store (communities, v3 passwords), so a
//! backup or a database dump does not carry them in the clear. AES-256-GCM (ring) under a key
//! that lives outside the database: `PICKET_DEVICE_KEY` (64 hex digits) or a key file (created
//! with mode 0600 on first use). It does not protect against root on the collector, which can
//! read the key as Picket does (docs/polling.md says so).

use crate::model::Secret;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use std::path::{Path, PathBuf};

/// The environment variable that carries the key instead of the file.
pub const KEY_ENV: &str = "PICKET_DEVICE_KEY";
/// Prefix of a sealed value (the format's version).
const PREFIX: &str = "v1:";

/// Why the key or a sealed value could not be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The key file could not be read or created.
    #[error("device key file {path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The key is not 32 bytes of hex.
    #[error("{0}: the device key must be 64 hex digits (32 bytes)")]
    BadKey(String),
    /// A sealed value that does not open under this key (another key, or damaged).
    #[error("a stored credential does not decrypt with this device key")]
    Sealed,
}

/// The key, ready to seal and open.
pub struct Vault {
    key: LessSafeKey,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault(<key redacted>)")
    }
}

fn from_hex(s: &str, what: &str) -> Result<Vault, Error> {
    let bytes = data_encoding::HEXLOWER_PERMISSIVE
        .decode(s.trim().as_bytes())
        .map_err(|_| Error::BadKey(what.to_string()))?;
    let key = UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| Error::BadKey(what.into()))?;
    Ok(Vault {
        key: LessSafeKey::new(key),
    })
}

impl Vault {
    /// The key from `PICKET_DEVICE_KEY`, else from `path`, which is created (0600) when absent.
    pub fn load_or_create(path: &Path) -> Result<Vault, Error> {
        if let Ok(v) = std::env::var(KEY_ENV) {
            return from_hex(&v, KEY_ENV);
        }
        let file_err = |source| Error::File {
            path: path.to_path_buf(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(s) => from_hex(&s, &path.display().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                getrandom::fill(&mut key).map_err(|e| file_err(std::io::Error::other(e)))?;
                let hex = data_encoding::HEXLOWER.encode(&key);
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(file_err)?;
                }
                write_new(path, &hex).map_err(file_err)?;
                // Another process may have won the race: use what is on disk.
                let s = std::fs::read_to_string(path).map_err(file_err)?;
                from_hex(&s, &path.display().to_string())
            }
            Err(e) => Err(file_err(e)),
        }
    }

    /// A vault with a given key.
    pub fn from_key(key: [u8; 32]) -> Result<Vault, Error> {
        from_hex(&data_encoding::HEXLOWER.encode(&key), "key")
    }

    /// `v1:` + base64(nonce ‖ ciphertext ‖ tag), with a random nonce.
    pub fn seal(&self, plain: &Secret) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        if getrandom::fill(&mut nonce).is_err() {
            // No randomness: a time-based nonce is still unique per call in practice.
            let t = crate::model::clock::now_micros().to_be_bytes();
            nonce[..8].copy_from_slice(&t);
        }
        let mut data = plain.expose().as_bytes().to_vec();
        let sealed = self.key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(PREFIX.as_bytes()),
            &mut data,
        );
        let mut out = nonce.to_vec();
        if sealed.is_ok() {
            out.extend_from_slice(&data);
        }
        format!("{PREFIX}{}", data_encoding::BASE64.encode(&out))
    }

    /// The value `seal` sealed.
    pub fn open(&self, sealed: &str) -> Result<Secret, Error> {
        let b64 = sealed.strip_prefix(PREFIX).ok_or(Error::Sealed)?;
        let raw = data_encoding::BASE64
            .decode(b64.as_bytes())
            .map_err(|_| Error::Sealed)?;
        if raw.len() < NONCE_LEN + 16 {
            return Err(Error::Sealed);
        }
        let (n, ct) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(n).map_err(|_| Error::Sealed)?;
        let mut data = ct.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(PREFIX.as_bytes()), &mut data)
            .map_err(|_| Error::Sealed)?;
        String::from_utf8(plain.to_vec())
            .map(Secret::new)
            .map_err(|_| Error::Sealed)
    }
}

/// Creates `path` with mode 0600, failing if it exists.
fn write_new(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path);
    match f {
        Ok(mut f) => {
            f.write_all(text.as_bytes())?;
            f.sync_all()
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_under_their_key() {
        let v = Vault::from_key([7; 32]).unwrap();
        let s = v.seal(&Secret::new("public-community"));
        assert!(s.starts_with("v1:"));
        assert!(!s.contains("public"));
        assert_eq!(v.open(&s).unwrap().expose(), "public-community");
        assert_ne!(s, v.seal(&Secret::new("public-community")), "nonces differ");
        let other = Vault::from_key([8; 32]).unwrap();
        assert!(matches!(other.open(&s), Err(Error::Sealed)));
        assert!(matches!(v.open("v1:AAAA"), Err(Error::Sealed)));
        assert!(matches!(v.open("plain"), Err(Error::Sealed)));
        assert!(!format!("{v:?}").contains('7'));
    }

    #[test]
    fn the_key_file_is_created_private_and_reused() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("keys").join("device-key");
        let a = Vault::load_or_create(&p).unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let sealed = a.seal(&Secret::new("x"));
        let b = Vault::load_or_create(&p).unwrap();
        assert_eq!(b.open(&sealed).unwrap().expose(), "x");
        std::fs::write(&p, "nothex").unwrap();
        assert!(matches!(Vault::load_or_create(&p), Err(Error::BadKey(_))));
    }
}
