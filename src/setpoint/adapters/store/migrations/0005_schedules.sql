-- setpoint store schema, version 5: launch plan activation and the record of fired schedule ticks.
--
-- A launch plan name has at most one active version: the primary key says so, and activating
-- another version replaces the row. ``activated_at`` bounds the ticks that may fire (none from
-- before the activation). This is mutable state beside the immutable registered entities.
CREATE TABLE launchplan_activations (
    project      TEXT NOT NULL,
    name         TEXT NOT NULL,
    version      TEXT NOT NULL,
    activated_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (project, name)
);

-- Every nominal tick fired, with the execution it created (in the same transaction). The primary
-- key (project, launch plan, tick) is what makes a tick fire at most once, whichever scheduler
-- and whatever its clock says; it also serves "the newest tick of a launch plan" (MAX(tick)).
-- ``tick`` is whole seconds since the epoch (UTC), compared exactly.
CREATE TABLE schedule_ticks (
    project      TEXT NOT NULL,
    launchplan   TEXT NOT NULL,
    tick         BIGINT NOT NULL,
    version      TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    fired_at     DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (project, launchplan, tick)  -- unique: a nominal tick fires once
);
