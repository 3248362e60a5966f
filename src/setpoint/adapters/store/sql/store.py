"""The `Store` port written once in SQL, for every SQL backend.

SQLite and PostgreSQL keep the same tables and run the same named statements (``queries.sql``, and
those that write whole records, generated from the records' fields by `records`); they differ in
how a statement reaches the database (connections, transactions, placeholders, retries, driver
errors), which a `Connector` hides. So every operation of the port is written here,
once: its argument checks, the statements it runs and in what transaction, and how rows become
records (through the shared `codec`, the same rows the in-memory fake keeps). A backend is a
subclass that builds its connector and adds what only it has (`PostgresStore.watch`).

Every mutation is a compare-and-swap on a row version; a transaction that finds a stale version
raises and is rolled back whole, and the conflict is named from a read made after the rollback.

This module is a little over the usual size: it is the one implementation of a ~45-method port,
and splitting it by role would scatter the shared transaction helpers for no reader's benefit.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from setpoint.adapters.store import codec, registry_rows
from setpoint.adapters.store.sql.connector import Connector, Session
from setpoint.adapters.store.sql.queries import UNFINISHED, list_params
from setpoint.core.model import AttemptRecord, CatalogEntry, Event, ExecutionRecord, LineageRow, NodeRecord
from setpoint.errors import ConflictError, StoreError
from setpoint.ports import Activation, ExecutionFilter, RegisteredEntity, RoundWrite, TickRecord, TokenRecord

if TYPE_CHECKING:
    from setpoint.ports import Store


class RowsConflict(Exception):
    """Internal: a batch wrote fewer rows than asked; diagnosed after the rollback."""

    def __init__(self, kind: str, rows: list[codec.Row]) -> None:
        super().__init__(kind)
        self.kind = kind
        self.rows = rows


class SqlStore:
    """A `Store` over a `Connector`. Safe to share between threads if the connector is."""

    def __init__(self, connector: Connector) -> None:
        self._db = connector

    def close(self) -> None:
        self._db.close()

    # -- hooks for backends -----------------------------------------------------------------------

    def _round_committing(self, execution_id: str, version: int) -> None:
        """Called inside `commit_round`'s transaction, before COMMIT, with the version it writes."""

    def _round_failed(self, execution_id: str, version: int) -> None:
        """Called when `commit_round` raises, with the version it would have written."""

    # -- specs ------------------------------------------------------------------------------------

    def put_spec(self, digest: str, body: str) -> None:
        params = {"digest": digest, "body": body}

        def write(s: Session) -> None:
            if s.execute("put_spec", params) == 0:
                stored = s.fetch_one("get_spec", params)
                if stored is not None and stored["body"] != body:
                    raise codec.spec_body_differs(digest)

        self._db.write(f"store spec {digest!r}", write)

    def get_spec(self, digest: str) -> str:
        row = self._one(f"read spec {digest!r}", "get_spec", {"digest": digest})
        if row is None:
            raise codec.spec_not_found(digest)
        return str(row["body"])

    # -- executions -------------------------------------------------------------------------------

    def create_execution(
        self, record: ExecutionRecord, events: Sequence[Event] = (), nodes: Sequence[NodeRecord] = ()
    ) -> ExecutionRecord:
        codec.check_events(record.id, events)
        codec.check_nodes(record.id, nodes)
        row = codec.execution_to_row(record)
        event_rows = [codec.event_to_row(ev) for ev in events]
        node_rows = [codec.node_to_row(n) for n in nodes]  # stored at version 1, like the execution

        def write(s: Session) -> None:
            if s.execute("insert_execution", row) == 0:
                raise codec.execution_exists(record.id)
            if node_rows:
                s.execute_many("insert_node", node_rows)
            if event_rows:
                s.execute_many("insert_event", event_rows)

        self._db.write(f"create execution {record.id!r}", write)
        return codec.execution_from_row({**row, "version": 1})

    def get_execution(self, execution_id: str) -> ExecutionRecord:
        row = self._one(f"read execution {execution_id!r}", "get_execution", {"id": execution_id})
        if row is None:
            raise codec.execution_not_found(execution_id)
        return codec.execution_from_row(row)

    def list_executions(self, flt: ExecutionFilter = ExecutionFilter()) -> list[ExecutionRecord]:  # noqa: B008 (frozen)
        codec.check_filter(flt)

        def read(s: Session) -> list[codec.RowLike]:
            params = list_params(flt)
            if flt.before is not None:
                cursor = s.fetch_one("get_execution_cursor", {"id": flt.before})
                if cursor is None:
                    raise codec.execution_not_found(flt.before)
                params.update(has_cursor=True, cursor_created_at=cursor["created_at"], cursor_id=cursor["id"])
            # Within one project, a statement of its own: its index serves the filter and the order.
            return s.fetch_all("list_executions" if flt.project is None else "list_project_executions", params)

        return [codec.execution_from_row(row) for row in self._db.read("list executions", read)]

    def unfinished_executions(self) -> list[str]:
        rows = self._all("list unfinished executions", "unfinished_executions", UNFINISHED)
        return [str(row["id"]) for row in rows]

    def request_abort(self, execution_id: str, reason: str, now: float) -> ExecutionRecord:
        params = {"id": execution_id, "reason": reason, "now": now, **UNFINISHED}
        event = codec.event_to_row(codec.abort_event(execution_id, reason, now))

        def write(s: Session) -> codec.RowLike:
            row = s.fetch_one("request_abort", params)
            if row is not None:
                s.execute("insert_event", event)
                return row
            row = s.fetch_one("get_execution", params)  # already requested, terminal, or missing
            if row is None:
                raise codec.execution_not_found(execution_id)
            return row

        return codec.execution_from_row(self._db.write(f"request abort of execution {execution_id!r}", write))

    # -- leases -----------------------------------------------------------------------------------

    # Lease and reservation statements also get ``ttl``: a backend that takes times from the
    # database's clock computes the expiry there (see the PostgreSQL store's clock="db").

    def acquire_lease(self, execution_id: str, owner: str, ttl: float, now: float) -> ExecutionRecord | None:
        codec.check_lease_args(owner, ttl)
        params = {"id": execution_id, "owner": owner, "expires_at": now + ttl, "now": now, "ttl": ttl, **UNFINISHED}

        def write(s: Session) -> codec.RowLike | None:
            row = s.fetch_one("acquire_lease", params)
            if row is None and s.fetch_one("get_execution_version", params) is None:
                raise codec.execution_not_found(execution_id)
            return row

        row = self._db.write(f"acquire the lease on execution {execution_id!r}", write)
        return None if row is None else codec.execution_from_row(row)

    def renew_leases(self, owner: str, ttl: float, now: float) -> list[str]:
        codec.check_lease_args(owner, ttl)
        params = {"owner": owner, "expires_at": now + ttl, "now": now, "ttl": ttl, **UNFINISHED}
        rows = self._db.write(f"renew the leases of {owner!r}", lambda s: s.fetch_all("renew_leases", params))
        return sorted(str(row["id"]) for row in rows)

    def release_lease(self, execution_id: str, owner: str) -> None:
        params = {"id": execution_id, "owner": owner}
        self._db.write(f"release the lease on execution {execution_id!r}", lambda s: s.execute("release_lease", params))

    # -- node and attempt state -------------------------------------------------------------------

    def load_nodes(self, execution_id: str) -> list[NodeRecord]:
        rows = self._all(f"load the nodes of execution {execution_id!r}", "load_nodes", {"execution_id": execution_id})
        return [codec.node_from_row(row) for row in rows]

    def load_attempts(self, execution_id: str, *, node_id: str | None = None) -> list[AttemptRecord]:
        params = {"execution_id": execution_id, "node_id": node_id}
        rows = self._all(f"load the attempts of execution {execution_id!r}", "load_attempts", params)
        return [codec.attempt_from_row(row) for row in rows]

    def commit_round(self, write: RoundWrite, *, owner: str | None) -> ExecutionRecord:
        codec.check_round(write)
        rec = write.execution
        exe = {**codec.execution_to_row(rec), "owner": owner}
        nodes = [codec.node_to_row(n) for n in write.nodes]
        attempts = [codec.attempt_to_row(a) for a in write.attempts]
        events = [codec.event_to_row(ev) for ev in write.events]
        # The last put of a key wins (as with row-by-row upserts); then key order, so two rounds that
        # put the same keys lock them in the same order and cannot deadlock.
        last_puts = {(e.project, e.key): e for e in write.catalog_puts}
        puts = [codec.catalog_entry_to_row(last_puts[k]) for k in sorted(last_puts)]
        releases = [{"project": p, "key": k, "owner": o} for p, k, o in sorted(set(write.releases))]
        lineage = [codec.lineage_to_row(r) for r in write.lineage]

        def body(s: Session) -> codec.RowLike:
            row = s.fetch_one("commit_execution", exe)
            if row is None:
                raise self._execution_cas_error(s, rec, owner)
            # Noted before COMMIT: a wake-up for it may be delivered before COMMIT returns here.
            self._round_committing(rec.id, int(row["version"]))
            _write_rows(s, "node", nodes)
            _write_rows(s, "attempt", attempts)
            if events:
                s.execute_many("insert_event", events)
            if puts:
                s.execute_many("upsert_catalog_entry", puts)
            if releases:
                s.execute_many("release_reservation", releases)
            if lineage:
                s.execute_many("insert_lineage", lineage)
            return row

        try:
            row = self._db.write(f"commit a round of execution {rec.id!r}", body)
        except RowsConflict as bad:
            self._round_failed(rec.id, rec.version + 1)
            raise self._diagnose(bad) from None
        except BaseException:
            self._round_failed(rec.id, rec.version + 1)
            raise
        return codec.execution_from_row(row)

    # -- history ----------------------------------------------------------------------------------

    def events(self, execution_id: str, after_seq: int = 0, limit: int = 10_000) -> list[Event]:
        if limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        params = {"execution_id": execution_id, "after_seq": after_seq, "limit": limit}
        rows = self._all(f"read the events of execution {execution_id!r}", "events", params)
        return [codec.event_from_row(row) for row in rows]

    # -- signals ----------------------------------------------------------------------------------

    def send_signal(self, execution_id: str, name: str, value: Any, now: float) -> bool:
        params = {
            "id": execution_id,
            "execution_id": execution_id,
            "name": name,
            "value": codec.dump_value(value, "a signal value"),
            "now": now,
        }
        event = codec.event_to_row(codec.signal_event(execution_id, name, now))

        def write(s: Session) -> bool:
            if s.fetch_one("get_execution_version", params) is None:
                raise codec.execution_not_found(execution_id)
            if s.execute("insert_signal", params) == 0:
                return False
            s.execute("touch_execution", params)  # takes the row lock before the event, as commits do
            s.execute("insert_event", event)
            return True

        return self._db.write(f"record signal {name!r} of execution {execution_id!r}", write)

    def signals(self, execution_id: str) -> dict[str, Any]:
        params = {"execution_id": execution_id}
        rows = self._all(f"read the signals of execution {execution_id!r}", "load_signals", params)
        return {str(row["name"]): json.loads(row["value"]) for row in rows}

    # -- registry ---------------------------------------------------------------------------------

    def create_project(self, name: str, now: float) -> bool:
        params = {"name": name, "now": now}
        return self._db.write(f"create project {name!r}", lambda s: bool(s.execute("insert_project", params)))

    def list_projects(self) -> list[str]:
        return [str(row["name"]) for row in self._all("list projects", "list_projects", {})]

    def register_entity(self, entity: RegisteredEntity) -> tuple[RegisteredEntity, bool]:
        row = registry_rows.entity_to_row(entity)

        def write(s: Session) -> tuple[codec.RowLike, bool]:
            s.lock_registry()  # seq is MAX + 1, and the latest must be the last registered
            created = bool(s.execute("insert_entity", row))
            stored = s.fetch_one("get_entity", row)
            if stored is None:  # cannot happen: the row was inserted or already there, under the lock
                raise StoreError(f"{entity.kind} {entity.name!r} vanished while being registered")
            return stored, created

        stored, created = self._db.write(f"register {entity.kind} {entity.name!r} version {entity.version!r}", write)
        return registry_rows.entity_from_row(stored), created

    def get_entity(self, kind: str, project: str, name: str, version: str | None = None) -> RegisteredEntity:
        registry_rows.check_kind(kind)
        params = {"kind": kind, "project": project, "name": name, "version": version}
        row = self._one(f"read {kind} {name!r}", "latest_entity" if version is None else "get_entity", params)
        if row is None:
            raise registry_rows.entity_not_found(kind, project, name, version)
        return registry_rows.entity_from_row(row)

    def list_entity_versions(self, kind: str, project: str, name: str, limit: int = 100) -> list[RegisteredEntity]:
        registry_rows.check_kind(kind)
        codec.check_limit(limit)
        params = {"kind": kind, "project": project, "name": name, "limit": limit}
        rows = self._all(f"list the versions of {kind} {name!r}", "list_entity_versions", params)
        return [registry_rows.entity_from_row(row) for row in rows]

    def list_entities(self, kind: str, project: str, limit: int = 1000) -> list[RegisteredEntity]:
        registry_rows.check_kind(kind)
        codec.check_limit(limit)
        rows = self._all(f"list {kind} entities", "list_entities", {"kind": kind, "project": project, "limit": limit})
        return [registry_rows.entity_from_row(row) for row in rows]

    # -- API tokens -------------------------------------------------------------------------------

    def put_token(self, token: TokenRecord) -> None:
        row = registry_rows.token_to_row(token)
        self._db.write("store an API token", lambda s: s.execute("insert_token", row))

    def get_token(self, token_hash: str) -> TokenRecord | None:
        row = self._one("read an API token", "get_token", {"token_hash": token_hash})
        return None if row is None else registry_rows.token_from_row(row)

    # -- launch plan activation and schedule ticks --------------------------------------------------

    def activate_launchplan(self, project: str, name: str, version: str, now: float) -> Activation:
        key = {"kind": "launchplan", "project": project, "name": name, "version": version, "now": now}

        def write(s: Session) -> codec.RowLike:
            if s.fetch_one("get_entity", key) is None:
                raise registry_rows.entity_not_found("launchplan", project, name, version)
            s.execute("upsert_activation", key)
            row = s.fetch_one("get_activation", key)
            if row is None:  # cannot happen: written in this transaction
                raise StoreError(f"the activation of launch plan {name!r} vanished while being written")
            return row

        row = self._db.write(f"activate launch plan {name!r} version {version!r}", write)
        return registry_rows.activation_from_row(row)

    def deactivate_launchplan(self, project: str, name: str) -> bool:
        key = {"kind": "launchplan", "project": project, "name": name}

        def write(s: Session) -> bool:
            if s.fetch_one("latest_entity", key) is None:
                raise registry_rows.entity_not_found("launchplan", project, name, None)
            return bool(s.execute("delete_activation", key))

        return self._db.write(f"deactivate launch plan {name!r}", write)

    def get_activation(self, project: str, name: str) -> Activation | None:
        params = {"project": project, "name": name}
        row = self._one(f"read the activation of launch plan {name!r}", "get_activation", params)
        return None if row is None else registry_rows.activation_from_row(row)

    def list_activations(self, project: str | None = None) -> list[Activation]:
        rows = self._all("list active launch plans", "list_activations", {"project": project})
        return [registry_rows.activation_from_row(row) for row in rows]

    def fire_tick(self, tick: TickRecord, execution: ExecutionRecord, events: Sequence[Event] = ()) -> bool:
        registry_rows.check_tick(tick, execution.id)
        codec.check_events(execution.id, events)
        tick_row = registry_rows.tick_to_row(tick)
        row = codec.execution_to_row(execution)
        event_rows = [codec.event_to_row(ev) for ev in events]

        def write(s: Session) -> bool:
            if s.execute("insert_tick", tick_row) == 0:
                return False
            # Idempotent on the (deterministic) execution id: an execution already there stands.
            if s.execute("insert_execution", row) and event_rows:
                s.execute_many("insert_event", event_rows)
            return True

        return self._db.write(f"fire tick {tick.tick} of launch plan {tick.launchplan!r}", write)

    def list_ticks(self, project: str, launchplan: str, limit: int = 20) -> list[TickRecord]:
        codec.check_limit(limit)
        params = {"project": project, "launchplan": launchplan, "limit": limit}
        rows = self._all(f"list the ticks of launch plan {launchplan!r}", "list_ticks", params)
        return [registry_rows.tick_from_row(row) for row in rows]

    # -- catalog ----------------------------------------------------------------------------------

    def catalog_get_many(self, project: str, keys: Sequence[str]) -> dict[str, CatalogEntry]:
        codec.check_str_list(keys, "catalog_get_many keys")
        distinct = list(dict.fromkeys(keys))
        if not distinct:
            return {}
        rows = self._db.read(
            f"read {len(distinct)} catalog entries of project {project!r}",
            lambda s: s.fetch_all_in("catalog_get_many", "keys", distinct, {"project": project}),
        )
        return {str(row["key"]): codec.catalog_entry_from_row(row) for row in rows}

    def catalog_list(self, project: str | None = None, task: str | None = None, limit: int = 100) -> list[CatalogEntry]:
        codec.check_limit(limit)
        # With a project, the index on (project, task, created_at DESC) serves; without, a sorted scan.
        query = "catalog_list_project" if task is None else "catalog_list_task"
        if project is None:
            query = "catalog_list"
        rows = self._all("list catalog entries", query, {"project": project, "task": task, "limit": limit})
        return [codec.catalog_entry_from_row(row) for row in rows]

    def catalog_evict(
        self,
        project: str,
        *,
        keys: Sequence[str] = (),
        task: str | None = None,
        source_execution: str | None = None,
    ) -> int:
        codec.check_evict_filters(keys, task, source_execution)
        params = {"project": project, "task": task, "source_execution": source_execution}

        def write(s: Session) -> int:
            deleted: set[str] = set()
            if keys:
                deleted.update(str(r["key"]) for r in s.fetch_all_in("catalog_evict_keys", "keys", keys, params))
            if task is not None:
                deleted.update(str(r["key"]) for r in s.fetch_all("catalog_evict_task", params))
            if source_execution is not None:
                deleted.update(str(r["key"]) for r in s.fetch_all("catalog_evict_source", params))
            if deleted:
                s.execute_in("drop_reservations", "keys", sorted(deleted), params)
            return len(deleted)

        return self._db.write(f"evict catalog entries of project {project!r}", write)

    def reserve(self, project: str, key: str, owner: str, ttl: float, now: float) -> str:
        codec.check_reservation_args(owner, ttl)
        params = {
            "project": project,
            "key": key,
            "owner": owner,
            "execution_id": codec.reservation_execution(owner),
            "expires_at": now + ttl,
            "now": now,
            "ttl": ttl,
        }

        def write(s: Session) -> str:
            row = s.fetch_one("reserve", params)
            if row is None:  # someone else holds it, unexpired (and we hold its row lock): name them
                row = s.fetch_one("reservation_owner", params)
            if row is None:
                raise ConflictError(f"the reservation of catalog key {key!r} vanished while taking it; retry")
            return str(row["owner"])

        return self._db.write(f"reserve catalog key {key!r} of project {project!r}", write)

    def renew_reservations(self, execution_ids: Sequence[str], ttl: float, now: float) -> int:
        codec.check_str_list(execution_ids, "renew_reservations execution_ids")
        codec.check_reservation_ttl(ttl)
        distinct = list(dict.fromkeys(execution_ids))
        if not distinct:
            return 0
        params = {"expires_at": now + ttl, "now": now, "ttl": ttl}
        return self._db.write(
            f"renew the reservations of {len(distinct)} executions",
            lambda s: s.execute_in("renew_reservations", "execution_ids", distinct, params),
        )

    # -- lineage ----------------------------------------------------------------------------------

    def lineage_by_hash(self, value_hash: str, direction: str, limit: int = 1000) -> list[LineageRow]:
        codec.check_direction(direction)
        codec.check_limit(limit)
        params = {"value_hash": value_hash, "direction": direction, "limit": limit}
        rows = self._all(f"read the lineage of value {value_hash!r}", "lineage_by_hash", params)
        return [codec.lineage_from_row(row) for row in rows]

    def lineage_of(self, execution_id: str) -> list[LineageRow]:
        params = {"execution_id": execution_id}
        rows = self._all(f"read the lineage of execution {execution_id!r}", "lineage_of", params)
        return [codec.lineage_from_row(row) for row in rows]

    # -- internals --------------------------------------------------------------------------------

    def _one(self, doing: str, query: str, params: dict[str, Any]) -> codec.RowLike | None:
        return self._db.read(doing, lambda s: s.fetch_one(query, params))

    def _all(self, doing: str, query: str, params: dict[str, Any]) -> list[codec.RowLike]:
        return self._db.read(doing, lambda s: s.fetch_all(query, params))

    @staticmethod
    def _execution_cas_error(s: Session, rec: ExecutionRecord, owner: str | None) -> Exception:
        current = s.fetch_one("get_execution_version", {"id": rec.id})
        if current is None:
            return codec.execution_not_found(rec.id)
        if owner is not None and current["lease_owner"] != owner:
            return codec.lease_lost(rec.id, owner, current["lease_owner"])
        return codec.execution_conflict(rec.id, rec.version, int(current["version"]))

    def _diagnose(self, bad: RowsConflict) -> ConflictError:
        """Name the first row whose compare-and-swap failed. Read after the rollback: inside the
        transaction the round's own inserts would look like conflicts."""

        def read(s: Session) -> ConflictError:
            for row in bad.rows:
                found = s.fetch_one(f"get_{bad.kind}_version", row)
                version = None if found is None else int(found["version"])
                if version != (row["version"] or None):
                    if bad.kind == "node":
                        label = codec.node_label(row["execution_id"], row["node_id"])
                    else:
                        label = codec.attempt_label(row["execution_id"], row["node_id"], row["number"])
                    return codec.row_conflict(label, row["version"], version)
            return ConflictError(f"a {bad.kind} row changed during the round; reload and decide again")

        return self._db.read(f"diagnose a conflicting {bad.kind} write", read)


def _write_rows(s: Session, kind: str, rows: list[codec.Row]) -> None:
    """Insert new rows (version 0) and compare-and-swap the others; any miss aborts the round."""
    new = [r for r in rows if r["version"] == 0]
    old = [r for r in rows if r["version"] != 0]
    if new and s.execute_many(f"insert_{kind}", new) != len(new):
        raise RowsConflict(kind, new)
    if old and s.execute_many(f"update_{kind}", old) != len(old):
        raise RowsConflict(kind, old)


if TYPE_CHECKING:

    def _conforms(store: SqlStore) -> Store:
        return store
