//! The dashboard's people and credentials as plain data: roles, users, sessions, API tokens
//! (as listed, never the token) and saved searches. Shared by `auth` (which checks passwords
//! and codes), the store's user traits and backends, and `web`.

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

/// A role name that is none of them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?} (admin, analyst, viewer)")]
pub struct UnknownRole(pub String);

impl Role {
    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
        }
    }

    /// Parses a name.
    pub fn parse(s: &str) -> Result<Role, UnknownRole> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "analyst" => Ok(Role::Analyst),
            "admin" => Ok(Role::Admin),
            other => Err(UnknownRole(other.into())),
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

/// An API token as listed (never the token itself).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Token {
    pub name: String,
    pub role: Role,
    pub created_at: i64,
    pub last_used: Option<i64>,
}

/// A saved search.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Saved {
    /// Its id.
    pub id: i64,
    /// Who saved it.
    pub owner: String,
    /// Its name.
    pub name: String,
    /// The search page URL (path and query) it opens.
    pub url: String,
    /// Everyone sees it.
    pub shared: bool,
}

/// What a login checks a password against. Its `Debug` leaves the hash out.
#[derive(Clone, PartialEq)]
pub struct Credentials {
    pub id: i64,
    /// The argon2id PHC string.
    pub hash: String,
    pub role: Role,
    pub disabled: bool,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("id", &self.id)
            .field("hash", &"<redacted>")
            .field("role", &self.role)
            .field("disabled", &self.disabled)
            .finish()
    }
}

/// A user's second factor as stored. Its `Debug` leaves the secret out.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpRow {
    /// Base32; needed to check codes, so not hashed.
    pub secret: String,
    /// False until a first good code confirms it.
    pub enabled: bool,
    /// The newest step used: a code is good once.
    pub last_step: i64,
}

impl std::fmt::Debug for TotpRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpRow")
            .field("secret", &"<redacted>")
            .field("enabled", &self.enabled)
            .field("last_step", &self.last_step)
            .finish()
    }
}
