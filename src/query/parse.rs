//! The grammar of the search language, with nom: terms, fields, phrases, wildcards, ranges,
//! comparisons and boolean operators, with limits on length, terms and depth, and errors that
//! say where and why.

use super::ast::*;
use super::tokens;
use super::{Error, MAX_DEPTH, MAX_QUERY_CHARS, MAX_TERMS};
use crate::model::fields as f;
use nom::branch::alt;
use nom::bytes::complete::{tag, take_while1};
use nom::character::complete::multispace0;
use nom::error::{ErrorKind, ParseError};
use nom::{IResult, Parser};
use std::borrow::Cow;
use std::net::IpAddr;

/// Parses query text into an expression.
pub fn parse_expr(text: &str) -> Result<Expr, Error> {
    let chars = text.chars().count();
    if chars > MAX_QUERY_CHARS {
        return Err(Error::Syntax {
            at: MAX_QUERY_CHARS,
            msg: format!("query too long ({chars} characters, at most {MAX_QUERY_CHARS})"),
        });
    }
    let at = |rest: &str| {
        text.get(..text.len().saturating_sub(rest.len()))
            .map_or(0, |s| s.chars().count())
    };
    let (rest, _) = multispace0::<_, PErr>(text).map_err(|_| Error::Syntax {
        at: 0,
        msg: "unreadable query".into(),
    })?;
    if rest.is_empty() {
        return Ok(Expr::all());
    }
    let ctx = Ctx { depth: 0 };
    match ctx.or_expr(rest) {
        Ok((rest, e)) => {
            let (rest, _) = multispace0::<_, PErr>(rest).unwrap_or((rest, ""));
            if let Some(c) = rest.chars().next() {
                let msg = if c == ')' {
                    "unexpected `)` without a matching `(`".to_owned()
                } else {
                    format!("unexpected `{c}`")
                };
                return Err(Error::Syntax { at: at(rest), msg });
            }
            if e.size() > MAX_TERMS {
                return Err(Error::Syntax {
                    at: 0,
                    msg: format!("too many terms (at most {MAX_TERMS})"),
                });
            }
            Ok(simplify(e))
        }
        Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Err(Error::Syntax {
            at: at(e.input),
            msg: e.msg.into_owned(),
        }),
        Err(nom::Err::Incomplete(_)) => Err(Error::Syntax {
            at: chars,
            msg: "query ends too early".into(),
        }),
    }
}

/// Flattens nested ANDs and ORs and unwraps one-item lists.
fn simplify(e: Expr) -> Expr {
    match e {
        Expr::And(items) => {
            let mut out = Vec::new();
            for i in items.into_iter().map(simplify) {
                match i {
                    Expr::And(inner) => out.extend(inner),
                    other => out.push(other),
                }
            }
            if out.len() == 1 {
                out.pop().unwrap_or_else(Expr::all)
            } else {
                Expr::And(out)
            }
        }
        Expr::Or(items) => {
            let mut out = Vec::new();
            for i in items.into_iter().map(simplify) {
                match i {
                    Expr::Or(inner) => out.extend(inner),
                    other => out.push(other),
                }
            }
            if out.len() == 1 {
                out.pop().unwrap_or_else(Expr::all)
            } else {
                Expr::Or(out)
            }
        }
        Expr::Not(inner) => match simplify(*inner) {
            Expr::Not(x) => *x,
            other => Expr::Not(Box::new(other)),
        },
        other => other,
    }
}

/// The parser's error: where (the rest of the input) and why.
#[derive(Debug)]
struct PErr<'a> {
    input: &'a str,
    msg: Cow<'static, str>,
}

impl<'a> ParseError<&'a str> for PErr<'a> {
    fn from_error_kind(input: &'a str, _kind: ErrorKind) -> Self {
        PErr {
            input,
            msg: Cow::Borrowed("unexpected input"),
        }
    }
    fn append(_input: &'a str, _kind: ErrorKind, other: Self) -> Self {
        other
    }
}

type PResult<'a, T> = IResult<&'a str, T, PErr<'a>>;

/// A hard error at `input`: no other reading is tried.
fn fail<'a, T>(input: &'a str, msg: impl Into<Cow<'static, str>>) -> PResult<'a, T> {
    Err(nom::Err::Failure(PErr {
        input,
        msg: msg.into(),
    }))
}

/// Characters that end a bare word.
fn ends_word(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | '"')
}

/// `kw` as a whole word (followed by a space, a parenthesis, a quote or the end).
fn keyword<'a>(kw: &'static str) -> impl Fn(&'a str) -> PResult<'a, &'a str> {
    move |i: &'a str| {
        let (rest, k) = tag(kw).parse(i)?;
        match rest.chars().next() {
            None => Ok((rest, k)),
            Some(c) if ends_word(c) => Ok((rest, k)),
            Some(_) => Err(nom::Err::Error(PErr::from_error_kind(i, ErrorKind::Tag))),
        }
    }
}

fn is_field_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-')
}

/// Dotted ECS-style names (`source.port`) are meant as fields; `http`, `10.0.0.1` or `fe80`
/// before a colon are text.
pub(super) fn looks_like_field(word: &str) -> bool {
    word.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '@')
        && word.contains('.')
        && !word.ends_with('.')
        && word.chars().all(is_field_char)
}

/// Parsing state: how deep the parentheses are.
#[derive(Clone, Copy)]
struct Ctx {
    depth: usize,
}

impl Ctx {
    fn or_expr<'a>(self, i: &'a str) -> PResult<'a, Expr> {
        let (mut i, first) = self.and_expr(i)?;
        let mut items = vec![first];
        loop {
            let (j, _) = multispace0(i)?;
            let Ok((k, _)) = alt((keyword("OR"), tag("||"))).parse(j) else {
                break;
            };
            let (k, _) = multispace0(k)?;
            if k.is_empty() || k.starts_with(')') {
                return fail(j, "`OR` needs a term after it");
            }
            let (k, e) = self.and_expr(k)?;
            items.push(e);
            i = k;
        }
        Ok((i, Expr::Or(items)))
    }

    fn and_expr<'a>(self, i: &'a str) -> PResult<'a, Expr> {
        let (mut i, first) = self.unary(i)?;
        let mut items = vec![first];
        loop {
            let (j, _) = multispace0(i)?;
            if j.is_empty() || j.starts_with(')') || j.starts_with("||") || keyword("OR")(j).is_ok()
            {
                break;
            }
            let j = match alt((keyword("AND"), tag("&&"))).parse(j) {
                Ok((k, _)) => {
                    let (k, _) = multispace0(k)?;
                    if k.is_empty() || k.starts_with(')') {
                        return fail(j, "`AND` needs a term after it");
                    }
                    k
                }
                Err(_) => j,
            };
            let (k, e) = self.unary(j)?;
            items.push(e);
            i = k;
        }
        Ok((i, Expr::And(items)))
    }

    fn unary<'a>(self, i: &'a str) -> PResult<'a, Expr> {
        // Negations are counted in a loop, so a long run of them cannot exhaust the stack.
        let mut negate = false;
        let mut i = i;
        loop {
            if let Ok((j, _)) = alt((keyword("NOT"), tag("!"))).parse(i) {
                let (j, _) = multispace0(j)?;
                negate = !negate;
                i = j;
                continue;
            }
            if let Some(j) = i.strip_prefix('-') {
                if j.chars()
                    .next()
                    .is_some_and(|c| !ends_word(c) || c == '(' || c == '"')
                {
                    negate = !negate;
                    i = j;
                    continue;
                }
            }
            break;
        }
        if i.is_empty() || i.starts_with(')') {
            return fail(i, "`NOT` needs a term after it");
        }
        let (rest, e) = self.primary(i)?;
        Ok((rest, if negate { Expr::Not(Box::new(e)) } else { e }))
    }

    fn primary<'a>(self, i: &'a str) -> PResult<'a, Expr> {
        if let Some(inner) = i.strip_prefix('(') {
            if self.depth >= MAX_DEPTH {
                return fail(i, format!("parentheses nest deeper than {MAX_DEPTH}"));
            }
            let deeper = Ctx {
                depth: self.depth + 1,
            };
            let (inner, _) = multispace0(inner)?;
            if inner.starts_with(')') {
                return fail(i, "empty parentheses");
            }
            let (rest, e) = deeper.or_expr(inner)?;
            let (rest, _) = multispace0(rest)?;
            return match rest.strip_prefix(')') {
                Some(rest) => Ok((rest, e)),
                None => fail(i, "this `(` is never closed"),
            };
        }
        if i.starts_with(')') {
            return fail(i, "unexpected `)` without a matching `(`");
        }
        for kw in ["AND", "OR"] {
            if keyword(kw)(i).is_ok() {
                return fail(i, format!("`{kw}` needs a term before it"));
            }
        }
        if let Some(rest) = i.strip_prefix("_exists_:") {
            let (rest2, name) = take_while1(is_field_char)
                .parse(rest)
                .or_else(|_: nom::Err<PErr>| fail(rest, "`_exists_:` needs a field name"))?;
            return match Field::from_name(name) {
                Some(field) if name != f::MESSAGE => Ok((rest2, Expr::Field(field, Cond::Exists))),
                _ => fail(rest, format!("`{name}` is not a field name")),
            };
        }
        match field_pred(i) {
            Ok(r) => Ok(r),
            // A field whose value cannot be read is an error, not text.
            Err(e @ nom::Err::Failure(_)) => Err(e),
            Err(_) => text(i),
        }
    }
}

/// `name:value` where `name` is a field.
fn field_pred(i: &str) -> PResult<'_, Expr> {
    let (rest, name) = take_while1(is_field_char).parse(i)?;
    let Some(rest) = rest.strip_prefix(':') else {
        return Err(nom::Err::Error(PErr::from_error_kind(i, ErrorKind::Char)));
    };
    if name == f::MESSAGE {
        return text(rest);
    }
    let Some(field) = Field::from_name(name) else {
        return Err(nom::Err::Error(PErr::from_error_kind(i, ErrorKind::Verify)));
    };
    if rest.is_empty() || rest.starts_with(char::is_whitespace) || rest.starts_with(')') {
        return fail(rest, format!("`{name}:` needs a value"));
    }
    if rest.starts_with('(') {
        return fail(
            rest,
            format!("value groups are not supported; write (`{name}:a OR {name}:b`)"),
        );
    }
    if rest.starts_with(['[', '{']) {
        let (rest2, (lo, hi)) = range(rest)?;
        let lo = lo.map(|(v, inc)| typed(&field, rest, &v).map(|v| (v, inc)));
        let hi = hi.map(|(v, inc)| typed(&field, rest, &v).map(|v| (v, inc)));
        return Ok((
            rest2,
            Expr::Field(field, Cond::Range(lo.transpose()?, hi.transpose()?)),
        ));
    }
    for (op, lo, inc) in [
        ("<=", false, true),
        (">=", true, true),
        ("<", false, false),
        (">", true, false),
    ] {
        if let Some(v) = rest.strip_prefix(op) {
            let (rest2, (value, _)) = value_word(v)?;
            let value = typed(&field, v, &value)?;
            let bound = Some((value, inc));
            let cond = if lo {
                Cond::Range(bound, None)
            } else {
                Cond::Range(None, bound)
            };
            return Ok((rest2, Expr::Field(field, cond)));
        }
    }
    let (rest2, (value, quoted)) = value_word(rest)?;
    let cond = if !quoted
        && value.contains('/')
        && (field.address() || matches!(field, Field::Other(_)))
    {
        match value.parse::<ipnet::IpNet>() {
            Ok(net) => Cond::Cidr(net.trunc()),
            Err(_) if field.address() => {
                return fail(
                    rest,
                    format!("`{value}` is not a network (like 10.0.0.0/8)"),
                );
            }
            Err(_) => Cond::Eq(Value::Str(value)),
        }
    } else if !quoted && value.contains(['*', '?']) {
        if field.numeric() {
            return fail(
                rest,
                format!("`{}` holds numbers: wildcards do not apply", field.name()),
            );
        }
        Cond::Glob(value)
    } else {
        Cond::Eq(typed(&field, rest, &value)?)
    };
    Ok((rest2, Expr::Field(field, cond)))
}

/// The value as the field's type: numbers for numeric fields, normalised addresses.
fn typed<'a>(field: &Field, at: &'a str, value: &str) -> Result<Value, nom::Err<PErr<'a>>> {
    if field.numeric() {
        return match value.parse::<i64>() {
            Ok(n) => Ok(Value::Int(n)),
            Err(_) => Err(nom::Err::Failure(PErr {
                input: at,
                msg: format!("`{}` holds numbers; `{value}` is not one", field.name()).into(),
            })),
        };
    }
    if field.address() {
        if let Ok(ip) = value.parse::<IpAddr>() {
            return Ok(Value::Str(ip.to_string()));
        }
    }
    if matches!(field, Field::Other(_)) {
        if let Ok(n) = value.parse::<i64>() {
            return Ok(Value::Int(n));
        }
    }
    Ok(Value::Str(value.to_owned()))
}

/// A quoted string (with `\"` and `\\` escapes) or a bare word; the flag says it was quoted.
fn value_word(i: &str) -> PResult<'_, (String, bool)> {
    if i.starts_with('"') {
        let (rest, s) = quoted(i)?;
        return Ok((rest, (s, true)));
    }
    let (rest, w) = take_while1(|c: char| !ends_word(c) && c != ']' && c != '}')
        .parse(i)
        .or_else(|_: nom::Err<PErr>| fail(i, "a value is missing here"))?;
    Ok((rest, (w.to_owned(), false)))
}

fn quoted(i: &str) -> PResult<'_, String> {
    let mut out = String::new();
    let mut chars = i.char_indices().skip(1);
    while let Some((pos, c)) = chars.next() {
        match c {
            '"' => return Ok((i.get(pos + 1..).unwrap_or(""), out)),
            '\\' => match chars.next() {
                Some((_, c)) => out.push(c),
                None => break,
            },
            c => out.push(c),
        }
    }
    fail(i, "this quote is never closed")
}

type RangeBounds = (Option<(String, bool)>, Option<(String, bool)>);

/// `[a TO b]`, `{a TO b}`, `[a TO b}`, `{a TO b]`, with `*` for an open end.
fn range(i: &str) -> PResult<'_, RangeBounds> {
    let lo_inc = i.starts_with('[');
    let (j, _) = multispace0(i.get(1..).unwrap_or(""))?;
    let (j, (lo, lo_quoted)) = value_word(j)?;
    let (j, _) = multispace0(j)?;
    let Ok((j, _)) = keyword("TO")(j) else {
        return fail(j, "a range needs `TO` between its ends, like [1 TO 1024]");
    };
    let (j, _) = multispace0(j)?;
    let (j, (hi, hi_quoted)) = value_word(j)?;
    let (j, _) = multispace0(j)?;
    let hi_inc = match j.chars().next() {
        Some(']') => true,
        Some('}') => false,
        _ => return fail(i, "this range is never closed with `]` or `}`"),
    };
    let open = |v: String, quoted: bool, inc: bool| (quoted || v != "*").then_some((v, inc));
    Ok((
        j.get(1..).unwrap_or(""),
        (open(lo, lo_quoted, lo_inc), open(hi, hi_quoted, hi_inc)),
    ))
}

/// Free text: a quoted phrase or a bare word.
fn text(i: &str) -> PResult<'_, Expr> {
    if i.starts_with('"') {
        let (rest, s) = quoted(i)?;
        return Ok((rest, text_expr(&s, false)));
    }
    let (rest, w) = take_while1(|c: char| !ends_word(c))
        .parse(i)
        .or_else(|_: nom::Err<PErr>| fail(i, "a search term is missing here"))?;
    if w == "*" {
        return Ok((rest, Expr::all()));
    }
    let (word, prefix) = match w.strip_suffix('*') {
        Some(stem) => (stem, true),
        None => (w, false),
    };
    if word.contains(['*', '?']) {
        return fail(
            i,
            "in free text a wildcard may only end a word (auth*); use a field for other patterns",
        );
    }
    Ok((rest, text_expr(word, prefix)))
}

fn text_expr(s: &str, prefix: bool) -> Expr {
    let mut toks = Vec::new();
    tokens::for_each_token(s, |t| toks.push(t.to_owned()));
    if toks.is_empty() {
        Expr::all()
    } else {
        Expr::Text(Text {
            tokens: toks,
            prefix,
        })
    }
}
