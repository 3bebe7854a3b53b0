//! Message bodies for each kind of channel, from the alert as queued (JSON).

use super::Kind;
use serde_json::{Value, json};

fn s<'a>(a: &'a Value, k: &str) -> &'a str {
    a.get(k).and_then(Value::as_str).unwrap_or("")
}

fn time(a: &Value, k: &str) -> String {
    a.get(k)
        .and_then(Value::as_i64)
        .map(crate::model::event::format_micros)
        .unwrap_or_default()
}

/// One line saying what happened.
pub fn summary(a: &Value, notice: &str) -> String {
    if a.get("test").is_some() {
        return "Picket test notification: this channel works.".into();
    }
    let prefix = match notice {
        "escalated" => "ESCALATED: ",
        "resolved" => "RESOLVED: ",
        _ => "",
    };
    format!(
        "{prefix}[{}] {} ({}): {} event(s), {} to {}",
        s(a, "level").to_uppercase(),
        s(a, "title"),
        s(a, "group"),
        a.get("count").and_then(Value::as_i64).unwrap_or(1),
        time(a, "first_seen"),
        time(a, "last_seen"),
    )
}

/// The value of a template placeholder.
fn placeholder(a: &Value, notice: &str, name: &str) -> Option<String> {
    Some(match name {
        "summary" => summary(a, notice),
        "notice" => notice.to_string(),
        "first_seen" | "last_seen" => time(a, name),
        "alert_json" => return Some(a.to_string()),
        "id" | "count" => a.get(name).map(|v| v.to_string()).unwrap_or_default(),
        "title" | "level" | "group" | "rule_id" | "state" | "kind" => s(a, name).to_string(),
        _ => return None,
    })
}

/// A template that cannot be filled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unclosed {{{{")]
    Unclosed,
    #[error(
        "unknown placeholder {{{{{0}}}}} (known: summary, notice, title, level, group, rule_id, state, kind, id, count, first_seen, last_seen, alert_json)"
    )]
    Unknown(String),
    #[error("not valid JSON once filled: {0}")]
    NotJson(String),
    #[error("e-mail has no JSON body")]
    NoJsonBody,
}

/// Fills `{{name}}` placeholders; values are JSON-escaped (without quotes) so they can stand
/// inside JSON strings, except `{{alert_json}}`, the whole alert as a JSON object.
pub fn fill(template: &str, a: &Value, notice: &str) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(i) = rest.find("{{") {
        out.push_str(rest.get(..i).unwrap_or_default());
        let after = rest.get(i + 2..).unwrap_or_default();
        let Some(j) = after.find("}}") else {
            return Err(TemplateError::Unclosed);
        };
        let name = after.get(..j).unwrap_or_default().trim();
        let v = placeholder(a, notice, name).ok_or_else(|| TemplateError::Unknown(name.into()))?;
        if name == "alert_json" {
            out.push_str(&v);
        } else {
            let quoted = serde_json::to_string(&v).unwrap_or_default();
            out.push_str(
                quoted
                    .get(1..quoted.len().saturating_sub(1))
                    .unwrap_or_default(),
            );
        }
        rest = after.get(j + 2..).unwrap_or_default();
    }
    out.push_str(rest);
    Ok(out)
}

/// Checks that a template only names known placeholders and gives valid JSON.
pub fn check_template(t: &str) -> Result<(), TemplateError> {
    let sample = json!({"id": 1, "title": "t \"q\"", "level": "high", "group": "source.ip=192.0.2.1", "rule_id": "r", "state": "open", "kind": "detection", "count": 5, "first_seen": 0, "last_seen": 0});
    let body = fill(t, &sample, "raised")?;
    serde_json::from_str::<Value>(&body).map_err(|e| TemplateError::NotJson(e.to_string()))?;
    Ok(())
}

fn color(level: &str) -> u32 {
    match level {
        "critical" => 0x8B0000,
        "high" => 0xD9534F,
        "medium" => 0xF0AD4E,
        "low" => 0x5BC0DE,
        _ => 0x999999,
    }
}

fn facts(a: &Value) -> Vec<(&'static str, String)> {
    vec![
        ("Rule", s(a, "title").to_string()),
        ("Level", s(a, "level").to_string()),
        ("Group", s(a, "group").to_string()),
        (
            "Count",
            a.get("count").map(|v| v.to_string()).unwrap_or_default(),
        ),
        ("First seen", time(a, "first_seen")),
        ("Last seen", time(a, "last_seen")),
        (
            "Alert",
            a.get("id").map(|v| v.to_string()).unwrap_or_default(),
        ),
    ]
}

/// The JSON body for a webhook-style channel.
pub fn body(
    kind: Kind,
    template: Option<&str>,
    routing_key: Option<&str>,
    a: &Value,
    notice: &str,
) -> Result<String, TemplateError> {
    let text = summary(a, notice);
    let v = match kind {
        Kind::Webhook => {
            return match template {
                Some(t) => fill(t, a, notice),
                None => Ok(json!({"notice": notice, "summary": text, "alert": a}).to_string()),
            };
        }
        Kind::Slack => json!({"text": text}),
        Kind::Discord => json!({
            "content": text,
            "embeds": [{
                "title": s(a, "title"),
                "description": s(a, "group"),
                "color": color(s(a, "level")),
                "fields": facts(a).into_iter().map(|(k, v)| json!({"name": k, "value": if v.is_empty() { "-".to_string() } else { v }, "inline": true})).collect::<Vec<_>>(),
            }],
        }),
        Kind::Teams => json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [
                        {"type": "TextBlock", "size": "Medium", "weight": "Bolder", "wrap": true, "text": text},
                        {"type": "FactSet", "facts": facts(a).into_iter().map(|(k, v)| json!({"title": k, "value": v})).collect::<Vec<_>>()},
                    ],
                },
            }],
        }),
        Kind::Pagerduty => {
            let severity = match s(a, "level") {
                "critical" => "critical",
                "high" => "error",
                "medium" => "warning",
                _ => "info",
            };
            let dedup = format!(
                "picket-alert-{}",
                a.get("id").map(|v| v.to_string()).unwrap_or_default()
            );
            if notice == "resolved" {
                json!({"routing_key": routing_key, "event_action": "resolve", "dedup_key": dedup})
            } else {
                json!({
                    "routing_key": routing_key,
                    "event_action": "trigger",
                    "dedup_key": dedup,
                    "payload": {
                        "summary": text,
                        "source": "picket",
                        "severity": severity,
                        "component": s(a, "group"),
                        "custom_details": a,
                    },
                })
            }
        }
        Kind::Email => return Err(TemplateError::NoJsonBody),
    };
    Ok(v.to_string())
}

/// Subject, plain text and HTML of an e-mail.
pub fn email(a: &Value, notice: &str) -> (String, String, String) {
    let subject = format!("[Picket] {}", summary(a, notice));
    let mut text = format!("{}\n\n", summary(a, notice));
    let mut rows = String::new();
    for (k, v) in facts(a) {
        text.push_str(&format!("{k}: {v}\n"));
        rows.push_str(&format!(
            "<tr><th align=\"left\">{}</th><td>{}</td></tr>",
            html_escape(k),
            html_escape(&v)
        ));
    }
    let html = format!(
        "<html><body><h2>{}</h2><table>{rows}</table></body></html>",
        html_escape(&summary(a, notice))
    );
    (subject, text, html)
}

fn html_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '&' => o.push_str("&amp;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}
