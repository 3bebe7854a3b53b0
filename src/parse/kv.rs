//! Generic `key=value` bodies (quoted values allowed), the shape of FortiGate, many
//! appliances and most "structured" application logs.
//!
//! This is the generic fallback: it maps the common key spellings to ECS names and leaves the
//! rest in the message (which is full-text indexed). Vendor parsers that know a format's keys
//! come before it in the chain.
#![warn(clippy::indexing_slicing)]

use super::BodyParser;
use crate::model::{Event, FieldValue, fields as f};
use std::borrow::Cow;

/// The generic key=value parser.
pub struct KeyValue;

/// A body needs at least this many pairs to count as key=value.
const MIN_PAIRS: usize = 3;

/// Common key spellings → ECS name, and whether the value is numeric.
fn ecs_name(key: &str) -> Option<(&'static str, bool)> {
    Some(match key {
        "srcip" | "src" | "src_ip" | "source_ip" | "sip" => (f::SOURCE_IP, false),
        "dstip" | "dst" | "dst_ip" | "destination_ip" | "dip" => (f::DESTINATION_IP, false),
        "srcport" | "spt" | "src_port" | "sport" => (f::SOURCE_PORT, true),
        "dstport" | "dpt" | "dst_port" | "dport" => (f::DESTINATION_PORT, true),
        "action" | "act" => (f::EVENT_ACTION, false),
        "user" | "usr" | "suser" | "username" => (f::USER_NAME, false),
        _ => return None,
    })
}

/// Splits `text` into `(key, value)` pairs; values may be double-quoted with `\"` escapes.
pub fn pairs(text: &str) -> Vec<(&str, Cow<'_, str>)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(eq) = rest.find('=') {
        let before = rest.get(..eq).unwrap_or_default();
        let key = before
            .rsplit(|c: char| c.is_whitespace() || c == ',' || c == ';')
            .next()
            .unwrap_or_default();
        let after = rest.get(eq + 1..).unwrap_or_default();
        let (value, next): (Cow<'_, str>, &str) = if let Some(q) = after.strip_prefix('"') {
            let mut end = None;
            let mut escaped = false;
            for (i, c) in q.char_indices() {
                match c {
                    '\\' if !escaped => escaped = true,
                    '"' if !escaped => {
                        end = Some(i);
                        break;
                    }
                    _ => escaped = false,
                }
            }
            match end {
                Some(e) => {
                    let v = q.get(..e).unwrap_or_default();
                    let v = if v.contains('\\') {
                        Cow::Owned(v.replace("\\\"", "\""))
                    } else {
                        Cow::Borrowed(v)
                    };
                    (v, q.get(e + 1..).unwrap_or_default())
                }
                None => (Cow::Borrowed(q), ""),
            }
        } else {
            let e = after.find(char::is_whitespace).unwrap_or(after.len());
            (
                Cow::Borrowed(after.get(..e).unwrap_or_default()),
                after.get(e..).unwrap_or_default(),
            )
        };
        if is_key(key) {
            out.push((key, value));
        }
        rest = next;
    }
    out
}

fn is_key(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 64
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

impl BodyParser for KeyValue {
    fn name(&self) -> &'static str {
        "kv"
    }

    fn parse(&self, ev: &mut Event) -> bool {
        let msg = ev.message();
        // Cheap rejection before splitting: key=value bodies have several '='.
        if msg.bytes().filter(|b| *b == b'=').take(MIN_PAIRS).count() < MIN_PAIRS {
            return false;
        }
        let found: Vec<(&'static str, FieldValue)> = {
            let kv = pairs(&msg);
            if kv.len() < MIN_PAIRS {
                return false;
            }
            kv.into_iter()
                .filter_map(|(k, v)| {
                    let (name, numeric) = ecs_name(k)?;
                    let value = if numeric {
                        FieldValue::Int(v.parse().ok()?)
                    } else {
                        FieldValue::Str(v.into_owned())
                    };
                    Some((name, value))
                })
                .collect()
        };
        drop(msg);
        for (name, value) in found {
            if ev.field(name).is_none() {
                ev.fields.push((Cow::Borrowed(name), value));
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_handles_quotes_and_escapes() {
        let p = pairs(r#"a=1 b="two words" c="q\"x" d=4"#);
        let got: Vec<(&str, String)> = p.into_iter().map(|(k, v)| (k, v.into_owned())).collect();
        assert_eq!(
            got,
            vec![
                ("a", "1".into()),
                ("b", "two words".into()),
                ("c", "q\"x".into()),
                ("d", "4".into())
            ]
        );
    }

    #[test]
    fn unterminated_quote_takes_the_rest() {
        let p = pairs(r#"a=1 b="open"#);
        assert_eq!(p.len(), 2);
    }

    quickcheck::quickcheck! {
        fn pairs_never_panics(s: String) -> bool {
            let _ = pairs(&s);
            true
        }
    }
}
