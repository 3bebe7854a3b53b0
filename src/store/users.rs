//! The people side of the store behind narrow traits: [`Accounts`] (users, sessions, API
//! tokens, second factors and the security log) and [`SavedSearches`]. SQLite fills them in
//! `store/sqlite/users.rs`; a PostgreSQL backend adds another implementation.
//!
//! These are storage operations only. Passwords are hashed and checked, tokens made and hashed,
//! codes verified and logins rate-limited in `auth`: a backend only ever sees hashes, and
//! never decides who may log in.

use super::Error;
use crate::model::user::{Credentials, Role, Saved, Session, Token, TotpRow, User};

/// Users, sessions, API tokens, second factors and the security log.
pub trait Accounts: Send + Sync {
    /// Every user, by name.
    fn users(&self) -> Result<Vec<User>, Error>;
    /// How many users there are.
    fn user_count(&self) -> Result<u64, Error>;
    /// Adds a user with a password hash; false if the name is taken.
    fn insert_user(&self, name: &str, hash: &str, role: Role, now: i64) -> Result<bool, Error>;
    /// Replaces a user's password hash; false if there is no such user.
    fn set_hash(&self, name: &str, hash: &str) -> Result<bool, Error>;
    /// Disables or enables a user; false if there is no such user.
    fn set_disabled(&self, name: &str, disabled: bool) -> Result<bool, Error>;
    /// What a login checks, if the user exists.
    fn credentials(&self, name: &str) -> Result<Option<Credentials>, Error>;
    /// A user's id.
    fn user_id(&self, name: &str) -> Result<Option<i64>, Error>;

    /// Opens a session (the cookie value's hash).
    fn insert_session(
        &self,
        token_hash: &str,
        user_id: i64,
        csrf: &str,
        now: i64,
    ) -> Result<(), Error>;
    /// The session of a cookie hash if it was used at or after `not_before` and its user is
    /// enabled; its idle timer is moved to `now` when it was last moved before `touch_before`.
    fn session(
        &self,
        token_hash: &str,
        not_before: i64,
        touch_before: i64,
        now: i64,
    ) -> Result<Option<Session>, Error>;
    /// Ends one session.
    fn delete_session(&self, token_hash: &str) -> Result<(), Error>;
    /// Ends every session of a user.
    fn delete_sessions_of(&self, name: &str) -> Result<(), Error>;

    /// Adds an API token (its hash); false if the name is taken.
    fn insert_token(
        &self,
        name: &str,
        token_hash: &str,
        role: Role,
        now: i64,
    ) -> Result<bool, Error>;
    /// Deletes an API token; false if there is none of that name.
    fn delete_token(&self, name: &str) -> Result<bool, Error>;
    /// Every API token, by name.
    fn tokens(&self) -> Result<Vec<Token>, Error>;
    /// The name and role of a token hash, if valid, noting its use at `now`.
    fn use_token(&self, token_hash: &str, now: i64) -> Result<Option<(String, Role)>, Error>;

    /// A user's second factor, by user name.
    fn totp(&self, name: &str) -> Result<Option<TotpRow>, Error>;
    /// A user's second factor in use, by user id.
    fn totp_in_use(&self, user_id: i64) -> Result<Option<TotpRow>, Error>;
    /// Issues a new (not yet enabled) secret; false if there is no such user.
    fn begin_totp(&self, name: &str, secret: &str) -> Result<bool, Error>;
    /// Turns the issued secret on, `step` used.
    fn enable_totp(&self, name: &str, step: i64) -> Result<(), Error>;
    /// Marks `step` used, if it is newer than every step used before (so a code is good once,
    /// even for two logins at the same moment); false otherwise.
    fn use_totp_step(&self, user_id: i64, step: i64) -> Result<bool, Error>;
    /// Removes a user's second factor.
    fn delete_totp(&self, name: &str) -> Result<(), Error>;

    /// Writes an entry of the security log.
    fn audit(&self, at: i64, actor: &str, action: &str, detail: &str) -> Result<(), Error>;
    /// The newest entries: (time, actor, action, detail).
    fn audit_log(&self, limit: usize) -> Result<Vec<(i64, String, String, String)>, Error>;
    /// Removes entries older than `before`; returns how many went.
    fn prune_audit(&self, before: i64) -> Result<u64, Error>;
}

/// Saved searches, per user or shared.
pub trait SavedSearches: Send + Sync {
    /// Saves a search (already checked); returns its id.
    fn save_search(
        &self,
        owner: &str,
        name: &str,
        url: &str,
        shared: bool,
        now: i64,
    ) -> Result<i64, Error>;
    /// The user's own saved searches and the shared ones, by name.
    fn saved_searches(&self, user: &str) -> Result<Vec<Saved>, Error>;
    /// Deletes a saved search its owner asks for, or a shared one an admin asks for; true when
    /// one was deleted.
    fn delete_search(&self, id: i64, user: &str, admin: bool) -> Result<bool, Error>;
}

/// Both, on one database: what `auth::Users` works through.
pub trait UserStore: Accounts + SavedSearches {}

impl<T: Accounts + SavedSearches> UserStore for T {}
