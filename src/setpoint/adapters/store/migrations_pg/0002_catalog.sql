-- setpoint store schema, version 2 (PostgreSQL dialect): the twin of migrations/0002_catalog.sql,
-- the memoization catalog, cache reservations and lineage. Same conventions as 0001 here (byte
-- collation for labels, JSON as TEXT); see the SQLite twin for why each table and index exists.

CREATE TABLE catalog_entries (
    project          TEXT COLLATE "C" NOT NULL,
    key              TEXT COLLATE "C" NOT NULL,
    task             TEXT COLLATE "C" NOT NULL,
    components       TEXT NOT NULL,
    outputs          TEXT NOT NULL,
    source_execution TEXT COLLATE "C" NOT NULL,
    source_node      TEXT COLLATE "C" NOT NULL,
    source_attempt   INTEGER NOT NULL,
    created_at       DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (project, key)
);

CREATE INDEX catalog_entries_by_task ON catalog_entries (project, task, created_at DESC);
CREATE INDEX catalog_entries_by_source ON catalog_entries (source_execution);

CREATE TABLE catalog_reservations (
    project      TEXT COLLATE "C" NOT NULL,
    key          TEXT COLLATE "C" NOT NULL,
    owner        TEXT COLLATE "C" NOT NULL,
    execution_id TEXT COLLATE "C" NOT NULL,
    expires_at   DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (project, key)
);

CREATE INDEX catalog_reservations_by_execution ON catalog_reservations (execution_id);

CREATE TABLE lineage (
    execution_id TEXT COLLATE "C" NOT NULL REFERENCES executions (id),
    node_id      TEXT COLLATE "C" NOT NULL,
    direction    TEXT COLLATE "C" NOT NULL CHECK (direction IN ('in', 'out')),
    name         TEXT COLLATE "C" NOT NULL,
    value_hash   TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (execution_id, node_id, direction, name)
);

CREATE INDEX lineage_by_hash ON lineage (value_hash, direction);
