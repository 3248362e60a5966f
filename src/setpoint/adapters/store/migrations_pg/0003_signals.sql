-- setpoint store schema, version 3 (PostgreSQL dialect): the twin of migrations/0003_signals.sql.
-- Signals for gates (approve, wait_for_input): one value per (execution, name); the first stands.
-- value is JSON text (a literal, which may itself be JSON null).
CREATE TABLE signals (
    execution_id TEXT COLLATE "C" NOT NULL REFERENCES executions (id),
    name         TEXT COLLATE "C" NOT NULL,
    value        TEXT NOT NULL,
    created_at   DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (execution_id, name)
);
