//! Sigma detections compiled to Picket's own matchers, evaluated against an event's fields
//! resolved once into slots.
//!
//! Why not evaluate with `rsigma-eval`: measured on this machine with 100 rules (half
//! windowed), its detection and correlation cost 5 to 20 µs per event, two to four times the
//! whole pipeline without rules (`cargo bench --bench rules`, `bench/compare.sh rules-cost`).
//! Here every field name used by any rule gets a slot; an event's fields are looked up once
//! per event, rules are bucketed by the `event.dataset` values their condition requires (what
//! the logsource mapping adds), and matching compares without allocating (ASCII case folding,
//! memchr-anchored substring search; regexes only for `re` and wildcards).
//!
//! Supported: every value form, `contains`, `startswith`, `endswith`, `all`, `re` (with `i`,
//! `m`, `s`), `cidr`, `exists`, `gt`/`gte`/`lt`/`lte`, `neq`, `cased`, `windash`; keywords;
//! conditions with `and`, `or`, `not`, parentheses, `N of x*`, `all of them`. Anything else
//! (`base64`, `wide`, `fieldref`, `expand`, time parts, array blocks) is refused at load.

use super::RuleError;
use rsigma_parser::{
    ConditionExpr, Detection, DetectionItem, Modifier, Quantifier, SelectorPattern, SigmaString,
    SigmaValue, SpecialChar, StringPart,
};
use rustc_hash::FxHashMap;
use std::borrow::Cow;
use std::net::IpAddr;

/// The field names rules use, each with a slot number.
#[derive(Debug, Default, Clone)]
pub struct Fields {
    pub names: Vec<String>,
    index: FxHashMap<String, u16>,
}

impl Fields {
    /// The slot of `name`, adding it.
    pub fn slot(&mut self, name: &str) -> u16 {
        if let Some(s) = self.index.get(name) {
            return *s;
        }
        let s = u16::try_from(self.names.len()).unwrap_or(u16::MAX);
        self.names.push(name.to_string());
        self.index.insert(name.to_string(), s);
        s
    }

    /// The slot of `name`, if some rule uses it.
    pub fn get(&self, name: &str) -> Option<u16> {
        self.index.get(name).copied()
    }

    /// Number of slots.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// True when no rule names a field.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// A field value of one event.
#[derive(Debug, Clone)]
pub enum Val<'a> {
    Str(Cow<'a, str>),
    Int(i64),
    Bool(bool),
}

impl Val<'_> {
    /// As text (numbers formatted).
    pub fn text(&self) -> Cow<'_, str> {
        match self {
            Val::Str(s) => Cow::Borrowed(s.as_ref()),
            Val::Int(n) => Cow::Owned(itoa::Buffer::new().format(*n).to_string()),
            Val::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
        }
    }

    fn number(&self) -> Option<f64> {
        match self {
            Val::Int(n) => Some(*n as f64),
            Val::Str(s) => s.trim().parse().ok(),
            Val::Bool(_) => None,
        }
    }
}

/// One event's values by slot, and every string value (for keywords).
pub struct Slots<'a> {
    pub vals: Vec<Option<Val<'a>>>,
    /// Lower-cased text of a slot, made on first need (substring searches on long values).
    pub lower: Vec<std::cell::OnceCell<String>>,
    /// All string values of the event (message first), for keyword searches.
    pub strings: Vec<Cow<'a, str>>,
}

/// A pattern for one value.
#[derive(Debug)]
enum Pat {
    /// Equal (`lower` is the lower-cased text unless cased).
    Exact(String),
    Prefix(String),
    Suffix(String),
    Contains(String),
    Regex(regex::Regex),
    Cidr(ipnet::IpNet),
    Num(Cmp, f64),
    /// `null`: the field is absent.
    Null,
}

#[derive(Debug, Clone, Copy)]
enum Cmp {
    Gt,
    Gte,
    Lt,
    Lte,
}

/// One `field|modifiers: values` item.
#[derive(Debug)]
struct Item {
    slot: u16,
    pats: Vec<Pat>,
    /// All values must match (`all`), else any.
    all: bool,
    cased: bool,
    /// `exists: true/false`.
    exists: Option<bool>,
    /// `neq`: the item holds when no value matches.
    neq: bool,
}

/// A compiled named detection.
#[derive(Debug)]
enum Det {
    AllOf(Vec<Item>),
    AnyOf(Vec<Det>),
    Keywords(Vec<Pat>, bool),
}

/// A compiled condition.
#[derive(Debug)]
enum Cond {
    And(Vec<Cond>),
    Or(Vec<Cond>),
    Not(Box<Cond>),
    Det(usize),
    /// At least `n` of these detections.
    AtLeast(usize, Vec<usize>),
}

/// A compiled detection rule.
#[derive(Debug)]
pub struct Matcher {
    dets: Vec<Det>,
    cond: Cond,
}

fn lower(s: &str, cased: bool) -> String {
    if cased {
        s.to_string()
    } else {
        s.to_lowercase()
    }
}

fn has_wildcards(s: &SigmaString) -> bool {
    s.parts.iter().any(|p| matches!(p, StringPart::Special(_)))
}

/// The literal text of a string without wildcards.
fn plain(s: &SigmaString) -> String {
    s.parts
        .iter()
        .map(|p| match p {
            StringPart::Plain(t) => t.as_str(),
            StringPart::Special(SpecialChar::WildcardMulti) => "*",
            StringPart::Special(SpecialChar::WildcardSingle) => "?",
        })
        .collect()
}

/// A regex for a wildcard string with `*` prefix/suffix as the modifier implies.
fn glob_regex(
    s: &SigmaString,
    starts: bool,
    ends: bool,
    cased: bool,
) -> Result<regex::Regex, RuleError> {
    let mut re = String::from(if cased { "(?s)" } else { "(?is)" });
    if starts {
        re.push('^');
    }
    for p in &s.parts {
        match p {
            StringPart::Plain(t) => re.push_str(&regex::escape(t)),
            StringPart::Special(SpecialChar::WildcardMulti) => re.push_str(".*"),
            StringPart::Special(SpecialChar::WildcardSingle) => re.push('.'),
        }
    }
    if ends {
        re.push('$');
    }
    Ok(regex::Regex::new(&re)?)
}

/// Command-line dash variants (`windash`): `-x` also as `/x`, `–x`, `—x`, `―x`.
fn windash(s: &str) -> Vec<String> {
    let mut out = vec![s.to_string()];
    if s.contains('-') {
        for d in ['/', '\u{2013}', '\u{2014}', '\u{2015}'] {
            out.push(s.replace('-', &d.to_string()));
        }
    }
    out
}

fn compile_item(item: &DetectionItem, fields: &mut Fields) -> Result<Item, RuleError> {
    let name = item.field.name.as_deref().ok_or_else(|| {
        RuleError::Unsupported("a keyword list inside a field mapping is not supported".into())
    })?;
    let m = &item.field.modifiers;
    let has = |x: Modifier| m.contains(&x);
    for x in m {
        use Modifier as M;
        match x {
            M::Contains
            | M::StartsWith
            | M::EndsWith
            | M::All
            | M::WindAsh
            | M::Re
            | M::Cidr
            | M::Cased
            | M::Exists
            | M::Gt
            | M::Gte
            | M::Lt
            | M::Lte
            | M::Neq
            | M::IgnoreCase
            | M::Multiline
            | M::DotAll => {}
            other => {
                return Err(RuleError::Unsupported(format!(
                    "modifier {other:?} on field {name} is not supported"
                )));
            }
        }
    }
    let cased = has(Modifier::Cased);
    let mut it = Item {
        slot: fields.slot(name),
        pats: Vec::new(),
        all: has(Modifier::All),
        cased,
        exists: None,
        neq: has(Modifier::Neq),
    };
    if has(Modifier::Exists) {
        let v = match item.values.as_slice() {
            [SigmaValue::Bool(b)] => *b,
            [SigmaValue::String(s)] => {
                matches!(plain(s).to_ascii_lowercase().as_str(), "true" | "yes")
            }
            _ => {
                return Err(RuleError::Invalid(format!(
                    "{name}|exists needs true or false"
                )));
            }
        };
        it.exists = Some(v);
        return Ok(it);
    }
    let cmp = [
        (Modifier::Gt, Cmp::Gt),
        (Modifier::Gte, Cmp::Gte),
        (Modifier::Lt, Cmp::Lt),
        (Modifier::Lte, Cmp::Lte),
    ]
    .into_iter()
    .find(|(x, _)| has(*x))
    .map(|(_, c)| c);
    for v in &item.values {
        if let Some(c) = cmp {
            let n = match v {
                SigmaValue::Integer(n) => *n as f64,
                SigmaValue::Float(f) => *f,
                SigmaValue::String(s) => plain(s).trim().parse().map_err(|_| {
                    RuleError::Invalid(format!("{name}: {:?} is not a number", plain(s)))
                })?,
                _ => {
                    return Err(RuleError::Invalid(format!(
                        "{name}: a comparison needs a number"
                    )));
                }
            };
            it.pats.push(Pat::Num(c, n));
            continue;
        }
        let s = match v {
            SigmaValue::Null => {
                it.pats.push(Pat::Null);
                continue;
            }
            SigmaValue::Integer(n) => SigmaString::new(&n.to_string()),
            SigmaValue::Float(f) => SigmaString::new(&f.to_string()),
            SigmaValue::Bool(b) => SigmaString::new(if *b { "true" } else { "false" }),
            SigmaValue::String(s) => s.clone(),
        };
        if has(Modifier::Re) {
            let mut flags = String::new();
            if has(Modifier::IgnoreCase) {
                flags.push('i');
            }
            if has(Modifier::Multiline) {
                flags.push('m');
            }
            if has(Modifier::DotAll) {
                flags.push('s');
            }
            let src = if flags.is_empty() {
                s.original.clone()
            } else {
                format!("(?{flags}){}", s.original)
            };
            it.pats.push(Pat::Regex(
                regex::Regex::new(&src)
                    .map_err(|e| RuleError::Invalid(format!("{name}|re: {e}")))?,
            ));
            continue;
        }
        if has(Modifier::Cidr) {
            let net: ipnet::IpNet = plain(&s)
                .trim()
                .parse()
                .map_err(|e| RuleError::Invalid(format!("{name}|cidr: {:?}: {e}", plain(&s))))?;
            it.pats.push(Pat::Cidr(net));
            continue;
        }
        let (contains, starts, ends) = (
            has(Modifier::Contains),
            has(Modifier::StartsWith),
            has(Modifier::EndsWith),
        );
        let variants: Vec<SigmaString> = if has(Modifier::WindAsh) {
            windash(&s.original)
                .iter()
                .map(|v| SigmaString::new(v))
                .collect()
        } else {
            vec![s]
        };
        for s in variants {
            if has_wildcards(&s) {
                let anchored_start = !(contains || ends);
                let anchored_end = !(contains || starts);
                it.pats.push(Pat::Regex(
                    glob_regex(&s, anchored_start, anchored_end, cased)
                        .map_err(|e| e.within(name))?,
                ));
                continue;
            }
            let t = lower(&plain(&s), cased);
            it.pats.push(if contains {
                Pat::Contains(t)
            } else if starts {
                Pat::Prefix(t)
            } else if ends {
                Pat::Suffix(t)
            } else {
                Pat::Exact(t)
            });
        }
    }
    if it.pats.is_empty() {
        return Err(RuleError::Invalid(format!("{name}: no value")));
    }
    Ok(it)
}

fn compile_det(d: &Detection, fields: &mut Fields) -> Result<Det, RuleError> {
    match d {
        Detection::AllOf(items) => Ok(Det::AllOf(
            items
                .iter()
                .map(|i| compile_item(i, fields))
                .collect::<Result<_, _>>()?,
        )),
        Detection::AnyOf(ds) => Ok(Det::AnyOf(
            ds.iter()
                .map(|d| compile_det(d, fields))
                .collect::<Result<_, _>>()?,
        )),
        Detection::Keywords(vals) => {
            let mut pats = Vec::new();
            for v in vals {
                let s = match v {
                    SigmaValue::String(s) => s.clone(),
                    SigmaValue::Integer(n) => SigmaString::new(&n.to_string()),
                    other => {
                        return Err(RuleError::Unsupported(format!(
                            "keyword {other:?} is not supported"
                        )));
                    }
                };
                pats.push(if has_wildcards(&s) {
                    Pat::Regex(glob_regex(&s, false, false, false)?)
                } else {
                    Pat::Contains(lower(&plain(&s), false))
                });
            }
            Ok(Det::Keywords(pats, false))
        }
        _ => Err(RuleError::Unsupported(
            "array blocks and conditional detections are not supported".into(),
        )),
    }
}

/// `*` wildcards in a selector (`selection_*`).
fn pattern_matches(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (Some(first), Some(last)) = (parts.first(), parts.last()) else {
        return false;
    };
    if parts.len() == 1 {
        return pattern == name;
    }
    if name.len() < first.len() + last.len() || !name.starts_with(first) || !name.ends_with(last) {
        return false;
    }
    let mut pos = first.len();
    let end = name.len() - last.len();
    for mid in parts.iter().skip(1).take(parts.len() - 2) {
        match name.get(pos..end).and_then(|h| h.find(mid)) {
            Some(i) => pos += i + mid.len(),
            None => return false,
        }
    }
    true
}

fn compile_cond(c: &ConditionExpr, names: &[String]) -> Result<Cond, RuleError> {
    Ok(match c {
        ConditionExpr::And(v) => Cond::And(
            v.iter()
                .map(|x| compile_cond(x, names))
                .collect::<Result<_, _>>()?,
        ),
        ConditionExpr::Or(v) => Cond::Or(
            v.iter()
                .map(|x| compile_cond(x, names))
                .collect::<Result<_, _>>()?,
        ),
        ConditionExpr::Not(x) => Cond::Not(Box::new(compile_cond(x, names)?)),
        ConditionExpr::Identifier(id) => {
            Cond::Det(names.iter().position(|n| n == id).ok_or_else(|| {
                RuleError::Invalid(format!(
                    "the condition names {id:?}, which is not a detection"
                ))
            })?)
        }
        ConditionExpr::Selector {
            quantifier,
            pattern,
        } => {
            let set: Vec<usize> = names
                .iter()
                .enumerate()
                .filter(|(_, n)| match pattern {
                    SelectorPattern::Them => !n.starts_with('_'),
                    SelectorPattern::Pattern(p) => pattern_matches(p, n),
                })
                .map(|(i, _)| i)
                .collect();
            if set.is_empty() {
                return Err(RuleError::Invalid(format!(
                    "the selector {pattern} names no detection"
                )));
            }
            let n = match quantifier {
                Quantifier::Any => 1,
                Quantifier::All => set.len(),
                Quantifier::Count(n) => usize::try_from(*n).unwrap_or(usize::MAX),
            };
            Cond::AtLeast(n, set)
        }
    })
}

impl Matcher {
    /// Compiles a rule's detections and conditions (several conditions: any of them).
    pub fn compile(
        d: &rsigma_parser::Detections,
        fields: &mut Fields,
    ) -> Result<Matcher, RuleError> {
        let mut names: Vec<String> = d.named.keys().cloned().collect();
        names.sort();
        let dets = names
            .iter()
            .map(|n| {
                d.named
                    .get(n)
                    .ok_or_else(|| RuleError::Invalid(format!("detection {n} vanished")))
                    .and_then(|x| compile_det(x, fields).map_err(|e| e.within(n)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let conds = d
            .conditions
            .iter()
            .map(|c| compile_cond(c, &names))
            .collect::<Result<Vec<_>, _>>()?;
        let cond = match conds.len() {
            0 => return Err(RuleError::Invalid("no condition".into())),
            1 => conds
                .into_iter()
                .next()
                .ok_or_else(|| RuleError::Invalid("no condition".into()))?,
            _ => Cond::Or(conds),
        };
        if d.timeframe.is_some() {
            return Err(RuleError::Unsupported(
                "`timeframe` aggregations are not supported; use a Sigma correlation rule".into(),
            ));
        }
        Ok(Matcher { dets, cond })
    }

    /// The `event.dataset` values the condition requires, if it requires some.
    pub fn datasets(&self, dataset_slot: Option<u16>) -> Option<Vec<String>> {
        let slot = dataset_slot?;
        need_cond(&self.cond, &self.dets, slot)
    }

    /// True when the event matches.
    pub fn matches(&self, s: &Slots<'_>) -> bool {
        eval_cond(&self.cond, &self.dets, s)
    }
}

fn need_det(d: &Det, slot: u16) -> Option<Vec<String>> {
    match d {
        Det::AllOf(items) => items.iter().find_map(|i| {
            (i.slot == slot && !i.neq && !i.all && i.exists.is_none())
                .then(|| {
                    i.pats
                        .iter()
                        .map(|p| match p {
                            Pat::Exact(t) => Some(t.clone()),
                            _ => None,
                        })
                        .collect::<Option<Vec<_>>>()
                })
                .flatten()
        }),
        Det::AnyOf(ds) => union(ds.iter().map(|d| need_det(d, slot))),
        Det::Keywords(..) => None,
    }
}

fn union(it: impl Iterator<Item = Option<Vec<String>>>) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for x in it {
        out.extend(x?);
    }
    Some(out)
}

fn need_cond(c: &Cond, dets: &[Det], slot: u16) -> Option<Vec<String>> {
    match c {
        Cond::Det(i) => dets.get(*i).and_then(|d| need_det(d, slot)),
        Cond::And(v) => v
            .iter()
            .filter_map(|x| need_cond(x, dets, slot))
            .min_by_key(Vec::len),
        Cond::Or(v) => union(v.iter().map(|x| need_cond(x, dets, slot))),
        Cond::Not(_) => None,
        Cond::AtLeast(n, set) if *n >= set.len() => set
            .iter()
            .filter_map(|i| dets.get(*i).and_then(|d| need_det(d, slot)))
            .min_by_key(Vec::len),
        Cond::AtLeast(n, set) if *n >= 1 => union(
            set.iter()
                .map(|i| dets.get(*i).and_then(|d| need_det(d, slot))),
        ),
        Cond::AtLeast(..) => None,
    }
}

fn eval_cond(c: &Cond, dets: &[Det], s: &Slots<'_>) -> bool {
    match c {
        Cond::And(v) => v.iter().all(|x| eval_cond(x, dets, s)),
        Cond::Or(v) => v.iter().any(|x| eval_cond(x, dets, s)),
        Cond::Not(x) => !eval_cond(x, dets, s),
        Cond::Det(i) => dets.get(*i).is_some_and(|d| eval_det(d, s)),
        Cond::AtLeast(n, set) => {
            let mut hit = 0;
            for i in set {
                if dets.get(*i).is_some_and(|d| eval_det(d, s)) {
                    hit += 1;
                    if hit >= *n {
                        return true;
                    }
                }
            }
            *n == 0
        }
    }
}

fn eval_det(d: &Det, s: &Slots<'_>) -> bool {
    match d {
        Det::AllOf(items) => items.iter().all(|i| eval_item(i, s)),
        Det::AnyOf(ds) => ds.iter().any(|d| eval_det(d, s)),
        Det::Keywords(pats, cased) => pats
            .iter()
            .any(|p| s.strings.iter().any(|v| match_str(p, v, *cased))),
    }
}

fn eval_item(it: &Item, s: &Slots<'_>) -> bool {
    let v = s.vals.get(usize::from(it.slot)).and_then(Option::as_ref);
    if let Some(want) = it.exists {
        return v.is_some() == want;
    }
    let one = |p: &Pat| match (p, v) {
        (Pat::Null, v) => v.is_none(),
        (_, None) => false,
        (Pat::Num(c, n), Some(v)) => v.number().is_some_and(|x| match c {
            Cmp::Gt => x > *n,
            Cmp::Gte => x >= *n,
            Cmp::Lt => x < *n,
            Cmp::Lte => x <= *n,
        }),
        (Pat::Cidr(net), Some(v)) => v
            .text()
            .trim()
            .parse::<IpAddr>()
            .is_ok_and(|ip| net.contains(&ip)),
        // Case-insensitive substring search: one lower-cased copy per value and event, then
        // SIMD search (the anchored byte-by-byte search is slow on long messages).
        (Pat::Contains(t), Some(Val::Str(hay))) if !it.cased && hay.len() > 64 => {
            match s.lower.get(usize::from(it.slot)) {
                Some(cell) => {
                    let l = cell.get_or_init(|| hay.to_lowercase());
                    memchr::memmem::find(l.as_bytes(), t.as_bytes()).is_some()
                }
                None => match_str(p, hay, false),
            }
        }
        (p, Some(v)) => match v {
            Val::Str(t) => match_str(p, t, it.cased),
            other => match_str(p, &other.text(), it.cased),
        },
    };
    let hit = if it.all {
        it.pats.iter().all(one)
    } else {
        it.pats.iter().any(one)
    };
    hit != it.neq
}

/// Case-insensitive (ASCII folding, or full lower-casing when either side is not ASCII)
/// comparisons of `hay` with a pattern whose text is already lower-cased unless `cased`.
fn match_str(p: &Pat, hay: &str, cased: bool) -> bool {
    if !cased && !hay.is_ascii() {
        let l = hay.to_lowercase();
        return match_str(p, &l, true);
    }
    let eq = |a: &[u8], b: &[u8]| {
        if cased {
            a == b
        } else {
            a.eq_ignore_ascii_case(b)
        }
    };
    match p {
        Pat::Exact(t) => eq(hay.as_bytes(), t.as_bytes()),
        Pat::Prefix(t) => hay
            .as_bytes()
            .get(..t.len())
            .is_some_and(|h| eq(h, t.as_bytes())),
        Pat::Suffix(t) => hay
            .len()
            .checked_sub(t.len())
            .and_then(|at| hay.as_bytes().get(at..))
            .is_some_and(|h| eq(h, t.as_bytes())),
        Pat::Contains(t) => {
            if cased {
                memchr::memmem::find(hay.as_bytes(), t.as_bytes()).is_some()
            } else {
                crate::query::tokens::contains_ignore_case(hay.as_bytes(), t.as_bytes())
            }
        }
        Pat::Regex(r) => r.is_match(hay),
        Pat::Cidr(_) | Pat::Num(..) | Pat::Null => false,
    }
}
