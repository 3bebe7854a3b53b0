//! ArcSight Common Event Format: `CEF:Version|Device Vendor|Device Product|Device Version|
//! Signature ID|Name|Severity|Extension`, anywhere in the message (after a syslog header).
//!
//! Per the CEF specification: header fields escape `\|` and `\\`; extension values escape
//! `\=`, `\\`, `\n` and `\r` (both newlines), may contain spaces and unescaped `=`, and end
//! where the next ` key=` begins; surrounding quotes are dropped. Custom fields (`cs1` with
//! `cs1Label`, `cn1`/`cn1Label`, `cfp1`, `flexString1`, …) are named by their labels. The
//! well-known keys map to ECS (`src` → `source.ip`, `act` → `event.action`, …); every
//! extension is also kept as `cef.extensions.<key>`.
#![warn(clippy::indexing_slicing)]

use super::BodyParser;
use crate::model::{Event, FieldValue, fields as f};
use std::borrow::Cow;

/// A parsed CEF record.
#[derive(Debug, Clone, PartialEq)]
pub struct Cef {
    /// The seven header fields, unescaped: version, vendor, product, device version,
    /// signature id, name, severity.
    pub header: [String; 7],
    /// Extension pairs in order, unescaped, custom fields renamed by their labels.
    pub extensions: Vec<(String, String)>,
}

/// Why a CEF record could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CefError {
    /// No `CEF:` marker.
    #[error("no CEF: marker")]
    NotCef,
    /// Fewer than seven header fields.
    #[error("incomplete CEF header")]
    IncompleteHeader,
    /// An extension has a value but no key (`=value`).
    #[error("extension value without a key at byte {0}")]
    MissingKey(usize),
}

/// Header names as VRL and Elastic call them.
pub const HEADER_NAMES: [&str; 7] = [
    "cefVersion",
    "deviceVendor",
    "deviceProduct",
    "deviceVersion",
    "deviceEventClassId",
    "name",
    "severity",
];

fn unquote(s: &str) -> &str {
    s.strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .unwrap_or(s)
}

/// Parses the CEF record in `text`, naming custom fields by their labels.
pub fn parse_cef(text: &str) -> Result<Cef, CefError> {
    parse_cef_with(text, true)
}

/// Parses the CEF record in `text`; with `translate`, custom fields take their labels' names
/// and the label entries that were applied are dropped.
pub fn parse_cef_with(text: &str, translate: bool) -> Result<Cef, CefError> {
    let start = crate::parse::find(text, "CEF:").ok_or(CefError::NotCef)?;
    let rest = text.get(start + 4..).unwrap_or_default();
    // Header: split on unescaped '|', seven fields, then the extension.
    let mut header: Vec<String> = Vec::with_capacity(7);
    let mut cur = String::new();
    let mut chars = rest.char_indices();
    let mut ext_start = None;
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, n @ ('|' | '\\'))) => cur.push(n),
                Some((_, n)) => {
                    cur.push('\\');
                    cur.push(n);
                }
                None => cur.push('\\'),
            },
            '|' => {
                header.push(unquote(cur.trim()).to_owned());
                cur.clear();
                if header.len() == 7 {
                    ext_start = Some(i + 1);
                    break;
                }
            }
            _ => cur.push(c),
        }
    }
    let Some(ext_start) = ext_start else {
        return Err(CefError::IncompleteHeader);
    };
    let header: [String; 7] = header.try_into().map_err(|_| CefError::IncompleteHeader)?;
    let ext = rest.get(ext_start..).unwrap_or_default();
    let mut extensions = parse_extension(ext)?;
    if translate {
        rename_custom(&mut extensions);
    }
    Ok(Cef { header, extensions })
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'[' | b']')
}

/// Where each `key=` starts: after start-of-text or whitespace, a run of key bytes, then an
/// unescaped `=`. Returns (key start, '=' position).
fn key_positions(ext: &str) -> Vec<(usize, usize)> {
    let b = ext.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let at_start = i == 0 || b.get(i - 1).is_some_and(|c| c.is_ascii_whitespace());
        if at_start && b.get(i).copied().is_some_and(is_key_byte) {
            let mut j = i;
            while b.get(j).copied().is_some_and(is_key_byte) {
                j += 1;
            }
            if b.get(j) == Some(&b'=') {
                out.push((i, j));
                i = j + 1;
                continue;
            }
        }
        i += 1;
    }
    out
}

fn parse_extension(ext: &str) -> Result<Vec<(String, String)>, CefError> {
    let trimmed = ext.trim();
    if trimmed.is_empty() {
        return Ok(Vec::new());
    }
    let lead = ext.len() - ext.trim_start().len();
    let keys = key_positions(ext);
    // Text before the first key that is not blank is a value without a key.
    let first = keys.first().map_or(ext.len(), |k| k.0);
    if !ext.get(..first).unwrap_or_default().trim().is_empty()
        || (keys.is_empty() && !trimmed.is_empty())
    {
        return Err(CefError::MissingKey(lead));
    }
    let mut out = Vec::with_capacity(keys.len());
    for (n, (ks, eq)) in keys.iter().enumerate() {
        let end = keys.get(n + 1).map_or(ext.len(), |k| k.0);
        let key = ext.get(*ks..*eq).unwrap_or_default();
        let raw = ext.get(eq + 1..end).unwrap_or_default().trim_end();
        // `=value` inside what would be this value is a key-less value: an error in CEF.
        if raw.starts_with('=') {
            return Err(CefError::MissingKey(*eq));
        }
        if raw.contains(" =") {
            return Err(CefError::MissingKey(*eq));
        }
        out.push((key.to_owned(), unescape_value(unquote(raw))));
    }
    Ok(out)
}

fn unescape_value(v: &str) -> String {
    if !v.contains('\\') {
        return v.to_owned();
    }
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('=') => out.push('='),
            Some('\\') => out.push('\\'),
            Some('n' | 'r') => out.push('\n'),
            Some(o) => {
                out.push('\\');
                out.push(o);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Custom-field families whose `<name>Label` names the value of `<name>`.
const CUSTOM: &[&str] = &[
    "cs",
    "cn",
    "cfp",
    "c6a",
    "flexString",
    "flexNumber",
    "flexDate",
    "deviceCustomDate",
];

fn rename_custom(ext: &mut Vec<(String, String)>) {
    let labels: Vec<(String, String)> = ext
        .iter()
        .filter_map(|(k, v)| {
            k.strip_suffix("Label")
                .map(|base| (base.to_owned(), v.clone()))
        })
        .filter(|(base, label)| !label.is_empty() && CUSTOM.iter().any(|c| base.starts_with(c)))
        .collect();
    let mut applied = Vec::new();
    for (k, _) in ext.iter_mut() {
        if let Some((base, label)) = labels.iter().find(|(base, _)| base == k) {
            applied.push(format!("{base}Label"));
            *k = label.clone();
        }
    }
    ext.retain(|(k, _)| !applied.contains(k));
}

/// CEF extension key (short or full name) → ECS field and whether it is numeric.
fn ecs(key: &str) -> Option<(&'static str, bool)> {
    Some(match key {
        "src" | "sourceAddress" => (f::SOURCE_IP, false),
        "dst" | "destinationAddress" => (f::DESTINATION_IP, false),
        "spt" | "sourcePort" => (f::SOURCE_PORT, true),
        "dpt" | "destinationPort" => (f::DESTINATION_PORT, true),
        "act" | "deviceAction" => (f::EVENT_ACTION, false),
        "suser" | "sourceUserName" => (f::USER_NAME, false),
        "duser" | "destinationUserName" => ("destination.user.name", false),
        "shost" | "sourceHostName" => ("source.domain", false),
        "dhost" | "destinationHostName" => ("destination.domain", false),
        "smac" | "sourceMacAddress" => ("source.mac", false),
        "dmac" | "destinationMacAddress" => ("destination.mac", false),
        "sourceTranslatedAddress" => ("source.nat.ip", false),
        "sourceTranslatedPort" => ("source.nat.port", true),
        "destinationTranslatedAddress" => ("destination.nat.ip", false),
        "destinationTranslatedPort" => ("destination.nat.port", true),
        "outcome" | "eventOutcome" => (f::EVENT_OUTCOME, false),
        "deviceExternalId" => ("observer.serial_number", false),
        "dvchost" | "deviceHostName" => ("observer.hostname", false),
        "dvc" | "deviceAddress" => ("observer.ip", false),
        "request" | "requestUrl" => ("url.original", false),
        "requestMethod" => ("http.request.method", false),
        "fname" | "fileName" => ("file.name", false),
        "filePath" => ("file.path", false),
        "in" | "bytesIn" => ("source.bytes", true),
        "out" | "bytesOut" => ("destination.bytes", true),
        "cat" | "deviceEventCategory" => ("event.category.device", false),
        "reason" => ("event.reason", false),
        _ => return None,
    })
}

/// The record starting at `marker`: from the message, or, when the header parser took the
/// marker for a syslog tag (`host CEF:0|…`), from the raw line. Returns the text from the
/// marker on and the marker's byte offset in the raw bytes (when it is there).
pub fn locate(ev: &Event, marker: &str) -> Option<(String, Option<usize>)> {
    let msg = ev.message();
    if let Some(i) = msg.find(marker) {
        return Some((msg.get(i..)?.to_owned(), None));
    }
    let raw = String::from_utf8_lossy(&ev.raw);
    let i = raw.find(marker)?;
    let offset = (!ev.invalid_utf8).then_some(i);
    Some((raw.get(i..)?.to_owned(), offset))
}

/// After [`locate`] found the record in the raw line, the message is the record and the
/// marker is no program name.
pub fn restore_message(ev: &mut Event, raw_start: Option<usize>) {
    if let Some(start) = raw_start {
        if ev.app.as_deref().is_some_and(|a| a == "CEF" || a == "LEEF") {
            ev.app = None;
            ev.pid = None;
        }
        ev.message = crate::model::MessageText::RawSuffix(start);
    }
}

/// The CEF parser.
pub struct CefParser;

impl BodyParser for CefParser {
    fn name(&self) -> &'static str {
        "cef"
    }

    fn parse(&self, ev: &mut Event) -> bool {
        // `host CEF:0|…` reads as a syslog tag `CEF`; the record then starts in the raw line.
        let Some((cef, start)) =
            locate(ev, "CEF:").and_then(|(text, start)| parse_cef(&text).ok().map(|c| (c, start)))
        else {
            return false;
        };
        restore_message(ev, start);
        let mut out: Vec<(Cow<'static, str>, FieldValue)> =
            Vec::with_capacity(cef.extensions.len() * 2 + 8);
        let [
            version,
            vendor,
            product,
            dev_version,
            class_id,
            name,
            severity,
        ] = &cef.header;
        for (name, value) in [
            ("cef.version", version),
            (f::OBSERVER_VENDOR, vendor),
            (f::OBSERVER_PRODUCT, product),
            ("observer.version", dev_version),
            (f::EVENT_CODE, class_id),
            ("cef.name", name),
            ("event.severity", severity),
        ] {
            out.push((Cow::Borrowed(name), FieldValue::Str(value.clone())));
        }
        let mut timestamp = None;
        for (k, v) in &cef.extensions {
            if let Some((name, numeric)) = ecs(k) {
                let value = if numeric {
                    v.parse::<i64>().ok().map(FieldValue::Int)
                } else {
                    Some(FieldValue::Str(v.clone()))
                };
                let valid_ip = !(name.ends_with(".ip") && v.parse::<std::net::IpAddr>().is_err());
                if let (Some(value), true) = (value, valid_ip && !v.is_empty()) {
                    out.push((Cow::Borrowed(name), value));
                }
            }
            if k == "proto" {
                out.push((
                    Cow::Borrowed(f::NETWORK_TRANSPORT),
                    FieldValue::Str(v.to_ascii_lowercase()),
                ));
            }
            if k == "rt" || k == "end" {
                timestamp = timestamp.or_else(|| device_time(v));
            }
            out.push((
                Cow::Owned(format!("cef.extensions.{k}")),
                FieldValue::Str(v.clone()),
            ));
        }
        if let Some(t) = timestamp {
            ev.timestamp = t;
        }
        ev.dataset = Cow::Borrowed("cef");
        ev.add_missing_fields(out);
        true
    }
}

/// A device time as CEF (`rt`, `end`) and LEEF (`devTime`) send it: epoch milliseconds,
/// RFC 3339, or `MMM dd yyyy HH:mm:ss[.SSS] [zone]`. A zone name is read as UTC (only UTC/GMT
/// names are unambiguous).
pub(crate) fn device_time(v: &str) -> Option<i64> {
    let v = v.trim();
    if let Ok(ms) = v.parse::<i64>() {
        return ms.checked_mul(1000);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(v) {
        return Some(t.timestamp_micros());
    }
    let stamp = match v.rsplit_once(' ') {
        Some((s, zone)) if zone.chars().all(|c| c.is_ascii_alphabetic()) => s,
        _ => v,
    };
    ["%b %d %Y %H:%M:%S%.f", "%b %d %Y %H:%M:%S"]
        .iter()
        .find_map(|fmt| chrono::NaiveDateTime::parse_from_str(stamp, fmt).ok())
        .map(|t| t.and_utc().timestamp_micros())
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn vrl_cases() {
        let v: serde_json::Value = serde_json::from_slice(&crate::test_util::corpus_bytes(
            "cef/vrl-parse_cef-cases.json",
        ))
        .unwrap();
        let mut checked = 0;
        for case in v["cases"].as_array().unwrap() {
            let input = case["input"].as_str().unwrap();
            let name = case["test"].as_str().unwrap();
            let translate = case["options"]["translate_custom_fields"]
                .as_bool()
                .unwrap_or(false);
            let got = parse_cef_with(input, translate);
            if case.get("expected_error").is_some() {
                // Picket keeps going on custom-field problems (the fields stay under their raw
                // names); structural errors must be errors.
                if !translate {
                    assert!(got.is_err(), "{name}: {got:?}");
                }
                continue;
            }
            let cef = got.unwrap_or_else(|e| panic!("{name}: {e}"));
            let mut map: std::collections::BTreeMap<String, String> =
                cef.extensions.into_iter().collect();
            for (i, h) in HEADER_NAMES.iter().enumerate() {
                map.insert((*h).to_owned(), cef.header[i].clone());
            }
            let want: std::collections::BTreeMap<String, String> = case["expected"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                    )
                })
                .collect();
            assert_eq!(map, want, "{name}");
            checked += 1;
        }
        assert!(checked >= 18, "{checked}");
    }

    #[test]
    fn elastic_lines_map_to_ecs() {
        let lines = crate::test_util::corpus_lines("cef/elastic-test-cef.shared.log");
        let cef = parse_cef(std::str::from_utf8(&lines[0]).unwrap()).unwrap();
        assert_eq!(cef.header[1], "Elastic");
        assert!(
            cef.extensions
                .iter()
                .any(|(k, v)| k == "src" && v == "89.160.20.156")
        );
    }

    quickcheck::quickcheck! {
        fn never_panics(s: String) -> bool {
            // Returns (either way) without panicking.
            parse_cef(&format!("CEF:0|{s}")).map_or(true, |c| c.header.len() == 7) && parse_cef(&s).map_or(true, |c| c.header.len() == 7)
        }
    }
}
