//! Tests of enrichment: GeoIP and ASN lookups, threat lists, assets and their reloads.

use super::*;
use crate::model::{Frame, Transport};
use crate::test_util::corpus_dir;

fn event(src: &str, dst: Option<&str>) -> Event {
    let mut ev = Event::bare(&Frame {
        bytes: b"x".to_vec().into(),
        peer: "127.0.0.1:1".parse().unwrap(),
        listener: 0,
        transport: Transport::Udp,
        received_at: 0,
        truncated: false,
    });
    ev.fields
        .push((Cow::Borrowed(f::SOURCE_IP), FieldValue::Str(src.into())));
    if let Some(d) = dst {
        ev.fields
            .push((Cow::Borrowed(f::DESTINATION_IP), FieldValue::Str(d.into())));
    }
    ev
}

fn text(ev: &Event, k: &str) -> Option<String> {
    ev.field(k).map(|v| v.as_text().into_owned())
}

fn geo_settings() -> Settings {
    Settings {
        geoip: Some(corpus_dir().join("geoip/GeoIP2-City-Test.mmdb")),
        asn: Some(corpus_dir().join("geoip/GeoLite2-ASN-Test.mmdb")),
        ..Settings::default()
    }
}

#[test]
fn geoip_and_asn_agree_with_the_reference_reader() {
    let (e, problems) = Enricher::load(&geo_settings());
    assert!(problems.is_empty(), "{problems:?}");
    let lines = crate::test_util::corpus_lines("geoip/lookup-expectations.jsonl");
    let (mut checked, mut asn_checked) = (0, 0);
    for l in lines {
        let x: serde_json::Value = serde_json::from_slice(&l).unwrap();
        let ip_s = x["ip"].as_str().unwrap();
        let ip: IpAddr = ip_s.parse().unwrap();
        let mut ev = event(ip_s, None);
        e.enrich(&mut ev);
        if !geo::is_public(ip) {
            assert!(text(&ev, "source.geo.country_iso_code").is_none(), "{ip}");
            continue;
        }
        if let Some(c) = x.get("city_db") {
            assert_eq!(
                text(&ev, "source.geo.country_iso_code").as_deref(),
                c["country.iso_code"].as_str(),
                "{ip}"
            );
            assert_eq!(
                text(&ev, "source.geo.city_name").as_deref(),
                c["city.name.en"].as_str(),
                "{ip}"
            );
            if let (Some(country), Some(sub)) = (
                c["country.iso_code"].as_str(),
                c["subdivision.iso_code"].as_str(),
            ) {
                assert_eq!(
                    text(&ev, "source.geo.region_iso_code"),
                    Some(format!("{country}-{sub}")),
                    "{ip}"
                );
            }
            if let Some(lat) = c["location.latitude"].as_f64() {
                assert_eq!(
                    text(&ev, "source.geo.location.lat"),
                    Some(lat.to_string()),
                    "{ip}"
                );
            }
            checked += 1;
        }
        if let Some(a) = x.get("asn_db") {
            assert_eq!(
                ev.field("source.as.number"),
                a["autonomous_system_number"]
                    .as_i64()
                    .map(FieldValue::Int)
                    .as_ref(),
                "{ip}"
            );
            assert_eq!(
                text(&ev, "source.as.organization.name").as_deref(),
                a["autonomous_system_organization"].as_str(),
                "{ip}"
            );
            asn_checked += 1;
        }
    }
    assert!(
        checked > 100 && asn_checked > 100,
        "{checked} {asn_checked}"
    );
    // The addresses Elastic's expected outputs use.
    let mut ev = event("89.160.20.156", Some("67.43.156.13"));
    e.enrich(&mut ev);
    assert_eq!(
        text(&ev, "source.geo.city_name").as_deref(),
        Some("Linköping")
    );
    assert_eq!(ev.field("source.as.number"), Some(&FieldValue::Int(29518)));
    assert_eq!(
        text(&ev, "destination.geo.country_iso_code").as_deref(),
        Some("BT")
    );
    assert_eq!(
        ev.field("destination.as.number"),
        Some(&FieldValue::Int(35908))
    );
}

#[test]
fn private_and_reserved_addresses_are_not_looked_up() {
    for ip in [
        "10.1.2.3",
        "192.168.1.1",
        "127.0.0.1",
        "169.254.1.1",
        "100.64.0.1",
        "203.0.113.9",
        "::1",
        "fe80::1",
        "fd00::1",
        "2001:db8::1",
        "224.0.0.1",
        "255.255.255.255",
        "0.0.0.0",
    ] {
        assert!(!geo::is_public(ip.parse().unwrap()), "{ip}");
    }
    for ip in [
        "8.8.8.8",
        "89.160.20.156",
        "2a02:cf40::1",
        "::ffff:81.2.69.142",
    ] {
        assert!(geo::is_public(ip.parse().unwrap()), "{ip}");
    }
}

#[test]
fn corrupt_databases_give_clear_errors_not_panics() {
    let dir = corpus_dir().join("geoip");
    let mut files: Vec<std::path::PathBuf> = vec![
        dir.join("GeoIP2-City-Test-Broken-Double-Format.mmdb"),
        dir.join("GeoIP2-City-Test-Invalid-Node-Count.mmdb"),
        dir.join("MaxMind-DB-test-broken-pointers-24.mmdb"),
        dir.join("MaxMind-DB-test-broken-search-tree-24.mmdb"),
    ];
    let mut stack = vec![dir.join("bad-data")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "mmdb") {
                files.push(p);
            }
        }
    }
    assert!(files.len() > 5);
    let mut refused = 0;
    for p in &files {
        let (e, problems) = Enricher::load(&Settings {
            geoip: Some(p.clone()),
            ..Settings::default()
        });
        if problems.is_empty() {
            // Opened (structurally valid): lookups must still not panic.
            for ip in ["1.1.1.1", "89.160.20.156", "2001:218::1"] {
                let mut ev = event(ip, None);
                e.enrich(&mut ev);
            }
        } else {
            assert!(
                problems[0].contains(&p.display().to_string()),
                "{problems:?}"
            );
            refused += 1;
        }
    }
    assert!(refused >= 4, "{refused} of {} refused", files.len());
    let (_, problems) = Enricher::load(&Settings {
        geoip: Some(dir.join("does-not-exist.mmdb")),
        ..Settings::default()
    });
    assert_eq!(problems.len(), 1);
}

#[test]
fn assets_and_threats_fill_their_fields() {
    let d = tempfile::tempdir().unwrap();
    let list = crate::test_util::write_file(d.path(), "bad.txt", "203.0.113.0/24\n");
    let csv = crate::test_util::write_file(
        d.path(),
        "assets.csv",
        "cidr,name,owner,criticality,tags\n10.0.0.5,db01,dba,critical,prod;pci\nbroken line\n",
    );
    let (e, problems) = Enricher::load(&Settings {
        threat_lists: vec![threat::spec("blocklist", &list, "high")],
        assets: vec![(
            "10.0.0.0/24".into(),
            Asset {
                name: "office".into(),
                owner: None,
                criticality: Some("low".into()),
                tags: vec![],
            },
        )],
        assets_csv: Some(csv),
        ..Settings::default()
    });
    assert_eq!(problems.len(), 1, "{problems:?}");
    let mut ev = event("203.0.113.7", Some("10.0.0.5"));
    e.enrich(&mut ev);
    assert_eq!(text(&ev, "destination.asset.name").as_deref(), Some("db01"));
    assert_eq!(
        text(&ev, "destination.asset.criticality").as_deref(),
        Some("critical")
    );
    assert_eq!(
        text(&ev, "destination.asset.tags").as_deref(),
        Some("prod,pci")
    );
    assert_eq!(text(&ev, "threat.feed.name").as_deref(), Some("blocklist"));
    assert_eq!(
        text(&ev, "threat.indicator.ip").as_deref(),
        Some("203.0.113.7")
    );
    assert_eq!(
        text(&ev, "threat.indicator.matched.field").as_deref(),
        Some("source.ip")
    );
    assert_eq!(text(&ev, "tags").as_deref(), Some("threat-match"));
    let mut ev = event("10.0.0.77", None);
    e.enrich(&mut ev);
    assert_eq!(text(&ev, "source.asset.name").as_deref(), Some("office"));
    assert!(ev.field("threat.feed.name").is_none());
}

#[test]
fn changed_files_reload_and_a_broken_one_keeps_the_old_data() {
    let d = tempfile::tempdir().unwrap();
    let list = crate::test_util::write_file(d.path(), "bad.txt", "203.0.113.0/24\n");
    let db = d.path().join("city.mmdb");
    std::fs::copy(corpus_dir().join("geoip/GeoIP2-City-Test.mmdb"), &db).unwrap();
    let (shared, problems) = Shared::new(Settings {
        geoip: Some(db.clone()),
        threat_lists: vec![threat::spec("blocklist", &list, "high")],
        ..Settings::default()
    });
    assert!(problems.is_empty(), "{problems:?}");
    let before = shared.get();
    let hit = |e: &Enricher, ip: &str| {
        let mut ev = event(ip, None);
        e.enrich(&mut ev);
        (
            text(&ev, "threat.feed.name"),
            text(&ev, "source.geo.country_iso_code"),
        )
    };
    assert_eq!(hit(&before, "198.51.100.1").0, None);
    // Nothing changed: nothing reloads.
    assert!(shared.reload(false).0.is_empty());
    // A new list and a corrupt database arrive (mtime moves on the next whole second at worst).
    std::thread::sleep(std::time::Duration::from_millis(1100));
    std::fs::write(&list, "198.51.100.0/24\n").unwrap();
    std::fs::copy(
        corpus_dir().join("geoip/GeoIP2-City-Test-Invalid-Node-Count.mmdb"),
        &db,
    )
    .unwrap();
    let (files, problems) = shared.reload(false);
    assert_eq!(files.len(), 2, "{files:?}");
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("keeping the previous database"),
        "{problems:?}"
    );
    let after = shared.get();
    assert_eq!(hit(&after, "198.51.100.1").0.as_deref(), Some("blocklist"));
    assert_eq!(hit(&after, "203.0.113.1").0, None);
    // The old City database is still answering.
    assert_eq!(hit(&after, "89.160.20.156").1.as_deref(), Some("SE"));
    // Readers holding the old data keep a consistent view.
    assert_eq!(hit(&before, "203.0.113.1").0.as_deref(), Some("blocklist"));
    // SIGHUP reloads everything.
    assert_eq!(shared.reload(true).0.len(), 2);
}
