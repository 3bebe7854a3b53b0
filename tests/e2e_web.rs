//! The dashboard end to end over HTTP: the first-start admin password from the log, login,
//! a `logger` message found on the search page, an alert acknowledged through its form.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::Picket;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

#[test]
fn log_in_search_and_acknowledge_an_alert() {
    let p = Picket::start(&[]);
    let base = format!("http://{}", p.web);
    let a = common::agent();
    // No session: every page sends to the login page.
    let r = a.get(&format!("{base}/search")).call().unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(r.headers().get("location").unwrap(), "/login");

    let pw = p.admin_password();
    let bad = a
        .post(&format!("{base}/login"))
        .content_type("application/x-www-form-urlencoded")
        .send("user=admin&password=wrong-one-here")
        .unwrap();
    assert_eq!(bad.status().as_u16(), 401);
    let r = a
        .post(&format!("{base}/login"))
        .content_type("application/x-www-form-urlencoded")
        .send(format!("user=admin&password={pw}"))
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let cookie = common::session_cookie(&r);

    for _ in 0..5 {
        p.log_udp(
            "sshd",
            "Failed password for root from 203.0.113.50 port 4242 ssh2",
        );
    }
    p.log_udp("app", "webcheck <b>bold</b> marker");
    assert_eq!(p.wait_stored(6, Duration::from_secs(10)), 6);
    let mut r = a
        .get(&format!("{base}/search?q=marker&range=1h"))
        .header("cookie", &cookie)
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let page = r.body_mut().read_to_string().unwrap();
    assert!(
        page.contains("webcheck") && !page.contains("<b>bold</b>"),
        "{page}"
    );

    // Live tail: a message sent after the stream opened arrives on it. The stream's starting
    // point is fixed before its headers are sent, so nothing needs to wait here; how fast it
    // arrives is printed, not asserted (timings are for benchmarks).
    let mut r = a
        .get(&format!("{base}/tail/stream?q=tailcheck"))
        .header("cookie", &cookie)
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        let reader = std::io::BufReader::new(r.body_mut().as_reader());
        for line in reader.lines().map_while(Result::ok) {
            if line.contains("tailcheck") {
                tx.send(Instant::now()).unwrap_or(());
                return;
            }
        }
    });
    let sent = Instant::now();
    p.log_udp("app", "tailcheck live");
    let got = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the tailed event on the stream");
    println!(
        "live tail: logger to stream in {:?}",
        got.duration_since(sent)
    );

    // The brute-force alert, acknowledged through the page's form with its CSRF token.
    let deadline = Instant::now() + Duration::from_secs(10);
    let (id, csrf) = loop {
        let mut r = a
            .get(&format!("{base}/alerts?state=open"))
            .header("cookie", &cookie)
            .call()
            .unwrap();
        let page = r.body_mut().read_to_string().unwrap();
        if let Some(id) = page
            .split("href=\"/alerts/")
            .nth(1)
            .and_then(|r| r.split('"').next())
        {
            let mut r = a
                .get(&format!("{base}/alerts/{id}"))
                .header("cookie", &cookie)
                .call()
                .unwrap();
            let detail = r.body_mut().read_to_string().unwrap();
            let csrf = detail
                .split("name=\"csrf\" value=\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .unwrap()
                .to_string();
            break (id.to_string(), csrf);
        }
        assert!(Instant::now() < deadline, "no alert listed: {page}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let r = a
        .post(&format!("{base}/alerts/{id}/state"))
        .header("cookie", &cookie)
        .content_type("application/x-www-form-urlencoded")
        .send(format!("csrf={csrf}&to=acknowledged&comment=looking"))
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let mut r = a
        .get(&format!("{base}/alerts/{id}"))
        .header("cookie", &cookie)
        .call()
        .unwrap();
    let detail = r.body_mut().read_to_string().unwrap();
    assert!(
        detail.contains("acknowledged") && detail.contains("looking") && detail.contains("admin")
    );
}

/// A login POST from `from` (a loopback address), raw HTTP/1.1: (status, Retry-After).
fn login_from(p: &Picket, from: &str, password: &str) -> (u16, Option<u64>) {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let src: std::net::SocketAddr = format!("{from}:0").parse().unwrap();
    sock.bind(&src.into()).unwrap();
    sock.connect_timeout(&p.web.into(), Duration::from_secs(5))
        .unwrap();
    let mut s: std::net::TcpStream = sock.into();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let body = format!("user=admin&password={password}");
    write!(
        s,
        "POST /login HTTP/1.1\r\nHost: picket\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let retry = out
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("retry-after:")
                .map(|v| v.trim().to_string())
        })
        .and_then(|v| v.parse().ok());
    (status, retry)
}

/// An attacker failing for `admin` from 127.0.0.2 gets 429 with Retry-After once past its
/// limit, and never keeps the right password from another address out (no lock-out).
#[test]
fn a_failing_address_is_throttled_without_locking_the_user_out() {
    let p = Picket::start(&[]);
    let pw = p.admin_password();
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(login_from(&p, "127.0.0.2", "wrong-password-here"));
    }
    assert!(
        statuses.iter().take(5).all(|(s, _)| *s == 401),
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .skip(5)
            .all(|(s, r)| *s == 429 && r.is_some_and(|r| r >= 1)),
        "{statuses:?}"
    );
    // The attacker's address waits even with the right password ...
    assert_eq!(login_from(&p, "127.0.0.2", &pw).0, 429);
    // ... while the admin, from another address, signs in at once.
    assert_eq!(login_from(&p, "127.0.0.1", &pw).0, 303);
    // Failures from yet more addresses slow the name down for them, not for a clean one.
    for i in 3..10 {
        login_from(&p, &format!("127.0.0.{i}"), "wrong-password-here");
    }
    assert_eq!(login_from(&p, "127.0.0.1", &pw).0, 303);
}
