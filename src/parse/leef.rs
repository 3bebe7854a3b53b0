//! IBM QRadar Log Event Extended Format: `LEEF:1.0|Vendor|Product|Version|EventID|attrs` and
//! `LEEF:2.0|Vendor|Product|Version|EventID|Delimiter|attrs`.
//!
//! LEEF 1.0 separates attributes with TAB; senders that use `|` instead (PAN-OS's LEEF
//! profile) are read too. LEEF 2.0 names its delimiter: one character, or `xHH`/`0xHH` in hex;
//! empty means TAB. Attributes are `key=value` (the value may hold `=`). The predefined keys
//! map to ECS (`src`, `dst`, `srcPort`, `dstPort`, `proto`, `usrName`, `devTime` …); every
//! attribute is also kept as `leef.<key>`.
#![warn(clippy::indexing_slicing)]

use super::BodyParser;
use crate::model::{Event, FieldValue, fields as f};
use std::borrow::Cow;

/// A parsed LEEF record.
#[derive(Debug, Clone, PartialEq)]
pub struct Leef {
    /// `1.0` or `2.0`.
    pub version: String,
    /// Vendor, product, product version, event id.
    pub header: [String; 4],
    /// Attributes in order.
    pub attributes: Vec<(String, String)>,
}

fn delimiter(spec: &str) -> Option<char> {
    let s = spec.trim();
    if s.is_empty() {
        return Some('\t');
    }
    let hex = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .or_else(|| s.strip_prefix('x'))
        .or_else(|| s.strip_prefix('X'));
    if let Some(h) = hex {
        return u32::from_str_radix(h, 16).ok().and_then(char::from_u32);
    }
    let mut chars = s.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => Some(c),
        _ => None,
    }
}

/// Parses the LEEF record in `text`.
pub fn parse_leef(text: &str) -> Option<Leef> {
    let start = text.find("LEEF:")?;
    let rest = text.get(start + 5..)?;
    let mut parts = rest.splitn(6, '|');
    let version = parts.next()?.trim().to_owned();
    let header = [
        parts.next()?.to_owned(),
        parts.next()?.to_owned(),
        parts.next()?.to_owned(),
        parts.next()?.to_owned(),
    ];
    let mut tail = parts.next().unwrap_or_default();
    let mut delim = None;
    if version.starts_with('2') {
        // The delimiter field, when present, holds no '='.
        if let Some((spec, after)) = tail.split_once('|') {
            if !spec.contains('=') && spec.len() <= 6 {
                delim = delimiter(spec);
                tail = after;
            }
        }
    }
    let delim = delim.unwrap_or(if tail.contains('\t') { '\t' } else { '|' });
    let attributes = tail
        .split(delim)
        .filter_map(|a| a.split_once('='))
        .filter(|(k, _)| !k.trim().is_empty())
        .map(|(k, v)| {
            (
                k.trim().to_owned(),
                v.trim_end_matches(['\r', '\n']).to_owned(),
            )
        })
        .collect();
    Some(Leef {
        version,
        header,
        attributes,
    })
}

fn ecs(key: &str) -> Option<(&'static str, bool)> {
    Some(match key {
        "src" => (f::SOURCE_IP, false),
        "dst" => (f::DESTINATION_IP, false),
        "srcPort" => (f::SOURCE_PORT, true),
        "dstPort" => (f::DESTINATION_PORT, true),
        "srcPostNAT" | "srcPreNAT" => ("source.nat.ip", false),
        "dstPostNAT" | "dstPreNAT" => ("destination.nat.ip", false),
        "srcPostNATPort" | "srcPreNATPort" => ("source.nat.port", true),
        "dstPostNATPort" | "dstPreNATPort" => ("destination.nat.port", true),
        "usrName" | "accountName" => (f::USER_NAME, false),
        "action" => (f::EVENT_ACTION, false),
        "srcMAC" => ("source.mac", false),
        "dstMAC" => ("destination.mac", false),
        "srcBytes" => ("source.bytes", true),
        "dstBytes" => ("destination.bytes", true),
        "identHostName" => ("host.hostname", false),
        "url" => ("url.original", false),
        "RuleName" | "policy" => (f::RULE_NAME, false),
        "sev" => ("event.severity", false),
        _ => return None,
    })
}

/// The LEEF parser.
pub struct LeefParser;

impl BodyParser for LeefParser {
    fn name(&self) -> &'static str {
        "leef"
    }

    fn parse(&self, ev: &mut Event) -> bool {
        let Some((leef, start)) = super::cef::locate(ev, "LEEF:")
            .and_then(|(text, start)| parse_leef(&text).map(|l| (l, start)))
        else {
            return false;
        };
        super::cef::restore_message(ev, start);
        let [vendor, product, version, event_id] = &leef.header;
        let mut out: Vec<(Cow<'static, str>, FieldValue)> = vec![
            (
                Cow::Borrowed("leef.version"),
                FieldValue::Str(leef.version.clone()),
            ),
            (
                Cow::Borrowed(f::OBSERVER_VENDOR),
                FieldValue::Str(vendor.clone()),
            ),
            (
                Cow::Borrowed(f::OBSERVER_PRODUCT),
                FieldValue::Str(product.clone()),
            ),
            (
                Cow::Borrowed("observer.version"),
                FieldValue::Str(version.clone()),
            ),
            (
                Cow::Borrowed(f::EVENT_CODE),
                FieldValue::Str(event_id.clone()),
            ),
        ];
        for (k, v) in &leef.attributes {
            if let Some((name, numeric)) = ecs(k).filter(|_| !v.is_empty()) {
                let value = if numeric {
                    v.parse::<i64>().ok().map(FieldValue::Int)
                } else {
                    Some(FieldValue::Str(v.clone()))
                };
                if let Some(value) = value
                    .filter(|_| !(name.ends_with(".ip") && v.parse::<std::net::IpAddr>().is_err()))
                {
                    out.push((Cow::Borrowed(name), value));
                }
            }
            if k == "proto" && !v.is_empty() {
                let t = crate::parse::devices::fortigate::transport_name(v)
                    .map_or_else(|| v.to_ascii_lowercase(), str::to_owned);
                out.push((Cow::Borrowed(f::NETWORK_TRANSPORT), FieldValue::Str(t)));
            }
            out.push((Cow::Owned(format!("leef.{k}")), FieldValue::Str(v.clone())));
        }
        let dev_time = leef
            .attributes
            .iter()
            .find(|(k, _)| k == "devTime")
            .map(|(_, v)| v.as_str());
        if let Some(t) = dev_time.and_then(super::cef::device_time) {
            ev.timestamp = t;
        }
        ev.dataset = Cow::Borrowed("leef");
        ev.add_missing_fields(out);
        true
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn rsyslog_cases_give_the_fields_rsyslog_extracts() {
        let v: serde_json::Value = serde_json::from_slice(&crate::test_util::corpus_bytes(
            "cef/rsyslog-mmleefparse-cases.json",
        ))
        .unwrap();
        let mut checked = 0;
        for case in v["cases"].as_array().unwrap() {
            for input in case["pairs"].as_array().unwrap() {
                let leef = parse_leef(input["raw"].as_str().unwrap()).unwrap();
                let get = |k: &str| {
                    leef.attributes
                        .iter()
                        .find(|(a, _)| a == k)
                        .map_or("", |(_, v)| v.as_str())
                        .to_owned()
                };
                // rsyslog's template: vendor|productVersion|src|dst|action|cat|proto|SessionID
                let got = [
                    leef.header[0].clone(),
                    leef.header[2].clone(),
                    get("src"),
                    get("dst"),
                    get("action"),
                    get("cat"),
                    get("proto"),
                    get("SessionID"),
                ]
                .join("|");
                assert_eq!(got, input["rsyslog_output"].as_str().unwrap());
                checked += 1;
            }
        }
        assert_eq!(checked, 3);
    }

    #[test]
    fn leef2_with_custom_delimiter() {
        let l =
            parse_leef("LEEF:2.0|Lancope|StealthWatch|1.0|41|^|src=10.0.6.5^dst=10.0.6.2^sev=5")
                .unwrap();
        assert_eq!(
            l.attributes,
            vec![
                ("src".into(), "10.0.6.5".into()),
                ("dst".into(), "10.0.6.2".into()),
                ("sev".into(), "5".into())
            ]
        );
        let l = parse_leef("LEEF:2.0|V|P|1|7|x5E|a=1^b=2").unwrap();
        assert_eq!(l.attributes.len(), 2);
        let l = parse_leef("LEEF:1.0|V|P|1|7|a=1\tb=x=y").unwrap();
        assert_eq!(l.attributes[1], ("b".into(), "x=y".into()));
    }

    quickcheck::quickcheck! {
        fn never_panics(s: String) -> bool {
            parse_leef(&format!("LEEF:2.0|{s}")).is_none_or(|l| l.header.len() == 4) && parse_leef(&s).is_none_or(|l| l.header.len() == 4)
        }
    }
}
