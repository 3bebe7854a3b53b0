//! Starts the real `picket` binary on loopback with a temporary data directory, waits for its
//! ready line (with a deadline), and stops it by PID with SIGTERM from `Drop`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub mod certs;
pub mod sinks;
pub mod snmpd;

pub struct Picket {
    pub child: Option<Child>,
    pub dir: tempfile::TempDir,
    pub udp: SocketAddr,
    pub tcp: SocketAddr,
    pub web: SocketAddr,
    pub snmp: Option<SocketAddr>,
    /// The TLS syslog listener, when one is configured.
    pub tls: Option<SocketAddr>,
    /// The ready line as printed.
    pub ready: String,
    /// The CA of the dashboard's certificate when it serves HTTPS (set by the test): [`get`]
    /// then goes through `curl` over HTTPS.
    pub web_ca: Option<std::path::PathBuf>,
    data: std::path::PathBuf,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_picket")
}

impl Picket {
    pub fn start(extra: &[&str]) -> Picket {
        Self::start_in(tempfile::tempdir().unwrap(), extra)
    }

    /// Starts with a `picket.toml` of this text (command-line listeners still apply).
    pub fn start_with_config(toml: &str) -> Picket {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("test.toml"), toml).unwrap();
        Self::start_in(dir, &["--config", "test.toml"])
    }

    pub fn start_in(dir: tempfile::TempDir, extra: &[&str]) -> Picket {
        let data = dir.path().join("data");
        Self::start_at(dir, data, extra)
    }

    /// Starts with its data directory at `data` (a file system of the test's own).
    pub fn start_at(dir: tempfile::TempDir, data: std::path::PathBuf, extra: &[&str]) -> Picket {
        let mut cmd = Command::new(bin());
        cmd.args([
            "serve",
            "--syslog-listen",
            "127.0.0.1:0",
            "--web-listen",
            "127.0.0.1:0",
            "--snmp-listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(&data)
        .args(extra)
        .env("PICKET_LOG", "info")
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start picket");
        let stdout = child.stdout.take().unwrap();
        let mut errs = child.stderr.take().unwrap();
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let s2 = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = errs.read(&mut buf) {
                if n == 0 {
                    break;
                }
                s2.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let mut r = BufReader::new(stdout);
            r.read_line(&mut line).unwrap_or(0);
            tx.send(line).unwrap_or(());
            // Keep reading so the child never blocks on a full pipe.
            let mut sink = String::new();
            while r.read_line(&mut sink).unwrap_or(0) > 0 {
                sink.clear();
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("picket printed no ready line in 30 s");
        assert!(
            line.starts_with("picket ready "),
            "unexpected first line: {line:?}"
        );
        let field = |k: &str| -> SocketAddr {
            line.split_whitespace()
                .find_map(|p| p.strip_prefix(&format!("{k}=")))
                .unwrap()
                .split(',')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        };
        Picket {
            udp: field("syslog_udp"),
            tcp: field("syslog_tcp"),
            web: field("web"),
            snmp: line
                .split_whitespace()
                .find_map(|p| p.strip_prefix("snmp="))
                .and_then(|a| a.parse().ok()),
            tls: line
                .split_whitespace()
                .find_map(|p| p.strip_prefix("syslog_tls="))
                .and_then(|a| a.split(',').next()?.parse().ok()),
            ready: line.clone(),
            web_ca: None,
            child: Some(child),
            dir,
            data,
            stderr,
        }
    }

    pub fn data_dir(&self) -> std::path::PathBuf {
        self.data.clone()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// GET a path on the web listener; returns the body.
    pub fn get(&self, path: &str) -> String {
        if let Some(ca) = &self.web_ca {
            let port = self.web.port();
            let out = run_ok(
                Command::new("curl")
                    .args(["-sS", "--max-time", "10", "--cacert"])
                    .arg(ca)
                    .arg("--resolve")
                    .arg(format!("localhost:{port}:127.0.0.1"))
                    .arg(format!("https://localhost:{port}{path}")),
            );
            return String::from_utf8_lossy(&out.stdout).to_string();
        }
        let mut s = TcpStream::connect(self.web).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default()
    }

    /// A metric's value (sum over label sets matching `prefix`).
    pub fn metric(&self, prefix: &str) -> u64 {
        self.get("/metrics")
            .lines()
            .filter(|l| l.starts_with(prefix) && !l.starts_with('#'))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64
    }

    /// Waits until the metric (summed over labels, as [`Picket::metric`]) reaches `n`, at most
    /// `max`; returns its last value.
    pub fn wait_metric(&self, prefix: &str, n: u64, max: Duration) -> u64 {
        let deadline = Instant::now() + max;
        loop {
            let v = self.metric(prefix);
            if v >= n || Instant::now() >= deadline {
                return v;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until `picket_events_stored_total` reaches `n` (bounded).
    pub fn wait_stored(&self, n: u64, max: Duration) -> u64 {
        let deadline = Instant::now() + max;
        loop {
            let got = self.metric("picket_events_stored_total");
            if got >= n || Instant::now() > deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends SIGTERM and waits (bounded) for exit; returns the exit status and time taken.
    pub fn stop(&mut self) -> (std::process::ExitStatus, Duration) {
        let mut child = self.child.take().expect("running");
        let t = Instant::now();
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(st) = child.try_wait().unwrap() {
                return (st, t.elapsed());
            }
            if Instant::now() > deadline {
                child.kill().unwrap_or(());
                panic!("picket did not exit within 60 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends one message with util-linux `logger` over UDP to this instance.
    pub fn log_udp(&self, tag: &str, msg: &str) {
        let port = self.udp.port().to_string();
        logger(&["--udp", "-n", "127.0.0.1", "-P", &port, "-t", tag, msg]);
    }

    /// The first-start admin password, read from the log (bounded wait).
    pub fn admin_password(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = self.stderr();
            if let Some(pw) = log
                .split("password=")
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
            {
                return pw.to_string();
            }
            assert!(
                Instant::now() < deadline,
                "no admin password in the log: {log}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Runs `picket search` on this instance's data directory; returns the JSON lines.
    pub fn search(&self, query: &str, extra: &[&str]) -> Vec<serde_json::Value> {
        search_dir(&self.data_dir(), query, extra)
    }
}

pub fn search_dir(dir: &std::path::Path, query: &str, extra: &[&str]) -> Vec<serde_json::Value> {
    let limit = if extra.contains(&"--limit") {
        &[][..]
    } else {
        &["--limit", "100000"][..]
    };
    let out = run_ok(
        Command::new(bin())
            .args(["search", query, "--data-dir"])
            .arg(dir)
            .args(limit)
            .args(extra),
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

impl Drop for Picket {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let pid = nix::unistd::Pid::from_raw(c.id() as i32);
            nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap_or(());
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            c.kill().unwrap_or(());
            c.wait().unwrap_or_else(|_| panic!("reap"));
        }
    }
}

/// Runs util-linux `logger`; the test fails if logger is missing.
pub fn logger(args: &[&str]) {
    let st = Command::new("logger")
        .args(args)
        .status()
        .expect("util-linux `logger` must be installed (apt-get install -y bsdutils)");
    assert!(st.success(), "logger {args:?} failed");
}

/// Runs a command to completion and asserts it succeeded; returns its output.
pub fn run_ok(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// An HTTP client for the dashboard: redirects and error statuses are answers to check, not
/// errors; every request has a deadline.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

/// The `name=value` part of a response's session cookie.
pub fn session_cookie(r: &ureq::http::Response<ureq::Body>) -> String {
    r.headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

/// `rsyslogd` unpacked by `scripts/test.sh` into `target/rsyslog/root` (rsyslog and syslog-ng
/// conflict as Debian packages), with its libraries and modules.
pub fn rsyslogd() -> (Command, std::path::PathBuf) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/rsyslog/root");
    let bin = root.join("usr/sbin/rsyslogd");
    assert!(
        bin.exists(),
        "{} is missing: scripts/test.sh unpacks rsyslog there",
        bin.display()
    );
    let lib = root.join("usr/lib/x86_64-linux-gnu");
    let mut cmd = Command::new(bin);
    cmd.env("LD_LIBRARY_PATH", &lib);
    (cmd, lib.join("rsyslog"))
}
