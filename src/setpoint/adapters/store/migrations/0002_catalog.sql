-- setpoint store schema, version 2: the memoization catalog, cache reservations, lineage.
--
-- Same conventions as 0001 (JSON as TEXT, PostgreSQL-compatible type names). Catalog rows are not
-- tied to executions by a foreign key: an entry outlives anything done to the run that produced it
-- (evicting an entry is the only way to remove it), and a reservation names its execution only so
-- the owner's controller can renew all of them in one statement.

-- cache key -> outputs + provenance. One entry per (project, key); a later put replaces it
-- (overwrite_cache, replacing an entry found corrupt).
CREATE TABLE catalog_entries (
    project          TEXT NOT NULL,
    key              TEXT NOT NULL,
    task             TEXT NOT NULL,
    components       TEXT NOT NULL,  -- JSON object: the key's parts, to explain a later miss
    outputs          TEXT NOT NULL,  -- JSON object: literal per output
    source_execution TEXT NOT NULL,
    source_node      TEXT NOT NULL,
    source_attempt   INTEGER NOT NULL,
    created_at       DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (project, key)
);

-- Listing a task's entries newest first; evicting by task.
CREATE INDEX catalog_entries_by_task ON catalog_entries (project, task, created_at DESC);
-- Evicting what one execution produced.
CREATE INDEX catalog_entries_by_source ON catalog_entries (source_execution);

-- Who computes a cache key right now (cache_serialize). owner is "<execution>/<node>";
-- execution_id is the part of owner before the first "/".
CREATE TABLE catalog_reservations (
    project      TEXT NOT NULL,
    key          TEXT NOT NULL,
    owner        TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    expires_at   DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (project, key)
);

-- A controller renews the reservations of the executions it holds, by execution id.
CREATE INDEX catalog_reservations_by_execution ON catalog_reservations (execution_id);

-- Which value (by content hash) each node consumed ("in") or produced ("out"). The primary key
-- makes a re-recorded row a no-op, and doubles as the "lineage of an execution" index (a separate
-- index on execution_id alone would only slow writes, as for attempts in 0001).
CREATE TABLE lineage (
    execution_id TEXT NOT NULL REFERENCES executions (id),
    node_id      TEXT NOT NULL,
    direction    TEXT NOT NULL CHECK (direction = 'in' OR direction = 'out'),
    name         TEXT NOT NULL,
    value_hash   TEXT NOT NULL,
    PRIMARY KEY (execution_id, node_id, direction, name)
);

-- "Who produced / who consumed this value?"
CREATE INDEX lineage_by_hash ON lineage (value_hash, direction);
