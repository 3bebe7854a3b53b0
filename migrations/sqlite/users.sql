-- Users, sessions, API tokens, TOTP, saved searches and the security log (<data>/users.db).
-- Version 1 (the layout from before versions existed): idempotent, so an unversioned database
-- from an older Picket takes it unchanged.
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
);
