//! The dashboard end to end over HTTP: the first-start admin password from the log, login,
//! a `logger` message found on the search page, an alert acknowledged through its form.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::Picket;
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
