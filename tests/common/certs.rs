//! Test certificates made with the `openssl` command: a CA, leaf certificates it signs (server
//! or client, with DNS names), a second CA nobody trusts, and a self-signed certificate with the
//! wrong key usage (like a FortiGate's factory certificate), all in a temporary directory.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// A certificate and its key, as PEM files.
#[derive(Debug, Clone)]
pub struct Pair {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Pair {
    /// `AB:CD:…`, as `openssl x509 -fingerprint -sha256` prints it.
    pub fn fingerprint(&self) -> String {
        let out = openssl(
            Command::new("openssl")
                .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
                .arg(&self.cert),
        );
        out.trim().rsplit_once('=').unwrap().1.to_string()
    }
}

fn openssl(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .expect("openssl must be installed (Debian openssl)");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn new_key(path: &Path) {
    openssl(
        Command::new("openssl")
            .args([
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
            ])
            .arg(path),
    );
}

/// A certificate authority.
pub struct Ca {
    pub pair: Pair,
    dir: PathBuf,
}

impl Ca {
    /// A self-signed CA named `name` in `dir`.
    pub fn new(dir: &Path, name: &str) -> Ca {
        let pair = Pair {
            cert: dir.join(format!("{name}.pem")),
            key: dir.join(format!("{name}.key")),
        };
        self_signed(
            &pair,
            &format!("/CN={name}"),
            &[
                "basicConstraints=critical,CA:TRUE",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
        Ca {
            pair,
            dir: dir.to_path_buf(),
        }
    }

    /// A leaf certificate for `dns` (also its CN), usable by servers and clients, valid for
    /// `days`; `file` names its files.
    pub fn issue(&self, file: &str, dns: &str, days: u32) -> Pair {
        let pair = Pair {
            cert: self.dir.join(format!("{file}.pem")),
            key: self.dir.join(format!("{file}.key")),
        };
        new_key(&pair.key);
        let csr = self.dir.join(format!("{file}.csr"));
        openssl(
            Command::new("openssl")
                .args(["req", "-new", "-subj"])
                .arg(format!("/CN={dns}/O=Picket tests"))
                .arg("-key")
                .arg(&pair.key)
                .arg("-out")
                .arg(&csr),
        );
        let ext = self.dir.join(format!("{file}.ext"));
        std::fs::write(
            &ext,
            format!(
                "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:{dns},IP:127.0.0.1\n"
            ),
        )
        .unwrap();
        openssl(
            Command::new("openssl")
                .args(["x509", "-req", "-in"])
                .arg(&csr)
                .arg("-CA")
                .arg(&self.pair.cert)
                .arg("-CAkey")
                .arg(&self.pair.key)
                .args(["-CAcreateserial", "-days", &days.to_string(), "-extfile"])
                .arg(&ext)
                .arg("-out")
                .arg(&pair.cert),
        );
        pair
    }
}

/// A self-signed certificate whose key usage forbids signing (strict checks refuse it).
pub fn factory_like(dir: &Path, name: &str) -> Pair {
    let pair = Pair {
        cert: dir.join(format!("{name}.pem")),
        key: dir.join(format!("{name}.key")),
    };
    self_signed(
        &pair,
        &format!("/CN={name}/O=Fortinet"),
        &["keyUsage=critical,keyEncipherment"],
    );
    pair
}

/// A new key and a self-signed certificate for it, valid 30 days, with these extensions.
fn self_signed(pair: &Pair, subject: &str, extensions: &[&str]) {
    new_key(&pair.key);
    let mut cmd = Command::new("openssl");
    cmd.args(["req", "-x509", "-new", "-days", "30", "-subj", subject]);
    for e in extensions {
        cmd.args(["-addext", e]);
    }
    openssl(cmd.arg("-key").arg(&pair.key).arg("-out").arg(&pair.cert));
}
