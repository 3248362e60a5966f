-- setpoint store schema, version 4: the registry (projects, registered entities) and API tokens.
--
-- Registered tasks, workflows and launch plans are immutable: one row per (kind, project, name,
-- version), never updated. ``digest`` is a hash of everything that makes the entity what it is, so
-- registering the same content again is recognised as a no-op and different content under a taken
-- version as a conflict. ``seq`` orders registrations (the latest version is the highest seq); it is
-- computed at insert, not an identity column, so both dialects share one statement.
CREATE TABLE projects (
    name       TEXT NOT NULL PRIMARY KEY,
    created_at DOUBLE PRECISION NOT NULL
);

CREATE TABLE registry_entities (
    kind        TEXT NOT NULL CHECK (kind = 'task' OR kind = 'workflow' OR kind = 'launchplan'),
    project     TEXT NOT NULL,
    name        TEXT NOT NULL,
    version     TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    digest      TEXT NOT NULL,
    spec_digest TEXT NOT NULL,  -- workflows and launch plans: the pinned WorkflowSpec ('' for tasks)
    code_digest TEXT NOT NULL,  -- the code bundle captured at registration
    body        TEXT NOT NULL,  -- JSON object: what the kind needs (task spec, launch plan inputs, ...)
    created_at  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (kind, project, name, version)
);

-- "The latest version of X" and "the versions of X, newest first".
CREATE INDEX registry_entities_by_seq ON registry_entities (kind, project, name, seq DESC);

-- Bearer tokens of the API server, by SHA-256 of the secret (the secret itself is never stored).
CREATE TABLE api_tokens (
    token_hash TEXT NOT NULL PRIMARY KEY,
    project    TEXT NOT NULL,
    role       TEXT NOT NULL CHECK (role = 'viewer' OR role = 'editor' OR role = 'admin'),
    created_at DOUBLE PRECISION NOT NULL
);
