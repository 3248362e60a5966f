-- setpoint store schema, version 1 (PostgreSQL dialect): the twin of migrations/0001_initial.sql.
--
-- Same tables, columns, keys and indexes as the SQLite schema (see that file for why each exists);
-- a change to one file needs the same change in its twin, with the same number. The differences are
-- PostgreSQL's own:
--
-- * Identifier and label columns are COLLATE "C": ORDER BY and the list cursor compare bytes, as
--   SQLite and the in-memory store do, whatever locale the database was created with.
-- * JSON stays TEXT, not jsonb: jsonb reorders keys and drops duplicates, and a record must read
--   back exactly as written, the same from every backend.
-- * Phase CHECKs are IN lists (SQLite needed OR chains for speed; PostgreSQL does not).
-- * events.seq is an identity column. Events are only inserted by a transaction that holds the
--   execution's row lock (create, abort, commit), so per execution seq order is commit order.
-- * A trigger NOTIFYs channel "setpoint" with "<execution id> <version>" whenever an execution is
--   created or its version moves (a commit, an abort request); lease changes do not bump the
--   version and so stay silent. The version lets a store skip the echo of its own commits.
--   Notifications are hints that wake controllers early, nothing more.

CREATE TABLE specs (
    digest TEXT COLLATE "C" PRIMARY KEY,
    body   TEXT NOT NULL
);

CREATE TABLE executions (
    id               TEXT COLLATE "C" PRIMARY KEY,
    project          TEXT COLLATE "C" NOT NULL,
    workflow         TEXT COLLATE "C" NOT NULL,
    spec_digest      TEXT COLLATE "C" NOT NULL,
    code_digest      TEXT COLLATE "C" NOT NULL,
    inputs           TEXT NOT NULL,
    phase            TEXT COLLATE "C" NOT NULL
                     CHECK (phase IN ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'ABORTED')),
    created_at       DOUBLE PRECISION NOT NULL,
    updated_at       DOUBLE PRECISION NOT NULL,
    started_at       DOUBLE PRECISION,
    finished_at      DOUBLE PRECISION,
    outputs          TEXT,
    error            TEXT,
    abort_reason     TEXT,
    source_id        TEXT COLLATE "C",
    mode             TEXT COLLATE "C" NOT NULL,
    config           TEXT NOT NULL,
    version          INTEGER NOT NULL CHECK (version >= 1),
    lease_owner      TEXT COLLATE "C",
    lease_expires_at DOUBLE PRECISION
);

CREATE INDEX executions_by_phase ON executions (phase);
CREATE INDEX executions_by_created ON executions (created_at, id);

CREATE TABLE node_executions (
    execution_id    TEXT COLLATE "C" NOT NULL REFERENCES executions (id),
    node_id         TEXT COLLATE "C" NOT NULL,
    phase           TEXT COLLATE "C" NOT NULL
                    CHECK (phase IN ('PENDING', 'QUEUED', 'RUNNING', 'RETRYING', 'SUCCEEDED', 'FAILED',
                                     'SKIPPED', 'ABORTED', 'RECOVERED')),
    attempt         INTEGER NOT NULL,
    user_failures   INTEGER NOT NULL,
    system_failures INTEGER NOT NULL,
    inputs          TEXT,
    outputs         TEXT,
    error           TEXT,
    started_at      DOUBLE PRECISION,
    finished_at     DOUBLE PRECISION,
    retry_at        DOUBLE PRECISION,
    cache_status    TEXT COLLATE "C",
    detail          TEXT,
    version         INTEGER NOT NULL CHECK (version >= 1),
    PRIMARY KEY (execution_id, node_id)
);

CREATE TABLE attempts (
    execution_id TEXT COLLATE "C" NOT NULL REFERENCES executions (id),
    node_id      TEXT COLLATE "C" NOT NULL,
    number       INTEGER NOT NULL,
    phase        TEXT COLLATE "C" NOT NULL
                 CHECK (phase IN ('LAUNCHING', 'RUNNING', 'ABORTING', 'SUCCEEDED', 'FAILED', 'ABORTED')),
    executor     TEXT COLLATE "C" NOT NULL,
    created_at   DOUBLE PRECISION NOT NULL,
    started_at   DOUBLE PRECISION,
    finished_at  DOUBLE PRECISION,
    error        TEXT,
    abort_reason TEXT,
    version      INTEGER NOT NULL CHECK (version >= 1),
    PRIMARY KEY (execution_id, node_id, number)
);

CREATE TABLE events (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    execution_id TEXT COLLATE "C" NOT NULL REFERENCES executions (id),
    ts           DOUBLE PRECISION NOT NULL,
    kind         TEXT COLLATE "C" NOT NULL,
    phase        TEXT COLLATE "C" NOT NULL,
    node_id      TEXT COLLATE "C",
    attempt      INTEGER,
    message      TEXT NOT NULL
);

CREATE INDEX events_by_execution ON events (execution_id, seq);

CREATE FUNCTION setpoint_notify_execution() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('setpoint', NEW.id || ' ' || NEW.version);
    RETURN NULL;
END;
$$;

CREATE TRIGGER executions_notify_insert AFTER INSERT ON executions
    FOR EACH ROW EXECUTE FUNCTION setpoint_notify_execution();

CREATE TRIGGER executions_notify_update AFTER UPDATE ON executions
    FOR EACH ROW WHEN (OLD.version IS DISTINCT FROM NEW.version)
    EXECUTE FUNCTION setpoint_notify_execution();
