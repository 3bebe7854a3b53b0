//! Logstash-style grok: `%{PATTERN}`, `%{PATTERN:field}` and `%{PATTERN:field:int}` compiled to
//! one regex with named captures, over a built-in library of the usual patterns.
#![warn(clippy::indexing_slicing)]

/// The built-in pattern library (names and definitions as in Logstash's `grok-patterns`).
pub const LIBRARY: &[(&str, &str)] = &[
    ("USERNAME", r"[a-zA-Z0-9._-]+"),
    ("USER", r"%{USERNAME}"),
    (
        "EMAILLOCALPART",
        r"[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]+)*",
    ),
    ("EMAILADDRESS", r"%{EMAILLOCALPART}@%{HOSTNAME}"),
    ("INT", r"[+-]?(?:[0-9]+)"),
    ("BASE10NUM", r"[+-]?(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)"),
    ("NUMBER", r"%{BASE10NUM}"),
    ("BASE16NUM", r"[+-]?(?:0x)?[0-9A-Fa-f]+"),
    ("POSINT", r"[1-9][0-9]*"),
    ("NONNEGINT", r"[0-9]+"),
    ("WORD", r"\w+"),
    ("NOTSPACE", r"\S+"),
    ("SPACE", r"\s*"),
    ("DATA", r".*?"),
    ("GREEDYDATA", r".*"),
    ("QUOTEDSTRING", r#""(?:\\.|[^\\"])*"|'(?:\\.|[^\\'])*'"#),
    ("QS", r"%{QUOTEDSTRING}"),
    (
        "UUID",
        r"[A-Fa-f0-9]{8}-(?:[A-Fa-f0-9]{4}-){3}[A-Fa-f0-9]{12}",
    ),
    ("MAC", r"(?:%{CISCOMAC}|%{WINDOWSMAC}|%{COMMONMAC})"),
    ("CISCOMAC", r"(?:[A-Fa-f0-9]{4}\.){2}[A-Fa-f0-9]{4}"),
    ("WINDOWSMAC", r"(?:[A-Fa-f0-9]{2}-){5}[A-Fa-f0-9]{2}"),
    ("COMMONMAC", r"(?:[A-Fa-f0-9]{2}:){5}[A-Fa-f0-9]{2}"),
    (
        "IPV6",
        r"(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})",
    ),
    (
        "IPV4",
        r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])",
    ),
    ("IP", r"(?:%{IPV6}|%{IPV4})"),
    (
        "HOSTNAME",
        r"\b(?:[0-9A-Za-z][0-9A-Za-z-]{0,62})(?:\.(?:[0-9A-Za-z][0-9A-Za-z-]{0,62}))*\.?\b",
    ),
    ("HOST", r"%{HOSTNAME}"),
    ("IPORHOST", r"(?:%{IP}|%{HOSTNAME})"),
    ("HOSTPORT", r"%{IPORHOST}:%{POSINT}"),
    ("PATH", r"(?:%{UNIXPATH}|%{WINPATH})"),
    ("UNIXPATH", r"(?:/[\w_%!$@:.,+~-]*)+"),
    ("WINPATH", r"(?:[A-Za-z]+:|\\)(?:\\[^\\?*]*)+"),
    ("URIPROTO", r"[A-Za-z][A-Za-z0-9+\-.]+"),
    ("URIHOST", r"%{IPORHOST}(?::%{POSINT})?"),
    ("URIPATH", r"(?:/[A-Za-z0-9$.+!*'(){},~:;=@#%&_\-]*)+"),
    ("URIPARAM", r"\?[A-Za-z0-9$.+!*'|(){},~@#%&/=:;_?\-\[\]<>]*"),
    ("URIPATHPARAM", r"%{URIPATH}(?:%{URIPARAM})?"),
    (
        "URI",
        r"%{URIPROTO}://(?:%{USER}(?::[^@]*)?@)?(?:%{URIHOST})?(?:%{URIPATHPARAM})?",
    ),
    (
        "MONTH",
        r"\b(?:[Jj]an(?:uary|uar)?|[Ff]eb(?:ruary|ruar)?|[Mm](?:a|ä)?r(?:ch|z)?|[Aa]pr(?:il)?|[Mm]a(?:y|i)?|[Jj]un(?:e|i)?|[Jj]ul(?:y|i)?|[Aa]ug(?:ust)?|[Ss]ep(?:tember)?|[Oo](?:c|k)?t(?:ober)?|[Nn]ov(?:ember)?|[Dd]e(?:c|z)(?:ember)?)\b",
    ),
    ("MONTHNUM", r"(?:0?[1-9]|1[0-2])"),
    ("MONTHDAY", r"(?:(?:0[1-9])|(?:[12][0-9])|(?:3[01])|[1-9])"),
    (
        "DAY",
        r"(?:Mon(?:day)?|Tue(?:sday)?|Wed(?:nesday)?|Thu(?:rsday)?|Fri(?:day)?|Sat(?:urday)?|Sun(?:day)?)",
    ),
    ("YEAR", r"(?:\d\d){1,2}"),
    ("HOUR", r"(?:2[0123]|[01]?[0-9])"),
    ("MINUTE", r"(?:[0-5][0-9])"),
    ("SECOND", r"(?:(?:[0-5]?[0-9]|60)(?:[:.,][0-9]+)?)"),
    ("TIME", r"%{HOUR}:%{MINUTE}(?::%{SECOND})?"),
    ("ISO8601_TIMEZONE", r"(?:Z|[+-]%{HOUR}(?::?%{MINUTE}))"),
    (
        "TIMESTAMP_ISO8601",
        r"%{YEAR}-%{MONTHNUM}-%{MONTHDAY}[T ]%{HOUR}:?%{MINUTE}(?::?%{SECOND})?%{ISO8601_TIMEZONE}?",
    ),
    ("SYSLOGTIMESTAMP", r"%{MONTH} +%{MONTHDAY} %{TIME}"),
    ("HTTPDATE", r"%{MONTHDAY}/%{MONTH}/%{YEAR}:%{TIME} %{INT}"),
    ("PROG", r"[\x21-\x5a\x5c\x5e-\x7e]+"),
    ("SYSLOGPROG", r"%{PROG}(?:\[%{POSINT}\])?"),
    (
        "LOGLEVEL",
        r"(?i:alert|trace|debug|notice|info(?:rmation)?|warn(?:ing)?|err(?:or)?|crit(?:ical)?|fatal|severe|emerg(?:ency)?)",
    ),
];

/// A grok pattern that could not be compiled.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum GrokError {
    /// `%{NAME}` names no pattern.
    #[error("unknown grok pattern %{{{0}}}")]
    UnknownPattern(String),
    /// `%{` without a closing `}`.
    #[error("unterminated %{{ at byte {0}")]
    Unterminated(usize),
    /// Patterns refer to each other too deeply (or in a loop).
    #[error("grok patterns nest too deeply (a loop?) at %{{{0}}}")]
    TooDeep(String),
    /// A `:type` suffix other than int, float, string.
    #[error("unknown conversion `{0}` (use int, float or string)")]
    BadType(String),
}

/// How a captured value is converted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Conversion {
    /// Kept as text.
    Text,
    /// Parsed as a whole number.
    Int,
    /// Parsed as a number with a fraction (kept as text if it does not parse).
    Float,
}

/// Expands `pattern` to a regex; returns it and the captured fields with their conversions.
pub fn compile(pattern: &str) -> Result<(String, Vec<(String, Conversion)>), GrokError> {
    let mut fields = Vec::new();
    let re = expand(pattern, 0, &mut fields, true)?;
    Ok((re, fields))
}

fn expand(
    pattern: &str,
    depth: usize,
    fields: &mut Vec<(String, Conversion)>,
    top: bool,
) -> Result<String, GrokError> {
    let mut out = String::with_capacity(pattern.len() * 2);
    let mut rest = pattern;
    let mut consumed = 0;
    while let Some(i) = rest.find("%{") {
        out.push_str(rest.get(..i).unwrap_or_default());
        let after = rest.get(i + 2..).unwrap_or_default();
        let Some(close) = after.find('}') else {
            return Err(GrokError::Unterminated(consumed + i));
        };
        let spec = after.get(..close).unwrap_or_default();
        let mut parts = spec.splitn(3, ':');
        let name = parts.next().unwrap_or_default();
        let field = parts.next();
        let conv = match parts.next() {
            None | Some("string") => Conversion::Text,
            Some("int") => Conversion::Int,
            Some("float") => Conversion::Float,
            Some(other) => return Err(GrokError::BadType(other.to_owned())),
        };
        if depth > 16 {
            return Err(GrokError::TooDeep(name.to_owned()));
        }
        let def = LIBRARY
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, d)| *d)
            .ok_or_else(|| GrokError::UnknownPattern(name.to_owned()))?;
        // Only the user's own pattern names fields; library patterns nest without capturing.
        let inner = expand(def, depth + 1, fields, false)?;
        match field.filter(|_| top) {
            Some(fname) if !fname.is_empty() => {
                fields.push((fname.to_owned(), conv));
                out.push_str(&format!(
                    "(?P<{}>{inner})",
                    capture_name(fname, fields.len())
                ));
            }
            _ => {
                out.push_str("(?:");
                out.push_str(&inner);
                out.push(')');
            }
        }
        let step = i + 2 + close + 1;
        consumed += step;
        rest = rest.get(step..).unwrap_or_default();
    }
    out.push_str(rest);
    Ok(out)
}

/// Regex group names allow letters, digits, `_`, `.`, `[`, `]`; anything else becomes `_`, and
/// the field's index keeps names unique.
pub fn capture_name(field: &str, index: usize) -> String {
    let clean: String = field
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("g{index}_{clean}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_library_pattern_compiles() {
        for (name, _) in LIBRARY {
            let (re, _) = compile(&format!("%{{{name}}}")).unwrap();
            regex::Regex::new(&re).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn fields_and_types() {
        let (re, fields) =
            compile(r"%{IP:source.ip} port %{INT:source.port:int} %{GREEDYDATA:message}").unwrap();
        assert_eq!(
            fields,
            vec![
                ("source.ip".into(), Conversion::Text),
                ("source.port".into(), Conversion::Int),
                ("message".into(), Conversion::Text)
            ]
        );
        let r = regex::Regex::new(&re).unwrap();
        let c = r.captures("10.1.2.3 port 22 hello").unwrap();
        assert_eq!(
            c.name(&capture_name("source.ip", 1)).unwrap().as_str(),
            "10.1.2.3"
        );
    }

    #[test]
    fn errors_name_the_problem() {
        assert_eq!(
            compile("%{NOPE:x}"),
            Err(GrokError::UnknownPattern("NOPE".into()))
        );
        assert!(matches!(compile("%{IP:x"), Err(GrokError::Unterminated(0))));
        assert_eq!(
            compile("%{IP:x:bool}"),
            Err(GrokError::BadType("bool".into()))
        );
    }
}
