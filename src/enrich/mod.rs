//! Enrichment, inline after parsing: GeoIP and ASN for public addresses, threat-list matches,
//! and the asset inventory for Picket's users' own addresses. Everything here is a lookup in
//! memory (maxminddb readers, prefix tries, hash maps), so it stays cheap per event.

pub mod geo;
pub mod table;
pub mod threat;

use crate::model::{Event, FieldValue, fields as f};
use std::borrow::Cow;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use table::IpTable;

/// One of our own systems.
#[derive(Debug, Clone, PartialEq)]
pub struct Asset {
    /// Its name.
    pub name: Arc<str>,
    /// Who owns it.
    pub owner: Option<Arc<str>>,
    /// `low`, `medium`, `high`, `critical` (free text).
    pub criticality: Option<Arc<str>>,
    /// Tags.
    pub tags: Vec<Arc<str>>,
}

/// What to load.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// GeoIP2/GeoLite2 City or Country database.
    pub geoip: Option<PathBuf>,
    /// GeoLite2/GeoIP2 ASN database.
    pub asn: Option<PathBuf>,
    /// Threat lists.
    pub threat_lists: Vec<threat::ListSpec>,
    /// Assets from the configuration: (CIDR, asset).
    pub assets: Vec<(String, Asset)>,
    /// Assets from a CSV file (`cidr,name,owner,criticality,tags` with a header; tags split on
    /// `;` or `|`).
    pub assets_csv: Option<PathBuf>,
}

/// The loaded enrichment data.
#[derive(Default)]
pub struct Enricher {
    geoip: Option<geo::Db>,
    asn: Option<geo::Db>,
    threats: threat::Threats,
    assets: IpTable<Asset>,
}

impl Enricher {
    /// Loads everything; each part that fails is reported and left out, the rest is used.
    pub fn load(s: &Settings) -> (Enricher, Vec<String>) {
        let mut problems = Vec::new();
        let mut open = |p: &Option<PathBuf>| {
            p.as_ref().and_then(|p| match geo::Db::open(p) {
                Ok(db) => Some(db),
                Err(e) => {
                    problems.push(e.to_string());
                    None
                }
            })
        };
        let geoip = open(&s.geoip);
        let asn = open(&s.asn);
        let (threats, errors) = threat::Threats::load(&s.threat_lists);
        problems.extend(errors.iter().map(ToString::to_string));
        let mut assets = IpTable::default();
        for (cidr, a) in &s.assets {
            match table::parse_net(cidr) {
                Some(n) => assets.insert(n, a.clone()),
                None => problems.push(format!("enrich.asset `{cidr}`: not an IP or CIDR")),
            }
        }
        if let Some(p) = &s.assets_csv {
            match std::fs::read_to_string(p) {
                Ok(text) => {
                    for (i, line) in text.lines().enumerate().skip(1) {
                        if line.trim().is_empty() || line.starts_with('#') {
                            continue;
                        }
                        let cols: Vec<&str> = line.split(',').map(str::trim).collect();
                        let opt = |i: usize| {
                            cols.get(i)
                                .filter(|s| !s.is_empty())
                                .map(|s| Arc::<str>::from(*s))
                        };
                        match (cols.first().and_then(|c| table::parse_net(c)), opt(1)) {
                            (Some(n), Some(name)) => assets.insert(
                                n,
                                Asset {
                                    name,
                                    owner: opt(2),
                                    criticality: opt(3),
                                    tags: cols
                                        .get(4)
                                        .map(|t| {
                                            t.split([';', '|'])
                                                .map(str::trim)
                                                .filter(|t| !t.is_empty())
                                                .map(Into::into)
                                                .collect()
                                        })
                                        .unwrap_or_default(),
                                },
                            ),
                            _ => problems.push(format!(
                                "{}:{}: expected cidr,name,owner,criticality,tags",
                                p.display(),
                                i + 1
                            )),
                        }
                    }
                }
                Err(e) => problems.push(format!("{}: cannot read: {e}", p.display())),
            }
        }
        (
            Enricher {
                geoip,
                asn,
                threats,
                assets,
            },
            problems,
        )
    }

    /// What is loaded, in words (for `config check`).
    pub fn summary(&self) -> String {
        if self.is_empty() {
            return "none configured".into();
        }
        let db = |d: &Option<geo::Db>| {
            d.as_ref().map_or("none".to_string(), |d| {
                format!("{} ({})", d.path.display(), d.kind())
            })
        };
        format!(
            "geoip {}, asn {}, {} threat indicators, {} asset networks",
            db(&self.geoip),
            db(&self.asn),
            self.threats.len(),
            self.assets.len()
        )
    }

    /// True when nothing is loaded (enrichment is then skipped).
    pub fn is_empty(&self) -> bool {
        self.geoip.is_none()
            && self.asn.is_none()
            && self.threats.is_empty()
            && self.assets.is_empty()
    }

    /// Adds what is known about the event's addresses and domains.
    pub fn enrich(&self, ev: &mut Event) {
        if self.is_empty() {
            return;
        }
        for (field, side) in [(f::SOURCE_IP, "source"), (f::DESTINATION_IP, "destination")] {
            let Some(ip) = ev.field(field).and_then(|v| match v {
                FieldValue::Str(s) => s.parse::<IpAddr>().ok(),
                _ => None,
            }) else {
                continue;
            };
            if let Some(a) = self.assets.get(ip) {
                asset_fields(ev, side, a);
            }
            if let Some(ind) = self.threats.ip(ip) {
                threat_fields(ev, field, &ip.to_string(), "ipv4-addr", ind);
            }
            if geo::is_public(ip) {
                if let Some(db) = &self.geoip {
                    geo::geo(db, ip, side, ev);
                }
                if let Some(db) = &self.asn {
                    geo::asn(db, ip, side, ev);
                }
            }
        }
        if !self.threats.domains.is_empty() {
            for field in [
                "destination.domain",
                "url.domain",
                "dns.question.name",
                "source.domain",
            ] {
                let Some(FieldValue::Str(d)) = ev.field(field).cloned() else {
                    continue;
                };
                if let Some(ind) = self.threats.domain(&d) {
                    threat_fields(ev, field, &d, "domain-name", ind);
                    break;
                }
            }
        }
    }
}

fn asset_fields(ev: &mut Event, side: &str, a: &Asset) {
    let mut put = |k: &str, v: &str| {
        ev.fields.push((
            Cow::Owned(format!("{side}.asset.{k}")),
            FieldValue::Str(v.to_owned()),
        ))
    };
    put("name", &a.name);
    if let Some(o) = &a.owner {
        put("owner", o);
    }
    if let Some(c) = &a.criticality {
        put("criticality", c);
    }
    if !a.tags.is_empty() {
        put("tags", &a.tags.join(","));
    }
}

fn threat_fields(ev: &mut Event, field: &str, value: &str, kind: &str, ind: &threat::Indicator) {
    if ev.field("threat.indicator.matched.field").is_some() {
        // One match per event is shown; the first address wins.
        return;
    }
    let key = if kind == "domain-name" {
        "threat.indicator.domain"
    } else {
        "threat.indicator.ip"
    };
    let s = |v: &str| FieldValue::Str(v.to_owned());
    ev.fields.push((Cow::Borrowed(key), s(value)));
    ev.fields
        .push((Cow::Borrowed("threat.indicator.type"), s(kind)));
    ev.fields.push((
        Cow::Owned("threat.indicator.matched.field".into()),
        s(field),
    ));
    ev.fields
        .push((Cow::Borrowed("threat.feed.name"), s(&ind.list)));
    ev.fields
        .push((Cow::Borrowed("threat.indicator.severity"), s(&ind.severity)));
    if let Some(d) = &ind.description {
        ev.fields
            .push((Cow::Borrowed("threat.indicator.description"), s(d)));
    }
    ev.fields.push((Cow::Borrowed("tags"), s("threat-match")));
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests;
