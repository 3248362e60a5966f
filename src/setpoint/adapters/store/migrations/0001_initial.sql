-- setpoint store schema, version 1 (SQLite dialect).
--
-- One row per execution, per started node and per attempt, so a round touches only what changed
-- and a 100k-node workflow has no object-size ceiling. JSON values are TEXT. Phases are their enum
-- string values; tests/integration/test_sqlite_store.py checks these CHECK lists against the
-- enums. The CHECKs are OR chains, not "IN (...)": SQLite evaluates a constant IN list in a CHECK
-- by building a temporary index for every row, which made inserting a node row 2.5x slower.
-- Every mutable row carries a version for compare-and-swap. Types are spelled so the same file
-- reads almost unchanged in PostgreSQL (DOUBLE PRECISION, not REAL); only events.seq is
-- SQLite-specific.

-- Content-addressed compiled specs (workflow + task specs), immutable once written.
CREATE TABLE specs (
    digest TEXT PRIMARY KEY,
    body   TEXT NOT NULL
);

CREATE TABLE executions (
    id               TEXT PRIMARY KEY,
    project          TEXT NOT NULL,
    workflow         TEXT NOT NULL,
    spec_digest      TEXT NOT NULL,
    code_digest      TEXT NOT NULL,
    inputs           TEXT NOT NULL,  -- JSON object: literal per input
    phase            TEXT NOT NULL
                     CHECK (phase = 'QUEUED' OR phase = 'RUNNING' OR phase = 'SUCCEEDED'
                            OR phase = 'FAILED' OR phase = 'ABORTED'),
    created_at       DOUBLE PRECISION NOT NULL,
    updated_at       DOUBLE PRECISION NOT NULL,
    started_at       DOUBLE PRECISION,
    finished_at      DOUBLE PRECISION,
    outputs          TEXT,           -- JSON object or NULL
    error            TEXT,           -- JSON ErrorInfo or NULL
    abort_reason     TEXT,
    source_id        TEXT,
    mode             TEXT NOT NULL,
    config           TEXT NOT NULL,  -- JSON ExecutionConfig
    version          INTEGER NOT NULL CHECK (version >= 1),
    lease_owner      TEXT,
    lease_expires_at DOUBLE PRECISION
);

-- Resync and lease renewal look up unfinished executions by phase.
CREATE INDEX executions_by_phase ON executions (phase);
-- Listing is newest first with an (created_at, id) cursor.
CREATE INDEX executions_by_created ON executions (created_at, id);

CREATE TABLE node_executions (
    execution_id    TEXT NOT NULL REFERENCES executions (id),
    node_id         TEXT NOT NULL,
    phase           TEXT NOT NULL
                    CHECK (phase = 'PENDING' OR phase = 'QUEUED' OR phase = 'RUNNING'
                           OR phase = 'RETRYING' OR phase = 'SUCCEEDED' OR phase = 'FAILED'
                           OR phase = 'SKIPPED' OR phase = 'ABORTED' OR phase = 'RECOVERED'),
    attempt         INTEGER NOT NULL,
    user_failures   INTEGER NOT NULL,
    system_failures INTEGER NOT NULL,
    inputs          TEXT,  -- JSON or NULL
    outputs         TEXT,  -- JSON or NULL
    error           TEXT,  -- JSON ErrorInfo or NULL
    started_at      DOUBLE PRECISION,
    finished_at     DOUBLE PRECISION,
    retry_at        DOUBLE PRECISION,
    cache_status    TEXT,
    detail          TEXT,  -- JSON or NULL
    version         INTEGER NOT NULL CHECK (version >= 1),
    PRIMARY KEY (execution_id, node_id)
);

-- The primary key (execution_id, node_id, number) is also the "attempts by execution" index
-- (and by execution + node, in number order): a separate index would only slow writes.
CREATE TABLE attempts (
    execution_id TEXT NOT NULL REFERENCES executions (id),
    node_id      TEXT NOT NULL,
    number       INTEGER NOT NULL,
    phase        TEXT NOT NULL
                 CHECK (phase = 'LAUNCHING' OR phase = 'RUNNING' OR phase = 'ABORTING'
                        OR phase = 'SUCCEEDED' OR phase = 'FAILED' OR phase = 'ABORTED'),
    executor     TEXT NOT NULL,
    created_at   DOUBLE PRECISION NOT NULL,
    started_at   DOUBLE PRECISION,
    finished_at  DOUBLE PRECISION,
    error        TEXT,  -- JSON ErrorInfo or NULL
    abort_reason TEXT,
    version      INTEGER NOT NULL CHECK (version >= 1),
    PRIMARY KEY (execution_id, node_id, number)
);

-- Append-only history. AUTOINCREMENT: a seq is never reused, so "events after seq N" is a stable
-- cursor for followers (PostgreSQL: BIGINT GENERATED ALWAYS AS IDENTITY).
CREATE TABLE events (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    execution_id TEXT NOT NULL REFERENCES executions (id),
    ts           DOUBLE PRECISION NOT NULL,
    kind         TEXT NOT NULL,
    phase        TEXT NOT NULL,
    node_id      TEXT,
    attempt      INTEGER,
    message      TEXT NOT NULL
);

CREATE INDEX events_by_execution ON events (execution_id, seq);
