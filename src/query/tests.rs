//! Tests of the search language: fields, operators, wildcards, CIDR, errors and times.

use super::*;
use crate::model::fields as f;

fn p(s: &str) -> Expr {
    match parse_expr(s) {
        Ok(e) => e,
        Err(e) => panic!("{s}: {e}"),
    }
}

fn eq(field: Field, v: &str) -> Expr {
    Expr::Field(field, Cond::Eq(Value::Str(v.into())))
}

fn word(t: &str) -> Expr {
    Expr::Text(Text {
        tokens: vec![t.into()],
        prefix: false,
    })
}

fn err_at(s: &str) -> (usize, String) {
    match parse_expr(s) {
        Err(Error::Syntax { at, msg }) => (at, msg),
        other => panic!("{s}: expected an error, got {other:?}"),
    }
}

#[test]
fn fields_and_terms_side_by_side_are_anded() {
    assert_eq!(
        p(r#"host.name:fw01 source.ip:10.1.2.3 denied "Failed password" sender:"192.0.2.1""#),
        Expr::And(vec![
            eq(Field::Host, "fw01"),
            eq(Field::SourceIp, "10.1.2.3"),
            word("denied"),
            Expr::Text(Text {
                tokens: vec!["failed".into(), "password".into()],
                prefix: false
            }),
            eq(Field::Sender, "192.0.2.1"),
        ])
    );
}

#[test]
fn boolean_operators_and_precedence() {
    // AND binds tighter than OR.
    assert_eq!(
        p("a OR b c"),
        Expr::Or(vec![word("a"), Expr::And(vec![word("b"), word("c")])])
    );
    assert_eq!(
        p("(a OR b) AND NOT c"),
        Expr::And(vec![
            Expr::Or(vec![word("a"), word("b")]),
            Expr::Not(Box::new(word("c")))
        ])
    );
    assert_eq!(p("a || b"), p("a OR b"));
    assert_eq!(p("a && !b"), p("a AND NOT b"));
    assert_eq!(p("-user.name:root"), p("NOT user.name:root"));
    assert_eq!(p("NOT NOT a"), word("a"));
    // Lower-case words are text, not operators.
    assert_eq!(
        p("a or b"),
        Expr::And(vec![word("a"), word("or"), word("b")])
    );
    assert_eq!(p("((a))"), word("a"));
    assert_eq!(p("   "), Expr::all());
    assert_eq!(p("*"), Expr::all());
}

#[test]
fn wildcards_cidr_ranges_comparisons_exists() {
    assert_eq!(
        p("user.name:adm*"),
        Expr::Field(Field::Ecs(f::USER_NAME), Cond::Glob("adm*".into()))
    );
    assert_eq!(
        p("user.name:\"adm*\""),
        Expr::Field(
            Field::Ecs(f::USER_NAME),
            Cond::Eq(Value::Str("adm*".into()))
        )
    );
    assert_eq!(
        p("source.ip:10.1.2.3/8"),
        Expr::Field(Field::SourceIp, Cond::Cidr("10.0.0.0/8".parse().unwrap()))
    );
    assert_eq!(
        p("destination.port:[1 TO 1024]"),
        Expr::Field(
            Field::Ecs(f::DESTINATION_PORT),
            Cond::Range(Some((Value::Int(1), true)), Some((Value::Int(1024), true)))
        )
    );
    assert_eq!(
        p("destination.port:{1024 TO *]"),
        Expr::Field(
            Field::Ecs(f::DESTINATION_PORT),
            Cond::Range(Some((Value::Int(1024), false)), None)
        )
    );
    assert_eq!(
        p("log.syslog.severity.code:<=3"),
        Expr::Field(
            Field::Severity,
            Cond::Range(None, Some((Value::Int(3), true)))
        )
    );
    assert_eq!(
        p("source.port:>1000"),
        Expr::Field(
            Field::Ecs(f::SOURCE_PORT),
            Cond::Range(Some((Value::Int(1000), false)), None)
        )
    );
    assert_eq!(
        p("_exists_:user.name"),
        Expr::Field(Field::Ecs(f::USER_NAME), Cond::Exists)
    );
    assert_eq!(
        p("_exists_:source.geo.country_iso_code"),
        Expr::Field(
            Field::Other("source.geo.country_iso_code".into()),
            Cond::Exists
        )
    );
}

#[test]
fn other_fields_addresses_and_free_text_shapes() {
    assert_eq!(
        p("source.geo.country_iso_code:CN"),
        eq(Field::Other("source.geo.country_iso_code".into()), "CN")
    );
    assert_eq!(
        p("network.bytes:1500"),
        Expr::Field(
            Field::Other("network.bytes".into()),
            Cond::Eq(Value::Int(1500))
        )
    );
    // Addresses are normalised to the form the store keeps.
    assert_eq!(
        p("source.ip:2001:DB8:0::1"),
        eq(Field::SourceIp, "2001:db8::1")
    );
    // Colons in words that are not field names are text.
    assert_eq!(
        p("fe80::1"),
        Expr::Text(Text {
            tokens: vec!["fe80".into(), "1".into()],
            prefix: false
        })
    );
    assert!(matches!(p("http://x"), Expr::Text(_)));
    // A word of several tokens must match them consecutively.
    assert_eq!(
        p("srcip=10.1.2.3"),
        Expr::Text(Text {
            tokens: vec!["srcip".into(), "10.1.2.3".into()],
            prefix: false
        })
    );
    assert_eq!(
        p("Auth*"),
        Expr::Text(Text {
            tokens: vec!["auth".into()],
            prefix: true
        })
    );
    assert_eq!(p("message:\"Failed password\""), p("\"Failed password\""));
    assert_eq!(p("sender:192.0.2.1"), p("observer.ip:192.0.2.1"));
}

#[test]
fn errors_say_where_and_why() {
    let (at, msg) = err_at("a AND (b OR c");
    assert_eq!(at, 6);
    assert!(msg.contains("never closed"), "{msg}");
    let (at, msg) = err_at("a b)");
    assert_eq!(at, 3);
    assert!(msg.contains("`)`"), "{msg}");
    let (at, msg) = err_at("x source.port:abc");
    assert_eq!(at, 14);
    assert!(msg.contains("numbers"), "{msg}");
    let (at, msg) = err_at("destination.port:[1 1024]");
    assert_eq!(at, 20);
    assert!(msg.contains("TO"), "{msg}");
    let (at, _) = err_at("destination.port:[1 TO 1024");
    assert_eq!(at, 17);
    let (at, msg) = err_at("source.ip:10.0.0.0/99");
    assert_eq!(at, 10);
    assert!(msg.contains("network"), "{msg}");
    let (at, msg) = err_at("user.name:\"root");
    assert_eq!(at, 10);
    assert!(msg.contains("quote"), "{msg}");
    let (at, msg) = err_at("a OR");
    assert_eq!(at, 2);
    assert!(msg.contains("OR"), "{msg}");
    let (_, msg) = err_at("AND b");
    assert!(msg.contains("before"), "{msg}");
    let (_, msg) = err_at("a NOT");
    assert!(msg.contains("NOT"), "{msg}");
    let (at, msg) = err_at("ab*cd");
    assert_eq!(at, 0);
    assert!(msg.contains("wildcard"), "{msg}");
    let (_, msg) = err_at("host.name:");
    assert!(msg.contains("needs a value"), "{msg}");
    // Positions count characters, not bytes.
    let (at, _) = err_at("é source.port:x");
    assert_eq!(at, 14);
    let deep = format!("{}a{}", "(".repeat(40), ")".repeat(40));
    assert!(err_at(&deep).1.contains("deeper"));
    let many = vec!["a"; 300].join(" OR ");
    assert!(err_at(&many).1.contains("too many"));
    assert!(err_at(&"x".repeat(5000)).1.contains("too long"));
}

#[test]
fn required_texts_are_the_positive_top_level_terms() {
    let e = p("a host.name:x NOT b (c OR d)");
    let t: Vec<&str> = e
        .required_texts()
        .iter()
        .map(|t| t.tokens[0].as_str())
        .collect();
    assert_eq!(t, vec!["a"]);
}

#[test]
fn times() {
    let now = 1_000_000_000_000;
    assert_eq!(parse_time("-1h", now), Ok(now - 3_600_000_000));
    assert_eq!(parse_time("1970-01-02", now), Ok(86_400_000_000));
    assert_eq!(parse_time("1970-01-02T00:01", now), Ok(86_460_000_000));
    assert!(parse_time("yesterday", now).is_err());
}

quickcheck::quickcheck! {
    fn parse_never_panics(s: String) -> bool {
        // Either a query or an error that says something.
        let a = SearchQuery::parse(&s, 10).map_or_else(|e| !e.to_string().is_empty(), |_| true);
        let b = parse_time(&s, 0).map_or_else(|e| !e.to_string().is_empty(), |_| true);
        a && b
    }

    fn operators_and_brackets_never_panic(parts: Vec<u8>) -> bool {
        const BITS: [&str; 16] = [
            "a", " ", "(", ")", "AND", "OR", "NOT", "-", "\"", "[", "]", "TO", "x.y:", "*", ":", "{",
        ];
        let s: String = parts.iter().map(|b| BITS[usize::from(*b) % BITS.len()]).collect();
        parse_expr(&s).map_or_else(|e| !e.to_string().is_empty(), |_| true)
    }
}
