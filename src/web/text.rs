//! Stored text made safe to show: control characters and bytes that are not UTF-8 become
//! visible escapes. HTML escaping is the templates' job; this keeps a hostile log line from
//! hiding itself or rewriting the terminal-like views.

/// Text safe to show: control characters made visible (escaping is the template's job).
pub(super) fn visible(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() && c != '\t' {
                format!("\\x{:02x}", u32::from(c))
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Raw bytes safe to show: valid UTF-8 with control characters made visible, every byte
/// that is not UTF-8 as `\xNN`.
pub(super) fn visible_bytes(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len());
    for chunk in b.utf8_chunks() {
        out.push_str(&visible(chunk.valid()));
        for x in chunk.invalid() {
            out.push_str(&format!("\\x{x:02x}"));
        }
    }
    out
}
