-- A compressed sealed segment (written by `src/store/sqlite/compact.rs` in place of the row
-- table and its B-tree indexes). Events live in blocks of consecutive ids, column by column, each
-- column of a block one zstd frame. What a search needs to find them stays uncompressed: the
-- full-text index (message tokens, plus `_<letter><hex>` tokens for the filterable fields, see
-- compact.rs) and each block's time range.
CREATE TABLE meta (key TEXT PRIMARY KEY, value ANY) WITHOUT ROWID;
CREATE TABLE blocks (
    first_id     INTEGER PRIMARY KEY,  -- the first event id (rowid within the segment) it holds
    last_id      INTEGER NOT NULL,
    rows         INTEGER NOT NULL,
    min_ts       INTEGER NOT NULL,
    max_ts       INTEGER NOT NULL,
    max_ingested INTEGER NOT NULL,
    data         BLOB    NOT NULL      -- per column: varint size, varint raw size, zstd frame
);
-- Counts per value of a few fields, made at compaction (events per dataset for the status).
CREATE TABLE summary (
    kind   TEXT    NOT NULL,
    value  TEXT    NOT NULL,
    events INTEGER NOT NULL,
    PRIMARY KEY (kind, value)
) WITHOUT ROWID;
CREATE VIRTUAL TABLE fts USING fts5(body, content='', detail=none, columnsize=0, tokenize="ascii tokenchars '._-'");
