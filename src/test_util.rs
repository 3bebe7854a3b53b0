//! Helpers shared by unit tests, integration tests and benchmarks. Not part of the product.
//!
//! Corpus files come from `../shared/corpus` (or `$PICKET_CORPUS`). A missing file is a test
//! failure, never a skip: a test that cannot read its input must not pass.

use std::path::PathBuf;

/// The corpus root.
pub fn corpus_dir() -> PathBuf {
    match std::env::var_os("PICKET_CORPUS") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"),
    }
}

/// The bytes of a corpus file, panicking (failing the test) when it is missing.
#[expect(
    clippy::panic,
    reason = "test helper: a missing corpus file must fail the test"
)]
pub fn corpus_bytes(rel: &str) -> Vec<u8> {
    let path = corpus_dir().join(rel);
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("corpus file {} is missing: {e}", path.display()))
}

/// The lines of a corpus file (CR stripped, empty lines skipped).
pub fn corpus_lines(rel: &str) -> Vec<Vec<u8>> {
    corpus_bytes(rel)
        .split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l).to_vec())
        .filter(|l| !l.is_empty())
        .collect()
}

/// RFC 3164 firewall lines like `shared/bench/mkmsgs.py` makes (FortiGate kv and ASA).
pub fn firewall_lines(n: usize) -> Vec<Vec<u8>> {
    (0..n).map(firewall_line).collect()
}

/// Line `i` of [`firewall_lines`]: two in three FortiGate traffic logs, one in three ASA 302013.
pub fn firewall_line(i: usize) -> Vec<u8> {
    {
        {
            let s = format!("10.{}.{}.{}", i % 250, (i / 250) % 250, 1 + i % 200);
            let d = format!("203.0.{}.{}", i % 200, 1 + i % 250);
            if i % 3 != 0 {
                format!(
                    "<189>Nov 22 10:{:02}:{:02} fw01 date=2026-11-22 time=10:{:02}:{:02} devname=\"FG100F\" devid=\"FG100FTK2000{}\" \
                     logid=\"0000000013\" type=\"traffic\" subtype=\"forward\" level=\"notice\" vd=\"root\" srcip={s} srcport={} \
                     srcintf=\"port1\" dstip={d} dstport=443 dstintf=\"wan1\" sessionid={} proto=6 action=\"deny\" policyid={} \
                     service=\"HTTPS\" sentbyte={} rcvdbyte={}",
                    i % 60, i % 60, i % 60, i % 60, i % 9, 1024 + i % 60000, 100000 + i, i % 40, i * 7 % 90000, i * 13 % 90000
                )
            } else {
                format!(
                    "<166>Nov 22 10:{:02}:{:02} asa01 %ASA-6-302013: Built inbound TCP connection {} for outside:{s}/{} ({s}/{}) to inside:{d}/443 ({d}/443)",
                    i % 60, i % 60, 200000 + i, 1024 + i % 60000, 1024 + i % 60000
                )
            }
            .into_bytes()
        }
    }
}

/// Line `i` of a mixed stream as a small network sends it: firewall traffic (FortiGate and
/// ASA, 80%), sshd logins and failures from many addresses (10%), and Linux kernel, cron and
/// switch link messages (10%).
pub fn mixed_line(i: usize) -> Vec<u8> {
    let ip = format!("198.51.{}.{}", (i / 7) % 256, 1 + (i / 3) % 250);
    let user = ["root", "admin", "oracle", "alice", "bob", "deploy"][i % 6];
    match i % 20 {
        0 | 10 => format!(
            "<38>Nov 22 10:{:02}:{:02} srv{} sshd[{}]: Failed password for {}{user} from {ip} port {} ssh2",
            i % 60,
            (i / 60) % 60,
            i % 5,
            1000 + i % 30000,
            if i % 3 == 0 { "invalid user " } else { "" },
            1024 + i % 60000
        ),
        5 => format!(
            "<38>Nov 22 10:{:02}:{:02} srv{} sshd[{}]: Accepted publickey for {user} from {ip} port {} ssh2",
            i % 60,
            (i / 60) % 60,
            i % 5,
            1000 + i % 30000,
            1024 + i % 60000
        ),
        15 => format!(
            "<4>Nov 22 10:{:02}:{:02} srv{} kernel: [{}.{:06}] eth0: link {} ",
            i % 60,
            (i / 60) % 60,
            i % 5,
            i / 1000,
            i % 1_000_000,
            if i % 40 == 15 { "down" } else { "up, 1000Mbps, full duplex" }
        ),
        19 => format!(
            "<78>Nov 22 10:{:02}:{:02} srv{} CRON[{}]: (root) CMD (/usr/local/bin/backup.sh --job {})",
            i % 60,
            (i / 60) % 60,
            i % 5,
            2000 + i % 9000,
            i % 97
        ),
        _ => return firewall_line(i),
    }
    .into_bytes()
}

/// Writes `text` to `dir/name` and returns the path (test fixtures).
#[expect(
    clippy::panic,
    reason = "test helper: a fixture that cannot be written must fail the test"
)]
pub fn write_file(dir: &std::path::Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", p.display()));
    p
}

/// `n` rules for benchmarks, half of them windowed, shaped like a real rule set (compare the
/// starter rules in `rules/`): every rule names its logsource (mapped to `event.dataset`) and
/// mostly matches exact values (event codes, actions, ports, users, policy ids), some
/// substrings and a few CIDRs. The windowed half counts per `source.ip` over minutes (event_count
/// and value_count); five of them watch all firewall traffic (deny bursts, port scans), the
/// others one policy or one kind of message each. Thresholds are high, so windows fill without
/// alerting on every event of [`firewall_lines`].
pub fn synthetic_rules(n: usize) -> Vec<(String, String)> {
    const SOURCES: [&str; 5] = [
        "  product: fortinet\n",
        "  product: cisco\n  service: asa\n",
        "  product: linux\n  service: sshd\n",
        "  product: windows\n  service: security\n",
        "  product: pfsense\n",
    ];
    let mut out = Vec::new();
    for i in 0..n / 2 {
        let logsource = SOURCES[i % 5];
        let selection = match i % 6 {
            0 => format!("    destination.port: {}\n    event.action: deny", 1000 + i),
            1 => format!("    event.code: '{}'", 106000 + i),
            2 => format!("    message|contains: 'attack-{i}'"),
            3 => format!("    user.name|startswith: 'svc{i}'\n    event.outcome: failure"),
            4 => format!(
                "    rule.id: '{}'\n    destination.port: {}",
                900 + i,
                20 + i
            ),
            _ => format!("    source.ip|cidr: 192.0.{}.0/24", i % 250),
        };
        out.push((
            format!("d{i}.yml"),
            format!("title: detection {i}\nid: bench-d{i}\nlevel: medium\nlogsource:\n{logsource}detection:\n  sel:\n{selection}\n  condition: sel\n"),
        ));
    }
    for i in 0..n - n / 2 {
        let (logsource, base) = match i {
            0 => (
                "  category: firewall\n",
                "    event.action: deny".to_string(),
            ),
            1 => (
                "  category: firewall\n",
                "    event.type: denied".to_string(),
            ),
            2 | 3 => (
                "  category: firewall\n",
                "    destination.port|exists: true".to_string(),
            ),
            4 => (
                "  product: cisco\n  service: asa\n",
                "    event.action|contains: connection".to_string(),
            ),
            _ => match i % 4 {
                0 => (
                    SOURCES[0],
                    format!("    rule.id: '{}'\n    event.action: deny", i),
                ),
                1 => (SOURCES[1], format!("    event.code: '{}'", 302000 + i)),
                2 => (
                    SOURCES[2],
                    format!("    event.outcome: failure\n    user.name: 'user{i}'"),
                ),
                _ => (SOURCES[3], format!("    event.code: '{}'", 4600 + i)),
            },
        };
        let corr = if i % 2 == 0 {
            format!(
                "  type: event_count\n  rules: [base{i}]\n  group-by: [source.ip]\n  timespan: 1m\n  condition:\n    gte: 1000\n"
            )
        } else {
            format!(
                "  type: value_count\n  rules: [base{i}]\n  group-by: [source.ip]\n  timespan: 1m\n  condition:\n    field: destination.port\n    gte: 500\n"
            )
        };
        out.push((
            format!("c{i}.yml"),
            format!("title: base {i}\nid: bench-b{i}\nname: base{i}\nlogsource:\n{logsource}detection:\n  sel:\n{base}\n  condition: sel\n---\ntitle: windowed {i}\nid: bench-c{i}\nlevel: high\ncorrelation:\n{corr}"),
        ));
    }
    out
}
