//! The normalised event (DESIGN.md, "Event: the normalised record").
//!
//! Header fields are struct members because every event has them and the store keeps them in
//! columns; whatever a body parser extracts goes into `fields` under its ECS name. The raw bytes
//! are always kept; the message is usually a suffix of them and is then stored as an offset.

use crate::model::fields as f;
use crate::model::frame::{ListenerId, Transport};
use bytes::Bytes;
use std::borrow::Cow;
use std::net::SocketAddr;

/// A value a parser extracted.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    /// Text.
    Str(String),
    /// A whole number (ports, counts, ids).
    Int(i64),
    /// A true/false flag.
    Bool(bool),
}

impl FieldValue {
    /// The value as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            FieldValue::Str(s) => serde_json::Value::String(s.clone()),
            FieldValue::Int(i) => serde_json::Value::from(*i),
            FieldValue::Bool(b) => serde_json::Value::Bool(*b),
        }
    }

    /// The value as text, for columns and comparisons.
    pub fn as_text(&self) -> Cow<'_, str> {
        match self {
            FieldValue::Str(s) => Cow::Borrowed(s),
            FieldValue::Int(i) => Cow::Owned(i.to_string()),
            FieldValue::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
        }
    }
}

/// Where the human-readable message text lives.
#[derive(Debug, Clone, PartialEq)]
pub enum MessageText {
    /// The message is `raw[offset..]`, and `raw` is valid UTF-8 from there on.
    RawSuffix(usize),
    /// The message differs from the raw bytes (invalid UTF-8 made lossy, or rewritten).
    Owned(String),
}

/// One normalised event.
#[derive(Debug, Clone)]
pub struct Event {
    /// `@timestamp`: event time in microseconds since the epoch (UTC).
    pub timestamp: i64,
    /// `event.ingested`: receive time in microseconds since the epoch (UTC).
    pub ingested: i64,
    /// The UDP/TCP peer (`observer.ip`, `log.source.address`); never taken from content.
    pub peer: SocketAddr,
    /// The listener that received it.
    pub listener: ListenerId,
    /// How it arrived.
    pub transport: Transport,
    /// `log.syslog.facility.code`.
    pub facility: Option<u8>,
    /// `log.syslog.severity.code`.
    pub severity: Option<u8>,
    /// `host.name` from the header.
    pub host: Option<String>,
    /// `process.name` (the tag / APP-NAME).
    pub app: Option<String>,
    /// `process.pid` (PROCID; text because RFC 5424 allows non-numeric ids).
    pub pid: Option<String>,
    /// `log.syslog.msgid`.
    pub msgid: Option<String>,
    /// `event.dataset`.
    pub dataset: Cow<'static, str>,
    /// The parser that filled the body fields; `none` when no body parser matched.
    pub parser: &'static str,
    /// The message text.
    pub message: MessageText,
    /// Fields extracted from the body and structured data, by ECS name.
    pub fields: Vec<(Cow<'static, str>, FieldValue)>,
    /// The bytes exactly as received.
    pub raw: Bytes,
    /// The message's own timestamp when it was clamped to the receive time.
    pub clamped_from: Option<i64>,
    /// True when the frame was cut at the maximum size.
    pub truncated: bool,
    /// True when the frame was not valid UTF-8.
    pub invalid_utf8: bool,
}

impl Event {
    /// An event with only what the frame says: receive time as `@timestamp`, the peer, the raw
    /// bytes; no header parsed, dataset `syslog`, parser `none`, empty message.
    pub fn bare(frame: &crate::model::Frame) -> Event {
        Event {
            timestamp: frame.received_at,
            ingested: frame.received_at,
            peer: frame.peer,
            listener: frame.listener,
            transport: frame.transport,
            facility: None,
            severity: None,
            host: None,
            app: None,
            pid: None,
            msgid: None,
            dataset: Cow::Borrowed("syslog"),
            parser: "none",
            message: MessageText::Owned(String::new()),
            fields: Vec::new(),
            raw: frame.bytes.clone(),
            clamped_from: None,
            truncated: frame.truncated,
            invalid_utf8: false,
        }
    }

    /// The message as text (lossy where the raw bytes are not UTF-8).
    pub fn message(&self) -> Cow<'_, str> {
        message_text(&self.message, &self.raw)
    }

    /// The first extracted field with this name.
    pub fn field(&self, name: &str) -> Option<&FieldValue> {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// Sets a field, replacing an earlier value of the same name.
    pub fn set_field(&mut self, name: impl Into<Cow<'static, str>>, value: FieldValue) {
        let name = name.into();
        if let Some(slot) = self.fields.iter_mut().find(|(k, _)| *k == name) {
            slot.1 = value;
        } else {
            self.fields.push((name, value));
        }
    }

    /// Adds fields whose names the event does not have yet (earlier values win).
    pub fn add_missing_fields(
        &mut self,
        fields: impl IntoIterator<Item = (Cow<'static, str>, FieldValue)>,
    ) {
        for (k, v) in fields {
            if self.field(&k).is_none() {
                self.fields.push((k, v));
            }
        }
    }

    /// The event as a flat JSON object with ECS dotted keys (what `picket parse` prints).
    pub fn to_flat_json(&self, listener_name: &str) -> serde_json::Map<String, serde_json::Value> {
        use serde_json::Value;
        let mut m = serde_json::Map::new();
        m.insert(
            f::TIMESTAMP.into(),
            Value::String(format_micros(self.timestamp)),
        );
        m.insert(
            f::EVENT_INGESTED.into(),
            Value::String(format_micros(self.ingested)),
        );
        let ip = self.peer.ip().to_string();
        m.insert(f::OBSERVER_IP.into(), Value::String(ip.clone()));
        m.insert(
            f::LOG_SOURCE_ADDRESS.into(),
            Value::String(format!("{}", self.peer)),
        );
        m.insert(
            f::PICKET_LISTENER.into(),
            Value::String(listener_name.to_string()),
        );
        if let Some(v) = self.facility {
            m.insert(f::LOG_SYSLOG_FACILITY.into(), Value::from(v));
        }
        if let Some(v) = self.severity {
            m.insert(f::LOG_SYSLOG_SEVERITY.into(), Value::from(v));
        }
        if let (Some(fac), Some(sev)) = (self.facility, self.severity) {
            m.insert(
                f::LOG_SYSLOG_PRIORITY.into(),
                Value::from(u16::from(fac) * 8 + u16::from(sev)),
            );
        }
        let opt = [
            (f::HOST_NAME, &self.host),
            (f::PROCESS_NAME, &self.app),
            (f::LOG_SYSLOG_MSGID, &self.msgid),
        ];
        for (k, v) in opt {
            if let Some(v) = v {
                m.insert(k.into(), Value::String(v.clone()));
            }
        }
        if let Some(pid) = &self.pid {
            let v = pid
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or_else(|_| Value::String(pid.clone()));
            m.insert(f::PROCESS_PID.into(), v);
        }
        m.insert(
            f::EVENT_DATASET.into(),
            Value::String(self.dataset.to_string()),
        );
        m.insert(
            f::PICKET_PARSER.into(),
            Value::String(self.parser.to_string()),
        );
        for (k, v) in &self.fields {
            m.insert(k.to_string(), v.to_json());
        }
        if let Some(orig) = self.clamped_from {
            m.insert(
                f::PICKET_CLAMPED_TIMESTAMP.into(),
                Value::String(format_micros(orig)),
            );
        }
        if self.truncated {
            m.insert(f::PICKET_TRUNCATED.into(), Value::Bool(true));
        }
        if self.invalid_utf8 {
            m.insert(f::PICKET_INVALID_UTF8.into(), Value::Bool(true));
        }
        m.insert(
            f::MESSAGE.into(),
            Value::String(self.message().into_owned()),
        );
        m
    }
}

/// The message text for a stored `MessageText` and raw bytes.
pub fn message_text<'a>(msg: &'a MessageText, raw: &'a [u8]) -> Cow<'a, str> {
    match msg {
        MessageText::Owned(s) => Cow::Borrowed(s.as_str()),
        MessageText::RawSuffix(off) => {
            // Valid UTF-8 whenever the header parser chose RawSuffix; `from_utf8` checks that
            // quickly (it has an ASCII fast path `from_utf8_lossy` lacks).
            let bytes = raw.get(*off..).unwrap_or_default();
            std::str::from_utf8(bytes)
                .map_or_else(|_| String::from_utf8_lossy(bytes), Cow::Borrowed)
        }
    }
}

/// Formats microseconds since the epoch as RFC 3339 UTC with microseconds.
pub fn format_micros(us: i64) -> String {
    match chrono::DateTime::from_timestamp_micros(us) {
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        None => us.to_string(),
    }
}
