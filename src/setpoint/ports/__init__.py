"""The small interfaces between the controller and the outside world.

The controller shell talks to storage, executors, blobs and time only through these protocols, so
the same controller runs on SQLite or PostgreSQL, local processes or Ray, and under a fake clock in
tests. Each adapter translates its driver's exceptions into `setpoint.errors` at this boundary.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from setpoint.core.model import (
    AttemptObservation,
    AttemptRecord,
    CatalogEntry,
    Event,
    ExecutionRecord,
    LineageRow,
    NodeRecord,
)
from setpoint.core.phases import ExecutionPhase


class Clock(Protocol):
    def now(self) -> float: ...


class SystemClock:
    def now(self) -> float:
        return time.time()


@dataclass(frozen=True, slots=True)
class RoundWrite:
    """Everything one reconcile round persists, applied atomically by `Store.commit_round`.

    ``execution`` is the full new execution record (its ``version`` is the version it was loaded
    at: the compare-and-swap expectation). Node and attempt records carry the version they were
    loaded at (0 for new rows); the store bumps each written row's version by one.
    """

    execution: ExecutionRecord
    nodes: Sequence[NodeRecord] = ()
    attempts: Sequence[AttemptRecord] = ()
    events: Sequence[Event] = ()
    catalog_puts: Sequence[CatalogEntry] = ()  # upserts: a put replaces an entry with the same key
    releases: Sequence[tuple[str, str, str]] = ()  # reservations to drop: (project, key, owner)
    lineage: Sequence[LineageRow] = ()


@dataclass(frozen=True, slots=True)
class ExecutionFilter:
    phases: tuple[ExecutionPhase, ...] = ()
    project: str | None = None
    workflow: str | None = None
    limit: int = 50
    before: str | None = None  # cursor: an execution id; list strictly older ones


ENTITY_KINDS = ("task", "workflow", "launchplan")
ROLES = ("viewer", "editor", "admin")


@dataclass(frozen=True, slots=True)
class RegisteredEntity:
    """One immutable, versioned task, workflow or launch plan of a project (see `setpoint.service.registry`).

    ``digest`` hashes everything that makes the entity what it is: equal digests under one name and
    version are the same registration, different ones a conflict. ``body`` is plain JSON whose shape
    depends on ``kind``. ``seq`` is assigned by the store (the latest version has the highest).
    """

    kind: str
    project: str
    name: str
    version: str
    digest: str
    spec_digest: str
    code_digest: str
    body: dict[str, Any]
    created_at: float
    seq: int = 0


@dataclass(frozen=True, slots=True)
class Activation:
    """Which version of a launch plan is active (at most one per name), since when, and its last tick.

    ``last_tick`` is the newest nominal tick fired for the launch plan name (by any version), read
    from the record of fired ticks; None before the first.
    """

    project: str
    name: str
    version: str
    activated_at: float
    last_tick: int | None = None


@dataclass(frozen=True, slots=True)
class TickRecord:
    """One nominal tick of a launch plan's schedule that was fired, and the execution it created.

    ``tick`` is the nominal time in whole seconds since the epoch; (project, launchplan, tick) is
    unique in the store, so a tick can never be fired twice.
    """

    project: str
    launchplan: str
    tick: int
    version: str
    execution_id: str
    fired_at: float


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """An API token as stored: the SHA-256 of its secret, never the secret."""

    token_hash: str
    project: str
    role: str
    created_at: float


class Store(Protocol):
    """Declared and observed state. Every mutation is a compare-and-swap on a row version."""

    # content-addressed specs
    def put_spec(self, digest: str, body: str) -> None: ...
    def get_spec(self, digest: str) -> str: ...

    # executions
    def create_execution(
        self, record: ExecutionRecord, events: Sequence[Event] = (), nodes: Sequence[NodeRecord] = ()
    ) -> ExecutionRecord: ...
    def get_execution(self, execution_id: str) -> ExecutionRecord: ...
    def list_executions(self, flt: ExecutionFilter = ...) -> list[ExecutionRecord]: ...
    def unfinished_executions(self) -> list[str]: ...
    def request_abort(self, execution_id: str, reason: str, now: float) -> ExecutionRecord: ...

    # leases
    def acquire_lease(self, execution_id: str, owner: str, ttl: float, now: float) -> ExecutionRecord | None: ...
    def renew_leases(self, owner: str, ttl: float, now: float) -> list[str]: ...
    def release_lease(self, execution_id: str, owner: str) -> None: ...

    # node and attempt state
    def load_nodes(self, execution_id: str) -> list[NodeRecord]: ...
    def load_attempts(self, execution_id: str, *, node_id: str | None = None) -> list[AttemptRecord]: ...
    def commit_round(self, write: RoundWrite, *, owner: str | None) -> ExecutionRecord: ...

    # history
    def events(self, execution_id: str, after_seq: int = 0, limit: int = 10_000) -> list[Event]: ...

    # signals for gates (approve, wait_for_input): the first value sent for a name stands
    def send_signal(self, execution_id: str, name: str, value: Any, now: float) -> bool: ...
    def signals(self, execution_id: str) -> dict[str, Any]: ...

    # catalog (memoization), written inside commit_round; read and managed here
    def catalog_get_many(self, project: str, keys: Sequence[str]) -> dict[str, CatalogEntry]: ...
    def catalog_list(
        self, project: str | None = None, task: str | None = None, limit: int = 100
    ) -> list[CatalogEntry]: ...
    def catalog_evict(
        self,
        project: str,
        *,
        keys: Sequence[str] = (),
        task: str | None = None,
        source_execution: str | None = None,
    ) -> int: ...
    def reserve(self, project: str, key: str, owner: str, ttl: float, now: float) -> str: ...
    def renew_reservations(self, execution_ids: Sequence[str], ttl: float, now: float) -> int: ...

    # lineage
    def lineage_by_hash(self, value_hash: str, direction: str, limit: int = 1000) -> list[LineageRow]: ...
    def lineage_of(self, execution_id: str) -> list[LineageRow]: ...

    # registry: projects and immutable registered entities
    def create_project(self, name: str, now: float) -> bool: ...
    def list_projects(self) -> list[str]: ...
    def register_entity(self, entity: RegisteredEntity) -> tuple[RegisteredEntity, bool]: ...
    def get_entity(self, kind: str, project: str, name: str, version: str | None = None) -> RegisteredEntity: ...
    def list_entity_versions(self, kind: str, project: str, name: str, limit: int = 100) -> list[RegisteredEntity]: ...
    def list_entities(self, kind: str, project: str, limit: int = 1000) -> list[RegisteredEntity]: ...

    # launch plan activation and the record of fired schedule ticks. Activating a registered version
    # replaces any other active version of the name (activating the active one changes nothing);
    # fire_tick records a tick and creates its execution in one transaction, and does neither
    # (returns False) when the tick was fired already or its version is no longer the active one.
    # The execution insert is idempotent on its id: an execution with that id already there stands.
    def activate_launchplan(self, project: str, name: str, version: str, now: float) -> Activation: ...
    def deactivate_launchplan(self, project: str, name: str) -> bool: ...
    def get_activation(self, project: str, name: str) -> Activation | None: ...
    def list_activations(self, project: str | None = None) -> list[Activation]: ...
    def fire_tick(self, tick: TickRecord, execution: ExecutionRecord, events: Sequence[Event] = ()) -> bool: ...
    def list_ticks(self, project: str, launchplan: str, limit: int = 20) -> list[TickRecord]: ...

    # API tokens
    def put_token(self, token: TokenRecord) -> None: ...
    def get_token(self, token_hash: str) -> TokenRecord | None: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class LaunchRequest:
    """All an executor needs to run one attempt, in plain data."""

    attempt_id: str
    entrypoint: str  # "module:function" the worker calls with (payload, attempt_dir)
    payload: dict[str, Any]  # JSON: the task spec, the input literals, where blobs live, ...
    sys_path: tuple[str, ...] = ()  # prepended to sys.path in the worker (the code bundle)
    preload: tuple[str, ...] = ()  # modules a warm worker may import before forking
    env: tuple[tuple[str, str], ...] = field(default=())


class Executor(Protocol):
    """Runs attempts. Every call is idempotent on the attempt id."""

    name: str

    def launch(self, request: LaunchRequest) -> None: ...
    def observe(self, attempt_id: str) -> AttemptObservation: ...
    def abort(self, attempt_id: str) -> None: ...
    def logs(self, attempt_id: str) -> dict[str, Path]: ...
    def set_listener(self, listener: Callable[[str], None]) -> None: ...
    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class BlobRef:
    uri: str
    sha256: str
    size: int


class BlobStore(Protocol):
    """Payloads, code bundles and files. Content-addressed, written atomically, verified on read."""

    def put_bytes(self, data: bytes) -> BlobRef: ...
    def get_bytes(self, ref: BlobRef) -> bytes: ...
    def put_file(self, path: Path) -> BlobRef: ...
    def get_file(self, ref: BlobRef, dest: Path) -> Path: ...
    def exists(self, ref: BlobRef) -> bool: ...
    def verify(self, ref: BlobRef) -> bool: ...
