//! A net-snmp `snmpd` on a loopback port for the poller's tests: its own configuration, its own
//! persistent directory (which holds its engine ID), v2c community `public` and three v3 users
//! (SHA-256 with AES, SHA with DES, SHA with Cisco's AES-256-C). Stopped by its PID on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The v3 users every test agent knows: (user, auth, privacy).
pub const USERS: [(&str, &str, &str); 3] = [
    ("sha256aes", "SHA-256", "AES"),
    ("shades", "SHA", "DES"),
    ("aes256c", "SHA", "AES-256-C"),
];
pub const AUTH_PASSWORD: &str = "authpass123";
pub const PRIVACY_PASSWORD: &str = "privpass123";

pub struct Snmpd {
    child: Option<Child>,
    pub port: u16,
    pub persistent: PathBuf,
    conf: PathBuf,
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Snmpd {
    /// Starts an agent with its persistent directory in `dir/name`.
    pub fn start(dir: &Path, name: &str) -> Snmpd {
        let persistent = dir.join(name);
        std::fs::create_dir_all(&persistent).unwrap();
        let conf = dir.join(format!("{name}.conf"));
        let mut text = String::from("rocommunity public 127.0.0.1\n");
        for (u, a, p) in USERS {
            text.push_str(&format!(
                "createUser {u} {a} \"{AUTH_PASSWORD}\" {p} \"{PRIVACY_PASSWORD}\"\nrouser {u} priv\n"
            ));
        }
        std::fs::write(&conf, text).unwrap();
        let mut s = Snmpd {
            child: None,
            port: free_udp_port(),
            persistent,
            conf,
        };
        s.spawn();
        s
    }

    fn spawn(&mut self) {
        let child = Command::new("snmpd")
            .args(["-f", "-Lf", "/dev/null", "-C", "-c"])
            .arg(&self.conf)
            .arg(format!("--persistentDir={}", self.persistent.display()))
            .args(["-I", "-smux", "-M", "/nonexistent", "-m", ""])
            .arg(format!("udp:127.0.0.1:{}", self.port))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("net-snmp `snmpd` must be installed (apt-get install -y snmpd)");
        self.child = Some(child);
        // Ready when it answers a v2c get.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let out = Command::new("snmpget")
                .args([
                    "-v2c", "-c", "public", "-t", "0.3", "-r", "0", "-On", "-m", "",
                ])
                .arg(format!("127.0.0.1:{}", self.port))
                .arg(".1.3.6.1.2.1.1.5.0")
                .output()
                .expect("net-snmp `snmpget` (package snmp)");
            if out.status.success() {
                return;
            }
            assert!(Instant::now() < deadline, "snmpd did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Stops the agent (by its PID).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let pid = nix::unistd::Pid::from_raw(c.id() as i32);
            nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap_or(());
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            c.kill().unwrap_or(());
            c.wait().unwrap_or_else(|_| panic!("reap snmpd"));
        }
    }

    /// Restarts on the same port with a fresh persistent directory: a new engine ID.
    pub fn restart_as_new_engine(&mut self) {
        self.stop();
        std::fs::remove_dir_all(&self.persistent).unwrap();
        std::fs::create_dir_all(&self.persistent).unwrap();
        self.spawn();
    }
}

impl Drop for Snmpd {
    fn drop(&mut self) {
        self.stop();
    }
}
