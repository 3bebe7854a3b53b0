//! Users, roles, sessions and the security audit log, in `<data>/users.db`.
//!
//! Passwords are hashed with argon2id (PHC strings). Session tokens are 32 random bytes, given
//! to the browser once and stored only as their SHA-256; each session has its own CSRF token.
//! Failed logins are limited per address and per user name in memory.

pub mod saved;
pub mod totp;

use rusqlite::{Connection, OptionalExtension, params};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a session lives without use.
pub const SESSION_IDLE: Duration = Duration::from_secs(12 * 3600);
/// A session's idle timer is written at most this often (microseconds), not on every request.
const TOUCH_EVERY_US: i64 = 60_000_000;
/// Failed logins allowed per address or user name within [`LOGIN_WINDOW`].
const LOGIN_LIMIT: usize = 5;
const LOGIN_WINDOW: Duration = Duration::from_secs(300);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS users (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    hash       TEXT NOT NULL,            -- argon2id PHC string
    role       TEXT NOT NULL,            -- admin | analyst | viewer
    disabled   INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY,         -- hex SHA-256 of the cookie value
    user_id    INTEGER NOT NULL,
    csrf       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS api_tokens (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    token_hash TEXT NOT NULL UNIQUE,     -- hex SHA-256 of the token
    role       TEXT NOT NULL,            -- what the token may do
    created_at INTEGER NOT NULL,
    last_used  INTEGER
);
CREATE TABLE IF NOT EXISTS totp (
    user_id   INTEGER PRIMARY KEY,
    secret    TEXT NOT NULL,             -- base32; needed to check codes, so not hashed
    enabled   INTEGER NOT NULL,          -- 0 until a first good code confirms it
    last_step INTEGER NOT NULL           -- newest step used: a code is good once
);
CREATE TABLE IF NOT EXISTS saved_searches (
    id         INTEGER PRIMARY KEY,
    owner      TEXT NOT NULL,
    name       TEXT NOT NULL,
    url        TEXT NOT NULL,            -- /search?... as the page built it
    shared     INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS security_audit (
    id     INTEGER PRIMARY KEY,
    at     INTEGER NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,                -- login | login_failed | logout | user_added | ...
    detail TEXT
);";

/// Errors of the user store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("users database {path}: {source}")]
    Db {
        path: String,
        source: rusqlite::Error,
    },
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("user {0:?} exists already")]
    Exists(String),
    #[error("no user {0:?}")]
    NoUser(String),
    #[error("{0}")]
    Invalid(String),
    #[error("random numbers are unavailable: {0}")]
    Random(String),
}

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read only.
    Viewer,
    /// Search, handle alerts, manage rules.
    Analyst,
    /// Everything, users included.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Result<Role, Error> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "analyst" => Ok(Role::Analyst),
            "admin" => Ok(Role::Admin),
            other => Err(Error::Invalid(format!(
                "unknown role {other:?} (admin, analyst, viewer)"
            ))),
        }
    }
}

/// A user as listed.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub disabled: bool,
}

/// A logged-in session.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub user: User,
    pub csrf: String,
}

/// The user store.
pub struct Users {
    conn: Mutex<Connection>,
    path: PathBuf,
    failures: Mutex<HashMap<String, Vec<Instant>>>,
}

/// `n` random bytes as lower-case hex.
pub fn random_hex(n: usize) -> Result<String, Error> {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).map_err(|e| Error::Random(e.to_string()))?;
    Ok(hex(&b))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(s.as_bytes()))
}

pub(crate) use crate::model::clock::now_micros;

/// Hashes a password with argon2id and a random salt.
pub fn hash_password(pw: &str) -> Result<String, Error> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| Error::Random(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| Error::Hash(e.to_string()))?;
    argon2::Argon2::default()
        .hash_password(pw.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Hash(e.to_string()))
}

fn verify_password(pw: &str, phc: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(phc)
        .map(|h| {
            argon2::Argon2::default()
                .verify_password(pw.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A dummy hash to verify against when the user does not exist (same time either way).
static DUMMY: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| hash_password("picket-no-such-user").unwrap_or_default());

impl Users {
    /// Opens (creating) `<data_dir>/users.db`.
    pub fn open(data_dir: &Path) -> Result<Users, Error> {
        let path = data_dir.join("users.db");
        let e = |source| Error::Db {
            path: path.display().to_string(),
            source,
        };
        let conn = Connection::open(&path).map_err(e)?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(e)?;
        // WAL with NORMAL: a power cut may lose the last session refresh, never corrupt.
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")
            .map_err(e)?;
        conn.execute_batch(SCHEMA).map_err(e)?;
        Ok(Users {
            conn: Mutex::new(conn),
            path,
            failures: Mutex::new(HashMap::new()),
        })
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, Error> {
        let g = match self.conn.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        f(&g).map_err(|source| Error::Db {
            path: self.path.display().to_string(),
            source,
        })
    }

    /// Writes an entry of the security audit log.
    pub fn audit(&self, actor: &str, action: &str, detail: &str) {
        let r = self.with(|c| {
            c.execute(
                "INSERT INTO security_audit (at, actor, action, detail) VALUES (?1, ?2, ?3, ?4)",
                params![now_micros(), actor, action, detail],
            )
        });
        if let Err(e) = r {
            tracing::error!(error = %e, "Could not write the security audit log.");
        }
    }

    /// Retention of the security log: removes entries older than `before` (microseconds)
    /// (the audit class: never touched by the event store's limits); returns how many went.
    pub fn prune_audit(&self, before: i64) -> Result<u64, Error> {
        self.with(|c| {
            c.execute("DELETE FROM security_audit WHERE at < ?1", [before])
                .map(|n| n as u64)
        })
    }

    /// The newest audit entries: (time, actor, action, detail).
    pub fn audit_log(&self, limit: usize) -> Result<Vec<(i64, String, String, String)>, Error> {
        self.with(|c| {
            let mut q = c.prepare(
                "SELECT at, actor, action, coalesce(detail, '') FROM security_audit ORDER BY id DESC LIMIT ?1",
            )?;
            q.query_map([limit as i64], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect()
        })
    }

    /// Every user.
    pub fn list(&self) -> Result<Vec<User>, Error> {
        self.with(|c| {
            let mut q = c.prepare("SELECT id, name, role, disabled FROM users ORDER BY name")?;
            q.query_map([], |r| {
                let role: String = r.get(2)?;
                Ok(User {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    role: Role::parse(&role).unwrap_or(Role::Viewer),
                    disabled: r.get::<_, i64>(3)? != 0,
                })
            })?
            .collect()
        })
    }

    /// Adds a user.
    pub fn add(&self, name: &str, password: &str, role: Role, actor: &str) -> Result<(), Error> {
        check_name(name)?;
        check_password(password)?;
        let hash = hash_password(password)?;
        let n = self.with(|c| {
            c.execute(
                "INSERT OR IGNORE INTO users (name, hash, role, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![name, hash, role.as_str(), now_micros()],
            )
        })?;
        if n == 0 {
            return Err(Error::Exists(name.into()));
        }
        self.audit(actor, "user_added", &format!("{name} as {}", role.as_str()));
        Ok(())
    }

    /// Sets a user's password (and ends their sessions).
    pub fn set_password(&self, name: &str, password: &str, actor: &str) -> Result<(), Error> {
        check_password(password)?;
        let hash = hash_password(password)?;
        let n = self.with(|c| {
            c.execute(
                "UPDATE users SET hash = ?2 WHERE name = ?1",
                params![name, hash],
            )
        })?;
        if n == 0 {
            return Err(Error::NoUser(name.into()));
        }
        self.end_sessions(name)?;
        self.audit(actor, "password_changed", name);
        Ok(())
    }

    /// Disables (or enables) a user; disabling ends their sessions.
    pub fn set_disabled(&self, name: &str, disabled: bool, actor: &str) -> Result<(), Error> {
        let n = self.with(|c| {
            c.execute(
                "UPDATE users SET disabled = ?2 WHERE name = ?1",
                params![name, i64::from(disabled)],
            )
        })?;
        if n == 0 {
            return Err(Error::NoUser(name.into()));
        }
        if disabled {
            self.end_sessions(name)?;
        }
        self.audit(
            actor,
            if disabled {
                "user_disabled"
            } else {
                "user_enabled"
            },
            name,
        );
        Ok(())
    }

    fn end_sessions(&self, name: &str) -> Result<(), Error> {
        self.with(|c| {
            c.execute(
                "DELETE FROM sessions WHERE user_id IN (SELECT id FROM users WHERE name = ?1)",
                [name],
            )
        })?;
        Ok(())
    }

    /// On first start: creates `admin` with a random password and returns it (to print once).
    pub fn ensure_admin(&self) -> Result<Option<String>, Error> {
        let n: i64 = self.with(|c| c.query_row("SELECT count(*) FROM users", [], |r| r.get(0)))?;
        if n > 0 {
            return Ok(None);
        }
        let pw = random_hex(12)?;
        self.add("admin", &pw, Role::Admin, "picket")?;
        Ok(Some(pw))
    }

    fn limited(&self, keys: &[String]) -> bool {
        let mut g = match self.failures.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        // Bounded: forget old entries when the map grows.
        if g.len() > 10_000 {
            g.retain(|_, v| v.iter().any(|t| t.elapsed() < LOGIN_WINDOW));
        }
        keys.iter().any(|k| {
            g.get_mut(k).is_some_and(|v| {
                v.retain(|t| t.elapsed() < LOGIN_WINDOW);
                v.len() >= LOGIN_LIMIT
            })
        })
    }

    fn failed(&self, keys: &[String]) {
        let mut g = match self.failures.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        for k in keys {
            g.entry(k.clone()).or_default().push(Instant::now());
        }
    }

    /// Checks a login; on success opens a session and returns (cookie value, session).
    /// `Ok(None)` for wrong credentials or too many recent failures.
    pub fn login(
        &self,
        name: &str,
        password: &str,
        ip: &str,
    ) -> Result<Option<(String, Session)>, Error> {
        self.login_code(name, password, "", ip)
    }

    /// [`Users::login`] with the code of the user's second factor, when it has one in use.
    pub fn login_code(
        &self,
        name: &str,
        password: &str,
        code: &str,
        ip: &str,
    ) -> Result<Option<(String, Session)>, Error> {
        let keys = [format!("ip:{ip}"), format!("user:{name}")];
        if self.limited(&keys) {
            self.audit(
                name,
                "login_refused",
                &format!("too many failures, from {ip}"),
            );
            return Ok(None);
        }
        let row: Option<(i64, String, String, i64)> = self.with(|c| {
            c.query_row(
                "SELECT id, hash, role, disabled FROM users WHERE name = ?1",
                [name],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()
        })?;
        let ok = match &row {
            Some((_, hash, _, disabled)) => verify_password(password, hash) && *disabled == 0,
            None => {
                // Same work whether or not the user exists.
                let _same_time = verify_password(password, &DUMMY);
                false
            }
        };
        let Some((id, _, role, _)) = row.filter(|_| ok) else {
            self.failed(&keys);
            self.audit(name, "login_failed", &format!("from {ip}"));
            return Ok(None);
        };
        if !self.totp_passes(id, code)? {
            self.failed(&keys);
            self.audit(
                name,
                "login_failed",
                &format!("wrong or missing second-factor code, from {ip}"),
            );
            return Ok(None);
        }
        let token = random_hex(32)?;
        let csrf = random_hex(16)?;
        let now = now_micros();
        self.with(|c| {
            c.execute(
                "INSERT INTO sessions (token_hash, user_id, csrf, created_at, last_seen) VALUES (?1, ?2, ?3, ?4, ?4)",
                params![sha256_hex(&token), id, csrf, now],
            )
        })?;
        self.audit(name, "login", &format!("from {ip}"));
        Ok(Some((
            token,
            Session {
                user: User {
                    id,
                    name: name.into(),
                    role: Role::parse(&role)?,
                    disabled: false,
                },
                csrf,
            },
        )))
    }

    /// The session of a cookie value, if valid (and refreshes its idle timer).
    pub fn session(&self, token: &str) -> Result<Option<Session>, Error> {
        let th = sha256_hex(token);
        let now = now_micros();
        let idle = i64::try_from(SESSION_IDLE.as_micros()).unwrap_or(i64::MAX);
        self.with(|c| {
            let s = c
                .query_row(
                    "SELECT u.id, u.name, u.role, s.csrf FROM sessions s JOIN users u ON u.id = s.user_id
                     WHERE s.token_hash = ?1 AND s.last_seen >= ?2 AND u.disabled = 0",
                    params![th, now - idle],
                    |r| {
                        let role: String = r.get(2)?;
                        Ok(Session {
                            user: User {
                                id: r.get(0)?,
                                name: r.get(1)?,
                                role: Role::parse(&role).unwrap_or(Role::Viewer),
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
                    params![th, now, now - TOUCH_EVERY_US],
                )?;
            }
            Ok(s)
        })
    }

    /// Ends a session.
    pub fn logout(&self, token: &str, name: &str) -> Result<(), Error> {
        self.with(|c| {
            c.execute(
                "DELETE FROM sessions WHERE token_hash = ?1",
                [sha256_hex(token)],
            )
        })?;
        self.audit(name, "logout", "");
        Ok(())
    }
}

/// An API token as listed (never the token itself).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Token {
    pub name: String,
    pub role: Role,
    pub created_at: i64,
    pub last_used: Option<i64>,
}

impl Users {
    /// Creates an API token with a role; returns the token, shown once (stored hashed).
    pub fn add_token(&self, name: &str, role: Role, actor: &str) -> Result<String, Error> {
        check_name(name)?;
        let token = format!("pk_{}", random_hex(32)?);
        let n = self.with(|c| {
            c.execute(
                "INSERT OR IGNORE INTO api_tokens (name, token_hash, role, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![name, sha256_hex(&token), role.as_str(), now_micros()],
            )
        })?;
        if n == 0 {
            return Err(Error::Exists(name.into()));
        }
        self.audit(
            actor,
            "token_added",
            &format!("{name} as {}", role.as_str()),
        );
        Ok(token)
    }

    /// Deletes an API token.
    pub fn revoke_token(&self, name: &str, actor: &str) -> Result<(), Error> {
        let n = self.with(|c| c.execute("DELETE FROM api_tokens WHERE name = ?1", [name]))?;
        if n == 0 {
            return Err(Error::NoUser(name.into()));
        }
        self.audit(actor, "token_revoked", name);
        Ok(())
    }

    /// Every API token.
    pub fn tokens(&self) -> Result<Vec<Token>, Error> {
        self.with(|c| {
            let mut q = c.prepare(
                "SELECT name, role, created_at, last_used FROM api_tokens ORDER BY name",
            )?;
            q.query_map([], |r| {
                let role: String = r.get(1)?;
                Ok(Token {
                    name: r.get(0)?,
                    role: Role::parse(&role).unwrap_or(Role::Viewer),
                    created_at: r.get(2)?,
                    last_used: r.get(3)?,
                })
            })?
            .collect()
        })
    }

    /// The name and role of a bearer token, if valid.
    pub fn token(&self, token: &str) -> Result<Option<(String, Role)>, Error> {
        let th = sha256_hex(token);
        self.with(|c| {
            let t: Option<(String, String)> = c
                .query_row(
                    "SELECT name, role FROM api_tokens WHERE token_hash = ?1",
                    [&th],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            if t.is_some() {
                c.execute(
                    "UPDATE api_tokens SET last_used = ?2 WHERE token_hash = ?1",
                    params![th, now_micros()],
                )?;
            }
            Ok(t.map(|(n, r)| (n, Role::parse(&r).unwrap_or(Role::Viewer))))
        })
    }
}

fn check_name(name: &str) -> Result<(), Error> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c))
    {
        return Err(Error::Invalid(
            "a user name is 1 to 64 letters, digits, '.', '_', '-' or '@'".into(),
        ));
    }
    Ok(())
}

fn check_password(pw: &str) -> Result<(), Error> {
    if pw.chars().count() < 10 {
        return Err(Error::Invalid(
            "a password has at least 10 characters".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
