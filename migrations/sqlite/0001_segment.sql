-- One segment of the event store: a SQLite file holding a slice of events in arrival order.
-- While a segment is hot (being appended to) it has no secondary index, so inserts cost one
-- B-tree append. When it is sealed, segment_indexes.sql builds every index in bulk.
CREATE TABLE events (
    id             INTEGER PRIMARY KEY,  -- arrival order within the segment
    ts             INTEGER NOT NULL,     -- @timestamp, microseconds since the epoch (UTC)
    ingested       INTEGER NOT NULL,     -- event.ingested, microseconds
    sender         TEXT    NOT NULL,     -- observer.ip: the UDP/TCP peer
    sender_port    INTEGER NOT NULL,
    listener       TEXT    NOT NULL,
    transport      TEXT    NOT NULL,     -- udp | tcp | file
    facility       INTEGER,
    severity       INTEGER,
    host           TEXT,                 -- host.name
    app            TEXT,                 -- process.name
    pid            TEXT,                 -- process.pid
    msgid          TEXT,                 -- log.syslog.msgid
    dataset        TEXT    NOT NULL,     -- event.dataset
    parser         TEXT    NOT NULL,     -- picket.parser
    source_ip      TEXT,
    destination_ip TEXT,
    msg_off        INTEGER,              -- message = raw[msg_off..] when set
    message        TEXT,                 -- otherwise the message itself
    fields         TEXT,                 -- JSON object of the other extracted fields
    flags          INTEGER NOT NULL,     -- 1 truncated, 2 invalid UTF-8, 4 timestamp clamped
    raw            BLOB    NOT NULL      -- the bytes exactly as received
);
CREATE TABLE meta (key TEXT PRIMARY KEY, value ANY) WITHOUT ROWID;
