//! The SQLite user store, in `<data>/users.db` (schema: `migrations/sqlite/users.sql`,
//! versioned by `store::sqlite::migrate`): users, sessions, API tokens, second factors, saved
//! searches and the security log. One connection behind a mutex: these are small, rare writes.

use super::db_err;
use crate::model::user::{Credentials, Role, Saved, Session, Token, TotpRow, User};
use crate::store::Error;
use crate::store::users::{Accounts, SavedSearches};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// The user store on `users.db`.
pub struct SqliteUsers {
    conn: Mutex<Connection>,
    path: PathBuf,
}

/// A stored role name (written by this code; an unknown one reads as the least privilege).
fn role(s: &str) -> Role {
    Role::parse(s).unwrap_or(Role::Viewer)
}

impl SqliteUsers {
    /// Opens (creating or migrating) `<data_dir>/users.db`.
    pub fn open(data_dir: &Path) -> Result<SqliteUsers, Error> {
        let path = data_dir.join("users.db");
        let mut conn = Connection::open(&path).map_err(db_err(&path))?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(db_err(&path))?;
        // WAL with NORMAL: a power cut may lose the last session refresh, never corrupt.
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")
            .map_err(db_err(&path))?;
        super::migrate::apply(&mut conn, &path, super::migrate::USERS)?;
        Ok(SqliteUsers {
            conn: Mutex::new(conn),
            path,
        })
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, Error> {
        let g = match self.conn.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        f(&g).map_err(db_err(&self.path))
    }

    fn changed(&self, sql: &str, p: impl rusqlite::Params) -> Result<bool, Error> {
        self.with(|c| c.execute(sql, p)).map(|n| n > 0)
    }
}

impl Accounts for SqliteUsers {
    fn users(&self) -> Result<Vec<User>, Error> {
        self.with(|c| {
            let mut q = c.prepare("SELECT id, name, role, disabled FROM users ORDER BY name")?;
            q.query_map([], |r| {
                Ok(User {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    role: role(&r.get::<_, String>(2)?),
                    disabled: r.get::<_, i64>(3)? != 0,
                })
            })?
            .collect()
        })
    }

    fn user_count(&self) -> Result<u64, Error> {
        let n: i64 = self.with(|c| c.query_row("SELECT count(*) FROM users", [], |r| r.get(0)))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn insert_user(&self, name: &str, hash: &str, role: Role, now: i64) -> Result<bool, Error> {
        self.changed(
            "INSERT OR IGNORE INTO users (name, hash, role, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![name, hash, role.as_str(), now],
        )
    }

    fn set_hash(&self, name: &str, hash: &str) -> Result<bool, Error> {
        self.changed(
            "UPDATE users SET hash = ?2 WHERE name = ?1",
            params![name, hash],
        )
    }

    fn set_disabled(&self, name: &str, disabled: bool) -> Result<bool, Error> {
        self.changed(
            "UPDATE users SET disabled = ?2 WHERE name = ?1",
            params![name, i64::from(disabled)],
        )
    }

    fn credentials(&self, name: &str) -> Result<Option<Credentials>, Error> {
        self.with(|c| {
            c.query_row(
                "SELECT id, hash, role, disabled FROM users WHERE name = ?1",
                [name],
                |r| {
                    Ok(Credentials {
                        id: r.get(0)?,
                        hash: r.get(1)?,
                        role: role(&r.get::<_, String>(2)?),
                        disabled: r.get::<_, i64>(3)? != 0,
                    })
                },
            )
            .optional()
        })
    }

    fn user_id(&self, name: &str) -> Result<Option<i64>, Error> {
        self.with(|c| {
            c.query_row("SELECT id FROM users WHERE name = ?1", [name], |r| r.get(0))
                .optional()
        })
    }

    fn insert_session(
        &self,
        token_hash: &str,
        user_id: i64,
        csrf: &str,
        now: i64,
    ) -> Result<(), Error> {
        self.with(|c| {
            c.execute(
                "INSERT INTO sessions (token_hash, user_id, csrf, created_at, last_seen) VALUES (?1, ?2, ?3, ?4, ?4)",
                params![token_hash, user_id, csrf, now],
            )
        })
        .map(drop)
    }

    fn session(
        &self,
        token_hash: &str,
        not_before: i64,
        touch_before: i64,
        now: i64,
    ) -> Result<Option<Session>, Error> {
        self.with(|c| {
            let s = c
                .query_row(
                    "SELECT u.id, u.name, u.role, s.csrf FROM sessions s JOIN users u ON u.id = s.user_id
                     WHERE s.token_hash = ?1 AND s.last_seen >= ?2 AND u.disabled = 0",
                    params![token_hash, not_before],
                    |r| {
                        Ok(Session {
                            user: User {
                                id: r.get(0)?,
                                name: r.get(1)?,
                                role: role(&r.get::<_, String>(2)?),
                                disabled: false,
                            },
                            csrf: r.get(3)?,
                        })
                    },
                )
                .optional()?;
            if s.is_some() {
                c.execute(
                    "UPDATE sessions SET last_seen = ?2 WHERE token_hash = ?1 AND last_seen < ?3",
                    params![token_hash, now, touch_before],
                )?;
            }
            Ok(s)
        })
    }

    fn delete_session(&self, token_hash: &str) -> Result<(), Error> {
        self.changed("DELETE FROM sessions WHERE token_hash = ?1", [token_hash])
            .map(drop)
    }

    fn delete_sessions_of(&self, name: &str) -> Result<(), Error> {
        self.changed(
            "DELETE FROM sessions WHERE user_id IN (SELECT id FROM users WHERE name = ?1)",
            [name],
        )
        .map(drop)
    }

    fn insert_token(
        &self,
        name: &str,
        token_hash: &str,
        role: Role,
        now: i64,
    ) -> Result<bool, Error> {
        self.changed(
            "INSERT OR IGNORE INTO api_tokens (name, token_hash, role, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![name, token_hash, role.as_str(), now],
        )
    }

    fn delete_token(&self, name: &str) -> Result<bool, Error> {
        self.changed("DELETE FROM api_tokens WHERE name = ?1", [name])
    }

    fn tokens(&self) -> Result<Vec<Token>, Error> {
        self.with(|c| {
            let mut q = c.prepare(
                "SELECT name, role, created_at, last_used FROM api_tokens ORDER BY name",
            )?;
            q.query_map([], |r| {
                Ok(Token {
                    name: r.get(0)?,
                    role: role(&r.get::<_, String>(1)?),
                    created_at: r.get(2)?,
                    last_used: r.get(3)?,
                })
            })?
            .collect()
        })
    }

    fn use_token(&self, token_hash: &str, now: i64) -> Result<Option<(String, Role)>, Error> {
        self.with(|c| {
            let t: Option<(String, String)> = c
                .query_row(
                    "SELECT name, role FROM api_tokens WHERE token_hash = ?1",
                    [token_hash],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            if t.is_some() {
                c.execute(
                    "UPDATE api_tokens SET last_used = ?2 WHERE token_hash = ?1",
                    params![token_hash, now],
                )?;
            }
            Ok(t.map(|(n, r)| (n, role(&r))))
        })
    }

    fn totp(&self, name: &str) -> Result<Option<TotpRow>, Error> {
        self.with(|c| {
            c.query_row(
                "SELECT t.secret, t.enabled, t.last_step FROM totp t JOIN users u ON u.id = t.user_id WHERE u.name = ?1",
                [name],
                totp_row,
            )
            .optional()
        })
    }

    fn totp_in_use(&self, user_id: i64) -> Result<Option<TotpRow>, Error> {
        self.with(|c| {
            c.query_row(
                "SELECT secret, enabled, last_step FROM totp WHERE user_id = ?1 AND enabled = 1",
                [user_id],
                totp_row,
            )
            .optional()
        })
    }

    fn begin_totp(&self, name: &str, secret: &str) -> Result<bool, Error> {
        self.changed(
            "INSERT INTO totp (user_id, secret, enabled, last_step)
             SELECT id, ?2, 0, -1 FROM users WHERE name = ?1
             ON CONFLICT(user_id) DO UPDATE SET secret = excluded.secret, enabled = 0, last_step = -1",
            params![name, secret],
        )
    }

    fn enable_totp(&self, name: &str, step: i64) -> Result<(), Error> {
        self.changed(
            "UPDATE totp SET enabled = 1, last_step = ?2 WHERE user_id = (SELECT id FROM users WHERE name = ?1)",
            params![name, step],
        )
        .map(drop)
    }

    fn use_totp_step(&self, user_id: i64, step: i64) -> Result<bool, Error> {
        self.changed(
            "UPDATE totp SET last_step = ?2 WHERE user_id = ?1 AND last_step < ?2",
            params![user_id, step],
        )
    }

    fn delete_totp(&self, name: &str) -> Result<(), Error> {
        self.changed(
            "DELETE FROM totp WHERE user_id = (SELECT id FROM users WHERE name = ?1)",
            [name],
        )
        .map(drop)
    }

    fn audit(&self, at: i64, actor: &str, action: &str, detail: &str) -> Result<(), Error> {
        self.changed(
            "INSERT INTO security_audit (at, actor, action, detail) VALUES (?1, ?2, ?3, ?4)",
            params![at, actor, action, detail],
        )
        .map(drop)
    }

    fn audit_log(&self, limit: usize) -> Result<Vec<(i64, String, String, String)>, Error> {
        self.with(|c| {
            let mut q = c.prepare(
                "SELECT at, actor, action, coalesce(detail, '') FROM security_audit ORDER BY id DESC LIMIT ?1",
            )?;
            q.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?
            .collect()
        })
    }

    fn prune_audit(&self, before: i64) -> Result<u64, Error> {
        self.with(|c| {
            c.execute("DELETE FROM security_audit WHERE at < ?1", [before])
                .map(|n| n as u64)
        })
    }
}

fn totp_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TotpRow> {
    Ok(TotpRow {
        secret: r.get(0)?,
        enabled: r.get::<_, i64>(1)? != 0,
        last_step: r.get(2)?,
    })
}

impl SavedSearches for SqliteUsers {
    fn save_search(
        &self,
        owner: &str,
        name: &str,
        url: &str,
        shared: bool,
        now: i64,
    ) -> Result<i64, Error> {
        self.with(|c| {
            c.execute(
                "INSERT INTO saved_searches (owner, name, url, shared, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![owner, name, url, shared, now],
            )?;
            Ok(c.last_insert_rowid())
        })
    }

    fn saved_searches(&self, user: &str) -> Result<Vec<Saved>, Error> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT id, owner, name, url, shared FROM saved_searches WHERE owner = ?1 OR shared = 1
                 ORDER BY name COLLATE NOCASE, id",
            )?;
            st.query_map([user], |r| {
                Ok(Saved {
                    id: r.get(0)?,
                    owner: r.get(1)?,
                    name: r.get(2)?,
                    url: r.get(3)?,
                    shared: r.get(4)?,
                })
            })?
            .collect()
        })
    }

    fn delete_search(&self, id: i64, user: &str, admin: bool) -> Result<bool, Error> {
        self.changed(
            "DELETE FROM saved_searches WHERE id = ?1 AND (owner = ?2 OR (?3 AND shared = 1))",
            params![id, user, admin],
        )
    }
}
