//! The `[enrich]` section of `picket.toml` as written (GeoIP and ASN databases, threat lists,
//! assets, reverse DNS), and its check into the enricher's [`Settings`]. `config.rs` only
//! places it.

use super::Settings;
use crate::model::Invalid;
use serde::Deserialize;
use std::path::PathBuf;

/// `[enrich]`: GeoIP/ASN databases, threat lists, assets.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEnrich {
    pub geoip: Option<PathBuf>,
    pub asn: Option<PathBuf>,
    pub assets_csv: Option<PathBuf>,
    /// Reverse DNS of source and destination addresses (off by default: it sends queries).
    pub reverse_dns: Option<bool>,
    /// The DNS server for reverse lookups (default: the system's).
    pub dns_server: Option<String>,
    #[serde(default)]
    pub threat_list: Vec<RawThreatList>,
    #[serde(default)]
    pub asset: Vec<RawAsset>,
}

/// `[[enrich.threat_list]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawThreatList {
    pub name: String,
    pub path: PathBuf,
    pub severity: Option<String>,
}

/// `[[enrich.asset]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAsset {
    pub network: String,
    pub name: String,
    pub owner: Option<String>,
    pub criticality: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

impl RawEnrich {
    /// The enricher's settings and, when asked for, reverse DNS; the error names the key.
    pub fn validate(&self) -> Result<(Settings, Option<super::rdns::Options>), Invalid> {
        let mut enrich = Settings {
            geoip: self.geoip.clone(),
            asn: self.asn.clone(),
            assets_csv: self.assets_csv.clone(),
            ..Default::default()
        };
        for (i, t) in self.threat_list.iter().enumerate() {
            let severity = t.severity.clone().unwrap_or_else(|| "medium".into());
            if !matches!(severity.as_str(), "low" | "medium" | "high" | "critical") {
                return Err(Invalid::new(
                    format!("enrich.threat_list[{i}].severity"),
                    "use low, medium, high or critical",
                ));
            }
            enrich.threat_lists.push(super::threat::ListSpec {
                name: t.name.clone(),
                path: t.path.clone(),
                severity,
            });
        }
        for (i, a) in self.asset.iter().enumerate() {
            if super::table::parse_net(&a.network).is_none() {
                return Err(Invalid::new(
                    format!("enrich.asset[{i}].network"),
                    format!("`{}` is not an IP or CIDR", a.network),
                ));
            }
            enrich.assets.push((
                a.network.clone(),
                super::Asset {
                    name: a.name.as_str().into(),
                    owner: a.owner.as_deref().map(Into::into),
                    criticality: a.criticality.as_deref().map(Into::into),
                    tags: a.tags.iter().map(|t| t.as_str().into()).collect(),
                },
            ));
        }
        let reverse_dns = if self.reverse_dns.unwrap_or(false) {
            Some(super::rdns::Options {
                server: match &self.dns_server {
                    Some(a) => Some(a.parse().map_err(|_| {
                        Invalid::new(
                            "enrich.dns_server",
                            format!("`{a}` is not an IP:port address"),
                        )
                    })?),
                    None => None,
                },
                ..Default::default()
            })
        } else {
            None
        };
        Ok((enrich, reverse_dns))
    }
}
