//! The full-text tokenizer, shared by index building and searching so both agree.
//!
//! A token is a run of ASCII letters and digits, `.`, `_`, `-` and any non-ASCII bytes, with
//! `.`, `_` and `-` trimmed from its ends, lower-cased (ASCII). So `srcip=10.1.2.3` gives
//! `srcip` and `10.1.2.3`, `outside:203.0.113.5/443` gives `outside`, `203.0.113.5`, `443`,
//! and `closed.` gives `closed`: IP addresses, host names and words are searchable whole.
//! SQLite's FTS5 `ascii` tokenizer with `tokenchars '._-'` splits the same way, so the
//! pre-tokenized text Picket feeds it and the queries it runs stay consistent.

/// Tokens longer than this are not indexed (base64 blobs, hashes past any useful length).
pub const MAX_TOKEN_BYTES: usize = 96;

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-') || b >= 0x80
}

/// Calls `f` with each token of `text` (lower-cased only when it has upper-case ASCII).
pub fn for_each_token(text: &str, mut f: impl FnMut(&str)) {
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut lower = String::new();
    while i < bytes.len() {
        while i < bytes.len() && !bytes.get(i).copied().is_some_and(is_token_byte) {
            i += 1;
        }
        let start = i;
        while i < bytes.len() && bytes.get(i).copied().is_some_and(is_token_byte) {
            i += 1;
        }
        // Token boundaries are ASCII bytes, so these are char boundaries.
        let Some(tok) = text.get(start..i) else {
            continue;
        };
        let tok = tok.trim_matches(|c| matches!(c, '.' | '_' | '-'));
        if tok.is_empty() || tok.len() > MAX_TOKEN_BYTES {
            continue;
        }
        if tok.bytes().any(|b| b.is_ascii_uppercase()) {
            lower.clear();
            lower.push_str(tok);
            lower.make_ascii_lowercase();
            f(&lower);
        } else {
            f(tok);
        }
    }
}

/// The tokens of `text`, in order, duplicates removed.
pub fn tokens(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for_each_token(text, |t| {
        if !out.iter().any(|o| o == t) {
            out.push(t.to_owned());
        }
    });
    out
}

/// Appends the tokens of `text` to `out`, space-separated (the FTS5 input). Repeats are kept:
/// with `detail=none` FTS5 records one posting per row and token anyway, and a hash set per
/// message cost more than it saved (measured).
pub fn index_text(text: &str, out: &mut String) {
    for_each_token(text, |t| {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(t);
    });
}

/// True when `needle` (lower-case ASCII bytes or any non-ASCII) occurs in `hay`, ignoring ASCII
/// case: a cheap filter before tokenizing.
pub fn contains_ignore_case(hay: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    let upper = first.to_ascii_uppercase();
    memchr::memchr2_iter(first, upper, hay).any(|i| {
        hay.get(i + 1..i + 1 + rest.len())
            .is_some_and(|h| h.eq_ignore_ascii_case(rest))
    })
}

/// False when some term of `wanted` does not even occur as a substring of `bytes` (ignoring
/// ASCII case); true means [`contains_all`] has to decide.
pub fn may_contain_all(bytes: &[u8], wanted: &[String]) -> bool {
    wanted
        .iter()
        .all(|w| contains_ignore_case(bytes, w.as_bytes()))
}

/// True when every one of `wanted` (already tokens) is a token of `text`.
pub fn contains_all(text: &str, wanted: &[String]) -> bool {
    if wanted.is_empty() {
        return true;
    }
    // Most rows lack a rare term altogether: rule them out without tokenizing.
    if !wanted
        .iter()
        .all(|w| contains_ignore_case(text.as_bytes(), w.as_bytes()))
    {
        return false;
    }
    let mut found = vec![false; wanted.len()];
    let mut left = wanted.len();
    for_each_token(text, |t| {
        if left == 0 {
            return;
        }
        for (i, w) in wanted.iter().enumerate() {
            if let Some(slot) = found.get_mut(i) {
                if !*slot && w == t {
                    *slot = true;
                    left -= 1;
                }
            }
        }
    });
    left == 0
}

/// True when the tokens of `text` contain `wanted` consecutively, the last one only as a
/// prefix when `prefix` (what a free-text term or phrase of the query means).
pub fn matches_text(text: &str, wanted: &[String], prefix: bool) -> bool {
    let Some((last, whole)) = wanted.split_last() else {
        return true;
    };
    // Rule most rows out on bytes before tokenizing.
    if !wanted
        .iter()
        .all(|w| contains_ignore_case(text.as_bytes(), w.as_bytes()))
    {
        return false;
    }
    if !prefix && whole.is_empty() {
        return contains_all(text, wanted);
    }
    let mut seen: Vec<String> = Vec::new();
    let mut found = false;
    for_each_token(text, |t| {
        if found {
            return;
        }
        seen.push(t.to_owned());
        let n = wanted.len();
        let Some(window) = seen.len().checked_sub(n).and_then(|s| seen.get(s..)) else {
            return;
        };
        let head_ok = window.iter().zip(whole).all(|(a, b)| a == b);
        let tail_ok = window.last().is_some_and(|t| {
            if prefix {
                t.starts_with(last.as_str())
            } else {
                t == last
            }
        });
        found = head_ok && tail_ok;
        if seen.len() > 4 * n + 64 {
            seen.drain(..seen.len() - n);
        }
    });
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_addresses_and_words_whole() {
        assert_eq!(
            tokens("srcip=10.1.2.3 outside:203.0.113.5/443 Connection closed."),
            vec![
                "srcip",
                "10.1.2.3",
                "outside",
                "203.0.113.5",
                "443",
                "connection",
                "closed"
            ]
        );
        assert_eq!(
            tokens("user@Example.COM host-a.lan _x_"),
            vec!["user", "example.com", "host-a.lan", "x"]
        );
    }

    #[test]
    fn contains_all_is_case_insensitive_and_token_exact() {
        assert!(contains_all(
            "Failed password for ROOT",
            &["root".into(), "failed".into()]
        ));
        assert!(!contains_all("rootkit", &["root".into()]));
    }

    #[test]
    fn phrases_are_consecutive_tokens_and_prefixes_start_one() {
        let w = |s: &str| tokens(s);
        assert!(matches_text(
            "Failed password for root",
            &w("failed password"),
            false
        ));
        assert!(!matches_text(
            "password Failed for root",
            &w("failed password"),
            false
        ));
        assert!(matches_text("user=admin01 ok", &w("admin"), true));
        assert!(!matches_text("user=admin01 ok", &w("admin"), false));
        assert!(matches_text(
            "srcip=10.1.2.3 x",
            &w("srcip=10.1.2.3"),
            false
        ));
        assert!(!matches_text(
            "srcip 9 10.1.2.3",
            &w("srcip=10.1.2.3"),
            false
        ));
        let long: String = (0..500).map(|i| format!("w{i} ")).collect();
        assert!(matches_text(&format!("{long} a b"), &w("a b"), false));
    }

    #[test]
    fn index_text_is_lowercase_tokens_separated_by_spaces() {
        let mut s = String::new();
        index_text("A=b, 10.0.0.1:80 (Done.)", &mut s);
        assert_eq!(s, "a b 10.0.0.1 80 done");
    }

    quickcheck::quickcheck! {
        fn never_panics_and_tokens_are_lowercase(s: String) -> bool {
            tokens(&s).iter().all(|t| !t.bytes().any(|b| b.is_ascii_uppercase()) && !t.is_empty())
        }
    }
}
