//! JSON bodies (also after a `@cee:` cookie): objects are flattened to dotted keys
//! (`{"source":{"ip":"…"}}` → `source.ip`), arrays are kept as JSON text. Keys that are already
//! ECS names stay as they are; Windows events in NXLog or Winlogbeat shape (`EventID`,
//! `TargetUserName`, `IpAddress` …) are mapped to ECS with the same event names as the Snare
//! parser. Other keys are kept under `json.<key>`.
#![warn(clippy::indexing_slicing)]

use super::BodyParser;
use super::devices::windows;
use crate::model::{Event, FieldValue, fields as f};
use serde_json::Value;
use std::borrow::Cow;

/// Nesting deeper than this is kept as JSON text (bounded work on hostile input).
const MAX_DEPTH: usize = 8;
/// At most this many fields are taken from one message.
const MAX_FIELDS: usize = 512;

/// The JSON parser.
pub struct JsonParser;

/// ECS names Picket recognises as such when a JSON body uses them.
const ECS_KEYS: &[&str] = &[
    f::SOURCE_IP,
    f::SOURCE_PORT,
    f::DESTINATION_IP,
    f::DESTINATION_PORT,
    f::NETWORK_TRANSPORT,
    f::EVENT_ACTION,
    f::EVENT_OUTCOME,
    f::EVENT_CODE,
    f::USER_NAME,
    f::RULE_ID,
    f::RULE_NAME,
    "event.category",
    "event.type",
    "url.original",
    "http.request.method",
    "http.response.status_code",
    "process.name",
    "file.path",
    "log.level",
];

fn flatten(prefix: &str, v: &Value, depth: usize, out: &mut Vec<(String, Value)>) {
    if out.len() >= MAX_FIELDS {
        return;
    }
    match v {
        Value::Object(m) if depth < MAX_DEPTH => {
            for (k, v) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, depth + 1, out);
            }
        }
        other => out.push((prefix.to_owned(), other.clone())),
    }
}

fn to_field(v: &Value) -> Option<FieldValue> {
    match v {
        Value::String(s) => Some(FieldValue::Str(s.clone())),
        Value::Bool(b) => Some(FieldValue::Bool(*b)),
        Value::Number(n) => Some(
            n.as_i64()
                .map_or_else(|| FieldValue::Str(n.to_string()), FieldValue::Int),
        ),
        Value::Null => None,
        other => Some(FieldValue::Str(other.to_string())),
    }
}

impl BodyParser for JsonParser {
    fn name(&self) -> &'static str {
        "json"
    }

    fn parse(&self, ev: &mut Event) -> bool {
        let msg = ev.message();
        let body = msg.trim();
        let body = body.strip_prefix("@cee:").map_or(body, str::trim_start);
        if !body.starts_with('{') {
            return false;
        }
        let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(body) else {
            return false;
        };
        drop(msg);
        let mut flat = Vec::new();
        flatten("", &Value::Object(obj), 0, &mut flat);
        let windows_event = flat.iter().any(|(k, _)| {
            matches!(
                k.as_str(),
                "EventID" | "EventId" | "event_id" | "winlog.event_id"
            )
        });
        let mut out: Vec<(Cow<'static, str>, FieldValue)> = Vec::with_capacity(flat.len());
        let mut code = None;
        for (k, v) in &flat {
            let Some(value) = to_field(v) else { continue };
            if let Some(ecs) = ECS_KEYS.iter().find(|e| **e == k.as_str()) {
                out.push((Cow::Borrowed(*ecs), value));
                continue;
            }
            if windows_event {
                if let Some(ecs) = windows::map_json_names(k) {
                    if ecs == f::EVENT_CODE {
                        code = Some(value.as_text().into_owned());
                    }
                    let value = match (ecs, &value) {
                        (f::SOURCE_PORT | f::DESTINATION_PORT, FieldValue::Str(s)) => {
                            s.parse::<i64>().map_or(value.clone(), FieldValue::Int)
                        }
                        (f::EVENT_CODE, FieldValue::Int(n)) => FieldValue::Str(n.to_string()),
                        _ => value.clone(),
                    };
                    let skip_ip = ecs.ends_with(".ip")
                        && value.as_text().parse::<std::net::IpAddr>().is_err();
                    if !skip_ip {
                        out.push((Cow::Borrowed(ecs), value.clone()));
                    }
                }
            }
            out.push((Cow::Owned(format!("json.{k}")), value));
        }
        if let Some(c) = code.as_deref().and_then(|c| c.parse::<u32>().ok()) {
            if let Some(a) = windows::action(c) {
                out.push((
                    Cow::Borrowed(f::EVENT_ACTION),
                    FieldValue::Str(a.to_owned()),
                ));
            }
            let failed = flat.iter().any(|(k, v)| {
                (k == "EventType" || k == "Keywords")
                    && v.as_str()
                        .is_some_and(|s| s.contains("FAILURE") || s.contains("Failure"))
            });
            out.push((
                Cow::Borrowed(f::EVENT_OUTCOME),
                FieldValue::Str(
                    if failed || c == 4625 {
                        "failure"
                    } else {
                        "success"
                    }
                    .into(),
                ),
            ));
            ev.dataset = Cow::Borrowed("windows.security");
        } else if ev.dataset == "syslog" {
            ev.dataset = Cow::Borrowed("json");
        }
        ev.add_missing_fields(out);
        true
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::model::{Frame, Transport};
    use crate::parse::{Chain, HeaderOptions};

    fn parse(line: &str) -> Event {
        Chain::new(vec![HeaderOptions::default()]).parse(&Frame {
            bytes: line.as_bytes().to_vec().into(),
            peer: "127.0.0.1:1".parse().unwrap(),
            listener: 0,
            transport: Transport::Tcp,
            received_at: 0,
            truncated: false,
        })
    }

    #[test]
    fn nested_objects_are_flattened_and_ecs_names_kept() {
        let ev = parse(
            r#"<14>Nov 22 10:00:00 host app: {"source":{"ip":"10.0.0.1","port":5000},"event":{"action":"deny"},"tags":["a","b"],"n":null}"#,
        );
        assert_eq!(ev.parser, "json");
        assert_eq!(
            ev.field("source.ip"),
            Some(&FieldValue::Str("10.0.0.1".into()))
        );
        assert_eq!(ev.field("source.port"), Some(&FieldValue::Int(5000)));
        assert_eq!(
            ev.field("json.tags"),
            Some(&FieldValue::Str(r#"["a","b"]"#.into()))
        );
    }

    #[test]
    fn nxlog_windows_event_maps_to_ecs() {
        let ev = parse(
            r#"<14>Nov 22 10:00:00 dc01 MSWinEventLog: {"EventTime":"2026-11-22 10:00:00","Hostname":"dc01.corp","EventID":4625,"SourceName":"Microsoft-Windows-Security-Auditing","TargetUserName":"bob","IpAddress":"203.0.113.9","IpPort":"51515","EventType":"AUDIT_FAILURE","Channel":"Security"}"#,
        );
        assert_eq!(ev.dataset, "windows.security");
        assert_eq!(
            ev.field("event.code"),
            Some(&FieldValue::Str("4625".into()))
        );
        assert_eq!(ev.field("user.name"), Some(&FieldValue::Str("bob".into())));
        assert_eq!(
            ev.field("source.ip"),
            Some(&FieldValue::Str("203.0.113.9".into()))
        );
        assert_eq!(ev.field("source.port"), Some(&FieldValue::Int(51515)));
        assert_eq!(
            ev.field("event.outcome"),
            Some(&FieldValue::Str("failure".into()))
        );
        assert_eq!(
            ev.field("event.action"),
            Some(&FieldValue::Str("logon-failed".into()))
        );
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let deep = format!("{}1{}", r#"{"a":"#.repeat(50), "}".repeat(50));
        let ev = parse(&deep);
        assert_eq!(ev.parser, "json");
        assert!(ev.fields.len() < 10);
    }

    quickcheck::quickcheck! {
        fn never_panics(s: String) -> bool {
            let ev = parse(&format!("{{{s}"));
            !ev.raw.is_empty()
        }
    }
}
