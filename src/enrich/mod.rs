//! Enrichment, inline after parsing: GeoIP and ASN for public addresses, threat-list matches,
//! and the asset inventory for Picket's users' own addresses. Everything here is a lookup in
//! memory (maxminddb readers, prefix tries, hash maps), so it stays cheap per event.

pub mod geo;
pub mod rdns;
pub mod settings;
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

/// The loaded enrichment data. Each part is shared, so a reload replaces only what changed.
#[derive(Default, Clone)]
pub struct Enricher {
    geoip: Option<Arc<geo::Db>>,
    asn: Option<Arc<geo::Db>>,
    threats: Arc<threat::Threats>,
    assets: Arc<IpTable<Asset>>,
    rdns: Option<Arc<rdns::Rdns>>,
}

impl Enricher {
    /// Loads everything; each part that fails is reported and left out, the rest is used.
    pub fn load(s: &Settings) -> (Enricher, Vec<String>) {
        let mut problems = Vec::new();
        let geoip = open_db(&s.geoip, &mut problems).map(Arc::new);
        let asn = open_db(&s.asn, &mut problems).map(Arc::new);
        let (threats, errors) = threat::Threats::load(&s.threat_lists);
        problems.extend(errors.iter().map(ToString::to_string));
        let (assets, errors) = load_assets(s);
        problems.extend(errors);
        (
            Enricher {
                geoip,
                asn,
                threats: Arc::new(threats),
                assets: Arc::new(assets),
                rdns: None,
            },
            problems,
        )
    }

    /// A copy with the parts whose files are in `changed` loaded again. A part that no longer
    /// loads keeps its previous data, and the reason is returned.
    pub fn reloaded(&self, s: &Settings, changed: &[PathBuf]) -> (Enricher, Vec<String>) {
        let mut next = self.clone();
        let mut problems = Vec::new();
        let touched = |p: &Option<PathBuf>| p.as_ref().is_some_and(|p| changed.contains(p));
        for (path, slot) in [(&s.geoip, &mut next.geoip), (&s.asn, &mut next.asn)] {
            if touched(path) {
                let mut errs = Vec::new();
                match open_db(path, &mut errs) {
                    Some(db) => *slot = Some(Arc::new(db)),
                    None => problems.extend(
                        errs.into_iter()
                            .map(|e| format!("{e}; keeping the previous database")),
                    ),
                }
            }
        }
        if s.threat_lists.iter().any(|l| changed.contains(&l.path)) {
            let (t, errors) = threat::Threats::load(&s.threat_lists);
            if errors.iter().any(|e| e.message.starts_with("cannot read")) {
                problems.extend(
                    errors
                        .iter()
                        .map(|e| format!("{e}; keeping the previous lists")),
                );
            } else {
                problems.extend(errors.iter().map(ToString::to_string));
                next.threats = Arc::new(t);
            }
        }
        if touched(&s.assets_csv) {
            let (a, errors) = load_assets(s);
            if errors.is_empty() {
                next.assets = Arc::new(a);
            } else {
                problems.extend(
                    errors
                        .into_iter()
                        .map(|e| format!("{e}; keeping the previous assets")),
                );
            }
        }
        (next, problems)
    }

    /// What is loaded, in words (for `config check`).
    pub fn summary(&self) -> String {
        if self.is_empty() {
            return "none configured".into();
        }
        let db = |d: &Option<Arc<geo::Db>>| {
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
            && self.rdns.is_none()
    }

    /// Adds what is known about the event's addresses and domains.
    pub fn enrich(&self, ev: &mut Event) {
        if self.is_empty() {
            return;
        }
        // The sender itself (a switch sending traps, a firewall sending logs) when it is one
        // of our assets: `host.asset.*`, which rules such as "linkDown on a critical asset" read.
        if !self.assets.is_empty() {
            if let Some(a) = self.assets.get(ev.peer.ip()) {
                asset_fields(ev, "host", a);
            }
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
            if let Some(name) = self.rdns.as_ref().and_then(|r| r.name(ip)) {
                let key = if side == "source" {
                    "source.domain"
                } else {
                    "destination.domain"
                };
                if ev.field(key).is_none() {
                    ev.fields
                        .push((Cow::Borrowed(key), FieldValue::Str(name.to_string())));
                }
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

fn open_db(p: &Option<PathBuf>, problems: &mut Vec<String>) -> Option<geo::Db> {
    match geo::Db::open(p.as_ref()?) {
        Ok(db) => Some(db),
        Err(e) => {
            problems.push(e.to_string());
            None
        }
    }
}

/// The asset table from the configuration and the CSV file.
fn load_assets(s: &Settings) -> (IpTable<Asset>, Vec<String>) {
    let mut assets = IpTable::default();
    let mut problems = Vec::new();
    for (cidr, a) in &s.assets {
        match table::parse_net(cidr) {
            Some(n) => assets.insert(n, a.clone()),
            None => problems.push(format!("enrich.asset `{cidr}`: not an IP or CIDR")),
        }
    }
    let Some(p) = &s.assets_csv else {
        return (assets, problems);
    };
    let text = match std::fs::read_to_string(p) {
        Ok(t) => t,
        Err(e) => {
            problems.push(format!("{}: cannot read: {e}", p.display()));
            return (assets, problems);
        }
    };
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
    (assets, problems)
}

/// The enrichment data in use, replaced as a whole when files change (readers take an `Arc`
/// per batch, so a reload never pauses ingest).
pub struct Shared {
    current: std::sync::RwLock<Arc<Enricher>>,
    settings: Settings,
    stamps: std::sync::Mutex<Vec<(PathBuf, Option<std::time::SystemTime>)>>,
}

impl Shared {
    /// Loads the data; the problems are returned for logging.
    pub fn new(settings: Settings) -> (Arc<Shared>, Vec<String>) {
        let (e, problems) = Enricher::load(&settings);
        let stamps = watched(&settings)
            .into_iter()
            .map(|p| {
                let t = mtime(&p);
                (p, t)
            })
            .collect();
        (
            Arc::new(Shared {
                current: std::sync::RwLock::new(Arc::new(e)),
                settings,
                stamps: std::sync::Mutex::new(stamps),
            }),
            problems,
        )
    }

    /// Adds reverse DNS (started on the Tokio runtime by the caller); kept across reloads.
    pub fn set_rdns(&self, r: Arc<rdns::Rdns>) {
        let mut next = (*self.get()).clone();
        next.rdns = Some(r);
        match self.current.write() {
            Ok(mut g) => *g = Arc::new(next),
            Err(p) => *p.into_inner() = Arc::new(next),
        }
    }

    /// The data in use now.
    pub fn get(&self) -> Arc<Enricher> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Reloads what changed on disk (everything when `all`, as on SIGHUP). Returns the files
    /// reloaded and the problems (a part that fails keeps its previous data).
    pub fn reload(&self, all: bool) -> (Vec<PathBuf>, Vec<String>) {
        let changed: Vec<PathBuf> = {
            let mut stamps = match self.stamps.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            stamps
                .iter_mut()
                .filter_map(|(p, t)| {
                    let now = mtime(p);
                    (all || now != *t).then(|| {
                        *t = now;
                        p.clone()
                    })
                })
                .collect()
        };
        if changed.is_empty() {
            return (changed, Vec::new());
        }
        let (next, problems) = self.get().reloaded(&self.settings, &changed);
        match self.current.write() {
            Ok(mut g) => *g = Arc::new(next),
            Err(p) => *p.into_inner() = Arc::new(next),
        }
        (changed, problems)
    }
}

fn watched(s: &Settings) -> Vec<PathBuf> {
    s.geoip
        .iter()
        .chain(&s.asn)
        .chain(&s.assets_csv)
        .cloned()
        .chain(s.threat_lists.iter().map(|l| l.path.clone()))
        .collect()
}

fn mtime(p: &std::path::Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
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
