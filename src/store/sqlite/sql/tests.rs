//! Tests of the SQL a query becomes: every query form, parameters only, never spliced text.

use super::*;
use crate::query::parse_expr;

fn tr(q: &str, indexed: bool) -> (String, Vec<Sql>) {
    let e = parse_expr(q).unwrap();
    let mut args = vec![Sql::Integer(0), Sql::Integer(1)];
    let sql = condition(
        &e,
        Target {
            indexed,
            required_done: false,
        },
        &mut args,
    );
    (sql, args.split_off(2))
}

fn text(v: &Sql) -> &str {
    match v {
        Sql::Text(s) => s,
        other => panic!("not text: {other:?}"),
    }
}

#[test]
fn fields_become_columns_and_values_parameters() {
    let (sql, args) = tr("host.name:fw01 source.port:22", false);
    assert_eq!(sql, "(host = ?3 AND source_port = ?4)");
    assert_eq!(args, vec![Sql::Text("fw01".into()), Sql::Integer(22)]);
    let (sql, args) = tr("source.geo.country_iso_code:CN", false);
    assert_eq!(sql, "json_extract(fields, ?3) = ?4");
    assert_eq!(text(&args[0]), "$.\"source.geo.country_iso_code\"");
    let (sql, _) = tr("network.bytes:1500", false);
    assert_eq!(sql, "json_extract(fields, ?3) IN (?4, ?5)");
}

#[test]
fn operators_wildcards_ranges_exists() {
    let (sql, args) = tr("(a OR host:x) NOT user.name:adm*", false);
    assert_eq!(
        sql,
        "((picket_text(raw, msg_off, message, ?3) OR host = ?4) AND NOT coalesce(user_name GLOB ?5, 0))"
    );
    assert_eq!(text(&args[0]), "0 a");
    assert_eq!(text(&args[2]), "adm*");
    let (sql, args) = tr("destination.port:{1 TO 1024] severity:<=3", false);
    assert_eq!(
        sql,
        "((destination_port > ?3 AND destination_port <= ?4) AND (severity <= ?5))"
    );
    assert_eq!(
        args,
        vec![Sql::Integer(1), Sql::Integer(1024), Sql::Integer(3)]
    );
    assert_eq!(tr("_exists_:user.name", false).0, "user_name IS NOT NULL");
    // `[` is literal in patterns.
    assert_eq!(text(&tr("process.name:a[b*", false).1[0]), "a[[]b*");
}

#[test]
fn cidr_uses_a_text_range_for_whole_octets() {
    let (sql, args) = tr("source.ip:10.1.0.0/16", false);
    assert_eq!(sql, "(source_ip >= ?3 AND source_ip < ?4)");
    assert_eq!((text(&args[0]), text(&args[1])), ("10.1.", "10.1/"));
    let (sql, args) = tr("source.ip:10.1.0.0/20", false);
    assert_eq!(
        sql,
        "(source_ip >= ?3 AND source_ip < ?4 AND picket_cidr(source_ip, ?5))"
    );
    assert_eq!(text(&args[2]), "10.1.0.0/20");
    assert_eq!(tr("sender:10.1.2.3/32", false).0, "sender = ?3");
    assert_eq!(
        tr("destination.ip:2001:db8::/32", false).0,
        "picket_cidr(destination_ip, ?3)"
    );
}

#[test]
fn free_text_uses_fts_on_indexed_segments() {
    let (sql, args) = tr("\"failed password\" auth*", true);
    assert_eq!(
        sql,
        "(id IN (SELECT rowid FROM fts WHERE fts MATCH ?3) AND picket_text(raw, msg_off, message, ?4) AND id IN (SELECT rowid FROM fts WHERE fts MATCH ?5))"
    );
    assert_eq!(text(&args[0]), "\"failed\" \"password\"");
    assert_eq!(text(&args[1]), "0 failed password");
    assert_eq!(text(&args[2]), "\"auth\"*");
    // When the caller already walks the FTS match of the required texts, only the word
    // order remains to check.
    let e = parse_expr("\"failed password\" auth* host:h").unwrap();
    let mut args = Vec::new();
    let sql = condition(
        &e,
        Target {
            indexed: true,
            required_done: true,
        },
        &mut args,
    );
    assert_eq!(
        sql,
        "(picket_text(raw, msg_off, message, ?1) AND 1 AND host = ?2)"
    );
    assert_eq!(
        fts_match(&e.required_texts()),
        "\"failed\" \"password\" \"auth\"*"
    );
}

#[test]
fn injection_attempts_stay_parameters() {
    for q in [
        "host.name:\"x' OR 1=1 --\"",
        "user.name:\"); DROP TABLE events; --\"",
        "\"'; DELETE FROM events\"",
        "x.y:\"a\\\"b\"",
    ] {
        let (sql, args) = tr(q, true);
        assert!(!sql.contains('\''), "{q}: {sql}");
        assert!(!sql.contains("DROP") && !sql.contains("DELETE"), "{sql}");
        assert!(!args.is_empty());
    }
}

#[test]
fn sql_runs_against_sqlite() {
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    register(&conn).unwrap();
    conn.execute_batch(include_str!(
        "../../../../migrations/sqlite/0001_segment.sql"
    ))
    .unwrap();
    conn.execute_batch(include_str!(
        "../../../../migrations/sqlite/0002_promoted_fields.sql"
    ))
    .unwrap();
    let rows = [
        (
            "10.1.2.3",
            "Failed password for root",
            "root",
            22,
            r#"{"source.geo.country_iso_code":"CN"}"#,
        ),
        (
            "10.2.0.9",
            "Accepted password for admin01",
            "admin01",
            2222,
            "{}",
        ),
        (
            "2001:db8::5",
            "connection closed",
            "",
            443,
            r#"{"network.bytes":1500}"#,
        ),
    ];
    for (ip, msg, user, port, fields) in rows {
        conn.execute(
            "INSERT INTO events (ts, ingested, sender, sender_port, listener, transport, dataset, parser, source_ip, message, fields, flags, raw, user_name, destination_port) VALUES (1, 1, '127.0.0.1', 1, 'l', 'udp', 'syslog', 'none', ?1, ?2, ?3, 0, x'', nullif(?4, ''), ?5)",
            rusqlite::params![ip, msg, fields, user, port],
        )
        .unwrap();
    }
    let count = |q: &str| -> i64 {
        let (sql, args) = tr(q, false);
        let mut all = vec![Sql::Integer(0), Sql::Integer(1)];
        all.extend(args);
        conn.query_row(
            &format!("SELECT count(*) FROM events WHERE ?1 = 0 AND ?2 = 1 AND {sql}"),
            rusqlite::params_from_iter(all),
            |r| r.get(0),
        )
        .unwrap()
    };
    assert_eq!(count("*"), 3);
    assert_eq!(count("\"failed password\""), 1);
    assert_eq!(count("\"password failed\""), 0);
    assert_eq!(count("password"), 2);
    assert_eq!(count("admin*"), 1);
    assert_eq!(count("source.ip:10.0.0.0/8"), 2);
    assert_eq!(count("source.ip:10.0.0.0/15"), 1);
    assert_eq!(count("source.ip:2001:db8::/32"), 1);
    assert_eq!(count("destination.port:[1 TO 1024]"), 2);
    assert_eq!(count("destination.port:>1024"), 1);
    assert_eq!(count("_exists_:user.name"), 2);
    // NOT keeps rows where the field is missing.
    assert_eq!(count("NOT user.name:root"), 2);
    assert_eq!(count("source.geo.country_iso_code:CN"), 1);
    assert_eq!(count("network.bytes:1500"), 1);
    assert_eq!(count("user.name:adm?n01 OR user.name:root"), 2);
    assert_eq!(count("user.name:\"x' OR 1=1 --\""), 0);
}
