//! Load generator for Picket: sends N syslog lines (cycled from a file) to a LOOPBACK address
//! over UDP, TCP (LF) or TCP with octet counting, at full speed or a set rate, then reads
//! Picket's `/metrics` until everything sent is stored (or progress stops) and reports sent,
//! stored, loss, end-to-end msg/s (first send to last commit) and the drain time.
//!
//! usage: loadgen --proto udp|tcp|tcp-oc|tls|tls-oc|snmp --target 127.0.0.1:PORT --file FILE
//!                --count N [--rate MSG_PER_S] [--metrics 127.0.0.1:WEBPORT] [--pid PICKET_PID]
//!                [--ca CA.pem]
//!
//! `tls` and `tls-oc` are `tcp` and `tcp-oc` inside one TLS connection (rustls, verifying the
//! server as `localhost` against `--ca`). Two more modes measure connections, not lines:
//! - `--proto handshakes --count N --ca CA.pem`: N TLS connections one after another, each a full
//!   handshake; prints handshakes per second.
//! - `--proto burst --count N --metrics …`: N TCP connections opened at once (64 threads), and
//!   the time until Picket has accepted them all (`picket_tcp_connections_accepted_total`).
//!
//! It refuses any target outside 127.0.0.0/8 and ::1, and stops by itself: the send loop is
//! bounded by N and the wait by a no-progress timeout.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

struct Args {
    proto: String,
    target: SocketAddr,
    file: String,
    count: u64,
    rate: f64,
    metrics: Option<SocketAddr>,
    pid: Option<u32>,
    ca: Option<String>,
}

fn usage() -> ! {
    eprintln!(
        "usage: loadgen --proto udp|tcp|tcp-oc|snmp --target 127.0.0.1:PORT --file FILE --count N [--rate R] [--metrics 127.0.0.1:PORT] [--pid PID]"
    );
    std::process::exit(2)
}

fn args() -> Args {
    let mut a = Args {
        proto: "tcp-oc".into(),
        target: "127.0.0.1:1514".parse().unwrap(),
        file: String::new(),
        count: 100_000,
        rate: 0.0,
        metrics: None,
        pid: None,
        ca: None,
    };
    let v: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < v.len() {
        let val = v.get(i + 1).cloned().unwrap_or_else(|| usage());
        match v[i].as_str() {
            "--proto" => a.proto = val,
            "--target" => a.target = val.parse().unwrap_or_else(|_| usage()),
            "--file" => a.file = val,
            "--count" => a.count = val.parse().unwrap_or_else(|_| usage()),
            "--rate" => a.rate = val.parse().unwrap_or_else(|_| usage()),
            "--metrics" => a.metrics = Some(val.parse().unwrap_or_else(|_| usage())),
            "--pid" => a.pid = Some(val.parse().unwrap_or_else(|_| usage())),
            "--ca" => a.ca = Some(val),
            _ => usage(),
        }
        i += 2;
    }
    if a.file.is_empty() && !matches!(a.proto.as_str(), "handshakes" | "burst") {
        usage();
    }
    a
}

/// A rustls client configuration trusting the CA in `path`.
fn tls_client(path: &str) -> std::sync::Arc<rustls::ClientConfig> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(path).expect("read --ca");
    for c in CertificateDer::pem_slice_iter(&pem) {
        roots.add(c.expect("a PEM certificate")).unwrap();
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    std::sync::Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// A TLS connection to `target` (the server must present a certificate for `localhost`).
fn tls_connect(
    target: SocketAddr,
    config: &std::sync::Arc<rustls::ClientConfig>,
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(config.clone(), name).unwrap();
    let mut s = rustls::StreamOwned::new(conn, TcpStream::connect(target).unwrap());
    while s.conn.is_handshaking() {
        s.conn.complete_io(&mut s.sock).unwrap();
    }
    s
}

/// `--proto handshakes`: full handshakes one after another.
fn handshakes(a: &Args) {
    let config = tls_client(a.ca.as_deref().unwrap_or_else(|| usage()));
    let t0 = Instant::now();
    for _ in 0..a.count {
        let mut s = tls_connect(a.target, &config);
        s.conn.send_close_notify();
        s.conn.complete_io(&mut s.sock).unwrap_or_default();
    }
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "handshakes={} seconds={secs:.3} handshakes_per_s={:.0}",
        a.count,
        a.count as f64 / secs
    );
}

/// `--proto burst`: N connections at once; seconds until Picket accepted all of them.
fn burst(a: &Args) {
    let m = a.metrics.unwrap_or_else(|| usage());
    let before = metric(m, "picket_tcp_connections_accepted_total").unwrap_or(0.0) as u64;
    let t0 = Instant::now();
    let threads = 64u64;
    let per = a.count.div_ceil(threads);
    let target = a.target;
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let n = per.min(a.count.saturating_sub(t * per));
            std::thread::spawn(move || {
                (0..n)
                    .map(|_| TcpStream::connect(target).unwrap())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let open: Vec<TcpStream> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    let connected = t0.elapsed().as_secs_f64();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut accepted = 0;
    while Instant::now() < deadline {
        accepted = (metric(m, "picket_tcp_connections_accepted_total").unwrap_or(0.0) as u64)
            .saturating_sub(before);
        if accepted >= a.count {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    println!(
        "connections={} connected_seconds={connected:.3} accepted={accepted} all_accepted_seconds={:.3}",
        open.len(),
        t0.elapsed().as_secs_f64()
    );
}

fn loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.octets()[0] == 127,
        IpAddr::V6(v6) => v6.is_loopback(),
    }
}

fn metric(addr: SocketAddr, name: &str) -> Option<f64> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    let sum: f64 = body
        .lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    Some(sum)
}

fn peak_rss_kb(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn main() {
    let a = args();
    if !loopback(a.target.ip()) || a.metrics.is_some_and(|m| !loopback(m.ip())) {
        eprintln!("loadgen: refusing a non-loopback address; only 127.0.0.0/8 and ::1 are allowed");
        std::process::exit(2);
    }
    match a.proto.as_str() {
        "handshakes" => return handshakes(&a),
        "burst" => return burst(&a),
        _ => {}
    }
    let text = std::fs::read(&a.file).expect("read --file");
    let lines: Vec<&[u8]> = text
        .split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.is_empty())
        .collect();
    assert!(!lines.is_empty(), "no lines in {}", a.file);
    // snmp: each line is one pre-encoded datagram in hex (the last tab-separated column, so
    // the corpus's vectors.hex.tsv lines work as they are).
    let datagrams: Vec<Vec<u8>> = if a.proto == "snmp" {
        lines
            .iter()
            .map(|l| {
                let h = std::str::from_utf8(l).expect("hex line");
                let h = h.rsplit('\t').next().unwrap_or(h).trim();
                (0..h.len() / 2)
                    .map(|i| {
                        u8::from_str_radix(h.get(2 * i..2 * i + 2).expect("hex"), 16).expect("hex")
                    })
                    .collect()
            })
            .collect()
    } else {
        Vec::new()
    };
    let lines: Vec<&[u8]> = if a.proto == "snmp" {
        datagrams.iter().map(Vec::as_slice).collect()
    } else {
        lines
    };
    let stored_before = a
        .metrics
        .and_then(|m| metric(m, "picket_events_stored_total"))
        .unwrap_or(0.0) as u64;
    let t0 = Instant::now();
    let pace = |i: u64| {
        if a.rate > 0.0 && i % 100 == 0 {
            let want = t0 + Duration::from_secs_f64(i as f64 / a.rate);
            let now = Instant::now();
            if want > now {
                std::thread::sleep(want - now);
            }
        }
    };
    match a.proto.as_str() {
        "udp" | "snmp" => {
            let bind = if a.target.is_ipv6() {
                "[::1]:0"
            } else {
                "127.0.0.1:0"
            };
            let s = UdpSocket::bind(bind).unwrap();
            s.connect(a.target).unwrap();
            for i in 0..a.count {
                let l = lines[(i % lines.len() as u64) as usize];
                // A full local buffer (ENOBUFS) is the sender's loss, not the receiver's: retry.
                while s.send(l).is_err() {
                    std::thread::yield_now();
                }
                pace(i);
            }
        }
        "tcp" | "tcp-oc" | "tls" | "tls-oc" => {
            let oc = a.proto.ends_with("-oc");
            let mut s: Box<dyn Write> = if a.proto.starts_with("tls") {
                let config = tls_client(a.ca.as_deref().unwrap_or_else(|| usage()));
                Box::new(tls_connect(a.target, &config))
            } else {
                Box::new(TcpStream::connect(a.target).unwrap())
            };
            let mut buf: Vec<u8> = Vec::with_capacity(1 << 20);
            for i in 0..a.count {
                let l = lines[(i % lines.len() as u64) as usize];
                if oc {
                    buf.extend_from_slice(l.len().to_string().as_bytes());
                    buf.push(b' ');
                    buf.extend_from_slice(l);
                } else {
                    buf.extend_from_slice(l);
                    buf.push(b'\n');
                }
                if buf.len() > (1 << 20) - 70_000 {
                    s.write_all(&buf).unwrap();
                    buf.clear();
                }
                pace(i);
            }
            s.write_all(&buf).unwrap();
            s.flush().unwrap();
        }
        _ => usage(),
    }
    let send_secs = t0.elapsed().as_secs_f64();
    println!(
        "sent={} send_seconds={:.3} send_rate={:.0}",
        a.count,
        send_secs,
        a.count as f64 / send_secs
    );
    let Some(m) = a.metrics else { return };
    // Wait until everything sent is stored, or nothing changes for 10 s.
    let target = stored_before + a.count;
    let (mut last, mut last_change) = (0u64, Instant::now());
    let mut done_at = Instant::now();
    loop {
        let stored = metric(m, "picket_events_stored_total").unwrap_or(0.0) as u64;
        if stored != last {
            last = stored;
            last_change = Instant::now();
            done_at = last_change;
        }
        if stored >= target || last_change.elapsed() > Duration::from_secs(10) {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let stored = last.saturating_sub(stored_before);
    let e2e = done_at.duration_since(t0).as_secs_f64();
    let lost = a.count.saturating_sub(stored);
    let kernel = metric(m, "picket_udp_kernel_drops_total").unwrap_or(0.0) as u64;
    let dropped = metric(m, "picket_frames_dropped_total").unwrap_or(0.0) as u64;
    println!(
        "stored={stored} lost={lost} loss_pct={:.4} end_to_end_seconds={e2e:.3} end_to_end_rate={:.0} drain_after_send_seconds={:.3} kernel_drops={kernel} picket_drops={dropped}{}",
        lost as f64 * 100.0 / a.count as f64,
        stored as f64 / e2e,
        (e2e - send_secs).max(0.0),
        a.pid
            .and_then(peak_rss_kb)
            .map(|k| format!(" picket_peak_rss_mb={:.1}", k as f64 / 1024.0))
            .unwrap_or_default()
    );
}
