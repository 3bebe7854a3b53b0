//! Tests of rule loading, matching, correlation windows and absence rules.

use super::load::load_pipelines;
use super::*;
use crate::model::Event;
use crate::model::{FieldValue, Frame, Transport};
use crate::parse::{Chain, HeaderOptions};
use crate::store::SenderInfo;

const S: i64 = 1_000_000;
/// A fixed start for the injected clock.
const T0: i64 = 1_790_000_000 * S;

fn starter() -> Rules {
    let files = STARTER_RULES
        .iter()
        .map(|(n, t)| ((*n).to_string(), (*t).to_string()))
        .collect();
    let mut problems = Vec::new();
    let pipelines = load_pipelines(None, &mut problems);
    let (rules, more) = Rules::from_sources(files, pipelines, 10_000);
    problems.extend(more);
    assert!(problems.is_empty(), "{problems:?}");
    rules
}

fn chain() -> Chain {
    Chain::new(vec![HeaderOptions::default()])
}

fn event(line: &str, peer: &str) -> Event {
    chain().parse(&Frame {
        bytes: line.to_string().into(),
        peer: format!("{peer}:514").parse().unwrap(),
        listener: 0,
        transport: Transport::Udp,
        received_at: T0,
        truncated: false,
    })
}

/// Feeds (second offset, event) pairs; returns what fired, with the offset it fired at.
fn run(rules: &mut Rules, events: Vec<(i64, Event)>) -> Vec<(i64, Firing)> {
    let mut out = Vec::new();
    for (i, (at, ev)) in events.into_iter().enumerate() {
        for f in rules.process(&ev, i as i64 + 1, "syslog0", T0 + at * S) {
            out.push((at, f));
        }
    }
    out
}

fn titles(fired: &[(i64, Firing)]) -> Vec<&str> {
    fired.iter().map(|(_, f)| f.title.as_str()).collect()
}

fn ssh_fail(ip: &str) -> Event {
    event(
        &format!(
            "<38>Nov 22 10:00:00 web1 sshd[1]: Failed password for root from {ip} port 4000 ssh2"
        ),
        "192.0.2.10",
    )
}

fn ssh_ok(ip: &str) -> Event {
    event(
        &format!(
            "<38>Nov 22 10:00:00 web1 sshd[1]: Accepted password for alice from {ip} port 4000 ssh2"
        ),
        "192.0.2.10",
    )
}

#[test]
fn every_starter_rule_loads() {
    let r = starter();
    assert_eq!(r.len(), 20, "{:?}", r.titles());
    assert!(r.needs_registry());
    assert_eq!(r.longest_window_secs, 7 * 86_400);
}

#[test]
fn ssh_brute_force_fires_at_the_fifth_failure_within_ten_minutes() {
    let mut r = starter();
    // Four failures, then a fifth just outside ten minutes of the first: no alert (sliding).
    let mut evs: Vec<(i64, Event)> = (0..4).map(|i| (i * 10, ssh_fail("203.0.113.7"))).collect();
    evs.push((601, ssh_fail("203.0.113.7")));
    let fired = run(&mut r, evs);
    assert!(!titles(&fired).contains(&"SSH brute force"), "{fired:?}");
    // One more inside the window of the last four: the fifth in 600 s.
    let fired = run(&mut r, vec![(602, ssh_fail("203.0.113.7"))]);
    let bf: Vec<_> = fired
        .iter()
        .filter(|(_, f)| f.title == "SSH brute force")
        .collect();
    assert_eq!(bf.len(), 1, "{fired:?}");
    let f = &bf[0].1;
    assert_eq!(
        f.group,
        vec![("source.ip".to_string(), "203.0.113.7".to_string())]
    );
    assert_eq!(f.level, Level::High);
    assert_eq!(f.count, 5);
    assert_eq!(f.kind, "correlation");
    assert!(f.events.len() >= 2 && f.events.last() == Some(&1), "{f:?}");
    // Another address is its own group.
    let fired = run(
        &mut r,
        (0..4).map(|i| (700 + i, ssh_fail("203.0.113.8"))).collect(),
    );
    assert!(!titles(&fired).contains(&"SSH brute force"));
}

#[test]
fn ssh_success_after_failures_needs_the_order() {
    let mut r = starter();
    let fired = run(
        &mut r,
        vec![(0, ssh_ok("198.51.100.1")), (5, ssh_fail("198.51.100.1"))],
    );
    assert!(
        !titles(&fired).contains(&"SSH success after failures"),
        "{fired:?}"
    );
    let fired = run(
        &mut r,
        vec![(10, ssh_fail("198.51.100.2")), (20, ssh_ok("198.51.100.2"))],
    );
    assert!(
        titles(&fired).contains(&"SSH success after failures"),
        "{fired:?}"
    );
    // Too far apart.
    let fired = run(
        &mut r,
        vec![(0, ssh_fail("198.51.100.3")), (700, ssh_ok("198.51.100.3"))],
    );
    assert!(!titles(&fired).contains(&"SSH success after failures"));
}

fn pf_block(src: &str, port: u16) -> Event {
    event(
        &format!(
            "<134>Nov 22 10:00:00 fw1 filterlog: 5,,,1000000103,igb0,match,block,in,4,0x0,,64,0,0,DF,6,tcp,60,{src},192.168.1.10,40000,{port},0,S,1,,64240,,mss"
        ),
        "192.0.2.1",
    )
}

#[test]
fn port_scan_counts_distinct_ports_in_a_minute() {
    let mut r = starter();
    // 19 distinct ports, repeated: no scan.
    let evs = (0..40)
        .map(|i| (i, pf_block("203.0.113.5", 1000 + (i % 19) as u16)))
        .collect();
    assert!(!titles(&run(&mut r, evs)).contains(&"Port scan"));
    let evs = (0..20)
        .map(|i| (100 + i, pf_block("203.0.113.6", 2000 + i as u16)))
        .collect();
    let fired = run(&mut r, evs);
    assert_eq!(
        fired.iter().filter(|(_, f)| f.title == "Port scan").count(),
        1,
        "{fired:?}"
    );
    // 20 ports spread over more than a minute: no scan.
    let evs = (0..20)
        .map(|i| (200 + i * 4, pf_block("203.0.113.9", 3000 + i as u16)))
        .collect();
    assert!(!titles(&run(&mut r, evs)).contains(&"Port scan"));
}

#[test]
fn firewall_deny_burst_fires_at_fifty_in_a_minute() {
    let mut r = starter();
    let evs = (0..49).map(|i| (i, pf_block("203.0.113.11", 22))).collect();
    assert!(!titles(&run(&mut r, evs)).contains(&"Burst of firewall denies"));
    let fired = run(&mut r, vec![(50, pf_block("203.0.113.11", 22))]);
    assert!(
        titles(&fired).contains(&"Burst of firewall denies"),
        "{fired:?}"
    );
}

fn with(mut ev: Event, fields: &[(&'static str, &str)]) -> Event {
    for (k, v) in fields {
        ev.set_field(*k, FieldValue::Str((*v).to_string()));
    }
    ev
}

#[test]
fn admin_login_from_a_second_country_fires() {
    let mut r = starter();
    let login = |cc: &str, user: &str| {
        with(
            event(
                &format!(
                    "<38>Nov 22 10:00:00 web1 sshd[1]: Accepted password for {user} from 89.160.20.1 port 4000 ssh2"
                ),
                "192.0.2.10",
            ),
            &[("source.geo.country_iso_code", cc)],
        )
    };
    let fired = run(
        &mut r,
        vec![
            (0, login("SE", "root")),
            (3600, login("SE", "root")),
            (10, login("DE", "alice")),
        ],
    );
    assert!(
        !titles(&fired).contains(&"Admin login from a new country"),
        "{fired:?}"
    );
    let fired = run(&mut r, vec![(86_400, login("BR", "root"))]);
    assert!(
        titles(&fired).contains(&"Admin login from a new country"),
        "{fired:?}"
    );
}

#[test]
fn threat_list_hit_fires_on_enriched_events_only() {
    let mut r = starter();
    let plain = pf_block("203.0.113.20", 80);
    let hit = with(
        pf_block("203.0.113.21", 80),
        &[
            ("threat.indicator.matched.field", "source.ip"),
            ("threat.indicator.ip", "203.0.113.21"),
            ("threat.feed.name", "blocklist"),
        ],
    );
    let fired = run(&mut r, vec![(0, plain), (1, hit)]);
    let hits: Vec<_> = fired
        .iter()
        .filter(|(_, f)| f.title == "Threat list hit")
        .collect();
    assert_eq!(hits.len(), 1);
    assert_eq!(
        hits[0].1.group,
        vec![
            ("threat.feed.name".to_string(), "blocklist".to_string()),
            (
                "threat.indicator.ip".to_string(),
                "203.0.113.21".to_string()
            )
        ]
    );
}

fn sender(ip: &str, last_seen: i64) -> SenderInfo {
    SenderInfo {
        sender: ip.into(),
        first_seen: T0 - 86_400 * S,
        last_seen,
        events: 10,
        listener: Some("syslog0".into()),
        parser: None,
        dataset: None,
        host: Some("fw1".into()),
        per_day: Vec::new(),
    }
}

#[test]
fn a_sender_silent_for_fifteen_minutes_fires_once() {
    let mut r = starter();
    let reg = vec![
        sender("192.0.2.1", T0),
        sender("192.0.2.2", T0 - 2 * 86_400 * S),
    ];
    assert!(
        r.tick(T0 + 900 * S, &reg).is_empty(),
        "exactly 15 min is not over"
    );
    let fired = r.tick(T0 + 901 * S, &reg);
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(fired[0].title, "A sender went silent");
    assert_eq!(
        fired[0].group[0],
        ("observer.ip".to_string(), "192.0.2.1".to_string())
    );
    // Once per silence; again after the sender spoke and fell silent again.
    assert!(r.tick(T0 + 1000 * S, &reg).is_empty());
    let reg = vec![sender("192.0.2.1", T0 + 1000 * S)];
    assert!(r.tick(T0 + 1100 * S, &reg).is_empty());
    assert_eq!(r.tick(T0 + 1901 * S, &reg).len(), 1);
}

#[test]
fn heartbeat_absence_with_a_detection() {
    let rule = "title: Canary missing\nid: canary\nlevel: high\npicket-absence:\n  window: 5m\n  group-by: [host.name]\n  expect: [canary1, canary2]\ndetection:\n  selection:\n    message|contains: heartbeat\n  condition: selection\n";
    let (mut r, problems) = Rules::from_yaml(&[("canary.yml", rule)], 100);
    assert!(problems.is_empty(), "{problems:?}");
    let beat = |h: &str| {
        event(
            &format!("<14>Nov 22 10:00:00 {h} app: heartbeat ok"),
            "192.0.2.3",
        )
    };
    run(
        &mut r,
        vec![
            (0, beat("canary1")),
            (200, beat("canary1")),
            (250, beat("canary2")),
        ],
    );
    assert!(r.tick(T0 + 400 * S, &[]).is_empty());
    let fired = r.tick(T0 + 501 * S, &[]);
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(
        fired[0].group,
        vec![("host.name".to_string(), "canary1".to_string())]
    );
    assert_eq!(fired[0].kind, "absence");
}

#[test]
fn snmp_link_down_fires_only_on_critical_assets() {
    let mut r = starter();
    let trap = |crit: &str| {
        let mut ev = event("<14>Nov 22 10:00:00 sw1 snmp: linkDown", "192.0.2.40");
        ev.dataset = std::borrow::Cow::Borrowed("snmp");
        with(
            ev,
            &[
                ("event.action", "linkDown"),
                ("host.asset.criticality", crit),
            ],
        )
    };
    let fired = run(&mut r, vec![(0, trap("low")), (1, trap("critical"))]);
    let t = titles(&fired);
    assert_eq!(
        t.iter()
            .filter(|t| **t == "SNMP linkDown on a critical asset")
            .count(),
        1,
        "{fired:?}"
    );
    assert_eq!(fired[0].1.level, Level::Critical);
}

#[test]
fn snmp_authentication_failures_fire() {
    let mut r = starter();
    let mk = |action: &str| {
        let mut ev = event("<14>Nov 22 10:00:00 sw1 snmp: x", "192.0.2.41");
        ev.dataset = std::borrow::Cow::Borrowed("snmp");
        with(ev, &[("event.action", action)])
    };
    let fired = run(
        &mut r,
        vec![
            (0, mk("coldStart")),
            (1, mk("authenticationFailure")),
            (2, mk("snmp-authentication-failure")),
        ],
    );
    assert_eq!(titles(&fired), vec!["SNMP authentication failure"; 2]);
}

fn win(code: u32, host: &str) -> Event {
    event(
        &format!(
            "<14>Sep 17 16:37:25 {host} MSWinEventLog\t1\tSecurity\t6862\tFri Sep 17 16:37:25 2021\t{code}\tMicrosoft-Windows-Security-Auditing\tN/A\tN/A\tFailure Audit\t{host}\tLogon\t\tAn account failed to log on.    Account For Which Logon Failed:   Security ID:  S-1-0-0   Account Name:  admin   Account Domain:  WIN    New Account:   Account Name:  eve\t15"
        ),
        "192.0.2.50",
    )
}

#[test]
fn windows_4625_burst_and_4720() {
    let mut r = starter();
    let evs = (0..9).map(|i| (i, win(4625, "WIN1"))).collect();
    let fired = run(&mut r, evs);
    assert!(fired.is_empty(), "{fired:?}");
    let fired = run(&mut r, vec![(20, win(4625, "WIN1"))]);
    assert_eq!(titles(&fired), vec!["Burst of Windows failed logons"]);
    let fired = run(
        &mut r,
        vec![(30, win(4624, "WIN1")), (31, win(4720, "WIN1"))],
    );
    assert_eq!(
        titles(&fired),
        vec!["Windows user account created"],
        "{fired:?}"
    );
}

#[test]
fn asa_vpn_failures_and_fortigate_admin_login_failure() {
    let mut r = starter();
    let asa = |code: &str| {
        event(
            &format!(
                "<166>Aug 28 2023 15:35:02 fw123 : %ASA-6-{code}: AAA user authentication Rejected : reason = AAA failure : server = 81.2.69.144 : user = bob : user IP = 81.2.69.143"
            ),
            "192.0.2.60",
        )
    };
    let evs = (0..4)
        .map(|i| (i, asa("113005")))
        .chain([(5, asa("113004"))])
        .collect();
    let fired = run(&mut r, evs);
    assert!(fired.is_empty(), "{fired:?}");
    let fired = run(&mut r, vec![(6, asa("113005"))]);
    assert_eq!(
        titles(&fired),
        vec!["Cisco ASA VPN authentication failures"],
        "{fired:?}"
    );

    let fgt = |status: &str| {
        event(
            &format!(
                "<185>date=2024-02-26 time=11:10:55 devname=\"FW1\" devid=\"FG1K5\" logid=\"0100032001\" type=\"event\" subtype=\"system\" level=\"alert\" vd=\"root\" user=\"admin\" ui=\"https(192.168.1.1)\" method=\"https\" srcip=192.168.1.1 dstip=10.10.10.10 action=\"login\" status=\"{status}\" msg=\"x\""
            ),
            "192.0.2.61",
        )
    };
    let fired = run(&mut r, vec![(0, fgt("success")), (1, fgt("failed"))]);
    assert_eq!(
        titles(&fired),
        vec!["FortiGate admin login failure"],
        "{fired:?}"
    );
}

#[test]
fn sigma_names_map_to_ecs_and_logsources_select_datasets() {
    // Sigma's generic names (src_ip, dst_port) and a firewall logsource.
    let rule = "title: t\nid: t\nlogsource:\n  category: firewall\ndetection:\n  sel:\n    src_ip|cidr: 203.0.113.0/24\n    dst_port: 22\n  condition: sel\n";
    let (mut r, problems) = Rules::from_yaml(&[("t.yml", rule)], 100);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(run(&mut r, vec![(0, pf_block("203.0.113.1", 22))]).len(), 1);
    assert!(run(&mut r, vec![(0, pf_block("198.51.100.1", 22))]).is_empty());
    // Same fields, but not a firewall dataset: the logsource excludes it.
    let kv = with(
        event("<14>Nov 22 10:00:00 h app: x", "192.0.2.1"),
        &[("source.ip", "203.0.113.1")],
    );
    let mut kv = kv;
    kv.set_field("destination.port", FieldValue::Int(22));
    assert!(run(&mut r, vec![(0, kv)]).is_empty());
}

#[test]
fn modifiers_and_conditions() {
    let rule = r#"title: m
id: m
detection:
  a:
    message|contains|all: [foo, bar]
  b:
    host.name|startswith: web
  c:
    host.name|endswith: "-db"
  d:
    message|re: 'code=\d{3}$'
  e:
    source.port|gte: 1024
  f:
    user.name|exists: false
  condition: (a and not f) or (1 of b* and e) or all of them or (c and d)
"#;
    let (mut r, problems) = Rules::from_yaml(&[("m.yml", rule)], 100);
    assert!(problems.is_empty(), "{problems:?}");
    let fire = |r: &mut Rules, line: &str, user: bool, port: Option<i64>| {
        let mut ev = event(line, "192.0.2.1");
        if user {
            ev.set_field("user.name", FieldValue::Str("x".into()));
        }
        if let Some(p) = port {
            ev.set_field("source.port", FieldValue::Int(p));
        }
        !run(r, vec![(0, ev)]).is_empty()
    };
    assert!(fire(
        &mut r,
        "<14>Nov 22 10:00:00 h app: foo and bar",
        true,
        None
    ));
    assert!(!fire(
        &mut r,
        "<14>Nov 22 10:00:00 h app: foo and bar",
        false,
        None
    ));
    assert!(!fire(
        &mut r,
        "<14>Nov 22 10:00:00 h app: foo only",
        true,
        None
    ));
    assert!(fire(
        &mut r,
        "<14>Nov 22 10:00:00 web1 app: x",
        false,
        Some(2000)
    ));
    assert!(!fire(
        &mut r,
        "<14>Nov 22 10:00:00 web1 app: x",
        false,
        Some(80)
    ));
    assert!(fire(
        &mut r,
        "<14>Nov 22 10:00:00 pg-db app: code=500",
        false,
        None
    ));
    assert!(!fire(
        &mut r,
        "<14>Nov 22 10:00:00 pg-db app: code=5000",
        false,
        None
    ));
}

#[test]
fn broken_rules_are_reported_with_file_and_reason_and_the_rest_load() {
    let good = "title: g\nid: g\ndetection:\n  s:\n    host.name: x\n  condition: s\n";
    let bad_modifier =
        "title: b\nid: b\ndetection:\n  s:\n    host.name|nosuchmodifier: x\n  condition: s\n";
    let bad_yaml = "title: [unclosed\n";
    let bad_ref = "title: c\nid: c\ncorrelation:\n  type: event_count\n  rules: [missing]\n  group-by: [host.name]\n  timespan: 1m\n  condition:\n    gte: 2\n";
    let bad_absence = "title: a\npicket-absence:\n  per: host\n";
    let (r, problems) = Rules::from_yaml(
        &[
            ("good.yml", good),
            ("bad_modifier.yml", bad_modifier),
            ("bad_yaml.yml", bad_yaml),
            ("bad_ref.yml", bad_ref),
            ("bad_absence.yml", bad_absence),
        ],
        100,
    );
    assert_eq!(r.len(), 1, "{:?}", r.titles());
    let files: Vec<&str> = problems.iter().map(|p| p.file.as_str()).collect();
    for f in [
        "bad_modifier.yml",
        "bad_yaml.yml",
        "bad_ref.yml",
        "bad_absence.yml",
    ] {
        assert!(files.contains(&f), "{f} not reported: {problems:?}");
    }
    assert!(problems.iter().all(|p| !p.reason.is_empty()));
}

#[test]
fn window_state_is_bounded_and_evictions_are_counted() {
    let mut r = starter();
    // 40 distinct addresses, one failure each, with a cap of 16 keys.
    let files = STARTER_RULES
        .iter()
        .map(|(n, t)| ((*n).to_string(), (*t).to_string()))
        .collect();
    let mut p = Vec::new();
    let (mut small, _) = Rules::from_sources(files, load_pipelines(None, &mut p), 16);
    let evs: Vec<(i64, Event)> = (0..40)
        .map(|i| (i, ssh_fail(&format!("203.0.113.{i}"))))
        .collect();
    run(&mut small, evs);
    assert!(small.state_keys() <= 16, "{}", small.state_keys());
    assert!(small.evicted > 0);
    // Unbounded enough: nothing evicted.
    let evs: Vec<(i64, Event)> = (0..40)
        .map(|i| (i, ssh_fail(&format!("203.0.113.{i}"))))
        .collect();
    run(&mut r, evs);
    assert_eq!(r.evicted, 0);
}

fn corr_rules(kind: &str, extra: &str) -> Rules {
    let base = "title: a\nid: a\nname: rule_a\ndetection:\n  s:\n    message|contains: alpha\n  condition: s\n---\ntitle: b\nid: b\nname: rule_b\ndetection:\n  s:\n    message|contains: beta\n  condition: s\n---\n";
    let corr = format!(
        "title: c\nid: c\ncorrelation:\n  type: {kind}\n  rules: [rule_a, rule_b]\n  group-by: [host.name]\n  timespan: 60s\n{extra}"
    );
    let text = format!("{base}{corr}");
    let (r, p) = Rules::from_yaml(&[("c.yml", text.as_str())], 1000);
    assert!(p.is_empty(), "{p:?}");
    r
}

fn msg(host: &str, text: &str) -> Event {
    event(
        &format!("<14>Nov 22 10:00:00 {host} app: {text}"),
        "192.0.2.7",
    )
}

#[test]
fn temporal_needs_every_rule_within_the_window_in_any_order() {
    let mut r = corr_rules("temporal", "");
    // beta then alpha, 60 s apart: inside (the window includes its edge).
    let fired = run(
        &mut r,
        vec![(0, msg("h1", "beta")), (60, msg("h1", "alpha"))],
    );
    assert_eq!(titles(&fired), vec!["c"], "{fired:?}");
    // 61 s apart: outside.
    let fired = run(
        &mut r,
        vec![(100, msg("h2", "beta")), (161, msg("h2", "alpha"))],
    );
    assert!(fired.is_empty(), "{fired:?}");
    // Groups are separate.
    let fired = run(
        &mut r,
        vec![(200, msg("h3", "alpha")), (201, msg("h4", "beta"))],
    );
    assert!(fired.is_empty());
}

#[test]
fn event_count_and_value_count_at_their_edges() {
    let mut r = corr_rules("event_count", "  condition:\n    gte: 3\n");
    // Three in 60 s fire; the first leaves the window at 61 s.
    let fired = run(
        &mut r,
        vec![
            (0, msg("h", "alpha")),
            (30, msg("h", "beta")),
            (61, msg("h", "alpha")),
        ],
    );
    assert!(fired.is_empty(), "{fired:?}");
    let fired = run(&mut r, vec![(62, msg("h", "alpha"))]);
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].1.count, 3);
    // lt: fires while under the bound.
    let mut r = corr_rules("event_count", "  condition:\n    lt: 2\n");
    assert_eq!(run(&mut r, vec![(0, msg("x", "alpha"))]).len(), 1);
    assert!(run(&mut r, vec![(1, msg("x", "alpha"))]).is_empty());
    // value_count over a field, exact as values leave the window.
    let mut r = corr_rules(
        "value_count",
        "  condition:\n    field: process.name\n    gte: 2\n",
    );
    let p =
        |app: &str, text: &str| event(&format!("<14>Nov 22 10:00:00 h {app}: {text}"), "192.0.2.7");
    assert!(run(&mut r, vec![(0, p("one", "alpha")), (10, p("one", "beta"))]).is_empty());
    assert_eq!(run(&mut r, vec![(20, p("two", "alpha"))]).len(), 1);
    // At 81 s "one" (last seen at 10) left the window: one distinct value again.
    assert!(run(&mut r, vec![(81, p("two", "beta"))]).is_empty());
}

#[test]
fn unsupported_constructs_are_refused_with_the_reason() {
    for (rule, why) in [
        (
            "title: u\nid: u\ndetection:\n  s:\n    message|base64: x\n  condition: s\n",
            "not supported",
        ),
        (
            "title: u\nid: u\ndetection:\n  s:\n    message|fieldref: host.name\n  condition: s\n",
            "not supported",
        ),
        (
            "title: u\nid: u\ndetection:\n  s:\n    source.ip|cidr: not-a-net\n  condition: s\n",
            "cidr",
        ),
        (
            "title: u\nid: u\ndetection:\n  s:\n    message|re: '('\n  condition: s\n",
            "re",
        ),
        (
            "title: u\nid: u\ndetection:\n  s:\n    message: x\n  condition: s and missing\n",
            "missing",
        ),
        (
            "title: a\nid: a\nname: ra\ndetection:\n  s:\n    message: x\n  condition: s\n---\ntitle: c\nid: c\ncorrelation:\n  type: value_sum\n  rules: [ra]\n  group-by: [host.name]\n  timespan: 1m\n  condition:\n    field: source.port\n    gte: 2\n",
            "not supported",
        ),
    ] {
        let (_, problems) = Rules::from_yaml(&[("u.yml", rule)], 100);
        assert!(
            problems.iter().any(|p| p.reason.contains(why)),
            "{rule}: {problems:?}"
        );
    }
}

#[test]
fn windash_matches_every_dash_form() {
    let rule = "title: w\nid: w\ndetection:\n  s:\n    message|windash|contains: ' -enc '\n  condition: s\n";
    let (mut r, p) = Rules::from_yaml(&[("w.yml", rule)], 100);
    assert!(p.is_empty(), "{p:?}");
    for (text, hit) in [
        ("powershell -enc AAA", true),
        ("powershell /enc AAA", true),
        ("powershell \u{2013}enc AAA", true),
        ("powershell enc AAA", false),
    ] {
        let fired = run(&mut r, vec![(0, msg("w1", text))]);
        assert_eq!(!fired.is_empty(), hit, "{text}");
    }
}
