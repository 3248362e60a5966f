"""The embedded store: one SQLite file in WAL mode behind the `Store` port.

This is what makes ``pip install setpoint`` enough to run a pipeline: no server, one file under the
setpoint home, yet the same compare-and-swap semantics the PostgreSQL backend offers, so the
controller cannot tell them apart (the contract suite in ``tests/contract`` holds both to that).

How it stays correct with several threads and processes on one file:

- WAL mode lets readers (the CLI, the API server) run while a controller writes;
  ``synchronous=NORMAL`` keeps commits off the fsync path (WAL stays consistent after a crash, at
  worst the last commits are lost, which level-triggered reconciling redoes).
- Every write is one ``BEGIN IMMEDIATE`` transaction: it takes the write lock up front, so two
  writers queue on ``busy_timeout`` instead of failing half-way with SQLITE_BUSY on lock upgrade.
- Connections come from a small pool (one per concurrent caller), never shared by two threads at
  once, and all are closed by `close`.
- Every ``sqlite3`` error is translated here into `setpoint.errors`, with the file's path in the
  message; nothing above this module sees a driver exception.

SQL lives in ``queries.sql`` (named blocks), the schema in ``migrations/``.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from setpoint.adapters.store import codec, registry_rows
from setpoint.adapters.store.migrate import load_migrations, migrate
from setpoint.core.model import AttemptRecord, CatalogEntry, Event, ExecutionRecord, LineageRow, NodeRecord
from setpoint.core.phases import ExecutionPhase
from setpoint.errors import ConflictError, StoreError
from setpoint.ports import Activation, ExecutionFilter, RegisteredEntity, RoundWrite, TickRecord, TokenRecord

if TYPE_CHECKING:
    from setpoint.ports import Store

_NAME_RE = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


def load_queries(text: str) -> dict[str, str]:
    """Parse ``-- name: x`` blocks into ``{name: sql}`` (procrastinate's layout)."""
    parts = _NAME_RE.split(text)
    queries: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in queries:
            raise ValueError(f"query {name!r} is defined twice")
        queries[name] = body.strip().rstrip(";")
    return queries


# A list parameter ":name*" becomes a fixed number of slots: the smallest of LIST_TIERS that holds
# the values (a one-key lookup binds 8 parameters, not 512), longer lists run in chunks of the
# largest. So each query has at most len(LIST_TIERS) prepared forms, and every statement stays far
# below SQLITE_MAX_VARIABLE_NUMBER (999 on old builds, 32766 since 3.32).
LIST_TIERS = (8, 32, 128, 512)
LIST_SLOTS = LIST_TIERS[-1]
_LIST_PARAM_RE = re.compile(r":(\w+)\*")


def expand_list_params(sql: str, slots: int = LIST_SLOTS) -> str:
    """Replace each ``:name*`` with ``:name_0, ..., :name_<slots-1>``."""
    return _LIST_PARAM_RE.sub(lambda m: ", ".join(f":{m.group(1)}_{i}" for i in range(slots)), sql)


def list_chunks(name: str, values: Sequence[str], **fixed: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(slots, parameters)`` for a ``:name*`` query, per chunk of distinct values (padded with NULL)."""
    distinct = list(dict.fromkeys(values))
    for start in range(0, len(distinct), LIST_SLOTS):
        chunk = distinct[start : start + LIST_SLOTS]
        slots = next(tier for tier in LIST_TIERS if tier >= len(chunk))
        params = dict(fixed)
        params.update({f"{name}_{i}": value for i, value in enumerate(chunk)})
        params.update(dict.fromkeys((f"{name}_{i}" for i in range(len(chunk), slots)), None))
        yield slots, params


_RAW_QUERIES = load_queries(resources.files(__package__ or __name__).joinpath("queries.sql").read_text("utf-8"))
QUERIES = {name: expand_list_params(sql) for name, sql in _RAW_QUERIES.items()}


@functools.cache
def list_query(name: str, slots: int) -> str:
    """Query ``name`` with its list parameters expanded to ``slots`` slots (see `list_chunks`)."""
    return expand_list_params(_RAW_QUERIES[name], slots)


MIGRATIONS = load_migrations()

# Phase lists are fixed, padded parameter slots (one prepared statement per query); derive them
# from the enums here and refuse to import if queries.sql has a different number of slots.
_UNFINISHED = {f"unfinished_{i}": p.value for i, p in enumerate(codec.UNFINISHED_PHASES)}
_PHASE_SLOTS = len(ExecutionPhase)


def _check_slots() -> None:
    for name, sql in QUERIES.items():
        unfinished = set(re.findall(r":unfinished_\d+", sql))
        if unfinished and unfinished != {f":{k}" for k in _UNFINISHED}:
            raise RuntimeError(
                f"query {name!r} has unfinished-phase slots {sorted(unfinished)}, expected {_UNFINISHED}"
            )
        phases = set(re.findall(r":phase_\d+", sql))
        if phases and len(phases) != _PHASE_SLOTS:
            raise RuntimeError(f"query {name!r} has {len(phases)} phase slots, expected {_PHASE_SLOTS}")


_check_slots()


def list_params(flt: ExecutionFilter) -> dict[str, Any]:
    """Parameters of ``list_executions`` (the phase filter padded to one slot per phase)."""
    phases = list(dict.fromkeys(p.value for p in flt.phases))
    slots = phases + [phases[0] if phases else None] * (_PHASE_SLOTS - len(phases))
    params: dict[str, Any] = {f"phase_{i}": value for i, value in enumerate(slots)}
    params.update(
        any_phase=not phases,
        project=flt.project,
        workflow=flt.workflow,
        has_cursor=False,
        cursor_created_at=None,
        cursor_id=None,
        limit=flt.limit,
    )
    return params


class _RowsConflict(Exception):
    """Internal: an executemany wrote fewer rows than asked; diagnosed after the rollback."""

    def __init__(self, kind: str, rows: list[codec.Row]) -> None:
        super().__init__(kind)
        self.kind = kind
        self.rows = rows


class _Pool:
    """Connections handed to one caller at a time; closed together by `close`."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], where: str) -> None:
        self._connect = connect
        self._where = where
        self._lock = threading.Lock()
        self._idle: list[sqlite3.Connection] = []
        self._closed = False

    @contextlib.contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._closed:
                raise StoreError(f"the store at {self._where} is closed")
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            conn = self._connect()
        try:
            yield conn
        finally:
            if conn.in_transaction:  # an exception escaped mid-transaction
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            with self._lock:
                keep = not self._closed and not conn.in_transaction
                if keep:
                    self._idle.append(conn)
            if not keep:
                conn.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


class SqliteStore:
    """A `Store` on one SQLite file. Safe to share between threads; other processes may open the file too."""

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 10.0) -> None:
        raw = os.fspath(path)
        if raw in ("", ":memory:") or raw.startswith("file:"):
            raise StoreError(
                f"SqliteStore needs a file path, got {raw!r}; for an in-memory store use setpoint.testing.InMemoryStore"
            )
        self.path = Path(raw)
        self._busy_timeout = busy_timeout
        self._prepare_directory()
        self._pool = _Pool(self._connect, str(self.path))
        try:
            with self._errors("open the store"), self._pool.connection() as conn:
                mode = self._enable_wal(conn)
                if mode.lower() != "wal":
                    raise StoreError(
                        f"the store at {self.path} cannot use WAL mode (journal_mode is {mode!r}); "
                        f"is it on a network file system?"
                    )
                migrate(conn, MIGRATIONS, where=str(self.path))
        except BaseException:
            self._pool.close()
            raise

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.path)!r})"

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._pool.close()

    # -- specs ------------------------------------------------------------------------------------

    def put_spec(self, digest: str, body: str) -> None:
        with self._transaction(f"store spec {digest!r}") as conn:
            if conn.execute(QUERIES["put_spec"], {"digest": digest, "body": body}).rowcount == 0:
                stored = conn.execute(QUERIES["get_spec"], {"digest": digest}).fetchone()
                if stored is not None and stored["body"] != body:
                    raise codec.spec_body_differs(digest)

    def get_spec(self, digest: str) -> str:
        with self._read(f"read spec {digest!r}") as conn:
            row = conn.execute(QUERIES["get_spec"], {"digest": digest}).fetchone()
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
        with self._transaction(f"create execution {record.id!r}") as conn:
            if conn.execute(QUERIES["insert_execution"], row).rowcount == 0:
                raise codec.execution_exists(record.id)
            if node_rows:
                conn.executemany(QUERIES["insert_node"], node_rows)
            if event_rows:
                conn.executemany(QUERIES["insert_event"], event_rows)
        row["version"] = 1
        return codec.execution_from_row(row)

    def get_execution(self, execution_id: str) -> ExecutionRecord:
        with self._read(f"read execution {execution_id!r}") as conn:
            row = conn.execute(QUERIES["get_execution"], {"id": execution_id}).fetchone()
        if row is None:
            raise codec.execution_not_found(execution_id)
        return codec.execution_from_row(row)

    def list_executions(self, flt: ExecutionFilter = ExecutionFilter()) -> list[ExecutionRecord]:  # noqa: B008 (frozen)
        codec.check_filter(flt)
        params = list_params(flt)
        with self._read("list executions") as conn:
            if flt.before is not None:
                cursor = conn.execute(QUERIES["get_execution_cursor"], {"id": flt.before}).fetchone()
                if cursor is None:
                    raise codec.execution_not_found(flt.before)
                params.update(has_cursor=True, cursor_created_at=cursor["created_at"], cursor_id=cursor["id"])
            rows = conn.execute(QUERIES["list_executions"], params).fetchall()
        return [codec.execution_from_row(row) for row in rows]

    def unfinished_executions(self) -> list[str]:
        with self._read("list unfinished executions") as conn:
            rows = conn.execute(QUERIES["unfinished_executions"], _UNFINISHED).fetchall()
        return [str(row["id"]) for row in rows]

    def request_abort(self, execution_id: str, reason: str, now: float) -> ExecutionRecord:
        params = {"id": execution_id, "reason": reason, "now": now, **_UNFINISHED}
        with self._transaction(f"request abort of execution {execution_id!r}") as conn:
            rows = conn.execute(QUERIES["request_abort"], params).fetchall()
            if rows:
                event = codec.event_to_row(codec.abort_event(execution_id, reason, now))
                conn.execute(QUERIES["insert_event"], event)
            else:  # already requested, terminal, or missing
                rows = conn.execute(QUERIES["get_execution"], {"id": execution_id}).fetchall()
                if not rows:
                    raise codec.execution_not_found(execution_id)
        return codec.execution_from_row(rows[0])

    # -- leases -----------------------------------------------------------------------------------

    def acquire_lease(self, execution_id: str, owner: str, ttl: float, now: float) -> ExecutionRecord | None:
        codec.check_lease_args(owner, ttl)
        params = {"id": execution_id, "owner": owner, "expires_at": now + ttl, "now": now, **_UNFINISHED}
        with self._transaction(f"acquire the lease on execution {execution_id!r}") as conn:
            rows = conn.execute(QUERIES["acquire_lease"], params).fetchall()
            if not rows and conn.execute(QUERIES["get_execution_version"], {"id": execution_id}).fetchone() is None:
                raise codec.execution_not_found(execution_id)
        return codec.execution_from_row(rows[0]) if rows else None

    def renew_leases(self, owner: str, ttl: float, now: float) -> list[str]:
        codec.check_lease_args(owner, ttl)
        params = {"owner": owner, "expires_at": now + ttl, "now": now, **_UNFINISHED}
        with self._transaction(f"renew the leases of {owner!r}") as conn:
            rows = conn.execute(QUERIES["renew_leases"], params).fetchall()
        return sorted(str(row["id"]) for row in rows)

    def release_lease(self, execution_id: str, owner: str) -> None:
        with self._transaction(f"release the lease on execution {execution_id!r}") as conn:
            conn.execute(QUERIES["release_lease"], {"id": execution_id, "owner": owner})

    # -- node and attempt state -------------------------------------------------------------------

    def load_nodes(self, execution_id: str) -> list[NodeRecord]:
        with self._read(f"load the nodes of execution {execution_id!r}") as conn:
            rows = conn.execute(QUERIES["load_nodes"], {"execution_id": execution_id}).fetchall()
        return [codec.node_from_row(row) for row in rows]

    def load_attempts(self, execution_id: str, *, node_id: str | None = None) -> list[AttemptRecord]:
        with self._read(f"load the attempts of execution {execution_id!r}") as conn:
            rows = conn.execute(QUERIES["load_attempts"], {"execution_id": execution_id, "node_id": node_id}).fetchall()
        return [codec.attempt_from_row(row) for row in rows]

    def commit_round(self, write: RoundWrite, *, owner: str | None) -> ExecutionRecord:
        codec.check_round(write)
        rec = write.execution
        exe = codec.execution_to_row(rec)
        exe["owner"] = owner
        nodes = [codec.node_to_row(n) for n in write.nodes]
        attempts = [codec.attempt_to_row(a) for a in write.attempts]
        events = [codec.event_to_row(ev) for ev in write.events]
        puts = [codec.catalog_entry_to_row(e) for e in write.catalog_puts]
        releases = [{"project": p, "key": k, "owner": o} for p, k, o in write.releases]
        lineage = [codec.lineage_to_row(r) for r in write.lineage]
        try:
            with self._transaction(f"commit a round of execution {rec.id!r}") as conn:
                rows = conn.execute(QUERIES["commit_execution"], exe).fetchall()
                if not rows:
                    raise self._execution_cas_error(conn, rec, owner)
                self._write_rows(conn, "node", nodes)
                self._write_rows(conn, "attempt", attempts)
                if events:
                    conn.executemany(QUERIES["insert_event"], events)
                if puts:
                    conn.executemany(QUERIES["upsert_catalog_entry"], puts)
                if releases:
                    conn.executemany(QUERIES["release_reservation"], releases)
                if lineage:
                    conn.executemany(QUERIES["insert_lineage"], lineage)
        except _RowsConflict as bad:
            raise self._diagnose(bad) from None
        return codec.execution_from_row(rows[0])

    # -- history ----------------------------------------------------------------------------------

    def events(self, execution_id: str, after_seq: int = 0, limit: int = 10_000) -> list[Event]:
        if limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        params = {"execution_id": execution_id, "after_seq": after_seq, "limit": limit}
        with self._read(f"read the events of execution {execution_id!r}") as conn:
            rows = conn.execute(QUERIES["events"], params).fetchall()
        return [codec.event_from_row(row) for row in rows]

    # -- signals ----------------------------------------------------------------------------------

    def send_signal(self, execution_id: str, name: str, value: Any, now: float) -> bool:
        params = {
            "execution_id": execution_id,
            "name": name,
            "value": codec.dump_value(value, "a signal value"),
            "now": now,
        }
        with self._transaction(f"record signal {name!r} of execution {execution_id!r}") as conn:
            if conn.execute(QUERIES["get_execution_version"], {"id": execution_id}).fetchone() is None:
                raise codec.execution_not_found(execution_id)
            if conn.execute(QUERIES["insert_signal"], params).rowcount == 0:
                return False
            conn.execute(QUERIES["touch_execution"], {"id": execution_id, "now": now})
            event = codec.event_to_row(codec.signal_event(execution_id, name, now))
            conn.execute(QUERIES["insert_event"], event)
        return True

    def signals(self, execution_id: str) -> dict[str, Any]:
        with self._read(f"read the signals of execution {execution_id!r}") as conn:
            rows = conn.execute(QUERIES["load_signals"], {"execution_id": execution_id}).fetchall()
        return {str(row[0]): json.loads(row[1]) for row in rows}

    # -- registry ---------------------------------------------------------------------------------

    def create_project(self, name: str, now: float) -> bool:
        with self._transaction(f"create project {name!r}") as conn:
            return bool(conn.execute(QUERIES["insert_project"], {"name": name, "now": now}).rowcount)

    def list_projects(self) -> list[str]:
        with self._read("list projects") as conn:
            return [str(row[0]) for row in conn.execute(QUERIES["list_projects"])]

    def register_entity(self, entity: RegisteredEntity) -> tuple[RegisteredEntity, bool]:
        row = registry_rows.entity_to_row(entity)
        key = {k: row[k] for k in ("kind", "project", "name", "version")}
        with self._transaction(f"register {entity.kind} {entity.name!r} version {entity.version!r}") as conn:
            created = bool(conn.execute(QUERIES["insert_entity"], row).rowcount)
            stored = conn.execute(QUERIES["get_entity"], key).fetchone()
        return registry_rows.entity_from_row(stored), created

    def get_entity(self, kind: str, project: str, name: str, version: str | None = None) -> RegisteredEntity:
        registry_rows.check_kind(kind)
        params = {"kind": kind, "project": project, "name": name, "version": version}
        with self._read(f"read {kind} {name!r}") as conn:
            row = conn.execute(QUERIES["latest_entity" if version is None else "get_entity"], params).fetchone()
        if row is None:
            raise registry_rows.entity_not_found(kind, project, name, version)
        return registry_rows.entity_from_row(row)

    def list_entity_versions(self, kind: str, project: str, name: str, limit: int = 100) -> list[RegisteredEntity]:
        registry_rows.check_kind(kind)
        codec.check_limit(limit)
        params = {"kind": kind, "project": project, "name": name, "limit": limit}
        with self._read(f"list the versions of {kind} {name!r}") as conn:
            rows = conn.execute(QUERIES["list_entity_versions"], params).fetchall()
        return [registry_rows.entity_from_row(row) for row in rows]

    def list_entities(self, kind: str, project: str, limit: int = 1000) -> list[RegisteredEntity]:
        registry_rows.check_kind(kind)
        codec.check_limit(limit)
        with self._read(f"list {kind} entities") as conn:
            rows = conn.execute(QUERIES["list_entities"], {"kind": kind, "project": project, "limit": limit}).fetchall()
        return [registry_rows.entity_from_row(row) for row in rows]

    def put_token(self, token: TokenRecord) -> None:
        row = registry_rows.token_to_row(token)
        with self._transaction("store an API token") as conn:
            conn.execute(QUERIES["insert_token"], row)

    def get_token(self, token_hash: str) -> TokenRecord | None:
        with self._read("read an API token") as conn:
            row = conn.execute(QUERIES["get_token"], {"token_hash": token_hash}).fetchone()
        return None if row is None else registry_rows.token_from_row(row)

    # -- launch plan activation and schedule ticks --------------------------------------------------

    def activate_launchplan(self, project: str, name: str, version: str, now: float) -> Activation:
        key = {"kind": "launchplan", "project": project, "name": name, "version": version}
        with self._transaction(f"activate launch plan {name!r} version {version!r}") as conn:
            if conn.execute(QUERIES["get_entity"], key).fetchone() is None:
                raise registry_rows.entity_not_found("launchplan", project, name, version)
            conn.execute(
                QUERIES["upsert_activation"], {"project": project, "name": name, "version": version, "now": now}
            )
            row = conn.execute(QUERIES["get_activation"], {"project": project, "name": name}).fetchone()
        return registry_rows.activation_from_row(row)

    def deactivate_launchplan(self, project: str, name: str) -> bool:
        key = {"kind": "launchplan", "project": project, "name": name}
        with self._transaction(f"deactivate launch plan {name!r}") as conn:
            if conn.execute(QUERIES["latest_entity"], key).fetchone() is None:
                raise registry_rows.entity_not_found("launchplan", project, name, None)
            return bool(conn.execute(QUERIES["delete_activation"], {"project": project, "name": name}).rowcount)

    def get_activation(self, project: str, name: str) -> Activation | None:
        with self._read(f"read the activation of launch plan {name!r}") as conn:
            row = conn.execute(QUERIES["get_activation"], {"project": project, "name": name}).fetchone()
        return None if row is None else registry_rows.activation_from_row(row)

    def list_activations(self, project: str | None = None) -> list[Activation]:
        with self._read("list active launch plans") as conn:
            rows = conn.execute(QUERIES["list_activations"], {"project": project}).fetchall()
        return [registry_rows.activation_from_row(row) for row in rows]

    def fire_tick(self, tick: TickRecord, execution: ExecutionRecord, events: Sequence[Event] = ()) -> bool:
        registry_rows.check_tick(tick, execution.id)
        codec.check_events(execution.id, events)
        tick_row = registry_rows.tick_to_row(tick)
        row = codec.execution_to_row(execution)
        event_rows = [codec.event_to_row(ev) for ev in events]
        with self._transaction(f"fire tick {tick.tick} of launch plan {tick.launchplan!r}") as conn:
            if conn.execute(QUERIES["insert_tick"], tick_row).rowcount == 0:
                return False
            # Idempotent on the (deterministic) execution id: an execution already there stands.
            if conn.execute(QUERIES["insert_execution"], row).rowcount and event_rows:
                conn.executemany(QUERIES["insert_event"], event_rows)
        return True

    def list_ticks(self, project: str, launchplan: str, limit: int = 20) -> list[TickRecord]:
        codec.check_limit(limit)
        params = {"project": project, "launchplan": launchplan, "limit": limit}
        with self._read(f"list the ticks of launch plan {launchplan!r}") as conn:
            rows = conn.execute(QUERIES["list_ticks"], params).fetchall()
        return [registry_rows.tick_from_row(row) for row in rows]

    # -- catalog ----------------------------------------------------------------------------------

    def catalog_get_many(self, project: str, keys: Sequence[str]) -> dict[str, CatalogEntry]:
        codec.check_str_list(keys, "catalog_get_many keys")
        found: dict[str, CatalogEntry] = {}
        with self._read(f"read {len(keys)} catalog entries of project {project!r}") as conn:
            for slots, params in list_chunks("keys", keys, project=project):
                for row in conn.execute(list_query("catalog_get_many", slots), params):
                    found[str(row["key"])] = codec.catalog_entry_from_row(row)
        return found

    def catalog_list(self, project: str | None = None, task: str | None = None, limit: int = 100) -> list[CatalogEntry]:
        codec.check_limit(limit)
        params = {"project": project, "task": task, "limit": limit}
        # With a project, the index on (project, task, created_at DESC) serves; without, a sorted scan.
        query = "catalog_list_project" if task is None else "catalog_list_task"
        if project is None:
            query = "catalog_list"
        with self._read("list catalog entries") as conn:
            rows = conn.execute(QUERIES[query], params).fetchall()
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
        deleted: set[str] = set()
        with self._transaction(f"evict catalog entries of project {project!r}") as conn:
            for slots, params in list_chunks("keys", keys, project=project):
                deleted.update(r[0] for r in conn.execute(list_query("catalog_evict_keys", slots), params))
            if task is not None:
                params = {"project": project, "task": task}
                deleted.update(r[0] for r in conn.execute(QUERIES["catalog_evict_task"], params))
            if source_execution is not None:
                params = {"project": project, "source_execution": source_execution}
                deleted.update(r[0] for r in conn.execute(QUERIES["catalog_evict_source"], params))
            for slots, params in list_chunks("keys", sorted(deleted), project=project):
                conn.execute(list_query("drop_reservations", slots), params)
        return len(deleted)

    def reserve(self, project: str, key: str, owner: str, ttl: float, now: float) -> str:
        codec.check_reservation_args(owner, ttl)
        params = {
            "project": project,
            "key": key,
            "owner": owner,
            "execution_id": codec.reservation_execution(owner),
            "expires_at": now + ttl,
            "now": now,
        }
        with self._transaction(f"reserve catalog key {key!r} of project {project!r}") as conn:
            row = conn.execute(QUERIES["reserve"], params).fetchone()
            if row is None:  # someone else holds it, unexpired: name them
                row = conn.execute(QUERIES["reservation_owner"], params).fetchone()
        return str(row["owner"])

    def renew_reservations(self, execution_ids: Sequence[str], ttl: float, now: float) -> int:
        codec.check_str_list(execution_ids, "renew_reservations execution_ids")
        codec.check_reservation_ttl(ttl)
        renewed = 0
        with self._transaction(f"renew the reservations of {len(execution_ids)} executions") as conn:
            for slots, params in list_chunks("execution_ids", execution_ids, expires_at=now + ttl, now=now):
                renewed += conn.execute(list_query("renew_reservations", slots), params).rowcount
        return renewed

    # -- lineage ----------------------------------------------------------------------------------

    def lineage_by_hash(self, value_hash: str, direction: str, limit: int = 1000) -> list[LineageRow]:
        codec.check_direction(direction)
        codec.check_limit(limit)
        params = {"value_hash": value_hash, "direction": direction, "limit": limit}
        with self._read(f"read the lineage of value {value_hash!r}") as conn:
            rows = conn.execute(QUERIES["lineage_by_hash"], params).fetchall()
        return [codec.lineage_from_row(row) for row in rows]

    def lineage_of(self, execution_id: str) -> list[LineageRow]:
        with self._read(f"read the lineage of execution {execution_id!r}") as conn:
            rows = conn.execute(QUERIES["lineage_of"], {"execution_id": execution_id}).fetchall()
        return [codec.lineage_from_row(row) for row in rows]

    # -- internals --------------------------------------------------------------------------------

    def _prepare_directory(self) -> None:
        if self.path.is_dir():
            raise StoreError(f"the store path {self.path} is a directory; give a file path inside it")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            blocker = next((p for p in self.path.parents if p.exists() and not p.is_dir()), None)
            why = f"{blocker} is a file, not a directory" if blocker else (exc.strerror or str(exc))
            raise StoreError(f"cannot create the directory for the store at {self.path}: {why}") from exc

    def _connect(self) -> sqlite3.Connection:
        with self._errors("open the store"):
            conn = sqlite3.connect(
                self.path,
                timeout=self._busy_timeout,
                isolation_level=None,  # autocommit; transactions are explicit BEGIN IMMEDIATE
                check_same_thread=False,  # the pool hands a connection to one thread at a time
                cached_statements=256,
            )
            try:
                conn.row_factory = sqlite3.Row
                conn.execute("PRAGMA foreign_keys = ON")
                conn.execute("PRAGMA synchronous = NORMAL")
            except BaseException:
                conn.close()
                raise
        return conn

    def _enable_wal(self, conn: sqlite3.Connection) -> str:
        """Switch to WAL and return the journal mode now in force.

        Several processes opening a fresh file at once race on this switch, and SQLite answers the
        losers SQLITE_BUSY at once, without waiting on busy_timeout; so wait here instead.
        """
        deadline = time.monotonic() + self._busy_timeout
        while True:
            try:
                return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
            except sqlite3.OperationalError as exc:
                busy = str(getattr(exc, "sqlite_errorname", "")).startswith("SQLITE_BUSY")
                if not busy or time.monotonic() >= deadline:
                    raise
                time.sleep(0.005)

    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise self._store_error(doing, exc) from exc

    @contextlib.contextmanager
    def _read(self, doing: str) -> Iterator[sqlite3.Connection]:
        with self._errors(doing), self._pool.connection() as conn:
            yield conn

    @contextlib.contextmanager
    def _transaction(self, doing: str) -> Iterator[sqlite3.Connection]:
        """One write transaction; any exception rolls it back and nothing of it is kept."""
        with self._errors(doing), self._pool.connection() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            finally:
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")

    def _store_error(self, doing: str, exc: sqlite3.Error) -> StoreError:
        code = getattr(exc, "sqlite_errorname", "") or ""
        text = str(exc)
        if code in ("SQLITE_NOTADB", "SQLITE_CORRUPT") or "not a database" in text or "malformed" in text:
            hint = "the file is not a SQLite database or is corrupt; restore a backup or use another path"
        elif code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
            hint = f"another connection held the database lock for more than {self._busy_timeout:g}s; retry"
        elif code.startswith("SQLITE_READONLY"):
            hint = "the file or its directory is read-only"
        elif code.startswith("SQLITE_CANTOPEN"):
            hint = "check that the path names a file in a directory you can write"
        elif code == "SQLITE_FULL":
            hint = "the disk is full"
        else:
            hint = ""
        return StoreError(f"store {self.path}: cannot {doing}: {text}" + (f" ({hint})" if hint else ""))

    def _execution_cas_error(self, conn: sqlite3.Connection, rec: ExecutionRecord, owner: str | None) -> Exception:
        current = conn.execute(QUERIES["get_execution_version"], {"id": rec.id}).fetchone()
        if current is None:
            return codec.execution_not_found(rec.id)
        if owner is not None and current["lease_owner"] != owner:
            return codec.lease_lost(rec.id, owner, current["lease_owner"])
        return codec.execution_conflict(rec.id, rec.version, int(current["version"]))

    def _write_rows(self, conn: sqlite3.Connection, kind: str, rows: list[codec.Row]) -> None:
        """Insert new rows (version 0) and compare-and-swap the others; any miss aborts the round."""
        new = [r for r in rows if r["version"] == 0]
        old = [r for r in rows if r["version"] != 0]
        if new and conn.executemany(QUERIES[f"insert_{kind}"], new).rowcount != len(new):
            raise _RowsConflict(kind, new)
        if old and conn.executemany(QUERIES[f"update_{kind}"], old).rowcount != len(old):
            raise _RowsConflict(kind, old)

    def _diagnose(self, bad: _RowsConflict) -> ConflictError:
        """Name the first row whose compare-and-swap failed (read after the rollback)."""
        with self._read(f"diagnose a conflicting {bad.kind} write") as conn:
            for row in bad.rows:
                found = conn.execute(QUERIES[f"get_{bad.kind}_version"], row).fetchone()
                version = None if found is None else int(found["version"])
                if version != (row["version"] or None):
                    if bad.kind == "node":
                        label = codec.node_label(row["execution_id"], row["node_id"])
                    else:
                        label = codec.attempt_label(row["execution_id"], row["node_id"], row["number"])
                    return codec.row_conflict(label, row["version"], version)
        return ConflictError(f"a {bad.kind} row changed during the round; reload and decide again")


if TYPE_CHECKING:

    def _conforms(store: SqliteStore) -> Store:
        return store
