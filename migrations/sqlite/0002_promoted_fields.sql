-- The ECS fields most parsers fill and most searches name, as columns of their own instead of
-- keys in the `fields` JSON: a row shrinks by the repeated key names, and these fields can be
-- filtered without parsing JSON. Picket writes a value here only when its type fits (whole
-- numbers for ports, text for the rest); anything else stays in `fields`.
ALTER TABLE events ADD COLUMN source_port      INTEGER;  -- source.port
ALTER TABLE events ADD COLUMN destination_port INTEGER;  -- destination.port
ALTER TABLE events ADD COLUMN net_transport    TEXT;     -- network.transport
ALTER TABLE events ADD COLUMN action           TEXT;     -- event.action
ALTER TABLE events ADD COLUMN outcome          TEXT;     -- event.outcome
ALTER TABLE events ADD COLUMN category         TEXT;     -- event.category
ALTER TABLE events ADD COLUMN event_type       TEXT;     -- event.type
ALTER TABLE events ADD COLUMN code             TEXT;     -- event.code
ALTER TABLE events ADD COLUMN user_name        TEXT;     -- user.name
ALTER TABLE events ADD COLUMN rule_id          TEXT;     -- rule.id
ALTER TABLE events ADD COLUMN rule_name        TEXT;     -- rule.name
ALTER TABLE events ADD COLUMN obs_vendor       TEXT;     -- observer.vendor
ALTER TABLE events ADD COLUMN obs_product      TEXT;     -- observer.product
