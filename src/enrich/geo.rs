//! GeoIP (City or Country database) and ASN lookups with maxminddb.

use crate::model::{Event, FieldValue};
use maxminddb::{Reader, geoip2};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// An open MaxMind database.
pub struct Db {
    reader: Reader<Vec<u8>>,
    /// Where it was read from.
    pub path: PathBuf,
}

/// Why a database could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", path.display())]
pub struct DbError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong.
    pub message: String,
}

impl Db {
    /// Opens and verifies a database (a corrupt file is an error here, never a panic later).
    pub fn open(path: &Path) -> Result<Db, DbError> {
        let err = |m: String| DbError {
            path: path.to_path_buf(),
            message: m,
        };
        let reader = Reader::open_readfile(path).map_err(|e| err(e.to_string()))?;
        reader
            .verify()
            .map_err(|e| err(format!("corrupt database: {e}")))?;
        Ok(Db {
            reader,
            path: path.to_path_buf(),
        })
    }

    /// `database_type` from the metadata (`GeoIP2-City`, `GeoLite2-ASN` …).
    pub fn kind(&self) -> &str {
        &self.reader.metadata().database_type
    }
}

/// Addresses that are never looked up: private, loopback, link-local, reserved and
/// documentation ranges, multicast and unspecified.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_unspecified()
                || v4.is_multicast()
                || a == 0
                || a >= 240
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && c == 0)
                || (a == 198 && (b == 18 || b == 19)))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8))
        }
    }
}

/// Fills `<side>.geo.*` from a City or Country database.
pub fn geo(db: &Db, ip: IpAddr, side: &str, ev: &mut Event) {
    let Ok(found) = db.reader.lookup(ip) else {
        return;
    };
    let Ok(Some(c)) = found.decode::<geoip2::City<'_>>() else {
        return;
    };
    let mut put = |k: &str, v: FieldValue| ev.fields.push((format!("{side}.geo.{k}").into(), v));
    if let Some(x) = c.country.iso_code {
        put("country_iso_code", FieldValue::Str(x.to_owned()));
    }
    if let Some(x) = c.country.names.english {
        put("country_name", FieldValue::Str(x.to_owned()));
    }
    if let Some(x) = c.continent.code {
        put("continent_code", FieldValue::Str(x.to_owned()));
    }
    if let Some(x) = c.city.names.english {
        put("city_name", FieldValue::Str(x.to_owned()));
    }
    if let (Some(country), Some(sub)) = (
        c.country.iso_code,
        c.subdivisions.first().and_then(|s| s.iso_code),
    ) {
        put(
            "region_iso_code",
            FieldValue::Str(format!("{country}-{sub}")),
        );
    }
    if let (Some(lat), Some(lon)) = (c.location.latitude, c.location.longitude) {
        put("location.lat", FieldValue::Str(lat.to_string()));
        put("location.lon", FieldValue::Str(lon.to_string()));
    }
    if let Some(tz) = c.location.time_zone {
        put("timezone", FieldValue::Str(tz.to_owned()));
    }
}

/// Fills `<side>.as.number` and `<side>.as.organization.name` from an ASN database.
pub fn asn(db: &Db, ip: IpAddr, side: &str, ev: &mut Event) {
    let Ok(found) = db.reader.lookup(ip) else {
        return;
    };
    let Ok(Some(a)) = found.decode::<geoip2::Asn<'_>>() else {
        return;
    };
    if let Some(n) = a.autonomous_system_number {
        ev.fields.push((
            format!("{side}.as.number").into(),
            FieldValue::Int(i64::from(n)),
        ));
    }
    if let Some(o) = a.autonomous_system_organization {
        ev.fields.push((
            format!("{side}.as.organization.name").into(),
            FieldValue::Str(o.to_owned()),
        ));
    }
}
