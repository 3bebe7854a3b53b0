-- poll.db: devices added in the web UI or CLI (secrets sealed) and each device's polled state.
CREATE TABLE IF NOT EXISTS devices (
    name TEXT PRIMARY KEY,
    definition TEXT NOT NULL,
    changed_by TEXT NOT NULL,
    changed_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS device_state (
    name TEXT PRIMARY KEY,
    state TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT OR IGNORE INTO meta (key, value) VALUES ('revision', 0);
