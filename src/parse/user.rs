//! User-defined parsers: one TOML or YAML file per parser in `parsers/` (the file name without
//! its extension is the parser's name). A file says when it applies (`[match]`: program names, sender CIDRs, a
//! regex on the message), how to extract fields (`grok`, Logstash style, or `regex` with named
//! captures, one or a list tried in order), and what to do after (`[rename]`, `[convert]`,
//! `[static]`). Loading reports every file that fails with its name, line and reason; the
//! others still load.
//!
//! ```toml
//! dataset = "nginx.access"
//! [match]
//! program = ["nginx"]
//! grok = '%{IPORHOST:source.ip} - %{DATA:user.name} \[%{HTTPDATE}\] "%{WORD:http.request.method} %{DATA:url.original} HTTP/%{NUMBER}" %{INT:http.response.status_code:int} %{INT:http.response.body.bytes:int}'
//! ```

use super::BodyParser;
use super::grok::{self, Conversion};
use crate::model::{Event, FieldValue, MessageText, fields as f};
use regex::Regex;
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A parser file that could not be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}:{line}: {message}", file.display())]
pub struct DefError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line of the problem (1 when the file as a whole is at fault).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDef {
    description: Option<String>,
    dataset: Option<String>,
    #[serde(rename = "match", default)]
    when: RawMatch,
    grok: Option<toml::Spanned<toml::Value>>,
    regex: Option<toml::Spanned<toml::Value>>,
    #[serde(default)]
    rename: BTreeMap<String, String>,
    #[serde(default)]
    convert: BTreeMap<String, toml::Spanned<String>>,
    #[serde(rename = "static", default)]
    statics: BTreeMap<String, toml::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMatch {
    #[serde(default)]
    program: Vec<String>,
    #[serde(default)]
    sender: Vec<toml::Spanned<String>>,
    message: Option<toml::Spanned<String>>,
}

/// A pattern setting as (text, byte offset in the file): one string or a list of strings.
fn pattern_items(
    text: &str,
    v: Option<toml::Spanned<toml::Value>>,
    key: &str,
) -> Result<Vec<(String, usize)>, (usize, String)> {
    let Some(v) = v else { return Ok(Vec::new()) };
    let span = v.span();
    match v.into_inner() {
        toml::Value::String(s) => Ok(vec![(s, span.start)]),
        toml::Value::Array(items) => {
            let region = text.get(span.clone()).unwrap_or_default();
            let mut out = Vec::new();
            for item in items {
                let toml::Value::String(s) = item else {
                    return Err((
                        span.start,
                        format!("`{key}` must be a string or a list of strings"),
                    ));
                };
                // Point at the item's own line when its text can be found verbatim.
                let probe: String = s.chars().take(24).collect();
                let at = region.find(&probe).map_or(span.start, |o| span.start + o);
                out.push((s, at));
            }
            Ok(out)
        }
        _ => Err((
            span.start,
            format!("`{key}` must be a string or a list of strings"),
        )),
    }
}

struct Pattern {
    re: Regex,
    /// (capture group name, field, conversion)
    fields: Vec<(String, String, Conversion)>,
}

/// A loaded user-defined parser.
pub struct UserParser {
    name: &'static str,
    dataset: String,
    programs: Vec<String>,
    senders: Vec<ipnet::IpNet>,
    message: Option<Regex>,
    patterns: Vec<Pattern>,
    rename: BTreeMap<String, String>,
    convert: Vec<(String, Conversion)>,
    statics: Vec<(String, FieldValue)>,
    /// What it looks for, for `picket parse --explain`.
    pub summary: String,
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset.min(text.len()))
        .unwrap_or_default()
        .matches('\n')
        .count()
        + 1
}

/// A parser file read by either front end: every setting an error may point at carries the
/// byte offset of its text in the file.
#[derive(Default)]
struct Def {
    description: Option<String>,
    dataset: Option<String>,
    programs: Vec<String>,
    senders: Vec<(String, usize)>,
    message: Option<(String, usize)>,
    groks: Vec<(String, usize)>,
    regexes: Vec<(String, usize)>,
    rename: BTreeMap<String, String>,
    convert: Vec<(String, String, usize)>,
    statics: Vec<(String, FieldValue)>,
}

/// The TOML front end: spans come from the TOML parser.
fn read_toml(text: &str) -> Result<Def, (usize, String)> {
    let raw: RawDef = toml::from_str(text).map_err(|e: toml::de::Error| {
        (
            e.span().map_or(0, |s| s.start),
            e.message().trim().to_owned(),
        )
    })?;
    Ok(Def {
        description: raw.description,
        dataset: raw.dataset,
        programs: raw.when.program,
        senders: raw
            .when
            .sender
            .into_iter()
            .map(|s| {
                let at = s.span().start;
                (s.into_inner(), at)
            })
            .collect(),
        message: raw.when.message.map(|m| {
            let at = m.span().start;
            (m.into_inner(), at)
        }),
        groks: pattern_items(text, raw.grok, "grok")?,
        regexes: pattern_items(text, raw.regex, "regex")?,
        rename: raw.rename,
        convert: raw
            .convert
            .into_iter()
            .map(|(k, v)| {
                let at = v.span().start;
                (k, v.into_inner(), at)
            })
            .collect(),
        statics: raw
            .statics
            .into_iter()
            .map(|(k, v)| {
                let fv = match v {
                    toml::Value::Integer(i) => FieldValue::Int(i),
                    toml::Value::Boolean(b) => FieldValue::Bool(b),
                    toml::Value::String(s) => FieldValue::Str(s),
                    toml::Value::Float(x) => FieldValue::Str(x.to_string()),
                    other => FieldValue::Str(format!("{other:?}")),
                };
                (k, fv)
            })
            .collect(),
    })
}

/// The same settings in YAML (`match:` with `program`, `sender`, `message`; `grok` or `regex`
/// as a string or a list; `rename`, `convert`, `static` as maps).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a map of parser settings")]
struct YamlDef {
    description: Option<String>,
    dataset: Option<String>,
    #[serde(rename = "match", default)]
    when: YamlMatch,
    grok: Option<OneOrMany>,
    regex: Option<OneOrMany>,
    #[serde(default)]
    rename: BTreeMap<String, String>,
    #[serde(default)]
    convert: BTreeMap<String, String>,
    #[serde(rename = "static", default)]
    statics: BTreeMap<String, yaml_serde::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a map of program, sender and message conditions"
)]
struct YamlMatch {
    #[serde(default)]
    program: OneOrMany,
    #[serde(default)]
    sender: OneOrMany,
    message: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(untagged, expecting = "a string or a list of strings")]
enum OneOrMany {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::None => Vec::new(),
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

/// The YAML front end. The YAML parser gives positions for syntax errors only, so a setting is
/// located by finding its text in the file after its key (or the key itself).
fn read_yaml(text: &str) -> Result<Def, (usize, String)> {
    let raw: YamlDef = yaml_serde::from_str(text).map_err(|e| {
        let at = e.location().map_or(0, |l| l.index());
        let msg = e.to_string();
        // The crate appends " at line L column C"; the caller prints the line itself.
        let msg = msg.split(" at line ").next().unwrap_or(&msg).to_owned();
        (at, msg)
    })?;
    let find = |key: &str, value: &str| -> usize {
        let from = text
            .find(&format!("{key}:"))
            .or_else(|| text.find(key))
            .unwrap_or(0);
        let probe: String = value.chars().take(24).collect();
        text.get(from..)
            .and_then(|t| t.find(&probe))
            .map_or(from, |o| from + o)
    };
    let located = |key: &str, items: Vec<String>| -> Vec<(String, usize)> {
        items
            .into_iter()
            .map(|v| {
                let at = find(key, &v);
                (v, at)
            })
            .collect()
    };
    let statics = raw
        .statics
        .into_iter()
        .map(|(k, v)| {
            let fv = match v {
                yaml_serde::Value::Bool(b) => FieldValue::Bool(b),
                yaml_serde::Value::Number(n) => n
                    .as_i64()
                    .map_or_else(|| FieldValue::Str(n.to_string()), FieldValue::Int),
                yaml_serde::Value::String(s) => FieldValue::Str(s),
                other => FieldValue::Str(
                    yaml_serde::to_string(&other)
                        .unwrap_or_default()
                        .trim()
                        .to_owned(),
                ),
            };
            (k, fv)
        })
        .collect();
    Ok(Def {
        description: raw.description,
        dataset: raw.dataset,
        programs: raw.when.program.into_vec(),
        senders: located("sender", raw.when.sender.into_vec()),
        message: raw.when.message.map(|m| {
            let at = find("message", &m);
            (m, at)
        }),
        groks: located("grok", raw.grok.unwrap_or_default().into_vec()),
        regexes: located("regex", raw.regex.unwrap_or_default().into_vec()),
        rename: raw.rename,
        convert: raw
            .convert
            .into_iter()
            .map(|(k, v)| {
                let at = find(&k, &v);
                (k, v, at)
            })
            .collect(),
        statics,
    })
}

/// Loads one parser file (`.toml`, or `.yaml`/`.yml`).
pub fn load_file(path: &Path) -> Result<UserParser, DefError> {
    let err = |line: usize, message: String| DefError {
        file: path.to_path_buf(),
        line,
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(1, format!("cannot read: {e}")))?;
    let yaml = path.extension().is_some_and(|x| x == "yaml" || x == "yml");
    let raw = if yaml {
        read_yaml(&text)
    } else {
        read_toml(&text)
    }
    .map_err(|(at, m)| err(line_of(&text, at), m))?;
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    if stem.is_empty()
        || !stem
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        return Err(err(
            1,
            "the file name (the parser's name) may use letters, digits, '_', '-' and '.'".into(),
        ));
    }
    let mut patterns = Vec::new();
    let sources: Vec<(bool, (String, usize))> = raw
        .groks
        .into_iter()
        .map(|g| (true, g))
        .chain(raw.regexes.into_iter().map(|r| (false, r)))
        .collect();
    if sources.is_empty() {
        return Err(err(
            1,
            "needs `grok` or `regex` (the pattern that extracts fields)".into(),
        ));
    }
    for (is_grok, (src, at)) in sources {
        let line = line_of(&text, at);
        let (re_text, fields) = if is_grok {
            let (re, fields) = grok::compile(&src).map_err(|e| err(line, e.to_string()))?;
            let named = fields
                .iter()
                .enumerate()
                .map(|(i, (f, c))| (grok::capture_name(f, i + 1), f.clone(), *c))
                .collect();
            (re, named)
        } else {
            (src.clone(), Vec::new())
        };
        let re = Regex::new(&re_text).map_err(|e| {
            err(
                line,
                format!(
                    "invalid pattern: {}",
                    e.to_string().lines().last().unwrap_or("syntax error")
                ),
            )
        })?;
        let fields = if is_grok {
            fields
        } else {
            re.capture_names()
                .flatten()
                .map(|n| (n.to_owned(), n.to_owned(), Conversion::Text))
                .collect()
        };
        if fields.is_empty() {
            return Err(err(
                line,
                "the pattern captures no field (use %{PATTERN:field} or (?P<field>…))".into(),
            ));
        }
        patterns.push(Pattern { re, fields });
    }
    let mut senders = Vec::new();
    for (s, at) in &raw.senders {
        senders.push(
            crate::model::cidr::parse(s).map_err(|e| err(line_of(&text, *at), e.to_string()))?,
        );
    }
    let message = match &raw.message {
        Some((m, at)) => Some(Regex::new(m).map_err(|e| {
            err(
                line_of(&text, *at),
                format!(
                    "invalid match.message regex: {}",
                    e.to_string().lines().last().unwrap_or("syntax error")
                ),
            )
        })?),
        None => None,
    };
    let mut convert = Vec::new();
    for (field, kind, at) in raw.convert {
        let c = match kind.as_str() {
            "int" | "integer" => Conversion::Int,
            "float" => Conversion::Float,
            "string" => Conversion::Text,
            other => {
                return Err(err(
                    line_of(&text, at),
                    format!("unknown conversion `{other}` (use int, float or string)"),
                ));
            }
        };
        convert.push((field, c));
    }
    let statics = raw.statics;
    let summary = format!(
        "{}{}{}{} patterns",
        raw.description
            .map(|d| format!("{d}; "))
            .unwrap_or_default(),
        if raw.programs.is_empty() {
            String::new()
        } else {
            format!("program in {:?}; ", raw.programs)
        },
        if senders.is_empty() {
            String::new()
        } else {
            format!(
                "sender in {:?}; ",
                raw.senders.iter().map(|s| &s.0).collect::<Vec<_>>()
            )
        },
        patterns.len()
    );
    // Parser names live for the whole process; files are loaded once, so leaking is bounded.
    let name: &'static str = Box::leak(stem.to_owned().into_boxed_str());
    Ok(UserParser {
        name,
        dataset: raw.dataset.unwrap_or_else(|| format!("custom.{stem}")),
        programs: raw.programs,
        senders,
        message,
        patterns,
        rename: raw.rename,
        convert,
        statics,
        summary,
    })
}

/// Loads every `*.toml`, `*.yaml` and `*.yml` file in `dir` (sorted by name): the parsers, and the errors of the
/// files that failed. A missing directory is no parser and no error.
pub fn load_dir(dir: &Path) -> (Vec<UserParser>, Vec<DefError>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return (Vec::new(), Vec::new());
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .is_some_and(|x| x == "toml" || x == "yaml" || x == "yml")
        })
        .collect();
    files.sort();
    let mut ok = Vec::new();
    let mut errors = Vec::new();
    for f in files {
        match load_file(&f) {
            Ok(p) => ok.push(p),
            Err(e) => errors.push(e),
        }
    }
    (ok, errors)
}

fn convert(v: &str, c: Conversion) -> FieldValue {
    match c {
        Conversion::Int => v
            .parse::<i64>()
            .map_or_else(|_| FieldValue::Str(v.to_owned()), FieldValue::Int),
        Conversion::Float | Conversion::Text => FieldValue::Str(v.to_owned()),
    }
}

impl BodyParser for UserParser {
    fn name(&self) -> &'static str {
        self.name
    }

    fn describe(&self) -> String {
        self.summary.clone()
    }

    fn parse(&self, ev: &mut Event) -> bool {
        if !self.programs.is_empty()
            && !ev
                .app
                .as_deref()
                .is_some_and(|a| self.programs.iter().any(|p| p == a))
        {
            return false;
        }
        if !self.senders.is_empty()
            && !self
                .senders
                .iter()
                .any(|c| crate::model::cidr::contains(c, ev.peer.ip()))
        {
            return false;
        }
        let msg = ev.message();
        if self.message.as_ref().is_some_and(|m| !m.is_match(&msg)) {
            return false;
        }
        let mut found: Vec<(String, FieldValue)> = Vec::new();
        let mut matched = false;
        for p in &self.patterns {
            if let Some(c) = p.re.captures(&msg) {
                for (group, field, conv) in &p.fields {
                    if let Some(m) = c.name(group) {
                        found.push((field.clone(), convert(m.as_str(), *conv)));
                    }
                }
                matched = true;
                break;
            }
        }
        drop(msg);
        if !matched {
            return false;
        }
        for (field, value) in found {
            let field = self.rename.get(&field).cloned().unwrap_or(field);
            let value = match self.convert.iter().find(|(f, _)| *f == field) {
                Some((_, c)) => convert(&value.as_text(), *c),
                None => value,
            };
            match field.as_str() {
                f::MESSAGE => ev.message = MessageText::Owned(value.as_text().into_owned()),
                f::HOST_NAME => ev.host = Some(value.as_text().into_owned()),
                f::PROCESS_NAME => ev.app = Some(value.as_text().into_owned()),
                _ => ev.set_field(field, value),
            }
        }
        for (k, v) in &self.statics {
            ev.set_field(k.clone(), v.clone());
        }
        ev.dataset = Cow::Owned(self.dataset.clone());
        true
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::model::{Frame, Transport};
    use crate::parse::{Chain, HeaderOptions};

    use crate::test_util::write_file as write;

    #[test]
    fn grok_parser_with_match_rename_convert_static() {
        let d = tempfile::tempdir().unwrap();
        let p = write(
            d.path(),
            "myapp.toml",
            r#"
dataset = "myapp.access"
grok = ['%{IP:client} %{WORD:http.request.method} %{NOTSPACE:url.original} %{INT:http.response.status_code}']
[match]
program = ["myapp"]
sender = ["127.0.0.0/8"]
[rename]
client = "source.ip"
[convert]
"http.response.status_code" = "int"
[static]
"observer.vendor" = "Example"
"#,
        );
        check_myapp(&p);
    }

    #[test]
    fn the_same_parser_in_yaml() {
        let d = tempfile::tempdir().unwrap();
        let p = write(
            d.path(),
            "myapp.yaml",
            r#"
dataset: myapp.access
grok:
  - '%{IP:client} %{WORD:http.request.method} %{NOTSPACE:url.original} %{INT:http.response.status_code}'
match:
  program: myapp
  sender: [127.0.0.0/8]
rename:
  client: source.ip
convert:
  http.response.status_code: int
static:
  observer.vendor: Example
"#,
        );
        check_myapp(&p);
    }

    fn check_myapp(p: &Path) {
        let parser = load_file(p).unwrap();
        let chain = Chain::with_parsers(
            vec![HeaderOptions::default()],
            vec![Box::new(parser)],
            Vec::new(),
        );
        let frame = |line: &str| Frame {
            bytes: line.as_bytes().to_vec().into(),
            peer: "127.0.0.1:1".parse().unwrap(),
            listener: 0,
            transport: Transport::Udp,
            received_at: 0,
            truncated: false,
        };
        let ev = chain.parse(&frame("<14>Nov 22 10:00:00 h myapp: 10.1.2.3 GET /x 404"));
        assert_eq!(ev.parser, "myapp");
        assert_eq!(ev.dataset, "myapp.access");
        assert_eq!(
            ev.field("source.ip"),
            Some(&FieldValue::Str("10.1.2.3".into()))
        );
        assert_eq!(
            ev.field("http.response.status_code"),
            Some(&FieldValue::Int(404))
        );
        assert_eq!(
            ev.field("observer.vendor"),
            Some(&FieldValue::Str("Example".into()))
        );
        let other = chain.parse(&frame(
            "<14>Nov 22 10:00:00 h otherapp: 10.1.2.3 GET /x 404",
        ));
        assert_ne!(other.parser, "myapp");
    }

    #[test]
    fn errors_name_file_and_line() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "a_ok.toml",
            "regex = '(?P<user.name>\\w+) logged in'\n",
        );
        write(
            d.path(),
            "b_bad_grok.toml",
            "description = \"x\"\n\ngrok = '%{NOPE:x}'\n",
        );
        write(d.path(), "c_bad_key.toml", "grok = '%{IP:x}'\nbogus = 1\n");
        write(
            d.path(),
            "d_bad_cidr.toml",
            "grok = '%{IP:x}'\n[match]\nsender = [\"10.0.0.0/99\"]\n",
        );
        write(d.path(), "e_no_pattern.toml", "dataset = \"x\"\n");
        let (ok, errs) = load_dir(d.path());
        assert_eq!(ok.len(), 1);
        let msgs: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert!(
            msgs[0].ends_with("b_bad_grok.toml:3: unknown grok pattern %{NOPE}"),
            "{msgs:?}"
        );
        assert!(
            msgs[1].contains("c_bad_key.toml:2:") && msgs[1].contains("bogus"),
            "{msgs:?}"
        );
        assert!(msgs[2].contains("d_bad_cidr.toml:3:"), "{msgs:?}");
        assert!(msgs[3].contains("e_no_pattern.toml:1:"), "{msgs:?}");
    }

    #[test]
    fn yaml_errors_name_file_and_line() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "a_ok.yml",
            "regex: '(?P<user.name>\\w+) logged in'\n",
        );
        write(
            d.path(),
            "b_bad_grok.yaml",
            "description: x\ngrok:\n  - '%{IP:x}'\n  - '%{NOPE:y}'\n",
        );
        write(d.path(), "c_bad_key.yaml", "grok: '%{IP:x}'\nbogus: 1\n");
        write(
            d.path(),
            "d_bad_cidr.yaml",
            "grok: '%{IP:x}'\nmatch:\n  sender:\n    - 10.0.0.0/99\n",
        );
        write(
            d.path(),
            "e_syntax.yaml",
            "grok: '%{IP:x}'\nmatch: [unclosed\n",
        );
        write(
            d.path(),
            "f_bad_convert.yaml",
            "grok: '%{IP:x}'\nconvert:\n  x: number\n",
        );
        let (ok, errs) = load_dir(d.path());
        assert_eq!(ok.len(), 1);
        let msgs: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert!(
            msgs[0].ends_with("b_bad_grok.yaml:4: unknown grok pattern %{NOPE}"),
            "{msgs:?}"
        );
        assert!(
            msgs[1].contains("c_bad_key.yaml:") && msgs[1].contains("bogus"),
            "{msgs:?}"
        );
        assert!(msgs[2].contains("d_bad_cidr.yaml:4:"), "{msgs:?}");
        assert!(msgs[3].contains("e_syntax.yaml:"), "{msgs:?}");
        assert!(msgs[4].contains("f_bad_convert.yaml:3:"), "{msgs:?}");
    }

    #[test]
    fn shipped_parser_files_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("parsers");
        let (ok, errs) = load_dir(&dir);
        assert!(errs.is_empty(), "{errs:?}");
        assert!(!ok.is_empty());
    }

    /// A parser file's text in TOML or YAML: any bytes never panic the loader, and an error
    /// names a line inside the file.
    fn loads_or_names_a_line(text: &str, ext: &str) -> bool {
        let d = tempfile::tempdir().unwrap();
        let p = write(d.path(), &format!("x.{ext}"), text);
        match load_file(&p) {
            Ok(_) => true,
            Err(e) => e.line >= 1 && e.line <= text.lines().count().max(1) + 1,
        }
    }

    quickcheck::quickcheck! {
        fn any_toml_text_loads_or_names_a_line(text: String) -> bool {
            loads_or_names_a_line(&text, "toml")
        }

        fn any_yaml_text_loads_or_names_a_line(text: String) -> bool {
            loads_or_names_a_line(&text, "yaml")
        }

        /// Damaging a good file anywhere (a byte replaced) never panics either.
        fn a_damaged_good_file_loads_or_names_a_line(at: u16, with: char, yaml: bool) -> bool {
            let good = if yaml {
                "dataset: myapp.access\ngrok:\n  - '%{IP:client} %{WORD:m}'\nmatch:\n  program: myapp\nrename:\n  client: source.ip\n"
            } else {
                "dataset = \"myapp.access\"\ngrok = ['%{IP:client} %{WORD:m}']\n[match]\nprogram = [\"myapp\"]\n[rename]\nclient = \"source.ip\"\n"
            };
            let mut chars: Vec<char> = good.chars().collect();
            let i = usize::from(at) % chars.len();
            if let Some(c) = chars.get_mut(i) {
                *c = with;
            }
            let text: String = chars.into_iter().collect();
            loads_or_names_a_line(&text, if yaml { "yaml" } else { "toml" })
        }
    }
}
