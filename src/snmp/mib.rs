//! Loading user MIB files (`mibs/`): the SMIv1/SMIv2 subset that names OIDs.
//!
//! A nom tokenizer turns a module into tokens with line numbers (comments dropped); a scanner
//! then reads the assignments that define OIDs: `OBJECT IDENTIFIER`, `MODULE-IDENTITY`,
//! `OBJECT-IDENTITY`, `OBJECT-TYPE` (with its `SYNTAX`, for rendering), `NOTIFICATION-TYPE`,
//! `TRAP-TYPE` (SMIv1: `enterprise.0.n`), and the group and compliance macros. Parents are
//! resolved across every loaded file and the built-in table; `IMPORTS` need no special care
//! because names are global here. A file that fails is reported with its name, line and
//! reason; the others still load.

use super::names::{Known, Names, Syntax};
use nom::IResult;
use nom::Parser;
use nom::branch::alt;
use nom::bytes::complete::{tag, take_while, take_while1};
use nom::character::complete::{char, multispace1};
use nom::combinator::{map, recognize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A MIB file that could not be used (or a definition in it that could not be resolved).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}:{line}: {message}", file.display())]
pub struct MibError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok<'a> {
    Word(&'a str),
    Num(u64),
    Str,
    Assign,
    Open,
    Close,
    LParen,
    RParen,
    Other(char),
}

/// One token: a comment, blank, string, `::=`, word, number or punctuation.
fn token(i: &str) -> IResult<&str, Option<Tok<'_>>> {
    alt((
        map(multispace1, |_| None),
        map((char('"'), take_while(|c| c != '"'), char('"')), |_| {
            Some(Tok::Str)
        }),
        map(tag("::="), |_| Some(Tok::Assign)),
        map(
            recognize(take_while1(|c: char| {
                c.is_ascii_alphanumeric() || c == '-' || c == '_'
            })),
            |w: &str| {
                Some(match w.parse::<u64>() {
                    Ok(n) => Tok::Num(n),
                    Err(_) => Tok::Word(w),
                })
            },
        ),
        map(nom::character::complete::anychar, |c| {
            Some(match c {
                '{' => Tok::Open,
                '}' => Tok::Close,
                '(' => Tok::LParen,
                ')' => Tok::RParen,
                c => Tok::Other(c),
            })
        }),
    ))
    .parse(i)
}

/// Tokens with their lines; an unterminated string is an error at its line.
fn tokenize(text: &str) -> Result<Vec<(Tok<'_>, usize)>, (usize, String)> {
    let mut out = Vec::new();
    let mut rest = text;
    let mut line = 1;
    while !rest.is_empty() {
        if rest.starts_with('"') && !rest.get(1..).is_some_and(|r| r.contains('"')) {
            return Err((line, "unterminated string".into()));
        }
        // `--` starts a comment that ends at the end of the line or at the next `--`.
        if let Some(body) = rest.strip_prefix("--") {
            let eol = body.find('\n').unwrap_or(body.len());
            let line_text = body.get(..eol).unwrap_or_default();
            rest = match line_text.find("--") {
                Some(end) => body.get(end + 2..).unwrap_or_default(),
                None => body.get(eol..).unwrap_or_default(),
            };
            continue;
        }
        match token(rest) {
            Ok((next, t)) => {
                let used = rest.len() - next.len();
                let consumed = rest.get(..used).unwrap_or_default();
                if let Some(t) = t {
                    out.push((t, line));
                }
                line += consumed.matches('\n').count();
                rest = next;
            }
            Err(_) => return Err((line, "unreadable text".into())),
        }
    }
    Ok(out)
}

/// An OID definition waiting for its parent.
#[derive(Debug, Clone)]
struct Def {
    name: String,
    parent: String,
    arcs: Vec<u32>,
    syntax: Syntax,
    line: usize,
    file: usize,
}

const MACROS: &[&str] = &[
    "MODULE-IDENTITY",
    "OBJECT-IDENTITY",
    "OBJECT-TYPE",
    "NOTIFICATION-TYPE",
    "OBJECT-GROUP",
    "NOTIFICATION-GROUP",
    "MODULE-COMPLIANCE",
    "AGENT-CAPABILITIES",
    "TRAP-TYPE",
];

/// Reads the OID assignments of one module.
fn scan(toks: &[(Tok<'_>, usize)], file: usize) -> Result<Vec<Def>, (usize, String)> {
    use Tok::*;
    let mut defs = Vec::new();
    if !toks.iter().any(|(t, _)| *t == Word("BEGIN")) {
        return Err((1, "not a MIB module (no `DEFINITIONS ::= BEGIN`)".into()));
    }
    let mut i = 0;
    while let Some((t, line)) = toks.get(i) {
        let (Word(name), Some((next, _))) = (t, toks.get(i + 1)) else {
            i += 1;
            continue;
        };
        let line = *line;
        let is_oid =
            *next == Word("OBJECT") && toks.get(i + 2).is_some_and(|t| t.0 == Word("IDENTIFIER"));
        let macro_name = match next {
            Word(m) if MACROS.contains(m) => Some(*m),
            _ => None,
        };
        // Only lower-case names define values (upper-case ones are types and macros).
        if !name.starts_with(|c: char| c.is_ascii_lowercase()) || (!is_oid && macro_name.is_none())
        {
            i += 1;
            continue;
        }
        // Inside an IMPORTS list or a SYNTAX clause a name can precede OBJECT-TYPE only in
        // macro definitions (`OBJECT-TYPE MACRO ::=`); those start with the macro name.
        let mut j = i + if is_oid { 3 } else { 2 };
        let mut syntax = Syntax::Plain;
        let mut enterprise: Option<String> = None;
        // Up to `::=`, noting SYNTAX and (TRAP-TYPE) ENTERPRISE.
        while let Some((t, _)) = toks.get(j) {
            match t {
                Assign => break,
                Word("SYNTAX") => syntax = read_syntax(toks, j + 1),
                Word("ENTERPRISE") => {
                    if let Some((Word(e), _)) = toks.get(j + 1) {
                        enterprise = Some((*e).to_owned());
                    }
                }
                // The next definition started: this one has no value (a macro's use in a
                // list, say); skip it.
                Word(w) if MACROS.contains(w) && j > i + 2 => break,
                _ => {}
            }
            j += 1;
        }
        if toks.get(j).map(|t| &t.0) != Some(&Assign) {
            i += 1;
            continue;
        }
        j += 1;
        if macro_name == Some("TRAP-TYPE") {
            let (Some(e), Some((Num(n), _))) = (enterprise, toks.get(j)) else {
                return Err((
                    line,
                    format!("TRAP-TYPE `{name}` needs ENTERPRISE and a number"),
                ));
            };
            defs.push(Def {
                name: (*name).to_owned(),
                parent: e,
                arcs: vec![
                    0,
                    u32::try_from(*n).map_err(|_| (line, format!("`{name}`: number too large")))?,
                ],
                syntax,
                line,
                file,
            });
            i = j + 1;
            continue;
        }
        // `{ parent a b(c) … }`
        if toks.get(j).map(|t| &t.0) != Some(&Open) {
            if macro_name.is_some() || is_oid {
                return Err((line, format!("`{name}`: expected `{{` after `::=`")));
            }
            i = j;
            continue;
        }
        j += 1;
        let mut parent: Option<String> = None;
        let mut arcs = Vec::new();
        loop {
            match toks.get(j).map(|t| &t.0) {
                Some(Close) => break,
                Some(Word(w)) => {
                    if let (Some((LParen, _)), Some((Num(n), _))) =
                        (toks.get(j + 1), toks.get(j + 2))
                    {
                        // `name(n)`: the number counts; the first such also names a root.
                        if parent.is_none() && arcs.is_empty() {
                            parent = Some(String::new());
                        }
                        arcs.push(
                            u32::try_from(*n)
                                .map_err(|_| (line, format!("`{name}`: arc too large")))?,
                        );
                        j += 3;
                    } else if parent.is_none() && arcs.is_empty() {
                        parent = Some((*w).to_owned());
                    } else {
                        return Err((line, format!("`{name}`: unexpected `{w}` in the OID value")));
                    }
                }
                Some(Num(n)) => {
                    if parent.is_none() && arcs.is_empty() {
                        parent = Some(String::new());
                    }
                    arcs.push(
                        u32::try_from(*n)
                            .map_err(|_| (line, format!("`{name}`: arc too large")))?,
                    );
                }
                Some(RParen) => {}
                Some(_) => {
                    return Err((
                        line,
                        format!("`{name}`: unexpected symbol in the OID value"),
                    ));
                }
                None => return Err((line, format!("`{name}`: unterminated OID value"))),
            }
            j += 1;
        }
        defs.push(Def {
            name: (*name).to_owned(),
            parent: parent.unwrap_or_default(),
            arcs,
            syntax,
            line,
            file,
        });
        i = j + 1;
    }
    Ok(defs)
}

/// The display syntax of an OBJECT-TYPE's `SYNTAX` clause starting at `j`.
fn read_syntax(toks: &[(Tok<'_>, usize)], j: usize) -> Syntax {
    use Tok::*;
    match toks.get(j).map(|t| &t.0) {
        Some(Word("DisplayString" | "SnmpAdminString")) => Syntax::Text,
        Some(Word("PhysAddress" | "MacAddress")) => Syntax::Mac,
        Some(Word("InetAddress")) => Syntax::InetAddress,
        Some(Word("INTEGER" | "Integer32")) if toks.get(j + 1).map(|t| &t.0) == Some(&Open) => {
            // `INTEGER { up(1), down(2) }`
            let mut labels: Vec<(i64, &'static str)> = Vec::new();
            let mut k = j + 2;
            while let Some((t, _)) = toks.get(k) {
                match t {
                    Close => break,
                    Word(w) => {
                        if let (Some((LParen, _)), Some((Num(n), _))) =
                            (toks.get(k + 1), toks.get(k + 2))
                        {
                            // Labels live as long as the process (MIBs are loaded once).
                            let w: &'static str = Box::leak((*w).to_owned().into_boxed_str());
                            labels.push((i64::try_from(*n).unwrap_or(i64::MAX), w));
                            k += 3;
                            continue;
                        }
                    }
                    _ => {}
                }
                k += 1;
            }
            if labels.is_empty() {
                Syntax::Plain
            } else {
                Syntax::Enum(Box::leak(labels.into_boxed_slice()))
            }
        }
        _ => Syntax::Plain,
    }
}

/// The roots every module may name without importing.
fn roots() -> HashMap<String, Vec<u32>> {
    let mut m = HashMap::new();
    for (n, o) in [
        ("ccitt", "0"),
        ("iso", "1"),
        ("joint-iso-ccitt", "2"),
        ("org", "1.3"),
        ("dod", "1.3.6"),
        ("internet", "1.3.6.1"),
        ("directory", "1.3.6.1.1"),
        ("mgmt", "1.3.6.1.2"),
        ("mib-2", "1.3.6.1.2.1"),
        ("system", "1.3.6.1.2.1.1"),
        ("interfaces", "1.3.6.1.2.1.2"),
        ("ip", "1.3.6.1.2.1.4"),
        ("transmission", "1.3.6.1.2.1.10"),
        ("snmp", "1.3.6.1.2.1.11"),
        ("experimental", "1.3.6.1.3"),
        ("private", "1.3.6.1.4"),
        ("enterprises", "1.3.6.1.4.1"),
        ("security", "1.3.6.1.5"),
        ("snmpV2", "1.3.6.1.6"),
        ("snmpDomains", "1.3.6.1.6.1"),
        ("snmpProxys", "1.3.6.1.6.2"),
        ("snmpModules", "1.3.6.1.6.3"),
        ("zeroDotZero", "0.0"),
    ] {
        if let Some(a) = super::names::parse_oid(o) {
            m.insert(n.to_owned(), a);
        }
    }
    m
}

/// Loads every `*.mib`, `*.txt` and `*.my` file in `dir` (sorted by name; a missing directory
/// is no file and no error): the names they define, and one error per file or definition that
/// could not be used.
pub fn load_dir(dir: &Path) -> (Vec<(Vec<u32>, Known)>, Vec<MibError>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return (Vec::new(), Vec::new());
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| matches!(x.to_ascii_lowercase().as_str(), "mib" | "txt" | "my"))
        })
        .collect();
    files.sort();
    load_files(&files)
}

/// [`load_dir`] over a list of files.
pub fn load_files(files: &[PathBuf]) -> (Vec<(Vec<u32>, Known)>, Vec<MibError>) {
    let mut errors = Vec::new();
    let mut pending: Vec<Def> = Vec::new();
    for (fi, path) in files.iter().enumerate() {
        let err = |(line, message): (usize, String)| MibError {
            file: path.clone(),
            line,
            message,
        };
        let text = match std::fs::read(path) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) => {
                errors.push(err((1, format!("cannot read: {e}"))));
                continue;
            }
        };
        match tokenize(&text).and_then(|t| scan(&t, fi)) {
            Ok(defs) => pending.extend(defs),
            Err(e) => errors.push(err(e)),
        }
    }
    // Resolve parents until nothing moves: roots, then the built-in table, then each other.
    let mut known = roots();
    let builtin = Names::builtin();
    let mut out = Vec::new();
    loop {
        let before = pending.len();
        pending.retain(|d| {
            let base = if d.parent.is_empty() {
                Some(Vec::new())
            } else {
                known
                    .get(&d.parent)
                    .cloned()
                    .or_else(|| builtin.oid_of(&d.parent))
            };
            let Some(mut oid) = base else { return true };
            oid.extend_from_slice(&d.arcs);
            known.insert(d.name.clone(), oid.clone());
            out.push((
                oid,
                Known {
                    name: d.name.clone(),
                    syntax: d.syntax,
                },
            ));
            false
        });
        if pending.is_empty() || pending.len() == before {
            break;
        }
    }
    for d in pending {
        if let Some(path) = files.get(d.file) {
            errors.push(MibError {
                file: path.clone(),
                line: d.line,
                message: format!(
                    "`{}`: parent `{}` is defined in no loaded MIB",
                    d.name, d.parent
                ),
            });
        }
    }
    (out, errors)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    const ACME: &str = r#"
ACME-MIB DEFINITIONS ::= BEGIN
IMPORTS
    MODULE-IDENTITY, OBJECT-TYPE, NOTIFICATION-TYPE, enterprises FROM SNMPv2-SMI
    DisplayString FROM SNMPv2-TC;  -- a comment
acme MODULE-IDENTITY
    LAST-UPDATED "202611220000Z"
    ORGANIZATION "Acme -- not a comment"
    DESCRIPTION "Acme's MIB"
    ::= { enterprises 99999 }
acmeObjects OBJECT IDENTIFIER ::= { acme 1 }
acmeTraps OBJECT IDENTIFIER ::= { acme 0 }
acmeDoorName OBJECT-TYPE
    SYNTAX DisplayString (SIZE(0..64))
    MAX-ACCESS read-only
    STATUS current
    DESCRIPTION "door"
    ::= { acmeObjects 1 }
acmeDoorState OBJECT-TYPE
    SYNTAX INTEGER { closed(1), open(2), forced(3) }
    MAX-ACCESS read-only
    STATUS current
    DESCRIPTION "state"
    ::= { acmeObjects 2 }
acmeDoorForced NOTIFICATION-TYPE
    OBJECTS { acmeDoorName, acmeDoorState }
    STATUS current
    DESCRIPTION "forced open"
    ::= { acmeTraps 1 }
END
"#;

    const ACME_V1: &str = r#"
ACME-V1-MIB DEFINITIONS ::= BEGIN
IMPORTS TRAP-TYPE FROM RFC-1215 acme FROM ACME-MIB;
acmeFire TRAP-TYPE
    ENTERPRISE acme
    VARIABLES { acmeDoorName }
    DESCRIPTION "fire"
    ::= 7
END
"#;

    use crate::test_util::write_file as write;

    #[test]
    fn objects_notifications_and_v1_traps_resolve_across_files() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "b-acme-v1.mib", ACME_V1);
        write(d.path(), "a-acme.mib", ACME);
        let (defs, errs) = load_dir(d.path());
        assert!(errs.is_empty(), "{errs:?}");
        let names = Names::with(defs);
        let oid = |s: &str| super::super::names::parse_oid(s).unwrap();
        assert_eq!(
            names.display(&oid("1.3.6.1.4.1.99999.0.1")),
            "acmeDoorForced"
        );
        assert_eq!(
            names.display(&oid("1.3.6.1.4.1.99999.1.2.0")),
            "acmeDoorState.0"
        );
        assert_eq!(names.display(&oid("1.3.6.1.4.1.99999.0.7")), "acmeFire");
        let (k, _) = names.lookup(&oid("1.3.6.1.4.1.99999.1.2.0")).unwrap();
        assert_eq!(
            k.syntax,
            Syntax::Enum(&[(1, "closed"), (2, "open"), (3, "forced")])
        );
        let (k, _) = names.lookup(&oid("1.3.6.1.4.1.99999.1.1")).unwrap();
        assert_eq!(k.syntax, Syntax::Text);
    }

    #[test]
    fn a_bad_file_is_reported_with_line_and_the_rest_load() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "a-acme.mib", ACME);
        write(
            d.path(),
            "b-broken.mib",
            "BROKEN DEFINITIONS ::= BEGIN\nfoo OBJECT IDENTIFIER ::= { acme 1\n",
        );
        write(
            d.path(),
            "c-orphan.mib",
            "ORPHAN DEFINITIONS ::= BEGIN\n\n\nbar OBJECT IDENTIFIER ::= { nowhere 3 }\nEND\n",
        );
        write(d.path(), "d-text.txt", "just some notes\n");
        write(
            d.path(),
            "e-string.mib",
            "S DEFINITIONS ::= BEGIN\nx OBJECT-TYPE\n DESCRIPTION \"never closed\n",
        );
        let (defs, errs) = load_dir(d.path());
        assert!(defs.iter().any(|(_, k)| k.name == "acmeDoorForced"));
        let msgs: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(msgs.len(), 4, "{msgs:?}");
        assert!(
            msgs[0].contains("b-broken.mib:2:") && msgs[0].contains("unterminated"),
            "{msgs:?}"
        );
        assert!(msgs[1].contains("d-text.txt:1:"), "{msgs:?}");
        assert!(
            msgs[2].contains("e-string.mib:3:") && msgs[2].contains("unterminated string"),
            "{msgs:?}"
        );
        assert!(
            msgs[3].contains("c-orphan.mib:4:") && msgs[3].contains("nowhere"),
            "{msgs:?}"
        );
    }

    quickcheck::quickcheck! {
        fn arbitrary_text_never_panics(s: String) -> bool {
            let _r = tokenize(&s).and_then(|t| scan(&t, 0));
            let _r = tokenize(&format!("X DEFINITIONS ::= BEGIN {s} ::= {{ {s} }} END"))
                .and_then(|t| scan(&t, 0));
            true
        }
    }
}
