//! The TLS syslog listener (RFC 5425) end to end on loopback, with certificates the test makes
//! and `openssl s_client` as the sender: both framings reach the store; each refusal (no
//! certificate, an unknown CA, a name not permitted, a fingerprint not permitted, TLS 1.1) is
//! refused and counted while the listener keeps serving; a listed fingerprint is accepted
//! without the chain; stalled and garbage handshakes are cleaned by the handshake timeout; and
//! renewed certificate files are used by new handshakes while an open connection continues.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Picket;
use common::certs::{self, Ca, Pair};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn toml_path(p: &Path) -> String {
    p.display().to_string()
}

fn listener(server: &Pair, extra: &str) -> String {
    format!(
        "[[syslog.listener]]\nname = \"tls0\"\ntls = true\naddress = \"127.0.0.1:0\"\ntls_cert = \"{}\"\ntls_key = \"{}\"\ntls_handshake_timeout_secs = 1\n{extra}\n",
        toml_path(&server.cert),
        toml_path(&server.key)
    )
}

/// A CA, a `localhost` server certificate from it, and Picket with a TLS listener that asks
/// for client certificates (`auth`: optional or required) chaining to the CA and naming
/// `*.example.net`.
fn listener_with_client_ca(d: &Path, auth: &str) -> (Ca, Picket) {
    let ca = Ca::new(d, "ca");
    let server = ca.issue("server", "localhost", 30);
    let p = Picket::start_with_config(&listener(
        &server,
        &format!(
            "tls_client_auth = \"{auth}\"\ntls_client_ca = \"{}\"\ntls_permitted_peers = [\"*.example.net\"]\n",
            toml_path(&ca.pair.cert)
        ),
    ));
    (ca, p)
}

/// `openssl s_client` to `addr` as `localhost`, trusting `ca`.
fn openssl_client(addr: SocketAddr, ca: &Pair) -> Command {
    let mut c = Command::new("openssl");
    c.args(["s_client", "-connect", &addr.to_string()])
        .args(["-servername", "localhost", "-CAfile"])
        .arg(&ca.cert);
    c
}

/// [`openssl_client`] sending stdin (quietly, closing at its end), with a client certificate
/// if given.
fn s_client(addr: SocketAddr, ca: &Pair, client: Option<&Pair>, extra: &[&str]) -> Command {
    let mut c = openssl_client(addr, ca);
    c.args(["-verify_return_error", "-quiet", "-no_ign_eof"]);
    if let Some(p) = client {
        c.arg("-cert").arg(&p.cert).arg("-key").arg(&p.key);
    }
    c.args(extra);
    c
}

/// Runs `cmd` with `input` on stdin; waits for it (bounded) and returns whether it succeeded.
fn send(mut cmd: Command, input: &[u8]) -> bool {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl must be installed");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input).unwrap_or(());
    drop(stdin);
    wait(&mut child)
}

fn wait(child: &mut Child) -> bool {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s.success();
        }
        if Instant::now() > deadline {
            child.kill().unwrap_or(());
            child.wait().unwrap();
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn handshakes(p: &Picket, result: &str) -> u64 {
    p.metric(&format!(
        "picket_tls_handshakes_total{{result=\"{result}\"}}"
    ))
}

fn wait_handshakes(p: &Picket, result: &str, n: u64) -> u64 {
    p.wait_metric(
        &format!("picket_tls_handshakes_total{{result=\"{result}\"}}"),
        n,
        Duration::from_secs(15),
    )
}

fn line(tag: &str) -> String {
    format!("<13>Dec  2 10:00:00 fw1 app: {tag}")
}

fn octet(tag: &str) -> String {
    let l = line(tag);
    format!("{} {l}", l.len())
}

#[test]
fn tls_listener_stores_both_framings_and_refuses_what_it_must() {
    let d = tempfile::tempdir().unwrap();
    let ca = Ca::new(d.path(), "ca");
    let other_ca = Ca::new(d.path(), "otherca");
    let server = ca.issue("server", "localhost", 30);
    let good = ca.issue("good", "fw1.example.net", 30);
    let wrong_name = ca.issue("wrongname", "fw1.example.org", 30);
    let stranger = other_ca.issue("stranger", "fw2.example.net", 30);
    let factory = certs::factory_like(d.path(), "FGT60F");
    let unlisted_factory = certs::factory_like(d.path(), "FGT61F");
    let p = Picket::start_with_config(&listener(
        &server,
        &format!(
            "tls_client_auth = \"required\"\ntls_client_ca = \"{}\"\ntls_permitted_peers = [\"*.example.net\"]\ntls_permitted_fingerprints = [\"{}\"]\n",
            toml_path(&ca.pair.cert),
            factory.fingerprint()
        ),
    ));
    let addr = p.tls.expect("the ready line names syslog_tls=");

    // Both framings, in one stream, from a permitted client.
    let input = format!(
        "{}\n{}{}\n",
        line("tls-lf-one"),
        octet("tls-octet-two"),
        line("tls-lf-three")
    );
    assert!(send(
        s_client(addr, &ca.pair, Some(&good), &[]),
        input.as_bytes()
    ));
    assert_eq!(p.wait_stored(3, Duration::from_secs(20)), 3);
    for tag in ["tls-lf-one", "tls-octet-two", "tls-lf-three"] {
        let hits = p.search(tag, &[]);
        assert_eq!(hits.len(), 1, "{tag}");
        assert_eq!(hits[0]["picket.listener"], "tls0", "{hits:?}");
    }
    assert_eq!(handshakes(&p, "ok"), 1);

    // Each refusal is counted by its reason, and what the client sent is not stored.
    let refusals: [(&str, Command); 5] = [
        ("no_certificate", s_client(addr, &ca.pair, None, &[])),
        ("unknown_ca", s_client(addr, &ca.pair, Some(&stranger), &[])),
        (
            "name_not_permitted",
            s_client(addr, &ca.pair, Some(&wrong_name), &[]),
        ),
        // Fails webpki's strict checks and is not listed.
        (
            "bad_certificate",
            s_client(addr, &ca.pair, Some(&unlisted_factory), &[]),
        ),
        (
            "protocol_version",
            s_client(
                addr,
                &ca.pair,
                Some(&good),
                &["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"],
            ),
        ),
    ];
    let mut want: std::collections::BTreeMap<&str, u64> = Default::default();
    for (i, (reason, cmd)) in refusals.into_iter().enumerate() {
        send(
            cmd,
            format!("{}\n", line(&format!("refused-{i}"))).as_bytes(),
        );
        let n = want.entry(reason).or_insert(0);
        *n += 1;
        assert_eq!(
            wait_handshakes(&p, reason, *n),
            *n,
            "{reason}: {}",
            p.get("/metrics")
                .lines()
                .filter(|l| l.starts_with("picket_tls_handshakes"))
                .collect::<Vec<_>>()
                .join("\n")
                + &p.stderr()
        );
    }
    // The factory-like certificate fails strict checks but its fingerprint is listed.
    assert!(send(
        s_client(addr, &ca.pair, Some(&factory), &[]),
        format!("{}\n", line("tls-factory")).as_bytes()
    ));
    assert_eq!(p.wait_stored(4, Duration::from_secs(20)), 4);
    assert_eq!(p.search("tls-factory", &[]).len(), 1);
    assert!(p.search("refused", &[]).is_empty());

    // A handshake that never starts, garbage instead of a ClientHello, and 200 connections that
    // stop mid-handshake: all closed by the 1 s handshake timeout, the listener still serving.
    let mut silent = TcpStream::connect(addr).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut garbage = TcpStream::connect(addr).unwrap();
    garbage
        .write_all(b"this is not TLS at all\r\n\r\n")
        .unwrap();
    let stalled: Vec<TcpStream> = (0..200)
        .map(|_| {
            let mut s = TcpStream::connect(addr).unwrap();
            // A handshake record header announcing more than is ever sent.
            s.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]).unwrap();
            s
        })
        .collect();
    let mut buf = [0u8; 16];
    assert_eq!(
        silent.read(&mut buf).unwrap_or(0),
        0,
        "closed by the timeout"
    );
    assert!(wait_handshakes(&p, "timeout", 201) >= 201);
    assert!(wait_handshakes(&p, "protocol_error", 1) >= 1);
    drop(stalled);
    let deadline = Instant::now() + Duration::from_secs(10);
    while p.metric("picket_tcp_connections ") > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        p.metric("picket_tcp_connections "),
        0,
        "every connection closed"
    );
    assert!(send(
        s_client(addr, &ca.pair, Some(&good), &[]),
        format!("{}\n", line("tls-after-hostile")).as_bytes()
    ));
    assert_eq!(p.wait_stored(5, Duration::from_secs(20)), 5);
}

#[test]
fn fingerprint_only_listener_refuses_unlisted_certificates() {
    let d = tempfile::tempdir().unwrap();
    let ca = Ca::new(d.path(), "ca");
    let server = ca.issue("server", "localhost", 30);
    let listed = certs::factory_like(d.path(), "listed");
    let unlisted = ca.issue("unlisted", "fw.example.net", 30);
    let p = Picket::start_with_config(&listener(
        &server,
        &format!(
            "tls_client_auth = \"required\"\ntls_permitted_fingerprints = [\"{}\"]\ntls_min_version = \"1.3\"\n",
            listed.fingerprint()
        ),
    ));
    let addr = p.tls.unwrap();
    send(
        s_client(addr, &ca.pair, Some(&unlisted), &[]),
        format!("{}\n", line("unlisted-1")).as_bytes(),
    );
    assert_eq!(wait_handshakes(&p, "fingerprint_not_permitted", 1), 1);
    // TLS 1.2 is below this listener's minimum.
    send(
        s_client(addr, &ca.pair, Some(&listed), &["-tls1_2"]),
        format!("{}\n", line("old-version")).as_bytes(),
    );
    assert_eq!(wait_handshakes(&p, "protocol_version", 1), 1);
    assert!(send(
        s_client(addr, &ca.pair, Some(&listed), &[]),
        format!("{}\n", line("listed-1")).as_bytes()
    ));
    assert_eq!(p.wait_stored(1, Duration::from_secs(20)), 1);
    assert_eq!(p.search("listed-1", &[]).len(), 1);
    assert!(p.search("unlisted", &[]).is_empty());
}

/// The fingerprint of the certificate the server presents.
fn served_fingerprint(addr: SocketAddr, ca: &Pair, dir: &Path) -> String {
    let out = openssl_client(addr, ca)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let start = text
        .find("-----BEGIN CERTIFICATE-----")
        .expect("a certificate");
    let end = text.find("-----END CERTIFICATE-----").unwrap() + 25;
    let path = dir.join("served.pem");
    std::fs::write(&path, text.get(start..end).unwrap()).unwrap();
    Pair {
        cert: path,
        key: dir.join("unused"),
    }
    .fingerprint()
}

/// Moves `from` over `to` the way renewal tools do (a rename, so readers never see half a file).
fn rename_over(from: &Path, to: &Path) {
    std::fs::rename(from, to).unwrap();
}

#[test]
fn renewed_certificates_serve_new_handshakes_while_open_connections_continue() {
    let d = tempfile::tempdir().unwrap();
    let ca = Ca::new(d.path(), "ca");
    let live = ca.issue("live", "localhost", 30);
    let p = Picket::start_with_config(&listener(&live, ""));
    let addr = p.tls.unwrap();
    let first = served_fingerprint(addr, &ca.pair, d.path());
    assert_eq!(first, live.fingerprint());

    // An open connection, sending before and after the renewal.
    let mut open = s_client(addr, &ca.pair, None, &[])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut pipe = open.stdin.take().unwrap();
    pipe.write_all(format!("{}\n", line("before-renewal")).as_bytes())
        .unwrap();
    pipe.flush().unwrap();
    assert_eq!(p.wait_stored(1, Duration::from_secs(20)), 1);

    let renewed = ca.issue("renewed", "localhost", 60);
    rename_over(&renewed.cert, &live.cert);
    rename_over(&renewed.key, &live.key);
    assert!(
        p.wait_metric(
            "picket_tls_reloads_total{result=\"ok\"}",
            1,
            Duration::from_secs(15)
        ) >= 1
    );
    let second = served_fingerprint(addr, &ca.pair, d.path());
    assert_ne!(second, first, "new handshakes present the new certificate");

    pipe.write_all(format!("{}\n", line("after-renewal")).as_bytes())
        .unwrap();
    drop(pipe);
    assert!(wait(&mut open), "the open connection was not reset");
    assert_eq!(p.wait_stored(2, Duration::from_secs(20)), 2);
    assert_eq!(p.search("after-renewal", &[]).len(), 1);

    // A broken renewal keeps the certificate in use, and says so in the metrics.
    let failed_before = p.metric("picket_tls_reloads_total{result=\"failed\"}");
    let broken = d.path().join("broken.pem");
    std::fs::write(&broken, "-----BEGIN CERTIFICATE-----\nnot base64\n").unwrap();
    rename_over(&broken, &live.cert);
    assert!(
        p.wait_metric(
            "picket_tls_reloads_total{result=\"failed\"}",
            failed_before + 1,
            Duration::from_secs(15)
        ) > failed_before
    );
    assert_eq!(served_fingerprint(addr, &ca.pair, d.path()), second);

    // SIGHUP reloads even when nothing changed on disk.
    let fixed = ca.issue("fixed", "localhost", 90);
    let fixed_fingerprint = fixed.fingerprint();
    rename_over(&fixed.key, &live.key);
    rename_over(&fixed.cert, &live.cert);
    let ok_before = p.wait_metric(
        "picket_tls_reloads_total{result=\"ok\"}",
        2,
        Duration::from_secs(15),
    );
    let pid = nix::unistd::Pid::from_raw(p.child.as_ref().unwrap().id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).unwrap();
    assert!(
        p.wait_metric(
            "picket_tls_reloads_total{result=\"ok\"}",
            ok_before + 1,
            Duration::from_secs(15)
        ) > ok_before
    );
    assert_eq!(
        served_fingerprint(addr, &ca.pair, d.path()),
        fixed_fingerprint
    );
}

/// `picket config check` on a TLS listener: a key of another certificate is an error naming
/// the key; a certificate expiring within 30 days and a key others can read are warnings.
#[test]
fn config_check_verifies_the_pair_and_warns_before_expiry() {
    use std::os::unix::fs::PermissionsExt as _;
    let d = tempfile::tempdir().unwrap();
    let ca = Ca::new(d.path(), "ca");
    let a = ca.issue("a", "localhost", 10);
    let b = ca.issue("b", "localhost", 90);
    let check = |cert: &Pair, key: &Path| {
        let toml = d.path().join("picket.toml");
        std::fs::write(
            &toml,
            listener(
                &Pair {
                    cert: cert.cert.clone(),
                    key: key.to_path_buf(),
                },
                "",
            ),
        )
        .unwrap();
        Command::new(common::bin())
            .args(["config", "check", "--config"])
            .arg(&toml)
            .arg("--data-dir")
            .arg(d.path().join("data"))
            .output()
            .unwrap()
    };
    let mismatched = check(&a, &b.key);
    let err = String::from_utf8_lossy(&mismatched.stderr);
    assert!(!mismatched.status.success(), "{err}");
    assert!(
        err.contains("tls_cert") && err.contains("does not belong"),
        "{err}"
    );

    std::fs::set_permissions(&a.key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let warned = check(&a, &a.key);
    let err = String::from_utf8_lossy(&warned.stderr);
    let out = String::from_utf8_lossy(&warned.stdout);
    assert!(warned.status.success(), "{err}");
    assert!(
        err.contains("the certificate expires in 9 days")
            || err.contains("the certificate expires in 10 days"),
        "{err}"
    );
    assert!(err.contains("readable by every user"), "{err}");
    assert!(out.contains(&a.fingerprint()), "{out}");

    std::fs::set_permissions(&b.key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let clean = check(&b, &b.key);
    let err = String::from_utf8_lossy(&clean.stderr);
    assert!(clean.status.success() && !err.contains("warning"), "{err}");
}

/// The TLS and TCP listeners queue up to 4,096 connections before `accept`, so a burst of
/// reconnecting senders is not held back by SYN retransmits (`ss -ltn` shows the backlog as
/// Send-Q).
#[test]
fn listeners_have_a_long_backlog() {
    let d = tempfile::tempdir().unwrap();
    let ca = Ca::new(d.path(), "ca");
    let server = ca.issue("server", "localhost", 30);
    let p = Picket::start_with_config(&listener(&server, ""));
    let out = Command::new("ss")
        .args(["-ltnH"])
        .output()
        .expect("ss (Debian iproute2)");
    let text = String::from_utf8_lossy(&out.stdout);
    for addr in [p.tls.unwrap(), p.tcp] {
        let row = text
            .lines()
            .find(|l| l.split_whitespace().nth(3) == Some(addr.to_string().as_str()))
            .unwrap_or_else(|| panic!("{addr} not in\n{text}"));
        let send_q: u32 = row.split_whitespace().nth(2).unwrap().parse().unwrap();
        assert!(send_q >= 4096, "{row}");
    }
}

/// `curl` over HTTPS to the dashboard with the test CA: (status line and headers, body).
fn curl(url: &str, ca: &Pair, extra: &[&str]) -> (String, String) {
    let out = Command::new("curl")
        .args(["-sS", "-i", "--max-time", "10", "--cacert"])
        .arg(&ca.cert)
        .args(extra)
        .arg(url)
        .output()
        .expect("curl must be installed (Debian curl)");
    assert!(
        out.status.success(),
        "curl {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (head.to_lowercase(), body.to_string())
}

/// The dashboard over HTTPS: the certificate verifies, answers carry HSTS, the session cookie
/// is `Secure`, and the plain-HTTP redirect port sends browsers to HTTPS.
#[test]
fn dashboard_serves_https_with_hsts_secure_cookies_and_a_redirect_port() {
    let d = tempfile::tempdir().unwrap();
    let ca = Ca::new(d.path(), "ca");
    let server = ca.issue("web", "localhost", 30);
    let p = Picket::start_with_config(&format!(
        "[web]\ntls_cert = \"{}\"\ntls_key = \"{}\"\nhsts_max_age_secs = 600\nredirect_listen = \"127.0.0.1:0\"\n",
        toml_path(&server.cert),
        toml_path(&server.key)
    ));
    let port = p.web.port();
    let base = format!("https://localhost:{port}");
    let resolve = format!("localhost:{port}:127.0.0.1");
    let (head, body) = curl(&format!("{base}/login"), &ca.pair, &["--resolve", &resolve]);
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(
        head.contains("strict-transport-security: max-age=600"),
        "{head}"
    );
    assert!(head.contains("content-security-policy:"), "{head}");
    assert!(body.contains("<form"), "{body}");

    let pw = p.admin_password();
    let (head, _) = curl(
        &format!("{base}/login"),
        &ca.pair,
        &[
            "--resolve",
            &resolve,
            "--data",
            &format!("user=admin&password={pw}"),
        ],
    );
    assert!(head.starts_with("http/1.1 303"), "{head}");
    let cookie = head
        .lines()
        .find(|l| l.starts_with("set-cookie:"))
        .unwrap_or_else(|| panic!("{head}"));
    assert!(cookie.contains("; secure"), "{cookie}");

    // Plain HTTP on the HTTPS port is refused; the redirect port points at HTTPS.
    let plain = Command::new("curl")
        .args(["-sS", "--max-time", "5"])
        .arg(format!("http://127.0.0.1:{port}/login"))
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&plain.stdout).contains("<form"));
    let redirect: SocketAddr = p
        .ready
        .split_whitespace()
        .find_map(|w| w.strip_prefix("web_redirect="))
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no web_redirect= in the ready line: {}", p.ready));
    let out = Command::new("curl")
        .args(["-sS", "-i", "--max-time", "5", "-H", "Host: localhost:8080"])
        .arg(format!("http://{redirect}/search?q=x"))
        .output()
        .unwrap();
    let head = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(head.starts_with("http/1.1 308"), "{head}");
    assert!(
        head.contains(&format!("location: https://localhost:{port}/search?q=x")),
        "{head}"
    );
}

/// syslog-ng relays lines over `syslog(transport("tls"))` (octet counting) with a client
/// certificate the listener requires and checks by name: every line reaches the store once.
#[test]
fn syslog_ng_forwards_over_tls_with_a_client_certificate() {
    let d = tempfile::tempdir().unwrap();
    let (ca, p) = listener_with_client_ca(d.path(), "required");
    let relay = ca.issue("relay", "relay.example.net", 30);
    let addr = p.tls.unwrap();
    let input = d.path().join("in.log");
    let lines: String = (0..300)
        .map(|i| format!("syslog-ng-tls-{i:04} via relay\n"))
        .collect();
    std::fs::write(&input, &lines).unwrap();
    let conf = d.path().join("syslog-ng.conf");
    std::fs::write(
        &conf,
        format!(
            r#"@version: 3.38
options {{ keep-hostname(yes); stats-freq(0); }};
source s_in {{ file("{input}" follow-freq(1) flags(no-parse)); }};
destination d_picket {{
  syslog("localhost" port({port}) transport("tls") ip-protocol(4)
    tls(ca-file("{ca}") cert-file("{cert}") key-file("{key}") peer-verify(required-trusted)));
}};
log {{ source(s_in); destination(d_picket); }};
"#,
            input = input.display(),
            port = addr.port(),
            ca = ca.pair.cert.display(),
            cert = relay.cert.display(),
            key = relay.key.display(),
        ),
    )
    .unwrap();
    let mut ng = Command::new("syslog-ng")
        .args(["-F", "--no-caps", "-f"])
        .arg(&conf)
        .arg("-R")
        .arg(d.path().join("persist"))
        .arg("-p")
        .arg(d.path().join("pid"))
        .arg("-c")
        .arg(d.path().join("ctl"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("syslog-ng must be installed (Debian syslog-ng-core)");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut stored = 0;
    while stored < 300 && Instant::now() < deadline && ng.try_wait().unwrap().is_none() {
        std::thread::sleep(Duration::from_millis(100));
        stored = p.metric("picket_events_stored_total");
    }
    let pid = nix::unistd::Pid::from_raw(ng.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = wait(&mut ng);
    let mut err = String::new();
    ng.stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap_or(0);
    assert_eq!(stored, 300, "syslog-ng (exit ok: {status}): {err}");
    let hits = p.search("via relay", &[]);
    assert_eq!(hits.len(), 300);
    let mut seen: Vec<String> = hits
        .iter()
        .map(|h| h["message"].as_str().unwrap().to_string())
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 300, "no line twice");
    assert!(handshakes(&p, "ok") >= 1);

    // The senders page names the relay's client certificate.
    let a = common::agent();
    let base = format!("http://{}", p.web);
    let r = a
        .post(&format!("{base}/login"))
        .content_type("application/x-www-form-urlencoded")
        .send(format!("user=admin&password={}", p.admin_password()))
        .unwrap();
    let cookie = common::session_cookie(&r);
    let page = a
        .get(&format!("{base}/senders"))
        .header("cookie", &cookie)
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    assert!(page.contains("CN=relay.example.net"), "{page}");
    assert!(page.contains(&relay.fingerprint()), "{page}");
}

/// One rsyslog forwarding setup: its driver, framing, how it checks Picket, and whether it
/// presents a client certificate.
struct Rsyslog {
    child: Child,
}

impl Rsyslog {
    /// Starts rsyslogd, reading `input` (imfile) and forwarding it to `addr` over TLS.
    fn start(
        dir: &Path,
        addr: SocketAddr,
        ca: &Pair,
        client: Option<&Pair>,
        (driver, framing, auth): (&str, &str, &str),
        input: &Path,
    ) -> Rsyslog {
        let work = dir.join(format!("rsyslog-{driver}-{framing}-work"));
        std::fs::create_dir_all(&work).unwrap();
        let certs = client.map_or(String::new(), |c| {
            format!(
                " DefaultNetstreamDriverCertFile=\"{}\" DefaultNetstreamDriverKeyFile=\"{}\"",
                c.cert.display(),
                c.key.display()
            )
        });
        let peers = if auth == "x509/name" {
            " StreamDriverPermittedPeers=\"localhost\""
        } else {
            ""
        };
        let conf = work.join("rsyslog.conf");
        std::fs::write(
            &conf,
            format!(
                r#"global(workDirectory="{work}" DefaultNetstreamDriverCAFile="{ca}"{certs})
module(load="imfile")
input(type="imfile" File="{input}" Tag="rsy:" freshStartTail="off")
action(type="omfwd" target="127.0.0.1" port="{port}" protocol="tcp"
       StreamDriver="{driver}" StreamDriverMode="1" StreamDriverAuthMode="{auth}"{peers}
       TCP_Framing="{framing}"
       action.resumeRetryCount="-1" action.resumeInterval="1")
"#,
                work = work.display(),
                ca = ca.cert.display(),
                input = input.display(),
                port = addr.port(),
            ),
        )
        .unwrap();
        let (mut cmd, modules) = common::rsyslogd();
        let child = cmd
            .arg("-n")
            .arg("-f")
            .arg(&conf)
            .arg("-M")
            .arg(&modules)
            .arg("-i")
            .arg(work.join("pid"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        Rsyslog { child }
    }

    /// Stops it by its PID; returns what it wrote to stderr.
    fn stop(mut self) -> String {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap_or(());
        wait(&mut self.child);
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            e.read_to_string(&mut err).unwrap_or(0);
        }
        err
    }
}

/// Waits until `n` events are stored, failing early if rsyslog exits.
fn wait_stored_from(p: &Picket, r: &mut Rsyslog, n: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut stored = p.metric("picket_events_stored_total");
    while stored < n && Instant::now() < deadline && r.child.try_wait().unwrap().is_none() {
        std::thread::sleep(Duration::from_millis(100));
        stored = p.metric("picket_events_stored_total");
    }
    stored
}

/// rsyslog with its gtls and ossl drivers, both framings, anon and x509/name checking of
/// Picket, presenting the client certificate the listener requires: every line arrives once.
#[test]
fn rsyslog_forwards_over_tls_with_both_drivers_framings_and_modes() {
    let d = tempfile::tempdir().unwrap();
    let (ca, p) = listener_with_client_ca(d.path(), "required");
    let client = ca.issue("client", "fw9.example.net", 30);
    let addr = p.tls.unwrap();
    let runs = [
        ("gtls", "octet-counted", "x509/name"),
        ("gtls", "traditional", "anon"),
        ("ossl", "octet-counted", "anon"),
        ("ossl", "traditional", "x509/name"),
    ];
    let mut total = 0;
    for (driver, framing, auth) in runs {
        let tag = format!("rsyslog-{driver}-{framing}-{}", auth.replace('/', "-"));
        let input = d.path().join(format!("{tag}.log"));
        let lines: String = (0..200).map(|i| format!("{tag} line {i:04}\n")).collect();
        std::fs::write(&input, lines).unwrap();
        let mut r = Rsyslog::start(
            d.path(),
            addr,
            &ca.pair,
            Some(&client),
            (driver, framing, auth),
            &input,
        );
        total += 200;
        let stored = wait_stored_from(&p, &mut r, total);
        let err = r.stop();
        assert_eq!(stored, total, "{tag}: {err}");
        let hits = p.search(&tag, &[]);
        let mut msgs: Vec<&str> = hits.iter().filter_map(|h| h["message"].as_str()).collect();
        msgs.sort_unstable();
        msgs.dedup();
        assert_eq!(msgs.len(), 200, "{tag}: every line once");
    }
}

/// Certificate renewal while rsyslog streams over TLS: the connection is not reset, no line is
/// lost or stored twice, and new handshakes present the new certificate.
#[test]
fn renewal_under_load_loses_nothing() {
    let d = tempfile::tempdir().unwrap();
    let ca = Ca::new(d.path(), "ca");
    let live = ca.issue("live", "localhost", 30);
    let p = Picket::start_with_config(&listener(&live, ""));
    let addr = p.tls.unwrap();
    let before = served_fingerprint(addr, &ca.pair, d.path());
    let input = d.path().join("stream.log");
    std::fs::write(&input, "").unwrap();
    let mut r = Rsyslog::start(
        d.path(),
        addr,
        &ca.pair,
        None,
        ("gtls", "octet-counted", "x509/name"),
        &input,
    );
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&input)
        .unwrap();
    let total = 3000u64;
    for i in 0..total {
        writeln!(f, "renewal-stream line {i:05}").unwrap();
        if i % 100 == 99 {
            f.flush().unwrap();
            std::thread::sleep(Duration::from_millis(20));
        }
        if i == total / 2 {
            let renewed = ca.issue("renewed", "localhost", 60);
            rename_over(&renewed.cert, &live.cert);
            rename_over(&renewed.key, &live.key);
        }
    }
    f.flush().unwrap();
    let stored = wait_stored_from(&p, &mut r, total);
    assert!(
        p.wait_metric(
            "picket_tls_reloads_total{result=\"ok\"}",
            1,
            Duration::from_secs(15)
        ) >= 1
    );
    let after = served_fingerprint(addr, &ca.pair, d.path());
    let handshakes_ok = handshakes(&p, "ok");
    let err = r.stop();
    assert_eq!(stored, total, "{err}");
    let hits = p.search("renewal-stream", &[]);
    let mut msgs: Vec<&str> = hits.iter().filter_map(|h| h["message"].as_str()).collect();
    msgs.sort_unstable();
    msgs.dedup();
    assert_eq!(msgs.len() as u64, total, "no line lost or stored twice");
    assert_ne!(before, after, "new handshakes present the new certificate");
    // The two fingerprint probes and rsyslog's one connection: no reconnect after a reset.
    assert_eq!(handshakes_ok, 3, "rsyslog kept its connection");
}

/// A sender that only writes and closes its socket without `close_notify` (many do) loses
/// nothing: the listener sends nothing after the handshake (no TLS 1.3 session tickets) that
/// the sender would leave unread, which would turn its close into a reset.
#[test]
fn a_write_only_sender_that_closes_abruptly_loses_nothing() {
    let d = tempfile::tempdir().unwrap();
    let ca = Ca::new(d.path(), "ca");
    let server = ca.issue("server", "localhost", 30);
    let p = Picket::start_with_config(&listener(&server, ""));
    let (mut conn, mut sock) = rustls_client(&p, &ca);
    let n = 20_000;
    for i in 0..n {
        conn.writer()
            .write_all(octet(&format!("abrupt-{i:06}")).as_bytes())
            .unwrap();
        while conn.wants_write() {
            conn.write_tls(&mut sock).unwrap();
        }
    }
    drop(sock);
    assert_eq!(p.wait_stored(n, Duration::from_secs(30)), n);
}

/// The JSON line of the certificate-expiry alert in this state, waited for (bounded).
fn expiry_alert(p: &Picket, state: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = common::run_ok(
            Command::new(common::bin())
                .args(["alerts", "list", "--state", state, "--data-dir"])
                .arg(p.data_dir()),
        );
        let text = String::from_utf8(out.stdout).unwrap();
        if let Some(l) = text
            .lines()
            .find(|l| l.contains("picket-tls-certificate-expiry"))
        {
            return l.to_string();
        }
        assert!(Instant::now() < deadline, "no {state} expiry alert: {text}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A served certificate within 14 days of its end raises the built-in expiry alert at once
/// (critical under 3 days), the expiry is a metric, and renewing the file resolves the alert.
#[test]
fn a_certificate_about_to_expire_raises_the_built_in_alert() {
    let d = tempfile::tempdir().unwrap();
    let ca = Ca::new(d.path(), "ca");
    let short = ca.issue("short", "localhost", 2);
    let p = Picket::start_with_config(&format!(
        "[retention]\ninterval = \"1s\"\n{}",
        listener(&short, "")
    ));
    let alert = expiry_alert(&p, "open");
    let a: serde_json::Value = serde_json::from_str(&alert).unwrap();
    assert_eq!(a["level"], "critical", "{alert}");
    assert!(a["title"].as_str().unwrap().contains("tls0"), "{alert}");
    let end = p.metric("picket_tls_certificate_expiry_seconds{listener=\"tls0\"}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(end > now && end < now + 3 * 86_400, "{end}");

    let renewed = ca.issue("renewed", "localhost", 90);
    rename_over(&renewed.key, &short.key);
    rename_over(&renewed.cert, &short.cert);
    let resolved = expiry_alert(&p, "resolved");
    let r: serde_json::Value = serde_json::from_str(&resolved).unwrap();
    assert!(a["id"].is_number(), "{alert}");
    assert_eq!(r["id"], a["id"], "{resolved}");
}

/// `gnutls-cli` to `addr`, verifying the server as `localhost` against `ca`.
fn gnutls_cli(
    addr: SocketAddr,
    ca: &Pair,
    client: Option<&Pair>,
    priority: Option<&str>,
) -> Command {
    let mut c = Command::new("gnutls-cli");
    c.arg("--x509cafile").arg(&ca.cert).args([
        "--verify-hostname",
        "localhost",
        "-p",
        &addr.port().to_string(),
    ]);
    if let Some(p) = client {
        c.arg("--x509certfile")
            .arg(&p.cert)
            .arg("--x509keyfile")
            .arg(&p.key);
    }
    if let Some(p) = priority {
        c.arg("--priority").arg(p);
    }
    c.arg("127.0.0.1");
    c
}

/// GnuTLS as the client (what rsyslog's gtls driver uses): accepted with a permitted
/// certificate, and each refusal counted by its reason while the listener keeps serving.
#[test]
fn gnutls_clients_are_accepted_or_refused_by_reason() {
    let d = tempfile::tempdir().unwrap();
    let (ca, p) = listener_with_client_ca(d.path(), "required");
    let addr = p.tls.unwrap();
    let good = ca.issue("good", "fw3.example.net", 30);
    let wrong_name = ca.issue("wrongname", "fw3.example.org", 30);
    let stranger = Ca::new(d.path(), "otherca").issue("stranger", "fw4.example.net", 30);
    let cases: [(&str, Option<&Pair>, Option<&str>); 4] = [
        ("no_certificate", None, None),
        ("unknown_ca", Some(&stranger), None),
        ("name_not_permitted", Some(&wrong_name), None),
        (
            "protocol_version",
            Some(&good),
            Some("NORMAL:-VERS-ALL:+VERS-TLS1.1"),
        ),
    ];
    for (i, (reason, client, priority)) in cases.into_iter().enumerate() {
        send(
            gnutls_cli(addr, &ca.pair, client, priority),
            format!("{}\n", line(&format!("gnutls-refused-{i}"))).as_bytes(),
        );
        assert_eq!(wait_handshakes(&p, reason, 1), 1, "{reason}");
    }
    assert!(send(
        gnutls_cli(addr, &ca.pair, Some(&good), None),
        format!("{}\n", line("gnutls-accepted")).as_bytes()
    ));
    assert_eq!(p.wait_stored(1, Duration::from_secs(20)), 1);
    assert_eq!(p.search("gnutls-accepted", &[]).len(), 1);
    assert!(p.search("gnutls-refused", &[]).is_empty());
}

/// A sender that ends with `close_notify` gets one back (RFC 5425 §4.4), and what it sent is
/// stored.
#[test]
fn close_notify_is_answered() {
    let d = tempfile::tempdir().unwrap();
    let ca = Ca::new(d.path(), "ca");
    let server = ca.issue("server", "localhost", 30);
    let p = Picket::start_with_config(&listener(&server, ""));
    let (mut conn, mut sock) = rustls_client(&p, &ca);
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    conn.writer()
        .write_all(format!("{}\n", line("clean-close")).as_bytes())
        .unwrap();
    conn.send_close_notify();
    while conn.wants_write() {
        conn.write_tls(&mut sock).unwrap();
    }
    // Read until the server's close_notify: a clean end of stream, not a reset or an EOF.
    let mut got_close = false;
    for _ in 0..100 {
        if conn.read_tls(&mut sock).unwrap() == 0 {
            break;
        }
        let state = conn.process_new_packets().unwrap();
        if state.peer_has_closed() {
            got_close = true;
            break;
        }
    }
    assert!(got_close, "the server answered with close_notify");
    assert_eq!(p.wait_stored(1, Duration::from_secs(20)), 1);
    assert_eq!(p.search("clean-close", &[]).len(), 1);
}

/// A rustls client connection to the TLS listener, past its handshake (reads time out after 10 s).
fn rustls_client(p: &Picket, ca: &Ca) -> (rustls::ClientConnection, TcpStream) {
    use rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from_pem_file(&ca.pair.cert).unwrap())
        .unwrap();
    let config = std::sync::Arc::new(
        rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth(),
    );
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut conn = rustls::ClientConnection::new(config, name).unwrap();
    let mut sock = TcpStream::connect(p.tls.unwrap()).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    while conn.is_handshaking() {
        conn.complete_io(&mut sock).unwrap();
    }
    (conn, sock)
}
