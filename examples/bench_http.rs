//! Times dashboard requests through HTTP against a store filled by `gen_events`:
//! starts `picket serve` on loopback with that data directory, adds a bench user, logs in, and
//! measures (p50, p95, max over N requests each):
//! - a field query over 24 hours;
//! - free-text terms over 30 days (first page);
//! - the overview page;
//! - the first page of an event search while UDP ingest runs at 20,000 msg/s;
//! - the histogram of a 30-day search;
//!
//! Then it streams a CSV export of about 1,000,000 rows and samples the server's RSS meanwhile.
//!
//! usage: bench_http DATA_DIR [N=40]   (after `gen_events DATA_DIR 10000000 30`)
//! The picket binary is taken from target/release (build it with `cargo build --release`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

fn bin() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/release/examples/bench_http -> target/release/picket
    exe.parent().unwrap().parent().unwrap().join("picket")
}

struct Reply {
    status: u16,
    headers: String,
    body: Vec<u8>,
    bytes: u64,
    lines: u64,
}

/// One HTTP/1.1 request (Connection: close); the body is kept when `keep` (else only counted).
fn request(
    web: SocketAddr,
    method: &str,
    path: &str,
    cookie: &str,
    body: &str,
    keep: bool,
) -> Reply {
    let mut s = TcpStream::connect(web).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(600))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n");
    if !cookie.is_empty() {
        req.push_str(&format!("Cookie: {cookie}\r\n"));
    }
    if !body.is_empty() {
        req.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut r = BufReader::with_capacity(1 << 16, s);
    let mut headers = String::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
            break;
        }
        headers.push_str(&line);
    }
    let status = headers
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let chunked = headers
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let mut out = Reply {
        status,
        headers,
        body: Vec::new(),
        bytes: 0,
        lines: 0,
    };
    let take = |buf: &[u8], out: &mut Reply| {
        out.bytes += buf.len() as u64;
        out.lines += buf.iter().filter(|b| **b == b'\n').count() as u64;
        if keep {
            out.body.extend_from_slice(buf);
        }
    };
    let mut buf = vec![0u8; 1 << 16];
    if chunked {
        loop {
            let mut size = String::new();
            if r.read_line(&mut size).unwrap() == 0 {
                break;
            }
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 {
                break;
            }
            let mut left = n;
            while left > 0 {
                let want = left.min(buf.len());
                let k = r.read(&mut buf[..want]).unwrap();
                if k == 0 {
                    break;
                }
                take(&buf[..k], &mut out);
                left -= k;
            }
            let mut crlf = String::new();
            r.read_line(&mut crlf).unwrap();
        }
    } else {
        loop {
            let k = r.read(&mut buf).unwrap();
            if k == 0 {
                break;
            }
            take(&buf[..k], &mut out);
        }
    }
    out
}

fn timed(web: SocketAddr, path: &str, cookie: &str, n: usize) -> (Vec<Duration>, Reply) {
    let mut times = Vec::with_capacity(n);
    let mut last = None;
    for _ in 0..n {
        let t = Instant::now();
        let r = request(web, "GET", path, cookie, "", true);
        times.push(t.elapsed());
        assert_eq!(r.status, 200, "{path}: {}", r.headers);
        last = Some(r);
    }
    times.sort();
    (times, last.unwrap())
}

fn pct(times: &[Duration], p: f64) -> f64 {
    let i = ((times.len() as f64 * p).ceil() as usize).clamp(1, times.len()) - 1;
    times[i].as_secs_f64() * 1000.0
}

fn report(label: &str, times: &[Duration], target_ms: Option<f64>, r: &Reply) {
    let body = String::from_utf8_lossy(&r.body);
    let shown = body
        .split("<p class=\"muted\">")
        .nth(1)
        .and_then(|s| s.split(" ·").next())
        .map(str::trim)
        .unwrap_or("");
    println!(
        "{label:<58} p50 {:>7.1} ms  p95 {:>7.1} ms  max {:>7.1} ms{}  [{shown}]",
        pct(times, 0.5),
        pct(times, 0.95),
        pct(times, 1.0),
        target_ms.map_or(String::new(), |t| format!(
            "  (target p95 < {t} ms: {})",
            if pct(times, 0.95) < t {
                "met"
            } else {
                "MISSED"
            }
        ))
    );
}

fn rss_kb(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let data = std::path::PathBuf::from(a.get(1).expect("usage: bench_http DATA_DIR [N]"));
    let n: usize = a.get(2).map_or(40, |s| s.parse().unwrap());
    // A bench user (ignored when it exists already).
    let mut add = Command::new(bin())
        .args([
            "user",
            "add",
            "bench",
            "--role",
            "admin",
            "--password-stdin",
            "--data-dir",
        ])
        .arg(&data)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    add.stdin
        .take()
        .unwrap()
        .write_all(b"bench-password-1\n")
        .unwrap();
    add.wait().unwrap();
    let mut child = Command::new(bin())
        .args([
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
        .env("PICKET_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut ready = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    let addr = |k: &str| -> SocketAddr {
        ready
            .split_whitespace()
            .find_map(|p| p.strip_prefix(&format!("{k}=")))
            .unwrap()
            .split(',')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let (web, udp) = (addr("web"), addr("syslog_udp"));
    let login = request(
        web,
        "POST",
        "/login",
        "",
        "user=bench&password=bench-password-1",
        true,
    );
    assert_eq!(login.status, 303, "login: {}", login.headers);
    let cookie = login
        .headers
        .lines()
        .find_map(|l| {
            l.strip_prefix("set-cookie: ")
                .or_else(|| l.strip_prefix("Set-Cookie: "))
        })
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_string();
    // A source address and a rare token from the last hour, read off the search page.
    let page = request(
        web,
        "GET",
        "/search?q=*&range=1h&cols=source.ip",
        &cookie,
        "",
        true,
    );
    let html = String::from_utf8_lossy(&page.body).into_owned();
    let ip = html
        .split("source.ip%3A%22")
        .nth(1)
        .and_then(|s| s.split("%22").next())
        .expect("no source.ip in the last hour: run gen_events first")
        .to_string();
    println!("picket {pid} on {web}; events in store: see the overview; N = {n} requests per case");
    let (t, r) = timed(
        web,
        &format!("/search?q=source.ip:{ip}&range=24h"),
        &cookie,
        n,
    );
    report(
        &format!("field query source.ip:{ip}, 24 h"),
        &t,
        Some(150.0),
        &r,
    );
    for term in ["oracle", "backup.sh", "%22Failed%20password%22"] {
        let (t, r) = timed(web, &format!("/search?q={term}&range=30d"), &cookie, n);
        report(
            &format!("free text {term}, 30 days, first page"),
            &t,
            Some(250.0),
            &r,
        );
    }
    let (t, r) = timed(
        web,
        "/search?q=event.action:deny%20AND%20destination.port:443%20NOT%20source.ip:10.1.0.0/16&range=7d",
        &cookie,
        n,
    );
    report(
        "boolean: deny AND port 443 NOT 10.1/16, 7 days",
        &t,
        None,
        &r,
    );
    let (t, r) = timed(web, "/", &cookie, n);
    report("overview page", &t, Some(300.0), &r);
    let (t, r) = timed(
        web,
        "/search/histogram.svg?q=*&range=24h",
        &cookie,
        n.min(10),
    );
    report(
        "histogram of everything, 24 h (separate request)",
        &t,
        None,
        &r,
    );
    let (t, r) = timed(
        web,
        "/search/histogram.svg?q=oracle&range=30d",
        &cookie,
        n.min(10),
    );
    report(
        "histogram of oracle, 30 days (separate request)",
        &t,
        None,
        &r,
    );

    // The same searches while 20,000 msg/s arrive over UDP.
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let (s2, c2) = (stop.clone(), sent.clone());
    let loader = std::thread::spawn(move || {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let start = Instant::now();
        let mut i = 0usize;
        while !s2.load(Relaxed) && start.elapsed() < Duration::from_secs(300) {
            // 20 messages per millisecond.
            let due = (start.elapsed().as_micros() as usize) / 50;
            while i < due {
                // Devices send their current time: the header's "Nov 22 10:00:00" becomes now.
                let line = picket::test_util::mixed_line(20_000_000 + i);
                let stamp = chrono::Utc::now().format("%b %e %H:%M:%S").to_string();
                let line = match line.iter().position(|b| *b == b'>') {
                    Some(p) if line.len() > p + 16 => {
                        [&line[..=p], stamp.as_bytes(), &line[p + 16..]].concat()
                    }
                    _ => line,
                };
                // FortiGate lines carry their own date and time, which the parser prefers.
                let now = chrono::Utc::now();
                let line = String::from_utf8_lossy(&line)
                    .replace("date=2026-11-22", &now.format("date=%Y-%m-%d").to_string())
                    .into_bytes();
                let line = match line.windows(5).position(|w| w == b"time=") {
                    Some(p) if line.len() > p + 13 => [
                        &line[..p + 5],
                        now.format("%H:%M:%S").to_string().as_bytes(),
                        &line[p + 13..],
                    ]
                    .concat(),
                    _ => line,
                };
                let _sent = sock.send_to(&line, udp);
                i += 1;
            }
            std::thread::sleep(Duration::from_micros(500));
        }
        c2.store(i as u64, Relaxed);
    });
    std::thread::sleep(Duration::from_secs(3));
    let (t1, r1) = timed(
        web,
        &format!("/search?q=source.ip:{ip}&range=24h"),
        &cookie,
        n,
    );
    let (t2, r2) = timed(web, "/search?q=password&range=24h", &cookie, n);
    let (t3, r3) = timed(web, "/search?q=*&range=15m", &cookie, n);
    stop.store(true, Relaxed);
    loader.join().unwrap();
    report("during 20k msg/s: field query, 24 h", &t1, Some(300.0), &r1);
    report(
        "during 20k msg/s: free text password, 24 h",
        &t2,
        Some(300.0),
        &r2,
    );
    report(
        "during 20k msg/s: newest events, 15 min",
        &t3,
        Some(300.0),
        &r3,
    );
    std::thread::sleep(Duration::from_secs(2));
    let metrics =
        String::from_utf8_lossy(&request(web, "GET", "/metrics", "", "", true).body).into_owned();
    let dropped: u64 = metrics
        .lines()
        .filter(|l| l.starts_with("picket_frames_dropped_total"))
        .filter_map(|l| l.split_whitespace().last()?.parse::<u64>().ok())
        .sum();
    println!(
        "  ingest meanwhile: {} messages sent, {dropped} dropped by picket",
        sent.load(Relaxed)
    );

    // A CSV export of about a million rows (3 of the 30 days), with the RSS sampled.
    // RssAnon is the heap (what an export that buffered would grow); VmRSS also counts the
    // segment files' pages the reads touch.
    let base = rss_kb(pid, "VmRSS:");
    let base_anon = rss_kb(pid, "RssAnon:");
    let peak = Arc::new(AtomicU64::new(base));
    let peak_anon = Arc::new(AtomicU64::new(base_anon));
    let done = Arc::new(AtomicBool::new(false));
    let (p2, pa2, d2) = (peak.clone(), peak_anon.clone(), done.clone());
    let sampler = std::thread::spawn(move || {
        while !d2.load(Relaxed) {
            p2.fetch_max(rss_kb(pid, "VmRSS:"), Relaxed);
            pa2.fetch_max(rss_kb(pid, "RssAnon:"), Relaxed);
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    let t = Instant::now();
    let r = request(
        web,
        "GET",
        "/export?format=csv&q=*&from=-3d",
        &cookie,
        "",
        false,
    );
    let took = t.elapsed();
    done.store(true, Relaxed);
    sampler.join().unwrap();
    println!(
        "export CSV, 3 days: {} rows, {:.0} MB in {:.1} s ({:.0} rows/s); server RSS {} MB before, peak {} MB during (+{} MB); heap (RssAnon) {} MB before, peak {} MB (+{} MB)",
        r.lines.saturating_sub(1),
        r.bytes as f64 / 1e6,
        took.as_secs_f64(),
        r.lines as f64 / took.as_secs_f64(),
        base / 1024,
        peak.load(Relaxed) / 1024,
        peak.load(Relaxed).saturating_sub(base) / 1024,
        base_anon / 1024,
        peak_anon.load(Relaxed) / 1024,
        peak_anon.load(Relaxed).saturating_sub(base_anon) / 1024
    );
    Command::new("kill").arg(pid.to_string()).status().unwrap();
    child.wait().unwrap();
}
