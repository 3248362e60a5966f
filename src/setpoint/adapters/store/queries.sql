-- The statements the SQL store runs, one named block each (procrastinate-style), except those
-- that write a whole record (the INSERT of an execution, node, attempt, event, catalog entry or
-- lineage row, and the compare-and-swap UPDATE of an execution, node or attempt): a record's
-- columns are its fields, so those are generated from the records in sql/records.py.
--
-- Blocks start with "-- name: <name>" and run to the next one. Parameters are :named (SQLite;
-- the PostgreSQL adapter rewrites them to %(named)s, see postgres.to_psycopg). Comment lines inside
-- a block are dropped for PostgreSQL; keep comments on lines of their own. Variable-length IN lists are avoided:
-- unfinished phases and the phase filter take fixed, padded parameter slots, so every block is a
-- single cacheable prepared statement. "CAST(:x AS TEXT) IS NULL" (not ":x IS NULL") lets
-- PostgreSQL type the parameter.

-- name: put_spec
INSERT INTO specs (digest, body) VALUES (:digest, :body)
ON CONFLICT (digest) DO NOTHING;

-- name: get_spec
SELECT body FROM specs WHERE digest = :digest;

-- name: get_execution
SELECT * FROM executions WHERE id = :id;

-- name: get_execution_cursor
SELECT created_at, id FROM executions WHERE id = :id;

-- name: list_executions
-- Newest first; the cursor is the (created_at, id) of the last execution of the previous page
-- (+infinity without one). Written as a row comparison so the index starts the scan at the
-- cursor: a deep page costs what the first does. The search is a LIKE pattern, lowercased.
SELECT * FROM executions
WHERE (:any_phase OR phase IN (:phase_0, :phase_1, :phase_2, :phase_3, :phase_4))
  AND (CAST(:workflow AS TEXT) IS NULL OR workflow = :workflow)
  AND (CAST(:search AS TEXT) IS NULL OR lower(id) LIKE :search ESCAPE '!' OR lower(workflow) LIKE :search ESCAPE '!')
  AND (created_at, id) < (:cursor_created_at, :cursor_id)
ORDER BY created_at DESC, id DESC
LIMIT :limit;

-- name: list_project_executions
-- list_executions within one project, over the (project, created_at, id) index.
SELECT * FROM executions
WHERE project = :project
  AND (:any_phase OR phase IN (:phase_0, :phase_1, :phase_2, :phase_3, :phase_4))
  AND (CAST(:workflow AS TEXT) IS NULL OR workflow = :workflow)
  AND (CAST(:search AS TEXT) IS NULL OR lower(id) LIKE :search ESCAPE '!' OR lower(workflow) LIKE :search ESCAPE '!')
  AND (created_at, id) < (:cursor_created_at, :cursor_id)
ORDER BY created_at DESC, id DESC
LIMIT :limit;

-- name: unfinished_executions
SELECT id FROM executions
WHERE phase IN (:unfinished_0, :unfinished_1)
ORDER BY created_at, id;

-- name: request_abort
-- First reason wins; a terminal execution is left alone.
UPDATE executions
SET abort_reason = :reason, updated_at = :now, version = version + 1
WHERE id = :id AND abort_reason IS NULL AND phase IN (:unfinished_0, :unfinished_1)
RETURNING *;

-- name: acquire_lease
-- Take the lease if it is free, ours, or expired. Lease changes do not bump the version: the
-- holder's own commit must not conflict with its renewals; commit_round checks the owner instead.
UPDATE executions
SET lease_owner = :owner, lease_expires_at = :expires_at
WHERE id = :id
  AND phase IN (:unfinished_0, :unfinished_1)
  AND (lease_owner IS NULL OR lease_owner = :owner OR lease_expires_at IS NULL OR lease_expires_at < :now)
RETURNING *;

-- name: renew_leases
UPDATE executions
SET lease_expires_at = :expires_at
WHERE phase IN (:unfinished_0, :unfinished_1)
  AND lease_owner = :owner AND lease_expires_at >= :now
RETURNING id;

-- name: release_lease
UPDATE executions
SET lease_owner = NULL, lease_expires_at = NULL
WHERE id = :id AND lease_owner = :owner;

-- name: get_execution_version
SELECT version, lease_owner FROM executions WHERE id = :id;

-- name: get_node_version
SELECT version FROM node_executions WHERE execution_id = :execution_id AND node_id = :node_id;

-- name: load_nodes
SELECT * FROM node_executions WHERE execution_id = :execution_id ORDER BY node_id;

-- name: get_attempt_version
SELECT version FROM attempts
WHERE execution_id = :execution_id AND node_id = :node_id AND number = :number;

-- name: load_attempts
SELECT * FROM attempts
WHERE execution_id = :execution_id
  AND (CAST(:node_id AS TEXT) IS NULL OR node_id = :node_id)
ORDER BY node_id, number;

-- name: events
SELECT * FROM events
WHERE execution_id = :execution_id AND seq > :after_seq
ORDER BY seq
LIMIT :limit;

-- Catalog, reservations and lineage (migration 0002). A list parameter is written ":name*": the
-- SQLite store expands it to a fixed number of slots (:name_0, :name_1, ...), binds one chunk of
-- values per execution and pads the rest with NULL (which matches nothing), so each block stays one
-- prepared statement and under SQLite's parameter limit; PostgreSQL binds "IN (:name*)" as one
-- array, "= ANY(%(name)s)". Bound parameters, not json_each: SQLite's
-- JSON functions cut a string at an embedded NUL, so "a\0b" would have looked up "a".

-- name: catalog_get_many
SELECT * FROM catalog_entries
WHERE project = :project AND key IN (:keys*);

-- name: catalog_list
-- Newest first; project and key break ties so every backend returns the same order. With a project
-- the store runs one of the two variants below instead: an "x IS NULL OR" filter hides the index.
SELECT * FROM catalog_entries
WHERE (CAST(:task AS TEXT) IS NULL OR task = :task)
ORDER BY created_at DESC, project, key
LIMIT :limit;

-- name: catalog_list_project
SELECT * FROM catalog_entries
WHERE project = :project
ORDER BY created_at DESC, project, key
LIMIT :limit;

-- name: catalog_list_task
SELECT * FROM catalog_entries
WHERE project = :project AND task = :task
ORDER BY created_at DESC, project, key
LIMIT :limit;

-- name: catalog_evict_keys
DELETE FROM catalog_entries
WHERE project = :project AND key IN (:keys*)
RETURNING key;

-- name: catalog_evict_task
DELETE FROM catalog_entries WHERE project = :project AND task = :task RETURNING key;

-- name: catalog_evict_source
DELETE FROM catalog_entries
WHERE project = :project AND source_execution = :source_execution
RETURNING key;

-- name: drop_reservations
DELETE FROM catalog_reservations
WHERE project = :project AND key IN (:keys*);

-- name: reserve
-- Take the reservation if it is free, ours, or expired (expires_at < now, as for leases); no row
-- comes back when someone else holds it.
INSERT INTO catalog_reservations (project, key, owner, execution_id, expires_at)
VALUES (:project, :key, :owner, :execution_id, :expires_at)
ON CONFLICT (project, key) DO UPDATE
SET owner = excluded.owner, execution_id = excluded.execution_id, expires_at = excluded.expires_at
WHERE catalog_reservations.owner = excluded.owner OR catalog_reservations.expires_at < :now
RETURNING owner;

-- name: reservation_owner
SELECT owner FROM catalog_reservations WHERE project = :project AND key = :key;

-- name: release_reservation
DELETE FROM catalog_reservations WHERE project = :project AND key = :key AND owner = :owner;

-- name: renew_reservations
UPDATE catalog_reservations
SET expires_at = :expires_at
WHERE execution_id IN (:execution_ids*) AND expires_at >= :now;

-- name: lineage_by_hash
-- In the order the executions were created, then by node and name.
SELECT lineage.* FROM lineage
JOIN executions ON executions.id = lineage.execution_id
WHERE lineage.value_hash = :value_hash AND lineage.direction = :direction
ORDER BY executions.created_at, lineage.execution_id, lineage.node_id, lineage.name
LIMIT :limit;

-- name: lineage_of
SELECT * FROM lineage WHERE execution_id = :execution_id ORDER BY node_id, direction, name;

-- name: insert_signal
-- The first value sent for a name stands; a second send changes nothing (rowcount 0).
INSERT INTO signals (execution_id, name, value, created_at)
VALUES (:execution_id, :name, :value, :now)
ON CONFLICT (execution_id, name) DO NOTHING;

-- name: touch_execution
-- A recorded signal is a change of declared state: bump the version so controllers reload.
UPDATE executions SET version = version + 1, updated_at = :now WHERE id = :id;

-- name: load_signals
SELECT name, value FROM signals WHERE execution_id = :execution_id ORDER BY name;

-- name: insert_project
-- Creating a project that exists changes nothing (rowcount 0).
INSERT INTO projects (name, created_at) VALUES (:name, :now)
ON CONFLICT (name) DO NOTHING;

-- name: list_projects
SELECT name FROM projects ORDER BY name;

-- name: insert_entity
-- Registered entities are immutable: a taken (kind, project, name, version) changes nothing
-- (rowcount 0) and the caller compares digests. "WHERE true" lets SQLite parse the upsert clause
-- after a SELECT.
INSERT INTO registry_entities
    (kind, project, name, version, seq, digest, spec_digest, code_digest, body, created_at)
SELECT :kind, :project, :name, :version, COALESCE(MAX(seq), 0) + 1, :digest, :spec_digest,
       :code_digest, :body, :created_at
FROM registry_entities WHERE true
ON CONFLICT (kind, project, name, version) DO NOTHING;

-- name: get_entity
SELECT * FROM registry_entities
WHERE kind = :kind AND project = :project AND name = :name AND version = :version;

-- name: latest_entity
SELECT * FROM registry_entities
WHERE kind = :kind AND project = :project AND name = :name
ORDER BY seq DESC LIMIT 1;

-- name: list_entity_versions
-- Newest first.
SELECT * FROM registry_entities
WHERE kind = :kind AND project = :project AND name = :name
ORDER BY seq DESC LIMIT :limit;

-- name: list_entities
-- The latest version of each name of a kind in a project, by name.
SELECT * FROM registry_entities AS e
WHERE e.kind = :kind AND e.project = :project
  AND e.seq = (SELECT MAX(seq) FROM registry_entities AS l
               WHERE l.kind = e.kind AND l.project = e.project AND l.name = e.name)
ORDER BY e.name LIMIT :limit;

-- name: insert_token
INSERT INTO api_tokens (token_hash, project, role, created_at) VALUES (:token_hash, :project, :role, :now);

-- name: get_token
SELECT * FROM api_tokens WHERE token_hash = :token_hash;

-- name: upsert_activation
-- At most one active version per launch plan (the primary key). Activating the active version
-- again keeps its activation time (rowcount 0); another version replaces it from now on.
INSERT INTO launchplan_activations (project, name, version, activated_at)
VALUES (:project, :name, :version, :now)
ON CONFLICT (project, name) DO UPDATE
SET version = excluded.version, activated_at = excluded.activated_at
WHERE launchplan_activations.version <> excluded.version;

-- name: delete_activation
DELETE FROM launchplan_activations WHERE project = :project AND name = :name;

-- name: get_activation
SELECT a.project, a.name, a.version, a.activated_at,
       (SELECT MAX(t.tick) FROM schedule_ticks AS t
        WHERE t.project = a.project AND t.launchplan = a.name) AS last_tick
FROM launchplan_activations AS a
WHERE a.project = :project AND a.name = :name;

-- name: list_activations
-- What the scheduler reads every pass: each active launch plan with its newest fired tick.
SELECT a.project, a.name, a.version, a.activated_at,
       (SELECT MAX(t.tick) FROM schedule_ticks AS t
        WHERE t.project = a.project AND t.launchplan = a.name) AS last_tick
FROM launchplan_activations AS a
WHERE CAST(:project AS TEXT) IS NULL OR a.project = :project
ORDER BY a.project, a.name;

-- name: insert_tick
-- A nominal tick fires once: a second insert of the same (project, launch plan, tick) changes
-- nothing (rowcount 0), and then neither is its execution created. Nor is a tick of a version that
-- is no longer the active one (deactivated or replaced since the scheduler read it).
INSERT INTO schedule_ticks (project, launchplan, tick, version, execution_id, fired_at)
SELECT :project, :launchplan, :tick, :version, :execution_id, :fired_at
WHERE EXISTS (SELECT 1 FROM launchplan_activations AS a
              WHERE a.project = :project AND a.name = :launchplan AND a.version = :version)
ON CONFLICT (project, launchplan, tick) DO NOTHING;

-- name: list_ticks
-- Newest first.
SELECT * FROM schedule_ticks
WHERE project = :project AND launchplan = :launchplan
ORDER BY tick DESC LIMIT :limit;
