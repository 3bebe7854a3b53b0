//! Enrichment end to end: GeoIP/ASN and a threat list on events received over syslog, and a
//! list change picked up without a restart (SIGHUP).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::Picket;
use std::time::Duration;

#[test]
fn events_carry_geo_asn_and_threat_fields_and_lists_reload_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = picket::test_util::corpus_dir().join("geoip");
    let list = dir.path().join("blocklist.txt");
    std::fs::write(&list, "# nothing yet\n").unwrap();
    std::fs::write(
        dir.path().join("test.toml"),
        format!(
            "[enrich]\ngeoip = \"{}\"\nasn = \"{}\"\n[[enrich.threat_list]]\nname = \"blocklist\"\npath = \"{}\"\nseverity = \"high\"\n[[enrich.asset]]\nnetwork = \"10.0.0.0/24\"\nname = \"office\"\ncriticality = \"critical\"\n",
            corpus.join("GeoIP2-City-Test.mmdb").display(),
            corpus.join("GeoLite2-ASN-Test.mmdb").display(),
            list.display()
        ),
    )
    .unwrap();
    let p = Picket::start_in(dir, &["--config", "test.toml"]);
    p.log_udp("fw", "srcip=89.160.20.156 dstip=10.0.0.7 action=deny one");
    assert_eq!(p.wait_stored(1, Duration::from_secs(10)), 1);
    let e = &p.search("one", &[])[0];
    assert_eq!(e["source.geo.country_iso_code"], "SE");
    assert_eq!(e["source.geo.city_name"], "Linköping");
    assert_eq!(e["source.as.number"], 29518);
    assert_eq!(e["destination.asset.name"], "office");
    assert_eq!(e["destination.asset.criticality"], "critical");
    assert!(e.get("threat.feed.name").is_none());

    std::fs::write(&list, "89.160.20.0/24\n").unwrap();
    let pid = nix::unistd::Pid::from_raw(p.child.as_ref().unwrap().id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).unwrap();
    // The reload is logged; wait for it rather than for a fixed time.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !p.stderr().contains("Enrichment data reloaded") && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    p.log_udp("fw", "srcip=89.160.20.156 dstip=10.0.0.7 action=deny two");
    assert_eq!(p.wait_stored(2, Duration::from_secs(10)), 2);
    let e = &p.search("two", &[])[0];
    assert_eq!(e["threat.feed.name"], "blocklist");
    assert_eq!(e["threat.indicator.ip"], "89.160.20.156");
    assert_eq!(e["threat.indicator.severity"], "high");
    assert_eq!(e["tags"], "threat-match");
}
