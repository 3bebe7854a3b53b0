//! The one migration runner for every SQLite database Picket keeps: segments, `registry.db`,
//! `alerts.db` and `users.db`.
//!
//! A database's schema is an append-only list of [`Step`]s and its version is SQLite's
//! `user_version`: the number of steps applied. Opening a database applies the steps it lacks,
//! all of them in one `BEGIN IMMEDIATE` transaction together with the new version, so two
//! processes opening it at once (a CLI beside `serve`) migrate it once, and a crash leaves the
//! old version whole. A database whose version is newer than this build's list was written by a
//! newer Picket: it is refused ([`Error::TooNew`]), never changed.
//!
//! Databases written before versions existed (`user_version` 0, tables present) take the same
//! path: their first step is written to be idempotent (`CREATE … IF NOT EXISTS`), and a column
//! added later is a [`Step::AddColumn`], which is a no-op where the column is already there.

use super::db_err;
use crate::store::Error;
use rusqlite::{Connection, TransactionBehavior};
use std::path::Path;

/// One step of a schema.
#[derive(Debug, Clone, Copy)]
pub enum Step {
    /// SQL run as a batch.
    Sql(&'static str),
    /// `ALTER TABLE table ADD COLUMN column decl`, unless the column exists.
    AddColumn {
        table: &'static str,
        column: &'static str,
        decl: &'static str,
    },
}

/// `registry.db`: senders, the overview's counters and the retention log.
pub const REGISTRY: &[Step] = &[
    Step::Sql(super::registry::SCHEMA),
    Step::Sql(super::stats::SCHEMA),
    Step::Sql(super::retention::SCHEMA),
    Step::AddColumn {
        table: "retention_runs",
        column: "pending_class",
        decl: "TEXT",
    },
];

/// `alerts.db`: alerts, their audit trail and evidence, the outbox and rule settings.
pub const ALERTS: &[Step] = &[Step::Sql(include_str!(
    "../../../migrations/sqlite/alerts.sql"
))];

/// `users.db`: users, sessions, API tokens, TOTP, saved searches and the security log.
pub const USERS: &[Step] = &[Step::Sql(include_str!(
    "../../../migrations/sqlite/users.sql"
))];

/// `poll.db`: polled devices and their state.
pub const POLL: &[Step] = &[Step::Sql(include_str!(
    "../../../migrations/sqlite/poll.sql"
))];

/// A segment's row layout (the version numbers predate this runner and are kept).
pub const SEGMENT: &[Step] = &[
    Step::Sql(include_str!("../../../migrations/sqlite/0001_segment.sql")),
    Step::Sql(include_str!(
        "../../../migrations/sqlite/0002_promoted_fields.sql"
    )),
];

/// The version `conn`'s database has.
pub fn version(conn: &Connection, p: &Path) -> Result<i64, Error> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(db_err(p))
}

/// Refuses a database a newer Picket wrote, for readers that open it read-only and so do not
/// migrate (an older one reads as it is: its missing steps only add).
pub fn refuse_newer(conn: &Connection, p: &Path, steps: &[Step]) -> Result<(), Error> {
    let found = version(conn, p)?;
    let known = steps.len() as i64;
    if found > known {
        return Err(Error::TooNew {
            path: p.display().to_string(),
            found,
            known,
        });
    }
    Ok(())
}

/// Brings `conn`'s database (the file `p`) to the end of `steps`; refuses one that is newer.
pub fn apply(conn: &mut Connection, p: &Path, steps: &[Step]) -> Result<(), Error> {
    let known = steps.len() as i64;
    // Most opens find the database current: answer them without taking the write lock.
    if version(conn, p)? == known {
        return Ok(());
    }
    let e = db_err(p);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(&e)?;
    refuse_newer(&tx, p, steps)?;
    let found = version(&tx, p)?;
    for step in steps.iter().skip(usize::try_from(found).unwrap_or(0)) {
        match *step {
            Step::Sql(sql) => tx.execute_batch(sql).map_err(&e)?,
            Step::AddColumn {
                table,
                column,
                decl,
            } => {
                let has: bool = tx
                    .query_row(
                        "SELECT count(*) > 0 FROM pragma_table_info(?1) WHERE name = ?2",
                        rusqlite::params![table, column],
                        |r| r.get(0),
                    )
                    .map_err(&e)?;
                if !has {
                    // Names come from the constant list above, never from input.
                    tx.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {decl}"))
                        .map_err(&e)?;
                }
            }
        }
    }
    tx.pragma_update(None, "user_version", known).map_err(&e)?;
    tx.commit().map_err(&e)
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &[Step] = &[Step::Sql("CREATE TABLE IF NOT EXISTS t (a INTEGER);")];
    const V2: &[Step] = &[
        Step::Sql("CREATE TABLE IF NOT EXISTS t (a INTEGER);"),
        Step::AddColumn {
            table: "t",
            column: "b",
            decl: "TEXT",
        },
    ];

    fn open(p: &Path) -> Connection {
        Connection::open(p).unwrap()
    }

    #[test]
    fn steps_apply_once_and_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.db");
        let mut c = open(&p);
        apply(&mut c, &p, V1).unwrap();
        assert_eq!(version(&c, &p).unwrap(), 1);
        c.execute("INSERT INTO t (a) VALUES (7)", []).unwrap();
        apply(&mut c, &p, V2).unwrap();
        apply(&mut c, &p, V2).unwrap();
        assert_eq!(version(&c, &p).unwrap(), 2);
        let (a, b): (i64, Option<String>) = c
            .query_row("SELECT a, b FROM t", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap();
        assert_eq!((a, b), (7, None));
    }

    #[test]
    fn an_unversioned_database_with_the_column_already_there_migrates() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.db");
        let mut c = open(&p);
        c.execute_batch("CREATE TABLE t (a INTEGER, b TEXT); INSERT INTO t VALUES (1, 'kept');")
            .unwrap();
        apply(&mut c, &p, V2).unwrap();
        assert_eq!(version(&c, &p).unwrap(), 2);
        let b: String = c.query_row("SELECT b FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(b, "kept");
    }

    #[test]
    fn a_database_from_a_newer_picket_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.db");
        let mut c = open(&p);
        apply(&mut c, &p, V2).unwrap();
        match apply(&mut c, &p, V1) {
            Err(Error::TooNew { found, known, .. }) => assert_eq!((found, known), (2, 1)),
            other => panic!("expected TooNew, got {other:?}"),
        }
        assert_eq!(version(&c, &p).unwrap(), 2);
        let err = apply(&mut c, &p, V1).unwrap_err().to_string();
        assert!(err.contains("refusing to downgrade"), "{err}");
    }

    #[test]
    fn a_failing_step_leaves_the_old_version_whole() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.db");
        let mut c = open(&p);
        apply(&mut c, &p, V1).unwrap();
        let bad: &[Step] = &[V1[0], Step::Sql("CREATE TABLE u (x); THIS IS NOT SQL;")];
        assert!(apply(&mut c, &p, bad).is_err());
        assert_eq!(version(&c, &p).unwrap(), 1);
        let u: i64 = c
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'u'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(u, 0);
    }
}
