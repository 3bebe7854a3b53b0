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
/// A key is the run of key characters right before an `=`; an unquoted value runs to the next
/// whitespace. One forward pass over the bytes.
pub fn pairs(text: &str) -> Vec<(&str, Cow<'_, str>)> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(32);
    let mut i = 0;
    while let Some(off) = memchr::memchr(b'=', b.get(i..).unwrap_or_default()) {
        let eq = i + off;
        // The key: key bytes immediately before '='.
        let mut ks = eq;
        while ks > i
            && b.get(ks - 1)
                .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'))
        {
            ks -= 1;
        }
        let key = text.get(ks..eq).unwrap_or_default();
        let vs = eq + 1;
        let (value, next): (Cow<'_, str>, usize) = if b.get(vs) == Some(&b'"') {
            // Quoted: to the next unescaped quote.
            let mut j = vs + 1;
            let mut escaped = false;
            while let Some(&c) = b.get(j) {
                match c {
                    b'\\' if !escaped => escaped = true,
                    b'"' if !escaped => break,
                    _ => escaped = false,
                }
                j += 1;
            }
            let v = text.get(vs + 1..j.min(text.len())).unwrap_or_default();
            let v = if v.contains('\\') {
                Cow::Owned(v.replace("\\\"", "\""))
            } else {
                Cow::Borrowed(v)
            };
            (v, (j + 1).min(b.len()))
        } else {
            let end = b
                .get(vs..)
                .and_then(|r| r.iter().position(|c| c.is_ascii_whitespace()))
                .map_or(b.len(), |p| vs + p);
            (Cow::Borrowed(text.get(vs..end).unwrap_or_default()), end)
        };
        // A key must start the token: at the start or after a separator.
        let starts_token = ks == 0
            || b.get(ks - 1)
                .is_some_and(|c| c.is_ascii_whitespace() || matches!(c, b',' | b';' | b'"' | b'|'));
        if starts_token && is_key(key) {
            out.push((key, value));
        }
        i = next.max(eq + 1);
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
