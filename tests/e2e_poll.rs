//! The SNMP poller against net-snmp's `snmpd` on loopback: walks in v2c and v3 (SHA-256 with
//! AES, SHA with DES, Cisco's AES-256-C), USM errors named instead of timeouts, devices from the
//! file and from `picket device add` beside a running `serve`, down detection with parent
//! suppression, credentials encrypted at rest, and engine-ID changes and duplicates warned.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::snmpd::{AUTH_PASSWORD, PRIVACY_PASSWORD, Snmpd, USERS};
use common::{Picket, bin};
use std::process::Command;
use std::time::{Duration, Instant};

fn picket(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(bin())
        .args(args)
        .current_dir(dir)
        .env_remove("PICKET_SNMP_COMMUNITY")
        .env_remove("PICKET_DEVICE_KEY")
        .output()
        .unwrap()
}

fn v3_args(u: &str, a: &str, p: &str) -> Vec<String> {
    [
        "--user",
        u,
        "--auth",
        a,
        "--auth-password",
        AUTH_PASSWORD,
        "--privacy",
        p,
        "--privacy-password",
        PRIVACY_PASSWORD,
    ]
    .map(String::from)
    .to_vec()
}

/// `snmpwalk -On` of a subtree: the OIDs net-snmp itself sees.
fn snmpwalk_oids(addr: &str, root: &str) -> Vec<String> {
    let out = Command::new("snmpwalk")
        .args(["-v2c", "-c", "public", "-On", "-m", "", addr, root])
        .output()
        .expect("net-snmp `snmpwalk` (package snmp)");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split(" = ").next())
        .filter(|o| o.starts_with('.'))
        .map(|o| o.trim_start_matches('.').to_string())
        .collect()
}

#[test]
fn walks_in_v2c_and_every_v3_protocol_agree_with_snmpwalk() {
    let d = tempfile::tempdir().unwrap();
    let agent = Snmpd::start(d.path(), "a");
    let addr = agent.address();
    let root = "1.3.6.1.2.1";
    let out = picket(
        d.path(),
        &[
            "device",
            "walk",
            &addr,
            "--community",
            "public",
            "--root",
            root,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let ours: Vec<&str> = text.lines().map(|l| l.split('|').next().unwrap()).collect();
    let theirs = snmpwalk_oids(&addr, root);
    assert!(theirs.len() > 100, "{}", theirs.len());
    // Counters move between the two walks; the set of objects does not (allow a row or two
    // of a table that changed, such as a TCP connection).
    let missing = theirs
        .iter()
        .filter(|o| !ours.contains(&o.as_str()))
        .count();
    assert!(
        missing <= 3,
        "{missing} of {} OIDs not walked",
        theirs.len()
    );
    // Every line reads back as a recording.
    let rows = text
        .lines()
        .filter(|l| l.starts_with("1.3.6.1.2.1.1.1.0|4|"))
        .count();
    assert_eq!(rows, 1, "sysDescr once");
    let sys_descr = text
        .lines()
        .find(|l| l.starts_with("1.3.6.1.2.1.1.1.0|"))
        .unwrap()
        .to_string();
    for (u, a, p) in USERS {
        let mut args = vec!["device", "walk", &addr, "--root", "1.3.6.1.2.1.1"];
        let v3 = v3_args(u, a, p);
        args.extend(v3.iter().map(String::as_str));
        let out = picket(d.path(), &args);
        assert!(
            out.status.success(),
            "{u} ({a}/{p}): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains(&sys_descr), "{u}: {text}");
    }
}

#[test]
fn wrong_credentials_are_named_not_timeouts() {
    let d = tempfile::tempdir().unwrap();
    let agent = Snmpd::start(d.path(), "a");
    let addr = agent.address();
    let run = |args: &[&str]| {
        let mut all = vec![
            "device",
            "walk",
            &addr,
            "--root",
            "1.3.6.1.2.1.1",
            "--timeout-ms",
            "300",
        ];
        all.extend_from_slice(args);
        let out = picket(d.path(), &all);
        assert!(!out.status.success(), "{args:?} should fail");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let wrong_auth = run(&[
        "--user",
        "sha256aes",
        "--auth",
        "SHA-256",
        "--auth-password",
        "wrongpass1",
        "--privacy",
        "AES",
        "--privacy-password",
        PRIVACY_PASSWORD,
    ]);
    assert!(wrong_auth.contains("wrong_digest"), "{wrong_auth}");
    let unknown = run(&[
        "--user",
        "nobody",
        "--auth",
        "SHA",
        "--auth-password",
        AUTH_PASSWORD,
    ]);
    assert!(unknown.contains("unknown_user"), "{unknown}");
    let level = run(&[
        "--user",
        "sha256aes",
        "--auth",
        "SHA-256",
        "--auth-password",
        AUTH_PASSWORD,
    ]);
    // net-snmp's access control refuses authNoPriv for a user it requires privacy of.
    assert!(level.contains("authorization_error"), "{level}");
    let community = run(&["--community", "wrong"]);
    assert!(community.contains("no answer"), "{community}");
}

fn list(p: &Picket, config: &str) -> Vec<serde_json::Value> {
    let out = Command::new(bin())
        .args(["--config", config, "--data-dir"])
        .arg(p.data_dir())
        .args(["device", "list"])
        .current_dir(p.data_dir().parent().unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn wait_for(
    p: &Picket,
    config: &str,
    what: &str,
    max: Duration,
    ok: impl Fn(&[serde_json::Value]) -> bool,
) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + max;
    loop {
        let l = list(p, config);
        if ok(&l) {
            return l;
        }
        assert!(Instant::now() < deadline, "{what}: {l:#?}\n{}", p.stderr());
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn device<'a>(l: &'a [serde_json::Value], name: &str) -> Option<&'a serde_json::Value> {
    l.iter().find(|d| d["name"] == name)
}

#[test]
fn devices_are_polled_added_beside_serve_and_found_down() {
    let d = tempfile::tempdir().unwrap();
    let agent = Snmpd::start(d.path(), "a");
    // A port nobody answers on (bound and dropped), a parent and its child behind it.
    let dead = {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap().to_string()
    };
    let toml = format!(
        r#"
[poll]
check_secs = 1
[[poll.device]]
name = "linux1"
address = "{addr}"
community = "public"
interval_secs = 2
group = "lab"
[[poll.device]]
name = "uplink"
address = "{dead}"
community = "public"
interval_secs = 2
timeout_ms = 200
retries = 0
[[poll.device]]
name = "behind"
address = "127.0.0.3:{dead_port}"
community = "public"
interval_secs = 2
timeout_ms = 200
retries = 0
parent = "uplink"
"#,
        addr = agent.address(),
        dead_port = dead.rsplit(':').next().unwrap(),
    );
    let p = Picket::start_with_config(&toml);
    let config = p.data_dir().parent().unwrap().join("test.toml");
    let config = config.to_str().unwrap();
    let l = wait_for(
        &p,
        config,
        "linux1 up with ports",
        Duration::from_secs(20),
        |l| {
            device(l, "linux1")
                .is_some_and(|d| d["status"] == "up" && d["ports"].as_u64() > Some(0))
        },
    );
    let linux1 = device(&l, "linux1").unwrap();
    assert!(linux1["last_poll"].is_string(), "{linux1}");
    assert_eq!(linux1["group"], "lab");
    assert!(
        linux1["sys_descr"].as_str().unwrap().contains("Linux"),
        "{linux1}"
    );
    // Our own requests cross the agent's loopback interface: after two polls it has a rate.
    wait_for(&p, config, "a rate on lo", Duration::from_secs(20), |l| {
        device(l, "linux1").is_some_and(|d| {
            d["interfaces"].as_array().is_some_and(|ports| {
                ports.iter().any(|port| {
                    port["name"] == "lo"
                        && port["oper"] == "up"
                        && port["in_bps"].as_f64().is_some_and(|r| r > 0.0)
                })
            })
        })
    });
    // Three missed checks a second apart: down within a few seconds, the reason named.
    let l = wait_for(&p, config, "uplink down", Duration::from_secs(20), |l| {
        device(l, "uplink").is_some_and(|d| d["status"] == "down")
            && device(l, "behind").is_some_and(|d| d["status"] == "down")
    });
    assert_eq!(device(&l, "uplink").unwrap()["reason"], "snmp");
    assert_eq!(device(&l, "uplink").unwrap()["error"], "timeout");
    assert_eq!(device(&l, "behind").unwrap()["suppressed_by"], "uplink");
    // The parent's outage is an event; the child's is not.
    let deadline = Instant::now() + Duration::from_secs(10);
    let events = loop {
        let e = p.search("event.dataset:snmp.poll", &[]);
        if !e.is_empty() || Instant::now() > deadline {
            break e;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        events
            .iter()
            .any(|e| e["host.name"] == "uplink" && e["event.action"] == "device-down"),
        "{events:#?}"
    );
    assert!(
        !events.iter().any(|e| e["host.name"] == "behind"),
        "{events:#?}"
    );

    // A v3 device added with the CLI while serve runs; its secrets come from the environment.
    let add = Command::new(bin())
        .args(["--config", config, "--data-dir"])
        .arg(p.data_dir())
        .args([
            "device",
            "add",
            "v3dev",
            &agent.address(),
            "--user",
            "sha256aes",
            "--auth",
            "SHA-256",
            "--privacy",
            "AES",
            "--interval-secs",
            "2",
            "--tag",
            "core",
        ])
        .env("PICKET_SNMP_AUTH_PASSWORD", AUTH_PASSWORD)
        .env("PICKET_SNMP_PRIVACY_PASSWORD", PRIVACY_PASSWORD)
        .output()
        .unwrap();
    assert!(
        add.status.success(),
        "{}",
        String::from_utf8_lossy(&add.stderr)
    );
    let l = wait_for(&p, config, "v3dev up", Duration::from_secs(20), |l| {
        device(l, "v3dev").is_some_and(|d| d["status"] == "up")
    });
    let v3 = device(&l, "v3dev").unwrap();
    assert_eq!(v3["origin"], "store");
    assert_eq!(v3["version"], "3");
    assert!(v3["engine_id"].as_str().unwrap().len() > 10, "{v3}");
    // Stored encrypted: neither password is in the database file.
    let db = std::fs::read(p.data_dir().join("poll.db")).unwrap();
    let wal = std::fs::read(p.data_dir().join("poll.db-wal")).unwrap_or_default();
    for secret in [AUTH_PASSWORD, PRIVACY_PASSWORD] {
        let found = |b: &[u8]| b.windows(secret.len()).any(|w| w == secret.as_bytes());
        assert!(!found(&db) && !found(&wal), "{secret} stored in the clear");
    }
    let key = p.data_dir().join("device-key");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    // A file device cannot be removed from the CLI; a stored one can.
    let rm = |name: &str| {
        Command::new(bin())
            .args(["--config", config, "--data-dir"])
            .arg(p.data_dir())
            .args(["device", "rm", name])
            .output()
            .unwrap()
    };
    assert!(!rm("linux1").status.success());
    assert!(rm("v3dev").status.success());
    wait_for(&p, config, "v3dev gone", Duration::from_secs(5), |l| {
        device(l, "v3dev").is_none()
    });
}

#[test]
fn engine_changes_and_duplicate_engine_ids_are_warned() {
    let d = tempfile::tempdir().unwrap();
    let mut agent = Snmpd::start(d.path(), "a");
    let v3 = |name: &str| {
        format!(
            "[[poll.device]]\nname = \"{name}\"\naddress = \"{}\"\nversion = \"3\"\nuser = \"shades\"\nauth = \"SHA\"\nauth_password = \"{AUTH_PASSWORD}\"\nprivacy = \"DES\"\nprivacy_password = \"{PRIVACY_PASSWORD}\"\ninterval_secs = 1\ntimeout_ms = 300\n",
            agent.address()
        )
    };
    // Two devices at one agent: one engine ID between them.
    let toml = format!("[poll]\ncheck_secs = 1\n{}{}", v3("one"), v3("two"));
    let p = Picket::start_with_config(&toml);
    let wait_event = |action: &str| {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let e = p.search(&format!("event.action:{action}"), &[]);
            if !e.is_empty() {
                return e;
            }
            assert!(
                Instant::now() < deadline,
                "no {action} event: {}",
                p.stderr()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    let dup = wait_event("engine-id-duplicate");
    assert!(
        dup[0]["message"]
            .as_str()
            .unwrap()
            .contains("same SNMP engine ID")
    );
    // A restart with a new persistent directory: a new engine ID, rediscovered and warned.
    agent.restart_as_new_engine();
    let changed = wait_event("engine-id-changed");
    assert!(
        changed[0]["message"]
            .as_str()
            .unwrap()
            .contains("engine ID changed")
    );
}
