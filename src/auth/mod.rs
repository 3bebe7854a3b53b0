//! Users, roles, sessions and the security audit log: the rules of who may log in. What is
//! kept goes through the store's `UserStore` traits (`store/users.rs`); only hashes reach it.
//!
//! Passwords are hashed with argon2id (PHC strings). Session tokens are 32 random bytes, given
//! to the browser once and stored only as their SHA-256; each session has its own CSRF token.
//! Failed logins slow the address down, never lock the user out (`throttle.rs`).

pub mod saved;
pub mod throttle;
pub mod totp;

use crate::model::user::UnknownRole;
pub use crate::model::user::{Role, Saved, Session, Token, User};
use crate::store::users::UserStore;
use std::path::Path;
use std::time::Duration;

/// How long a session lives without use.
pub const SESSION_IDLE: Duration = Duration::from_secs(12 * 3600);
/// A session's idle timer is written at most this often (microseconds), not on every request.
const TOUCH_EVERY_US: i64 = 60_000_000;

/// Errors of the user store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] crate::store::Error),
    #[error(transparent)]
    Role(#[from] UnknownRole),
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

/// The user store.
pub struct Users {
    db: Box<dyn UserStore>,
    throttle: throttle::Throttle,
}

/// What a login attempt came to.
#[derive(Debug)]
pub enum Login {
    /// Signed in: the cookie value and the session.
    Ok { token: String, session: Session },
    /// Wrong user name, password or second-factor code, or a disabled user.
    Refused,
    /// Too many failures from this address (for this name): try again after this long.
    Throttled(Duration),
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
    /// Opens (creating or migrating) the user store of `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Users, Error> {
        let db = crate::store::sqlite::users::SqliteUsers::open(data_dir)?;
        Ok(Users {
            db: Box::new(db),
            throttle: throttle::Throttle::default(),
        })
    }

    /// Writes an entry of the security audit log.
    pub fn audit(&self, actor: &str, action: &str, detail: &str) {
        if let Err(e) = self.db.audit(now_micros(), actor, action, detail) {
            tracing::error!(error = %e, "Could not write the security audit log.");
        }
    }

    /// Retention of the security log: removes entries older than `before` (microseconds)
    /// (the audit class: never touched by the event store's limits); returns how many went.
    pub fn prune_audit(&self, before: i64) -> Result<u64, Error> {
        Ok(self.db.prune_audit(before)?)
    }

    /// The newest audit entries: (time, actor, action, detail).
    pub fn audit_log(&self, limit: usize) -> Result<Vec<(i64, String, String, String)>, Error> {
        Ok(self.db.audit_log(limit)?)
    }

    /// Every user.
    pub fn list(&self) -> Result<Vec<User>, Error> {
        Ok(self.db.users()?)
    }

    /// Adds a user.
    pub fn add(&self, name: &str, password: &str, role: Role, actor: &str) -> Result<(), Error> {
        check_name(name)?;
        check_password(password)?;
        let hash = hash_password(password)?;
        if !self.db.insert_user(name, &hash, role, now_micros())? {
            return Err(Error::Exists(name.into()));
        }
        self.audit(actor, "user_added", &format!("{name} as {}", role.as_str()));
        Ok(())
    }

    /// Sets a user's password (and ends their sessions).
    pub fn set_password(&self, name: &str, password: &str, actor: &str) -> Result<(), Error> {
        check_password(password)?;
        let hash = hash_password(password)?;
        if !self.db.set_hash(name, &hash)? {
            return Err(Error::NoUser(name.into()));
        }
        self.end_sessions(name)?;
        self.audit(actor, "password_changed", name);
        Ok(())
    }

    /// Disables (or enables) a user; disabling ends their sessions.
    pub fn set_disabled(&self, name: &str, disabled: bool, actor: &str) -> Result<(), Error> {
        if !self.db.set_disabled(name, disabled)? {
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
        Ok(self.db.delete_sessions_of(name)?)
    }

    /// On first start: creates `admin` with a random password and returns it (to print once).
    pub fn ensure_admin(&self) -> Result<Option<String>, Error> {
        if self.db.user_count()? > 0 {
            return Ok(None);
        }
        let pw = random_hex(12)?;
        self.add("admin", &pw, Role::Admin, "picket")?;
        Ok(Some(pw))
    }

    /// Checks a login; on success opens a session.
    pub fn login(&self, name: &str, password: &str, ip: &str) -> Result<Login, Error> {
        self.login_code(name, password, "", ip)
    }

    /// [`Users::login`] with the code of the user's second factor, when it has one in use.
    pub fn login_code(
        &self,
        name: &str,
        password: &str,
        code: &str,
        ip: &str,
    ) -> Result<Login, Error> {
        if let Err(wait) = self.throttle.check(ip, name) {
            self.audit(
                name,
                "login_refused",
                &format!("too many failures, from {ip}"),
            );
            return Ok(Login::Throttled(wait));
        }
        let row = self.db.credentials(name)?;
        let ok = match &row {
            Some(c) => verify_password(password, &c.hash) && !c.disabled,
            None => {
                // Same work whether or not the user exists.
                let _same_time = verify_password(password, &DUMMY);
                false
            }
        };
        let Some(crate::model::user::Credentials { id, role, .. }) = row.filter(|_| ok) else {
            self.throttle.failed(ip, name);
            self.audit(name, "login_failed", &format!("from {ip}"));
            return Ok(Login::Refused);
        };
        if !self.totp_passes(id, code)? {
            self.throttle.failed(ip, name);
            self.audit(
                name,
                "login_failed",
                &format!("wrong or missing second-factor code, from {ip}"),
            );
            return Ok(Login::Refused);
        }
        let token = random_hex(32)?;
        let csrf = random_hex(16)?;
        let now = now_micros();
        self.db
            .insert_session(&sha256_hex(&token), id, &csrf, now)?;
        self.throttle.succeeded(ip, name);
        self.audit(name, "login", &format!("from {ip}"));
        Ok(Login::Ok {
            token,
            session: Session {
                user: User {
                    id,
                    name: name.into(),
                    role,
                    disabled: false,
                },
                csrf,
            },
        })
    }

    /// The session of a cookie value, if valid (and refreshes its idle timer).
    pub fn session(&self, token: &str) -> Result<Option<Session>, Error> {
        let th = sha256_hex(token);
        let now = now_micros();
        let idle = i64::try_from(SESSION_IDLE.as_micros()).unwrap_or(i64::MAX);
        Ok(self
            .db
            .session(&th, now - idle, now - TOUCH_EVERY_US, now)?)
    }

    /// Ends a session.
    pub fn logout(&self, token: &str, name: &str) -> Result<(), Error> {
        self.db.delete_session(&sha256_hex(token))?;
        self.audit(name, "logout", "");
        Ok(())
    }
}

impl Users {
    /// Creates an API token with a role; returns the token, shown once (stored hashed).
    pub fn add_token(&self, name: &str, role: Role, actor: &str) -> Result<String, Error> {
        check_name(name)?;
        let token = format!("pk_{}", random_hex(32)?);
        if !self
            .db
            .insert_token(name, &sha256_hex(&token), role, now_micros())?
        {
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
        if !self.db.delete_token(name)? {
            return Err(Error::NoUser(name.into()));
        }
        self.audit(actor, "token_revoked", name);
        Ok(())
    }

    /// Every API token.
    pub fn tokens(&self) -> Result<Vec<Token>, Error> {
        Ok(self.db.tokens()?)
    }

    /// The name and role of a bearer token, if valid.
    pub fn token(&self, token: &str) -> Result<Option<(String, Role)>, Error> {
        Ok(self.db.use_token(&sha256_hex(token), now_micros())?)
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
