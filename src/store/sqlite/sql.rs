//! Translates a query expression into an SQL condition over one segment's `events` table.
//!
//! Every value the user wrote is a bound parameter (`?N`); the SQL text holds only column
//! names, operators and parameter numbers. Free text uses the segment's FTS5 index when it has
//! one and the `picket_text` function otherwise (and for the word order of phrases).

use super::columns::{self, PROMOTED};
use crate::query::{Cond, Expr, Field, Text, Value, tokens};
use ipnet::IpNet;
use rusqlite::functions::FunctionFlags;
use rusqlite::types::Value as Sql;

/// How to translate for one segment.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// The segment has its full-text index.
    pub indexed: bool,
    /// The caller already limits rows to the FTS5 match of the top-level required texts
    /// (see [`fts_match`]): leave those out, keeping only the word-order checks.
    pub required_done: bool,
}

/// The condition for `e`, appending its parameters to `args` (numbered after those already
/// there).
pub fn condition(e: &Expr, t: Target, args: &mut Vec<Sql>) -> String {
    let mut out = String::new();
    write(e, t, true, args, &mut out);
    out
}

/// The FTS5 query for texts that must all occur (tokens quoted, `*` after a prefix).
pub fn fts_match(texts: &[&Text]) -> String {
    let mut m = String::new();
    for t in texts {
        for (i, tok) in t.tokens.iter().enumerate() {
            if !m.is_empty() {
                m.push(' ');
            }
            // Tokens hold no quotes (see `tokens`): quoting makes FTS5 read each literally.
            m.push('"');
            m.push_str(tok);
            m.push('"');
            if t.prefix && i + 1 == t.tokens.len() {
                m.push('*');
            }
        }
    }
    m
}

fn push(args: &mut Vec<Sql>, v: Sql) -> String {
    args.push(v);
    format!("?{}", args.len())
}

fn write(e: &Expr, t: Target, top: bool, args: &mut Vec<Sql>, out: &mut String) {
    match e {
        Expr::And(items) if items.is_empty() => out.push('1'),
        Expr::And(items) | Expr::Or(items) => {
            let op = if matches!(e, Expr::And(_)) {
                " AND "
            } else {
                " OR "
            };
            // Only the items of a top-level AND are the required texts.
            let top = top && matches!(e, Expr::And(_));
            out.push('(');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(op);
                }
                write(item, t, top, args, out);
            }
            out.push(')');
        }
        Expr::Not(inner) => {
            // A missing field makes a comparison NULL; NOT of it must still be true.
            out.push_str("NOT coalesce(");
            write(inner, t, false, args, out);
            out.push_str(", 0)");
        }
        Expr::Text(text) => write_text(text, t, top, args, out),
        Expr::Field(field, cond) => write_field(field, cond, args, out),
    }
}

fn write_text(text: &Text, t: Target, top: bool, args: &mut Vec<Sql>, out: &mut String) {
    let spec = text_spec(text);
    let order_check = |args: &mut Vec<Sql>| {
        format!(
            "picket_text(raw, msg_off, message, {})",
            push(args, Sql::Text(spec.clone()))
        )
    };
    if !t.indexed {
        out.push_str(&order_check(args));
        return;
    }
    let several = text.tokens.len() > 1;
    if top && t.required_done {
        out.push_str(&if several {
            order_check(args)
        } else {
            "1".to_owned()
        });
        return;
    }
    let m = push(args, Sql::Text(fts_match(&[text])));
    out.push_str(&format!(
        "id IN (SELECT rowid FROM fts WHERE fts MATCH {m})"
    ));
    if several {
        out.push_str(" AND ");
        out.push_str(&order_check(args));
    }
}

/// `picket_text`'s argument: `1` or `0` (prefix) and the tokens, space-separated.
fn text_spec(t: &Text) -> String {
    let mut s = String::from(if t.prefix { "1" } else { "0" });
    for tok in &t.tokens {
        s.push(' ');
        s.push_str(tok);
    }
    s
}

/// The SQL expression of a field's value (for grouping by it); parameters go to `args`.
pub fn value_expr(field: &Field, args: &mut Vec<Sql>) -> String {
    column(field, args)
}

/// The column a field has in the row layout, or None for a field kept in the `fields` JSON
/// (or an ECS filter without a column).
pub fn column_name(field: &Field) -> Option<&'static str> {
    Some(match field {
        Field::Sender => "sender",
        Field::Host => "host",
        Field::SourceIp => "source_ip",
        Field::DestinationIp => "destination_ip",
        Field::Process => "app",
        Field::Pid => "pid",
        Field::Dataset => "dataset",
        Field::Severity => "severity",
        Field::Facility => "facility",
        Field::MsgId => "msgid",
        Field::Ecs(name) => {
            columns::promoted(name)
                .and_then(|i| PROMOTED.get(i))?
                .column
        }
        Field::Other(_) => return None,
    })
}

/// The SQL for the field's value: a column, or the field inside the `fields` JSON.
fn column(field: &Field, args: &mut Vec<Sql>) -> String {
    if let Field::Other(name) = field {
        // Field names are [A-Za-z0-9._@-] (the parser's rule): safe inside a JSON path
        // quote, and the path is a parameter anyway.
        let path = push(args, Sql::Text(format!("$.\"{name}\"")));
        return format!("json_extract(fields, {path})");
    }
    column_name(field).unwrap_or("NULL").to_owned()
}

fn sql_value(v: &Value) -> Sql {
    match v {
        Value::Int(n) => Sql::Integer(*n),
        Value::Str(s) => Sql::Text(s.clone()),
    }
}

fn write_field(field: &Field, cond: &Cond, args: &mut Vec<Sql>, out: &mut String) {
    let col = column(field, args);
    match cond {
        Cond::Exists => out.push_str(&format!("{col} IS NOT NULL")),
        Cond::Eq(v) => {
            let p = push(args, sql_value(v));
            match (field, v) {
                // A number among the other fields may have been kept as text.
                (Field::Other(_), Value::Int(n)) => {
                    let q = push(args, Sql::Text(n.to_string()));
                    out.push_str(&format!("{col} IN ({p}, {q})"));
                }
                _ => out.push_str(&format!("{col} = {p}")),
            }
        }
        Cond::Glob(pattern) => {
            // `[` opens a character class in GLOB; the language has none, so it is literal.
            let p = push(args, Sql::Text(pattern.replace('[', "[[]")));
            out.push_str(&format!("{col} GLOB {p}"));
        }
        Cond::Range(lo, hi) => {
            let mut parts = Vec::new();
            if let Some((v, inc)) = lo {
                let p = push(args, sql_value(v));
                parts.push(format!("{col} {} {p}", if *inc { ">=" } else { ">" }));
            }
            if let Some((v, inc)) = hi {
                let p = push(args, sql_value(v));
                parts.push(format!("{col} {} {p}", if *inc { "<=" } else { "<" }));
            }
            if parts.is_empty() {
                out.push_str(&format!("{col} IS NOT NULL"));
            } else {
                out.push('(');
                out.push_str(&parts.join(" AND "));
                out.push(')');
            }
        }
        Cond::Cidr(net) => write_cidr(&col, net, args, out),
    }
}

/// Addresses are stored as text. For IPv4 the whole octets of the prefix become a text range
/// the `(column, ts)` indexes can use (`10.1.` up to `10.1/`, as `/` follows `.`); what the
/// octets cannot say is checked by `picket_cidr`.
fn write_cidr(col: &str, net: &IpNet, args: &mut Vec<Sql>, out: &mut String) {
    let prefix = net.prefix_len();
    if let IpNet::V4(v4) = net {
        if prefix == 32 {
            let p = push(args, Sql::Text(v4.addr().to_string()));
            out.push_str(&format!("{col} = {p}"));
            return;
        }
        let octets = v4.addr().octets();
        let whole = usize::from(prefix / 8);
        if whole > 0 {
            let head: Vec<String> = octets.iter().take(whole).map(ToString::to_string).collect();
            let head = head.join(".");
            let lo = push(args, Sql::Text(format!("{head}.")));
            let hi = push(args, Sql::Text(format!("{head}/")));
            out.push_str(&format!("({col} >= {lo} AND {col} < {hi}"));
            if prefix % 8 != 0 {
                let n = push(args, Sql::Text(net.to_string()));
                out.push_str(&format!(" AND picket_cidr({col}, {n})"));
            }
            out.push(')');
            return;
        }
    }
    let n = push(args, Sql::Text(net.to_string()));
    out.push_str(&format!("picket_cidr({col}, {n})"));
}

/// Registers `picket_text` and `picket_cidr` on a connection.
pub fn register(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    conn.create_scalar_function("picket_text", 4, flags, |ctx| {
        // The spec is the same for every row of a statement: split it once.
        let spec = ctx.get_or_create_aux(
            3,
            |v| -> Result<(bool, Vec<String>), rusqlite::types::FromSqlError> {
                let s = v.as_str()?;
                let mut it = s.split(' ');
                let prefix = it.next() == Some("1");
                Ok((
                    prefix,
                    it.filter(|t| !t.is_empty()).map(str::to_owned).collect(),
                ))
            },
        )?;
        let (prefix, wanted) = (&spec.0, &spec.1);
        let message = ctx.get_raw(2);
        let bytes: &[u8] = match message.as_str_or_null() {
            Ok(Some(m)) => m.as_bytes(),
            _ => {
                let off = ctx.get::<Option<i64>>(1)?.unwrap_or(0);
                let raw = ctx.get_raw(0).as_blob().unwrap_or_default();
                raw.get(usize::try_from(off).unwrap_or(0)..)
                    .unwrap_or_default()
            }
        };
        // Rule most rows out on the raw bytes, before any UTF-8 work.
        if !tokens::may_contain_all(bytes, wanted) {
            return Ok(false);
        }
        Ok(tokens::matches_text(
            &String::from_utf8_lossy(bytes),
            wanted,
            *prefix,
        ))
    })?;
    conn.create_scalar_function("picket_cidr", 2, flags, |ctx| {
        let net = ctx.get_or_create_aux(
            1,
            |v| -> Result<Option<IpNet>, rusqlite::types::FromSqlError> {
                Ok(v.as_str()?.parse::<IpNet>().ok())
            },
        )?;
        let Some(net) = net.as_ref() else {
            return Ok(false);
        };
        let ip = match ctx.get_raw(0).as_str_or_null() {
            Ok(Some(s)) => s.parse::<std::net::IpAddr>().ok(),
            _ => None,
        };
        Ok(ip.is_some_and(|ip| net.contains(&ip)))
    })
}

#[cfg(test)]
mod tests;
