//! Receivers on loopback for notification tests: an HTTP server that records requests and
//! answers per path, and an SMTP server with AUTH PLAIN/LOGIN that records messages.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Request {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub at: Instant,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// Answers: a path starting with `/fail-N/` answers 500 to its first N requests, then 200;
/// `/always-500/` always 500; anything else 200.
pub struct HttpSink {
    pub addr: SocketAddr,
    pub requests: Arc<Mutex<Vec<Request>>>,
}

impl HttpSink {
    pub fn start() -> HttpSink {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let r2 = requests.clone();
        std::thread::spawn(move || {
            for s in l.incoming().flatten() {
                let r = r2.clone();
                std::thread::spawn(move || handle_http(s, r));
            }
        });
        HttpSink { addr, requests }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn on(&self, prefix: &str) -> Vec<Request> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path.starts_with(prefix))
            .cloned()
            .collect()
    }

    /// Waits (bounded) until `n` requests reached paths starting with `prefix`.
    pub fn wait(&self, prefix: &str, n: usize, max: Duration) -> Vec<Request> {
        let deadline = Instant::now() + max;
        loop {
            let got = self.on(prefix);
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn handle_http(s: TcpStream, log: Arc<Mutex<Vec<Request>>>) {
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap_or(());
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut line = String::new();
    if r.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut headers = Vec::new();
    let mut len = 0usize;
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
            break;
        }
        if let Some((k, v)) = h.trim_end().split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().unwrap_or(0);
            }
            headers.push((k.to_string(), v.trim().to_string()));
        }
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).unwrap_or(());
    let seen = {
        let mut g = log.lock().unwrap();
        g.push(Request {
            path: path.clone(),
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
            at: Instant::now(),
        });
        g.iter().filter(|q| q.path == path).count()
    };
    let status = if path.starts_with("/always-500/") {
        500
    } else if let Some(n) = path
        .strip_prefix("/fail-")
        .and_then(|p| p.split('/').next())
        .and_then(|n| n.parse::<usize>().ok())
    {
        if seen <= n { 500 } else { 200 }
    } else {
        200
    };
    let mut w = s;
    let reason = if status == 200 {
        "OK"
    } else {
        "Internal Server Error"
    };
    write!(
        w,
        "HTTP/1.1 {status} {reason}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
    )
    .unwrap_or(());
}

#[derive(Debug, Clone, Default)]
pub struct Mail {
    pub auth: Option<(String, String)>,
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

/// An SMTP server (no TLS) accepting one user.
pub struct SmtpSink {
    pub addr: SocketAddr,
    pub mails: Arc<Mutex<Vec<Mail>>>,
}

impl SmtpSink {
    pub fn start(user: &'static str, pass: &'static str) -> SmtpSink {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let m2 = mails.clone();
        std::thread::spawn(move || {
            for s in l.incoming().flatten() {
                let m = m2.clone();
                std::thread::spawn(move || handle_smtp(s, m, user, pass));
            }
        });
        SmtpSink { addr, mails }
    }

    pub fn wait(&self, n: usize, max: Duration) -> Vec<Mail> {
        let deadline = Instant::now() + max;
        loop {
            let got = self.mails.lock().unwrap().clone();
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn b64(s: &str) -> String {
    use base64::Engine as _;
    String::from_utf8_lossy(
        &base64::engine::general_purpose::STANDARD
            .decode(s.trim())
            .unwrap_or_default(),
    )
    .into_owned()
}

fn handle_smtp(s: TcpStream, mails: Arc<Mutex<Vec<Mail>>>, user: &str, pass: &str) {
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap_or(());
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    let mut mail = Mail::default();
    let say = |w: &mut TcpStream, t: &str| w.write_all(t.as_bytes()).unwrap_or(());
    say(&mut w, "220 sink ESMTP\r\n");
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let upper = line.to_ascii_uppercase();
        if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            say(
                &mut w,
                "250-sink\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n",
            );
        } else if upper.starts_with("AUTH PLAIN") {
            let arg = line.trim_end().get(11..).unwrap_or("").to_string();
            let arg = if arg.is_empty() {
                say(&mut w, "334 \r\n");
                let mut l = String::new();
                r.read_line(&mut l).unwrap_or(0);
                l
            } else {
                arg
            };
            let dec = b64(&arg);
            let parts: Vec<&str> = dec.split('\0').collect();
            let (u, p) = (
                parts.get(1).copied().unwrap_or(""),
                parts.get(2).copied().unwrap_or(""),
            );
            if u == user && p == pass {
                mail.auth = Some((u.into(), p.into()));
                say(&mut w, "235 ok\r\n");
            } else {
                say(&mut w, "535 bad credentials\r\n");
            }
        } else if upper.starts_with("AUTH LOGIN") {
            say(&mut w, "334 VXNlcm5hbWU6\r\n");
            let mut u = String::new();
            r.read_line(&mut u).unwrap_or(0);
            say(&mut w, "334 UGFzc3dvcmQ6\r\n");
            let mut p = String::new();
            r.read_line(&mut p).unwrap_or(0);
            let (u, p) = (b64(&u), b64(&p));
            if u == user && p == pass {
                mail.auth = Some((u, p));
                say(&mut w, "235 ok\r\n");
            } else {
                say(&mut w, "535 bad credentials\r\n");
            }
        } else if upper.starts_with("MAIL FROM:") {
            mail.from = line.trim_end().get(10..).unwrap_or("").to_string();
            say(&mut w, "250 ok\r\n");
        } else if upper.starts_with("RCPT TO:") {
            mail.to
                .push(line.trim_end().get(8..).unwrap_or("").to_string());
            say(&mut w, "250 ok\r\n");
        } else if upper.starts_with("DATA") {
            say(&mut w, "354 go\r\n");
            let mut data = String::new();
            loop {
                let mut l = String::new();
                if r.read_line(&mut l).unwrap_or(0) == 0 || l == ".\r\n" {
                    break;
                }
                data.push_str(&l);
            }
            mail.data = data;
            mails.lock().unwrap().push(std::mem::take(&mut mail));
            say(&mut w, "250 queued\r\n");
        } else if upper.starts_with("QUIT") {
            say(&mut w, "221 bye\r\n");
            return;
        } else if upper.starts_with("RSET") || upper.starts_with("NOOP") {
            say(&mut w, "250 ok\r\n");
        } else {
            say(&mut w, "502 unknown\r\n");
        }
    }
}
