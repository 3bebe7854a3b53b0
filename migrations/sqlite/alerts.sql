-- Alerts, their audit trail and the notification outbox (<data>/alerts.db).
-- Version 1 (the layout from before versions existed): idempotent, so an unversioned database
-- from an older Picket takes it unchanged. Later changes are new steps in
-- src/store/sqlite/migrate.rs.
CREATE TABLE IF NOT EXISTS alerts (
    id            INTEGER PRIMARY KEY,
    rule_id       TEXT    NOT NULL,
    title         TEXT    NOT NULL,
    kind          TEXT    NOT NULL,        -- detection | correlation | absence
    group_key     TEXT    NOT NULL,        -- field=value, ...
    level         TEXT    NOT NULL,        -- informational | low | medium | high | critical
    state         TEXT    NOT NULL,        -- open | acknowledged | resolved
    first_seen    INTEGER NOT NULL,        -- microseconds
    last_seen     INTEGER NOT NULL,
    count         INTEGER NOT NULL,
    raised_count  INTEGER NOT NULL,        -- count when raised (escalation on growth)
    last_event_id INTEGER NOT NULL,        -- newest event that fed it (replays are ignored)
    tags          TEXT    NOT NULL,        -- JSON array
    escalated     INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_rule_group ON alerts(rule_id, group_key, last_seen);
CREATE INDEX IF NOT EXISTS alerts_state ON alerts(state, id);
CREATE TABLE IF NOT EXISTS alert_events (
    alert_id INTEGER NOT NULL,
    event_id INTEGER NOT NULL,             -- picket.id in the event store
    PRIMARY KEY (alert_id, event_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS alert_audit (
    id         INTEGER PRIMARY KEY,
    alert_id   INTEGER NOT NULL,
    at         INTEGER NOT NULL,
    actor      TEXT    NOT NULL,
    action     TEXT    NOT NULL,            -- raised | acknowledged | resolved | reopened | escalated
    from_state TEXT,
    to_state   TEXT,
    comment    TEXT
);
CREATE INDEX IF NOT EXISTS alert_audit_alert ON alert_audit(alert_id, id);
CREATE TABLE IF NOT EXISTS outbox (
    id         INTEGER PRIMARY KEY,
    channel    TEXT    NOT NULL,
    alert_id   INTEGER,
    notice     TEXT    NOT NULL,            -- raised | escalated | resolved | test
    payload    TEXT    NOT NULL,            -- the alert as JSON when queued
    attempts   INTEGER NOT NULL,
    next_at    INTEGER NOT NULL,            -- microseconds
    state      TEXT    NOT NULL,            -- pending | sent | dead
    last_error TEXT,
    created_at INTEGER NOT NULL,
    sent_at    INTEGER
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox(state, next_at);
CREATE TABLE IF NOT EXISTS rule_settings (
    rule_id    TEXT PRIMARY KEY,
    enabled    INTEGER NOT NULL,
    changed_by TEXT NOT NULL,
    changed_at INTEGER NOT NULL
) WITHOUT ROWID;
-- Events an alert keeps after retention removed the segment they were stored in (a copy,
-- bounded per alert by retention.evidence_per_alert), so the alert still shows its evidence.
CREATE TABLE IF NOT EXISTS alert_evidence (
    alert_id INTEGER NOT NULL,
    event_id INTEGER NOT NULL,             -- the id it had in the event store
    ts       INTEGER NOT NULL,             -- @timestamp, microseconds
    sender   TEXT    NOT NULL,             -- observer.ip
    fields   TEXT    NOT NULL,             -- the event as flat ECS JSON (message included)
    raw      BLOB    NOT NULL,             -- the bytes as received
    PRIMARY KEY (alert_id, event_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS alert_evidence_event ON alert_evidence(event_id);
