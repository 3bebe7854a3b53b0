-- Built in bulk when a segment is sealed (sorting once is far cheaper than keeping these
-- B-trees up to date row by row while ingesting).
CREATE INDEX IF NOT EXISTS events_ts ON events(ts);
CREATE INDEX IF NOT EXISTS events_host ON events(host, ts);
CREATE INDEX IF NOT EXISTS events_sender ON events(sender, ts);
CREATE INDEX IF NOT EXISTS events_source_ip ON events(source_ip, ts);
CREATE INDEX IF NOT EXISTS events_destination_ip ON events(destination_ip, ts);
-- Few distinct values, but "every ASA event" and the SNMP page filter on it.
CREATE INDEX IF NOT EXISTS events_dataset ON events(dataset, ts);
-- Full text: contentless (the text is in events), no positions (detail=none), no per-row
-- token counts (columnsize=0), fed with Picket's own tokens (see src/query/tokens.rs).
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(body, content='', detail=none, columnsize=0, tokenize="ascii tokenchars '._-'");
