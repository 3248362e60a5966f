-- setpoint store schema, version 5 (PostgreSQL dialect): the twin of migrations/0005_schedules.sql,
-- launch plan activation and the record of fired schedule ticks; see the SQLite twin for why.
CREATE TABLE launchplan_activations (
    project      TEXT COLLATE "C" NOT NULL,
    name         TEXT COLLATE "C" NOT NULL,
    version      TEXT COLLATE "C" NOT NULL,
    activated_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (project, name)
);

CREATE TABLE schedule_ticks (
    project      TEXT COLLATE "C" NOT NULL,
    launchplan   TEXT COLLATE "C" NOT NULL,
    tick         BIGINT NOT NULL,
    version      TEXT COLLATE "C" NOT NULL,
    execution_id TEXT COLLATE "C" NOT NULL,
    fired_at     DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (project, launchplan, tick)  -- unique: a nominal tick fires once
);
