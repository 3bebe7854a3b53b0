//! Existing data directories keep working: a directory written by the Picket from before schema
//! versions (`tests/fixtures/datadir-2026-12-02`, see its README) is opened by today's binary,
//! migrated, and everything in it is still there: the alert with its history and outbox, users,
//! the API token, the switched-off rule, the saved search and the stored events. A database from
//! a newer Picket is refused and left as it is.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::{Picket, bin, run_ok};
use std::path::Path;
use std::process::Command;

const PASSWORD: &str = "correct-horse-battery-1";
const TOKEN: &str = "pk_d9eef0d8fcfdfc5a62afe609b5118409e7ef42c099026d14d0476eafd4e574e0";
const SSH_FAILED_LOGIN: &str = "6f1d3c52-4a8e-4d4e-9b1a-1c2f0e5a7b01";

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else if e.file_name() != "README.md" {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// A fresh copy of the fixture: (temporary directory, its data directory).
fn fixture() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/datadir-2026-12-02"),
        &data,
    );
    (dir, data)
}

fn version(db: &Path) -> i64 {
    rusqlite::Connection::open(db)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

fn cli(data: &Path, args: &[&str]) -> Vec<serde_json::Value> {
    let out = run_ok(Command::new(bin()).args(args).arg("--data-dir").arg(data));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_data_directory_from_before_versions_opens_with_everything_in_it() {
    let (dir, data) = fixture();
    for db in ["alerts.db", "users.db", "store/registry.db"] {
        assert_eq!(version(&data.join(db)), 0, "{db} has no version yet");
    }

    // The CLI beside no collector: alerts, users, tokens and events.
    let shown = cli(&data, &["alerts", "show", "1"]);
    let alert = &shown[0]["alert"];
    assert_eq!(alert["title"], "SSH brute force");
    assert_eq!(alert["state"], "acknowledged");
    assert_eq!(alert["count"], 6);
    assert_eq!(alert["events"].as_array().unwrap().len(), 6);
    let audit = shown[0]["audit"].as_array().unwrap();
    assert_eq!(audit.len(), 2);
    assert_eq!(audit[1]["comment"], "looking");
    assert_eq!(shown[0]["notifications"][0]["state"], "pending");
    let users = cli(&data, &["user", "list"]);
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["name"], "admin1");
    assert_eq!(users[0]["role"], "admin");
    let tokens = cli(&data, &["user", "token-list"]);
    assert_eq!(tokens[0]["name"], "ci");
    let hits = common::search_dir(&data, "hello", &[]);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0]["message"], "hello fixture world");
    assert_eq!(common::search_dir(&data, "Failed", &[]).len(), 6);

    // The collector: it starts on the directory and serves what is in it.
    let mut p = Picket::start_at(dir, data.clone(), &[]);
    let base = format!("http://{}", p.web);
    let a = common::agent();
    let mut r = a
        .get(&format!("{base}/api/v1/rules"))
        .header("authorization", &format!("Bearer {TOKEN}"))
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let rules: serde_json::Value =
        serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
    let rule = rules["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == SSH_FAILED_LOGIN)
        .unwrap();
    assert_eq!(rule["enabled"], false, "{rule}");
    let r = a
        .post(&format!("{base}/login"))
        .content_type("application/x-www-form-urlencoded")
        .send(format!("user=admin1&password={PASSWORD}"))
        .unwrap();
    assert_eq!(r.status().as_u16(), 303, "the old password still logs in");
    let cookie = common::session_cookie(&r);
    let mut r = a
        .get(&format!("{base}/search?q=hello&range=30d"))
        .header("cookie", &cookie)
        .call()
        .unwrap();
    let page = r.body_mut().read_to_string().unwrap();
    assert!(page.contains("root fails"), "the saved search is listed");
    assert!(
        page.contains("hello fixture world"),
        "the stored event is found"
    );
    p.stop();

    // Every database now carries the version of its last step.
    assert_eq!(version(&data.join("alerts.db")), 1);
    assert_eq!(version(&data.join("users.db")), 1);
    assert_eq!(version(&data.join("store/registry.db")), 4);
    assert_eq!(version(&data.join("store/seg-00000001.db")), 2);
}

#[test]
fn a_database_from_a_newer_picket_is_refused_and_not_touched() {
    for (db, args) in [
        ("alerts.db", &["alerts", "list"][..]),
        ("users.db", &["user", "list"][..]),
        ("store/registry.db", &["senders"][..]),
    ] {
        let (_dir, data) = fixture();
        let path = data.join(db);
        rusqlite::Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        let out = Command::new(bin())
            .args(args)
            .arg("--data-dir")
            .arg(&data)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{db}: {args:?} must fail");
        assert!(
            err.contains("schema version 99") && err.contains("refusing to downgrade"),
            "{db}: {err}"
        );
        assert_eq!(version(&path), 99, "{db} is left as it was");
    }
}
