//! Building dashboard URLs: percent-encoding and adding a `field:"value"` filter to a query,
//! for the links every page draws (a field's value, a related search, the next page).

use std::fmt::Write as _;

/// Percent-encodes everything but unreserved characters (RFC 3986).
pub(super) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ignored = write!(out, "%{b:02X}");
        }
    }
    out
}

/// `q` narrowed by `field:"value"` (the current query parenthesised when it has an OR).
pub(super) fn add_filter(q: &str, field: &str, value: &str) -> String {
    let v = value.replace('\\', "\\\\").replace('"', "\\\"");
    let term = format!("{field}:\"{v}\"");
    let q = q.trim();
    if q.is_empty() || q == "*" {
        term
    } else if q.contains("OR") || q.contains("||") {
        format!("({q}) {term}")
    } else {
        format!("{q} {term}")
    }
}
