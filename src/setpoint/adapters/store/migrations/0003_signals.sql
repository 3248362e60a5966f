-- Signals for gates (approve, wait_for_input): one value per (execution, name); the first stands.
CREATE TABLE signals (
    execution_id TEXT NOT NULL REFERENCES executions (id),
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (execution_id, name)
);
