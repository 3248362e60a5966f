"""An in-memory `Store` with the same semantics as the SQL backends, for fast tests.

Unit tests of the controller, and users' tests of their own code, need a store that is instant and
leaves no files, yet behaves exactly like the real one: the same compare-and-swap rules, the same
lease rules, the same errors with the same words. To make that hold by construction, this fake keeps
the very rows the SQL backends keep (built by the shared `codec`, JSON columns as text) and decodes
fresh records on every read, so callers can never mutate stored state and values round-trip exactly
as they would through SQLite. The contract suite in ``tests/contract`` runs against this class and
``SqliteStore`` alike; a difference is a bug in one of them.

One lock guards everything, which makes every operation atomic, like a transaction.

Somewhat over the usual module size on purpose: it is one class implementing the whole ~40-method
port, the dictionary twin of `setpoint.adapters.store.sql.SqlStore`, and reads best method by
method beside it; ``tests/contract/test_store_surface.py`` keeps the two shaped alike.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from setpoint.adapters.store import codec, registry_rows
from setpoint.adapters.store.sql.queries import fold
from setpoint.core.model import AttemptRecord, CatalogEntry, Event, ExecutionRecord, LineageRow, NodeRecord
from setpoint.errors import AlreadyExistsError, StoreError
from setpoint.ports import Activation, ExecutionFilter, RegisteredEntity, RoundWrite, TickRecord, TokenRecord

if TYPE_CHECKING:
    from setpoint.ports import Store

_UNFINISHED = frozenset(p.value for p in codec.UNFINISHED_PHASES)


class InMemoryStore:
    """A thread-safe `Store` kept in dictionaries. Nothing survives the process."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._closed = False
        self._specs: dict[str, str] = {}
        self._executions: dict[str, codec.Row] = {}
        self._nodes: dict[str, dict[str, codec.Row]] = {}
        self._attempts: dict[str, dict[tuple[str, int], codec.Row]] = {}
        self._events: dict[str, list[codec.Row]] = {}
        self._seq = 0
        self._catalog: dict[tuple[str, str], codec.Row] = {}  # (project, key) -> entry row
        self._reservations: dict[tuple[str, str], codec.Row] = {}  # (project, key) -> reservation
        self._lineage: dict[str, dict[tuple[str, str, str], codec.Row]] = {}  # by execution, then key
        self._signals: dict[str, dict[str, str]] = {}  # by execution: name -> value JSON
        self._projects: dict[str, float] = {}
        self._entities: dict[tuple[str, str, str, str], codec.Row] = {}  # (kind, project, name, version)
        self._tokens: dict[str, codec.Row] = {}
        self._activations: dict[tuple[str, str], codec.Row] = {}  # (project, launch plan name)
        self._ticks: dict[tuple[str, str, int], codec.Row] = {}  # (project, launch plan, tick)

    def __repr__(self) -> str:
        return f"InMemoryStore({len(self._executions)} executions)"

    def close(self) -> None:
        with self._lock:
            self._closed = True

    # -- specs ------------------------------------------------------------------------------------

    def put_spec(self, digest: str, body: str) -> None:
        with self._lock:
            self._check_open()
            stored = self._specs.setdefault(digest, body)
            if stored != body:
                raise codec.spec_body_differs(digest)

    def get_spec(self, digest: str) -> str:
        with self._lock:
            self._check_open()
            try:
                return self._specs[digest]
            except KeyError:
                raise codec.spec_not_found(digest) from None

    # -- executions -------------------------------------------------------------------------------

    def create_execution(
        self, record: ExecutionRecord, events: Sequence[Event] = (), nodes: Sequence[NodeRecord] = ()
    ) -> ExecutionRecord:
        codec.check_events(record.id, events)
        codec.check_nodes(record.id, nodes)
        row = codec.execution_to_row(record)
        row["version"] = 1
        event_rows = [codec.event_to_row(ev) for ev in events]
        node_rows = [codec.node_to_row(n) | {"version": 1} for n in nodes]
        with self._lock:
            self._check_open()
            if record.id in self._executions:
                raise codec.execution_exists(record.id)
            self._executions[record.id] = row
            self._nodes[record.id] = {r["node_id"]: r for r in node_rows}
            self._attempts[record.id] = {}
            self._events[record.id] = []
            self._lineage[record.id] = {}
            self._append_events(record.id, event_rows)
            return codec.execution_from_row(row)

    def get_execution(self, execution_id: str) -> ExecutionRecord:
        with self._lock:
            return codec.execution_from_row(self._row(execution_id))

    def list_executions(self, flt: ExecutionFilter = ExecutionFilter()) -> list[ExecutionRecord]:  # noqa: B008 (frozen)
        codec.check_filter(flt)
        phases = {p.value for p in flt.phases}
        search = None if flt.search is None else fold(flt.search)
        with self._lock:
            self._check_open()
            cursor = None
            if flt.before is not None:
                before = self._row(flt.before)
                cursor = (before["created_at"], before["id"])
            rows = [
                row
                for row in self._executions.values()
                if (not phases or row["phase"] in phases)
                and (flt.project is None or row["project"] == flt.project)
                and (flt.workflow is None or row["workflow"] == flt.workflow)
                and (cursor is None or (row["created_at"], row["id"]) < cursor)
                and (search is None or search in fold(row["id"]) or search in fold(row["workflow"]))
            ]
            rows.sort(key=lambda r: (r["created_at"], r["id"]), reverse=True)
            return [codec.execution_from_row(row) for row in rows[: flt.limit]]

    def unfinished_executions(self) -> list[str]:
        with self._lock:
            self._check_open()
            rows = [r for r in self._executions.values() if r["phase"] in _UNFINISHED]
            return [r["id"] for r in sorted(rows, key=lambda r: (r["created_at"], r["id"]))]

    def request_abort(self, execution_id: str, reason: str, now: float) -> ExecutionRecord:
        with self._lock:
            row = self._row(execution_id)
            if row["abort_reason"] is None and row["phase"] in _UNFINISHED:
                row.update(abort_reason=reason, updated_at=now, version=row["version"] + 1)
                self._append_events(execution_id, [codec.event_to_row(codec.abort_event(execution_id, reason, now))])
            return codec.execution_from_row(row)

    # -- leases -----------------------------------------------------------------------------------

    def acquire_lease(self, execution_id: str, owner: str, ttl: float, now: float) -> ExecutionRecord | None:
        codec.check_lease_args(owner, ttl)
        with self._lock:
            row = self._row(execution_id)
            if row["phase"] not in _UNFINISHED or not codec.is_lease_free(row, owner, now):
                return None
            row.update(lease_owner=owner, lease_expires_at=now + ttl)
            return codec.execution_from_row(row)

    def renew_leases(self, owner: str, ttl: float, now: float) -> list[str]:
        codec.check_lease_args(owner, ttl)
        with self._lock:
            self._check_open()
            renewed = []
            for row in self._executions.values():
                expires = row["lease_expires_at"]
                if (
                    row["phase"] in _UNFINISHED
                    and row["lease_owner"] == owner
                    and expires is not None
                    and expires >= now
                ):
                    row["lease_expires_at"] = now + ttl
                    renewed.append(row["id"])
            return sorted(renewed)

    def release_lease(self, execution_id: str, owner: str) -> None:
        with self._lock:
            self._check_open()
            row = self._executions.get(execution_id)
            if row is not None and row["lease_owner"] == owner:
                row.update(lease_owner=None, lease_expires_at=None)

    # -- node and attempt state -------------------------------------------------------------------

    def load_nodes(self, execution_id: str) -> list[NodeRecord]:
        with self._lock:
            self._check_open()
            rows = self._nodes.get(execution_id, {})
            return [codec.node_from_row(rows[k]) for k in sorted(rows)]

    def load_attempts(self, execution_id: str, *, node_id: str | None = None) -> list[AttemptRecord]:
        with self._lock:
            self._check_open()
            rows = self._attempts.get(execution_id, {})
            keys = sorted(k for k in rows if node_id is None or k[0] == node_id)
            return [codec.attempt_from_row(rows[k]) for k in keys]

    def commit_round(self, write: RoundWrite, *, owner: str | None) -> ExecutionRecord:
        codec.check_round(write)
        rec = write.execution
        exe = codec.execution_to_row(rec)
        nodes = [codec.node_to_row(n) for n in write.nodes]
        attempts = [codec.attempt_to_row(a) for a in write.attempts]
        events = [codec.event_to_row(ev) for ev in write.events]
        puts = [codec.catalog_entry_to_row(e) for e in write.catalog_puts]
        lineage = [codec.lineage_to_row(r) for r in write.lineage]
        with self._lock:
            self._check_open()
            current = self._executions.get(rec.id)
            if current is None:
                raise codec.execution_not_found(rec.id)
            if owner is not None and current["lease_owner"] != owner:
                raise codec.lease_lost(rec.id, owner, current["lease_owner"])
            if current["version"] != rec.version:
                raise codec.execution_conflict(rec.id, rec.version, current["version"])
            # Check every row before changing anything: all of the round is written, or none.
            # New rows (version 0) are checked before updated ones, as the SQL backends write them.
            node_table = self._nodes[rec.id]
            for row in _new_first(nodes):
                _check_row(node_table.get(row["node_id"]), row, codec.node_label(rec.id, row["node_id"]))
            attempt_table = self._attempts[rec.id]
            for row in _new_first(attempts):
                label = codec.attempt_label(rec.id, row["node_id"], row["number"])
                _check_row(attempt_table.get((row["node_id"], row["number"])), row, label)
            for column in codec.MUTABLE_EXECUTION_COLUMNS:
                if column != "abort_reason" or current["abort_reason"] is None:  # never cleared
                    current[column] = exe[column]
            current["version"] += 1
            for row in nodes:
                row["version"] += 1
                node_table[row["node_id"]] = row
            for row in attempts:
                row["version"] += 1
                attempt_table[(row["node_id"], row["number"])] = row
            self._append_events(rec.id, events)
            for row in puts:  # upsert: the last put of a key wins, as with ON CONFLICT DO UPDATE
                self._catalog[(row["project"], row["key"])] = row
            for project, key, holder in write.releases:
                held = self._reservations.get((project, key))
                if held is not None and held["owner"] == holder:
                    del self._reservations[(project, key)]
            recorded = self._lineage[rec.id]
            for row in lineage:  # the first recorded value stands, as with ON CONFLICT DO NOTHING
                recorded.setdefault(codec.lineage_key(row), row)
            return codec.execution_from_row(current)

    # -- history ----------------------------------------------------------------------------------

    def events(self, execution_id: str, after_seq: int = 0, limit: int = 10_000) -> list[Event]:
        if limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        with self._lock:
            self._check_open()
            rows = [r for r in self._events.get(execution_id, []) if r["seq"] > after_seq]
            return [codec.event_from_row(r) for r in rows[:limit]]

    # -- signals ----------------------------------------------------------------------------------

    def send_signal(self, execution_id: str, name: str, value: Any, now: float) -> bool:
        with self._lock:
            self._check_open()
            row = self._executions.get(execution_id)
            if row is None:
                raise codec.execution_not_found(execution_id)
            signals = self._signals.setdefault(execution_id, {})
            if name in signals:
                return False
            signals[name] = codec.dump_value(value, "a signal value")
            row.update(version=row["version"] + 1, updated_at=now)
            self._append_events(execution_id, [codec.event_to_row(codec.signal_event(execution_id, name, now))])
        return True

    def signals(self, execution_id: str) -> dict[str, Any]:
        with self._lock:
            self._check_open()
            return {k: json.loads(v) for k, v in sorted(self._signals.get(execution_id, {}).items())}

    # -- registry ---------------------------------------------------------------------------------

    def create_project(self, name: str, now: float) -> bool:
        with self._lock:
            self._check_open()
            if name in self._projects:
                return False
            self._projects[name] = now
            return True

    def list_projects(self) -> list[str]:
        with self._lock:
            self._check_open()
            return sorted(self._projects)

    def register_entity(self, entity: RegisteredEntity) -> tuple[RegisteredEntity, bool]:
        row = registry_rows.entity_to_row(entity)
        key = (entity.kind, entity.project, entity.name, entity.version)
        with self._lock:
            self._check_open()
            stored = self._entities.get(key)
            if stored is not None:
                return registry_rows.entity_from_row(stored), False
            row["seq"] = max((r["seq"] for r in self._entities.values()), default=0) + 1
            self._entities[key] = row
            return registry_rows.entity_from_row(row), True

    def _versions(self, kind: str, project: str, name: str) -> list[codec.Row]:
        registry_rows.check_kind(kind)
        rows = [r for (k, p, n, _), r in self._entities.items() if (k, p, n) == (kind, project, name)]
        return sorted(rows, key=lambda r: -int(r["seq"]))

    def get_entity(self, kind: str, project: str, name: str, version: str | None = None) -> RegisteredEntity:
        with self._lock:
            self._check_open()
            rows = self._versions(kind, project, name)
            if version is not None:
                rows = [r for r in rows if r["version"] == version]
            if not rows:
                raise registry_rows.entity_not_found(kind, project, name, version)
            return registry_rows.entity_from_row(rows[0])

    def list_entity_versions(self, kind: str, project: str, name: str, limit: int = 100) -> list[RegisteredEntity]:
        codec.check_limit(limit)
        with self._lock:
            self._check_open()
            return [registry_rows.entity_from_row(r) for r in self._versions(kind, project, name)[:limit]]

    def list_entities(self, kind: str, project: str, limit: int = 1000) -> list[RegisteredEntity]:
        registry_rows.check_kind(kind)
        codec.check_limit(limit)
        with self._lock:
            self._check_open()
            names = sorted({n for (k, p, n, _) in self._entities if (k, p) == (kind, project)})
            return [registry_rows.entity_from_row(self._versions(kind, project, n)[0]) for n in names[:limit]]

    def put_token(self, token: TokenRecord) -> None:
        row = registry_rows.token_to_row(token)
        with self._lock:
            self._check_open()
            if token.token_hash in self._tokens:
                raise AlreadyExistsError("an API token with this hash already exists")
            self._tokens[token.token_hash] = {**row, "created_at": row.pop("now")}

    def get_token(self, token_hash: str) -> TokenRecord | None:
        with self._lock:
            self._check_open()
            row = self._tokens.get(token_hash)
            return None if row is None else registry_rows.token_from_row(row)

    # -- launch plan activation and schedule ticks --------------------------------------------------

    def _activation(self, key: tuple[str, str]) -> Activation:
        row = self._activations[key]
        ticks = [t for (p, n, t) in self._ticks if (p, n) == key]
        return registry_rows.activation_from_row({**row, "last_tick": max(ticks, default=None)})

    def activate_launchplan(self, project: str, name: str, version: str, now: float) -> Activation:
        with self._lock:
            self._check_open()
            if ("launchplan", project, name, version) not in self._entities:
                raise registry_rows.entity_not_found("launchplan", project, name, version)
            key = (project, name)
            held = self._activations.get(key)
            if held is None or held["version"] != version:
                self._activations[key] = {"project": project, "name": name, "version": version, "activated_at": now}
            return self._activation(key)

    def deactivate_launchplan(self, project: str, name: str) -> bool:
        with self._lock:
            self._check_open()
            if not self._versions("launchplan", project, name):
                raise registry_rows.entity_not_found("launchplan", project, name, None)
            return self._activations.pop((project, name), None) is not None

    def get_activation(self, project: str, name: str) -> Activation | None:
        with self._lock:
            self._check_open()
            return self._activation((project, name)) if (project, name) in self._activations else None

    def list_activations(self, project: str | None = None) -> list[Activation]:
        with self._lock:
            self._check_open()
            return [self._activation(k) for k in sorted(self._activations) if project is None or k[0] == project]

    def fire_tick(self, tick: TickRecord, execution: ExecutionRecord, events: Sequence[Event] = ()) -> bool:
        registry_rows.check_tick(tick, execution.id)
        row = registry_rows.tick_to_row(tick)
        with self._lock:
            self._check_open()
            key = (tick.project, tick.launchplan, tick.tick)
            active = self._activations.get((tick.project, tick.launchplan))
            if key in self._ticks or active is None or active["version"] != tick.version:
                return False
            if execution.id not in self._executions:  # idempotent on the execution id, as in SQL
                self.create_execution(execution, events)
            self._ticks[key] = row
            return True

    def list_ticks(self, project: str, launchplan: str, limit: int = 20) -> list[TickRecord]:
        codec.check_limit(limit)
        with self._lock:
            self._check_open()
            keys = sorted((k for k in self._ticks if k[:2] == (project, launchplan)), key=lambda k: -k[2])
            return [registry_rows.tick_from_row(self._ticks[k]) for k in keys[:limit]]

    # -- catalog ----------------------------------------------------------------------------------

    def catalog_get_many(self, project: str, keys: Sequence[str]) -> dict[str, CatalogEntry]:
        codec.check_str_list(keys, "catalog_get_many keys")
        with self._lock:
            self._check_open()
            found = (self._catalog.get((project, key)) for key in dict.fromkeys(keys))
            return {row["key"]: codec.catalog_entry_from_row(row) for row in found if row is not None}

    def catalog_list(self, project: str | None = None, task: str | None = None, limit: int = 100) -> list[CatalogEntry]:
        codec.check_limit(limit)
        with self._lock:
            self._check_open()
            rows = [
                row
                for row in self._catalog.values()
                if (project is None or row["project"] == project) and (task is None or row["task"] == task)
            ]
            rows.sort(key=codec.catalog_order)
            return [codec.catalog_entry_from_row(row) for row in rows[:limit]]

    def catalog_evict(
        self,
        project: str,
        *,
        keys: Sequence[str] = (),
        task: str | None = None,
        source_execution: str | None = None,
    ) -> int:
        codec.check_evict_filters(keys, task, source_execution)
        wanted = set(keys)
        with self._lock:
            self._check_open()
            doomed = [
                ident
                for ident, row in self._catalog.items()
                if ident[0] == project
                and (
                    row["key"] in wanted
                    or (task is not None and row["task"] == task)
                    or (source_execution is not None and row["source_execution"] == source_execution)
                )
            ]
            for ident in doomed:
                del self._catalog[ident]
                self._reservations.pop(ident, None)
            return len(doomed)

    def reserve(self, project: str, key: str, owner: str, ttl: float, now: float) -> str:
        codec.check_reservation_args(owner, ttl)
        with self._lock:
            self._check_open()
            held = self._reservations.get((project, key))
            if held is not None and held["owner"] != owner and held["expires_at"] >= now:
                return str(held["owner"])
            self._reservations[(project, key)] = {
                "project": project,
                "key": key,
                "owner": owner,
                "execution_id": codec.reservation_execution(owner),
                "expires_at": now + ttl,
            }
            return owner

    def renew_reservations(self, execution_ids: Sequence[str], ttl: float, now: float) -> int:
        codec.check_str_list(execution_ids, "renew_reservations execution_ids")
        codec.check_reservation_ttl(ttl)
        ids = set(execution_ids)
        with self._lock:
            self._check_open()
            renewed = 0
            for row in self._reservations.values():
                if row["execution_id"] in ids and row["expires_at"] >= now:
                    row["expires_at"] = now + ttl
                    renewed += 1
            return renewed

    # -- lineage ----------------------------------------------------------------------------------

    def lineage_by_hash(self, value_hash: str, direction: str, limit: int = 1000) -> list[LineageRow]:
        codec.check_direction(direction)
        codec.check_limit(limit)
        with self._lock:
            self._check_open()
            rows = [
                row
                for recorded in self._lineage.values()
                for row in recorded.values()
                if row["value_hash"] == value_hash and row["direction"] == direction
            ]
            created = {eid: self._executions[eid]["created_at"] for eid in {r["execution_id"] for r in rows}}
            rows.sort(key=lambda r: (created[r["execution_id"]], r["execution_id"], r["node_id"], r["name"]))
            return [codec.lineage_from_row(row) for row in rows[:limit]]

    def lineage_of(self, execution_id: str) -> list[LineageRow]:
        with self._lock:
            self._check_open()
            recorded = self._lineage.get(execution_id, {})
            return [codec.lineage_from_row(recorded[k]) for k in sorted(recorded)]

    # -- internals --------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("the in-memory store is closed")

    def _row(self, execution_id: str) -> codec.Row:
        self._check_open()
        try:
            return self._executions[execution_id]
        except KeyError:
            raise codec.execution_not_found(execution_id) from None

    def _append_events(self, execution_id: str, rows: list[codec.Row]) -> None:
        log = self._events[execution_id]
        for row in rows:
            self._seq += 1
            row["seq"] = self._seq
            log.append(row)


def _new_first(rows: list[codec.Row]) -> list[codec.Row]:
    return sorted(rows, key=lambda r: r["version"] != 0)


def _check_row(stored: codec.Row | None, row: codec.Row, label: str) -> None:
    """The compare-and-swap a SQL backend does with ``WHERE version = :version`` (0: insert)."""
    found = None if stored is None else stored["version"]
    if (found or 0) != row["version"]:
        raise codec.row_conflict(label, row["version"], found)


if TYPE_CHECKING:

    def _conforms(store: InMemoryStore) -> Store:
        return store
