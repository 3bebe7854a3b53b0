//! Picket's events as Sigma sees them: field lookups by ECS name straight on [`Event`], no
//! JSON built per event.

use crate::model::event::format_micros;
use crate::model::{Event, FieldValue, fields as f};
use rsigma_eval::EventValue;
use std::borrow::Cow;

/// One event with its store id, as the rule engine reads it.
pub struct RuleEvent<'a> {
    ev: &'a Event,
    /// The store id (`picket.id`), 0 when the event is not stored (rules test).
    id: i64,
    /// `observer.ip` as text.
    sender: String,
    listener: &'a str,
}

impl<'a> RuleEvent<'a> {
    /// Wraps `ev`, stored under `id`.
    pub fn new(ev: &'a Event, id: i64, listener: &'a str) -> RuleEvent<'a> {
        RuleEvent {
            ev,
            id,
            sender: ev.peer.ip().to_string(),
            listener,
        }
    }
}

fn value(v: &FieldValue) -> EventValue<'_> {
    match v {
        FieldValue::Str(s) => EventValue::Str(Cow::Borrowed(s.as_str())),
        FieldValue::Int(n) => EventValue::Int(*n),
        FieldValue::Bool(b) => EventValue::Bool(*b),
    }
}

fn text(s: &Option<String>) -> Option<EventValue<'_>> {
    s.as_deref().map(|s| EventValue::Str(Cow::Borrowed(s)))
}

impl rsigma_eval::Event for RuleEvent<'_> {
    fn get_field(&self, path: &str) -> Option<EventValue<'_>> {
        let ev = self.ev;
        match path {
            f::HOST_NAME => text(&ev.host),
            f::PROCESS_NAME => text(&ev.app),
            f::LOG_SYSLOG_MSGID => text(&ev.msgid),
            f::PROCESS_PID => ev.pid.as_deref().map(|p| match p.parse::<i64>() {
                Ok(n) => EventValue::Int(n),
                Err(_) => EventValue::Str(Cow::Borrowed(p)),
            }),
            f::EVENT_DATASET => Some(EventValue::Str(Cow::Borrowed(ev.dataset.as_ref()))),
            f::PICKET_PARSER => Some(EventValue::Str(Cow::Borrowed(ev.parser))),
            f::PICKET_LISTENER => Some(EventValue::Str(Cow::Borrowed(self.listener))),
            f::OBSERVER_IP => Some(EventValue::Str(Cow::Borrowed(self.sender.as_str()))),
            f::LOG_SYSLOG_SEVERITY => ev.severity.map(|s| EventValue::Int(i64::from(s))),
            f::LOG_SYSLOG_FACILITY => ev.facility.map(|s| EventValue::Int(i64::from(s))),
            "message" => Some(EventValue::Str(ev.message())),
            f::TIMESTAMP => Some(EventValue::Str(Cow::Owned(format_micros(ev.timestamp)))),
            f::PICKET_ID | "id" => Some(EventValue::Int(self.id)),
            other => ev.field(other).map(value),
        }
    }

    fn any_string_value(&self, pred: &dyn Fn(&str) -> bool) -> bool {
        let ev = self.ev;
        pred(&ev.message())
            || [&ev.host, &ev.app, &ev.msgid]
                .into_iter()
                .flatten()
                .any(|s| pred(s))
            || ev.fields.iter().any(|(_, v)| match v {
                FieldValue::Str(s) => pred(s),
                _ => false,
            })
    }

    fn all_string_values(&self) -> Vec<Cow<'_, str>> {
        let ev = self.ev;
        let mut out = vec![ev.message()];
        out.extend(
            [&ev.host, &ev.app, &ev.msgid]
                .into_iter()
                .flatten()
                .map(|s| Cow::Borrowed(s.as_str())),
        );
        out.extend(ev.fields.iter().filter_map(|(_, v)| match v {
            FieldValue::Str(s) => Some(Cow::Borrowed(s.as_str())),
            _ => None,
        }));
        out
    }

    /// Only the id: the engine asks for JSON to keep references to correlated events, and
    /// the alert links them by id (the full event stays in the store).
    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "id": self.id.to_string() })
    }
}
