-- setpoint store schema, version 4 (PostgreSQL dialect): the twin of migrations/0004_registry.sql,
-- the registry and API tokens; see the SQLite twin for why each table and index exists.
CREATE TABLE projects (
    name       TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    created_at DOUBLE PRECISION NOT NULL
);

CREATE TABLE registry_entities (
    kind        TEXT COLLATE "C" NOT NULL CHECK (kind IN ('task', 'workflow', 'launchplan')),
    project     TEXT COLLATE "C" NOT NULL,
    name        TEXT COLLATE "C" NOT NULL,
    version     TEXT COLLATE "C" NOT NULL,
    seq         BIGINT NOT NULL,
    digest      TEXT COLLATE "C" NOT NULL,
    spec_digest TEXT COLLATE "C" NOT NULL,
    code_digest TEXT COLLATE "C" NOT NULL,
    body        TEXT NOT NULL,
    created_at  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (kind, project, name, version)
);

CREATE INDEX registry_entities_by_seq ON registry_entities (kind, project, name, seq DESC);

CREATE TABLE api_tokens (
    token_hash TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    project    TEXT COLLATE "C" NOT NULL,
    role       TEXT COLLATE "C" NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
    created_at DOUBLE PRECISION NOT NULL
);
