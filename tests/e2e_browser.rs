//! The dashboard in a real headless browser: Debian's Chromium driven through ChromeDriver
//! (WebDriver, with fantoccini). Logs in, runs a search, opens an event, exports a CSV, sees a
//! `logger` message arrive in live tail, sees an `snmptrap` linkDown on the SNMP page, and
//! acknowledges an alert through its form. A screenshot of every page is saved under
//! `target/screenshots/` (test artefacts). The same walk runs once over plain HTTP and once
//! over HTTPS with a test CA (Chromium ignores a CA file, so it is given the certificate's SPKI
//! hash with `--ignore-certificate-errors-spki-list`). Fails, never skips, when chromium or chromedriver
//! is missing (`scripts/test.sh` installs them).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::Picket;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// ChromeDriver on a loopback port, stopped by PID when dropped.
struct Driver {
    child: Child,
    port: u16,
    _profile: tempfile::TempDir,
}

impl Driver {
    fn start() -> Driver {
        for tool in ["chromium", "chromedriver"] {
            let found = Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false);
            assert!(
                found,
                "{tool} is missing: install chromium and chromium-driver (scripts/test.sh does)"
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("chromedriver")
            .args([format!("--port={port}"), "--allowed-ips=127.0.0.1".into()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver {
            child,
            port,
            _profile: tempfile::tempdir().unwrap(),
        }
    }

    async fn browser(&self, extra: &[String]) -> Client {
        let mut args: Vec<String> = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1280,900",
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        args.push(format!(
            "--user-data-dir={}",
            self._profile.path().display()
        ));
        args.extend(extra.iter().cloned());
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": "/usr/bin/chromium", "args": args }),
        );
        let conn = hyper_util::client::legacy::connect::HttpConnector::new();
        ClientBuilder::new(conn)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a WebDriver session with Chromium")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _killed = self.child.kill();
        let _reaped = self.child.wait();
    }
}

fn shots() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Saves a screenshot as `{prefix}{name}.png` (the prefix tells the HTTPS walk apart).
async fn shot(c: &Client, prefix: &str, name: &str) {
    let png = c.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "{name}: not a PNG");
    std::fs::write(shots().join(format!("{prefix}{name}.png")), png).unwrap();
}

/// Waits (bounded) until an element matching the XPath exists; returns the time it took.
async fn wait_xpath(c: &Client, xpath: &str, max: Duration) -> Duration {
    let t = Instant::now();
    loop {
        if !c.find_all(Locator::XPath(xpath)).await.unwrap().is_empty() {
            return t.elapsed();
        }
        assert!(
            t.elapsed() < max,
            "no {xpath} after {max:?}: {}",
            c.source().await.unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

async fn type_into(c: &Client, css: &str, text: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .send_keys(text)
        .await
        .unwrap();
}

async fn text_of(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_in_chromium() {
    let p = Picket::start_with_config("[snmp]\ncommunities = [\"public\"]\n");
    walk(&p, &format!("http://{}", p.web), &[], "").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_in_chromium_over_https() {
    let d = tempfile::tempdir().unwrap();
    let ca = common::certs::Ca::new(d.path(), "ca");
    let server = ca.issue("web", "localhost", 30);
    let mut p = Picket::start_with_config(&format!(
        "[snmp]\ncommunities = [\"public\"]\n[web]\ntls_cert = \"{}\"\ntls_key = \"{}\"\n",
        server.cert.display(),
        server.key.display()
    ));
    // The SPKI hash Chromium is told to accept: SHA-256 of the public key, base64.
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "openssl x509 -in '{}' -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64",
            server.cert.display()
        ))
        .output()
        .unwrap();
    p.web_ca = Some(ca.pair.cert.clone());
    let spki = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert_eq!(spki.len(), 44, "{spki}");
    let flag = format!("--ignore-certificate-errors-spki-list={spki}");
    walk(
        &p,
        &format!("https://localhost:{}", p.web.port()),
        &[flag],
        "https-",
    )
    .await;
}

/// Logs in and walks every page in Chromium at `base`.
async fn walk(p: &Picket, base: &str, chromium: &[String], prefix: &str) {
    let driver = Driver::start();
    let pw = p.admin_password();
    let c = driver.browser(chromium).await;

    // Without a session every page leads to the login form.
    c.goto(&format!("{base}/search")).await.unwrap();
    assert!(c.current_url().await.unwrap().path().ends_with("/login"));
    shot(&c, prefix, "login").await;
    type_into(&c, "input[name=user]", "admin").await;
    type_into(&c, "input[name=password]", &pw).await;
    click(&c, "form[action='/login'] button").await;
    wait_xpath(&c, "//h1[text()='Overview']", Duration::from_secs(10)).await;

    // Events from logger: a marker, and five SSH failures that raise the brute-force alert.
    let token = format!("browsermark{}", std::process::id());
    p.log_udp("app", &format!("{token} <i>escaped</i> payload"));
    for _ in 0..5 {
        p.log_udp(
            "sshd",
            "Failed password for root from 203.0.113.77 port 4242 ssh2",
        );
    }
    assert_eq!(p.wait_stored(6, Duration::from_secs(10)), 6);
    // The rules record alerts after the store: wait for them (bounded), and say why when not.
    let raised = p.wait_metric("picket_alerts_raised_total", 1, Duration::from_secs(30));
    assert!(
        raised >= 1,
        "no alert raised: {} events evaluated by the rules; picket's log:\n{}",
        p.metric("picket_rules_evaluated_total"),
        p.stderr()
    );
    c.goto(&format!("{base}/")).await.unwrap();
    shot(&c, prefix, "overview").await;

    // Search: type the query, submit, find the row.
    c.goto(&format!("{base}/search")).await.unwrap();
    type_into(&c, "input[name=q]", &token).await;
    click(&c, "form.search button[type=submit]").await;
    wait_xpath(
        &c,
        &format!("//td[contains(@class,'msg') and contains(., '{token} <i>escaped</i>')]"),
        Duration::from_secs(10),
    )
    .await;
    assert!(
        c.find_all(Locator::Css("td.msg i"))
            .await
            .unwrap()
            .is_empty(),
        "markup in a message is text, not HTML"
    );
    shot(&c, prefix, "search").await;

    // Export the search as CSV with the browser's session.
    let href = c
        .find(Locator::Css("a[href^='/export?'][href$='format=csv']"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .expect("an export link");
    let csv = c
        .execute_async(
            "const [url, done] = arguments; fetch(url).then(r => r.text()).then(done);",
            vec![json!(href)],
        )
        .await
        .unwrap();
    let csv = csv.as_str().unwrap();
    assert!(csv.starts_with("@timestamp,"), "{csv}");
    assert!(csv.contains(&token), "{csv}");

    // Open the event.
    click(&c, "td.ts a").await;
    wait_xpath(
        &c,
        "//h1[starts-with(., 'Event ')]",
        Duration::from_secs(10),
    )
    .await;
    assert!(text_of(&c, "pre.raw").await.contains(&token));
    shot(&c, prefix, "event").await;

    // Live tail: a logger message shows up (how fast is printed, not asserted).
    let live = format!("livemark{}", std::process::id());
    c.goto(&format!("{base}/tail?q={live}")).await.unwrap();
    wait_xpath(
        &c,
        "//p[@id='status' and text()='Live']",
        Duration::from_secs(10),
    )
    .await;
    let t = Instant::now();
    p.log_udp("app", &format!("{live} arrives"));
    wait_xpath(
        &c,
        &format!("//tbody[@id='rows']//td[contains(., '{live} arrives')]"),
        Duration::from_secs(5),
    )
    .await;
    println!("live tail: logger to browser in {:?}", t.elapsed());
    shot(&c, prefix, "tail").await;

    // SNMP: a linkDown trap from net-snmp appears by device and type.
    let target = p.snmp.expect("snmp= in the ready line").to_string();
    let st = Command::new("snmptrap")
        .args([
            "-v",
            "2c",
            "-c",
            "public",
            &target,
            "",
            "1.3.6.1.6.3.1.1.5.3",
            "1.3.6.1.2.1.2.2.1.1.3",
            "i",
            "3",
        ])
        .status()
        .expect("snmptrap (package snmp)");
    assert!(st.success());
    assert_eq!(p.wait_stored(8, Duration::from_secs(10)), 8);
    c.goto(&format!("{base}/snmp")).await.unwrap();
    wait_xpath(
        &c,
        "//td/a[contains(., 'linkDown')]",
        Duration::from_secs(5),
    )
    .await;
    shot(&c, prefix, "snmp").await;

    // Acknowledge the brute-force alert with a comment.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        c.goto(&format!("{base}/alerts?state=open")).await.unwrap();
        if !c
            .find_all(Locator::Css("td a[href^='/alerts/']"))
            .await
            .unwrap()
            .is_empty()
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the raised alert is not listed as open"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    shot(&c, prefix, "alerts").await;
    click(&c, "td a[href^='/alerts/']").await;
    type_into(&c, "input[name=comment]", "seen from the browser").await;
    click(&c, "button[value=acknowledged]").await;
    wait_xpath(
        &c,
        "//*[contains(., 'seen from the browser')]",
        Duration::from_secs(10),
    )
    .await;
    assert!(
        c.find_all(Locator::Css("button[value=acknowledged]"))
            .await
            .unwrap()
            .is_empty(),
        "acknowledged: no second acknowledge button"
    );
    shot(&c, prefix, "alert").await;

    // The other pages render; screenshots of each.
    for (path, name, heading) in [
        ("/rules", "rules", "Rules"),
        ("/senders", "senders", "Senders"),
        ("/users", "users", "Users"),
        ("/account", "account", "Account: admin"),
    ] {
        c.goto(&format!("{base}{path}")).await.unwrap();
        wait_xpath(
            &c,
            &format!("//h1[starts-with(., '{heading}')]"),
            Duration::from_secs(5),
        )
        .await;
        shot(&c, prefix, name).await;
    }
    c.goto(&format!("{base}/rules")).await.unwrap();
    click(&c, "td a[href^='/rules/']").await;
    wait_xpath(&c, "//h2[text()='Source']", Duration::from_secs(5)).await;
    shot(&c, prefix, "rule").await;
    // A phone-sized window still shows the search page usably.
    c.set_window_size(390, 844).await.unwrap();
    c.goto(&format!("{base}/search?q={token}")).await.unwrap();
    wait_xpath(
        &c,
        &format!("//td[contains(., '{token}')]"),
        Duration::from_secs(5),
    )
    .await;
    shot(&c, prefix, "search-phone").await;
    c.close().await.unwrap();
}
