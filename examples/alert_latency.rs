//! Alert latency under load: sends background syslog at a steady rate (UDP, loopback) to a
//! running Picket and, every 200 ms, one probe line that completes the `latency probe` rule
//! (see `bench_rules`); a built-in HTTP receiver (the webhook Picket is configured with) takes
//! the notifications and the time from each probe's send to its webhook request is recorded.
//! Prints p50, p90, p99 and max.
//!
//! usage: alert_latency --target 127.0.0.1:PORT --listen 127.0.0.1:HOOKPORT --file LINES
//!        [--rate 10000] [--probes 100]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn main() {
    let mut target: Option<SocketAddr> = None;
    let mut listen: Option<SocketAddr> = None;
    let mut file = String::new();
    let mut rate = 10_000f64;
    let mut probes = 100usize;
    let mut args = std::env::args().skip(1);
    while let Some(k) = args.next() {
        let v = args.next().unwrap_or_default();
        match k.as_str() {
            "--target" => target = v.parse().ok(),
            "--listen" => listen = v.parse().ok(),
            "--file" => file = v,
            "--rate" => rate = v.parse().unwrap_or(rate),
            "--probes" => probes = v.parse().unwrap_or(probes),
            _ => {}
        }
    }
    let (Some(target), Some(listen)) = (target, listen) else {
        eprintln!(
            "usage: alert_latency --target ADDR --listen ADDR --file LINES [--rate R] [--probes N]"
        );
        std::process::exit(2);
    };
    assert!(
        target.ip().is_loopback() && listen.ip().is_loopback(),
        "loopback only"
    );
    let lines: Vec<Vec<u8>> = std::fs::read(&file)
        .unwrap()
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect();

    // Webhook receiver: records arrival time per probe number (from the alert group).
    let arrived: Arc<Mutex<HashMap<usize, Instant>>> = Arc::default();
    let l = TcpListener::bind(listen).unwrap();
    let a2 = arrived.clone();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let at = Instant::now();
            let a3 = a2.clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(s.try_clone().unwrap());
                let mut len = 0;
                let mut line = String::new();
                while r.read_line(&mut line).unwrap_or(0) > 0 {
                    if line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                    line.clear();
                }
                let mut body = vec![0; len];
                r.read_exact(&mut body).unwrap_or(());
                let body = String::from_utf8_lossy(&body);
                if let Some(n) = body
                    .split("host.name=probe")
                    .nth(1)
                    .and_then(|t| t.split(|c: char| !c.is_ascii_digit()).next())
                    .and_then(|d| d.parse::<usize>().ok())
                {
                    a3.lock().unwrap().entry(n).or_insert(at);
                }
                let mut w = s;
                w.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .unwrap_or(());
            });
        }
    });

    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut sent_at: HashMap<usize, Instant> = HashMap::new();
    let t0 = Instant::now();
    let mut i = 0usize;
    let mut next_probe = 0usize;
    let run_for = Duration::from_millis(200 * probes as u64 + 500);
    while t0.elapsed() < run_for {
        // Background at `rate`, in small steps.
        let want = (t0.elapsed().as_secs_f64() * rate) as usize;
        while i < want {
            sock.send_to(&lines[i % lines.len()], target).unwrap_or(0);
            i += 1;
        }
        let probe_due = t0 + Duration::from_millis(200 * next_probe as u64 + 250);
        if next_probe < probes && Instant::now() >= probe_due {
            let line = format!("<14>Nov 22 10:00:00 probe{next_probe} app: LATPROBE {next_probe}");
            sent_at.insert(next_probe, Instant::now());
            sock.send_to(line.as_bytes(), target).unwrap_or(0);
            next_probe += 1;
        }
        std::thread::sleep(Duration::from_micros(500));
    }
    // Let the last ones arrive (bounded).
    let deadline = Instant::now() + Duration::from_secs(5);
    while arrived.lock().unwrap().len() < probes && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let got = arrived.lock().unwrap().clone();
    let mut ms: Vec<f64> = sent_at
        .iter()
        .filter_map(|(n, s)| {
            got.get(n)
                .map(|a| a.duration_since(*s).as_secs_f64() * 1000.0)
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        ms.get(((ms.len() as f64 * p).ceil() as usize).saturating_sub(1))
            .copied()
            .unwrap_or(f64::NAN)
    };
    println!(
        "alert latency at {rate:.0} msg/s background: probes={} received={} p50_ms={:.1} p90_ms={:.1} p99_ms={:.1} max_ms={:.1} background_sent={i}",
        sent_at.len(),
        ms.len(),
        pct(0.5),
        pct(0.9),
        pct(0.99),
        ms.last().copied().unwrap_or(f64::NAN)
    );
}
