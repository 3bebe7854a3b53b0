//! Time bounds of a search: RFC 3339, a date, `now`, or relative to now.

use super::Error;

/// Reads a time bound: RFC 3339, a date, `now`, or relative to now (`-24h`, `-15m`, `-7d`, `-30s`).
pub fn parse_time(text: &str, now_us: i64) -> Result<i64, Error> {
    let t = text.trim();
    if t == "now" {
        return Ok(now_us);
    }
    if let Some(rel) = t.strip_prefix('-') {
        let (num, unit) =
            rel.split_at(rel.find(|c: char| !c.is_ascii_digit()).unwrap_or(rel.len()));
        let n: i64 = num.parse().map_err(|_| Error::BadTime(text.into()))?;
        let secs = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86400,
            "w" => 7 * 86400,
            _ => return Err(Error::BadTime(text.into())),
        };
        return n
            .checked_mul(secs * 1_000_000)
            .map(|d| now_us - d)
            .ok_or_else(|| Error::BadTime(text.into()));
    }
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(t) {
        return Ok(dt.timestamp_micros());
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(dt) = chrono::NaiveDateTime::parse_from_str(t, fmt) {
            return Ok(dt.and_utc().timestamp_micros());
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        if let Some(dt) = d.and_hms_opt(0, 0, 0) {
            return Ok(dt.and_utc().timestamp_micros());
        }
    }
    Err(Error::BadTime(text.into()))
}
