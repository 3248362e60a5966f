"""The store port, split by role: each caller names the slice of stored state it uses.

`Store` is what a backend implements (SQLite, PostgreSQL, the in-memory fake) and what the
composition root hands around; it is the union of small role protocols, in the spirit of
controller-runtime's ``Reader``/``Writer``. A function that only reads node rows, fires schedule
ticks or checks API tokens takes that role, so its signature says what it touches and a test can
pass a fake of just that much. Every mutation is a compare-and-swap on a row version.

The frozen values below are what the store's methods take and return beside the core's records.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from setpoint.core.model import (
    AttemptRecord,
    CatalogEntry,
    Event,
    ExecutionRecord,
    LineageRow,
    NodeRecord,
)
from setpoint.core.phases import ExecutionPhase


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
    search: str | None = None  # a substring of the id or the workflow name (ASCII letters in any case)


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


# -- the roles ------------------------------------------------------------------------------------


class SpecStore(Protocol):
    """Content-addressed spec bodies: what executions and registered entities pin by digest."""

    def put_spec(self, digest: str, body: str) -> None: ...
    def get_spec(self, digest: str) -> str: ...


class ExecutionReader(SpecStore, Protocol):
    """Reads executions (and the specs they pin)."""

    def get_execution(self, execution_id: str) -> ExecutionRecord: ...
    def list_executions(self, flt: ExecutionFilter = ...) -> list[ExecutionRecord]: ...
    def unfinished_executions(self) -> list[str]: ...


class ExecutionStore(ExecutionReader, Protocol):
    """Executions and the leases that let one controller replica at a time reconcile each."""

    def create_execution(
        self, record: ExecutionRecord, events: Sequence[Event] = (), nodes: Sequence[NodeRecord] = ()
    ) -> ExecutionRecord: ...
    def request_abort(self, execution_id: str, reason: str, now: float) -> ExecutionRecord: ...

    def acquire_lease(self, execution_id: str, owner: str, ttl: float, now: float) -> ExecutionRecord | None: ...
    def renew_leases(self, owner: str, ttl: float, now: float) -> list[str]: ...
    def release_lease(self, execution_id: str, owner: str) -> None: ...


class NodeReader(Protocol):
    """Reads an execution's node and attempt rows, its history and the signals sent to its gates."""

    def load_nodes(self, execution_id: str) -> list[NodeRecord]: ...
    def load_attempts(self, execution_id: str, *, node_id: str | None = None) -> list[AttemptRecord]: ...
    def events(self, execution_id: str, after_seq: int = 0, limit: int = 10_000) -> list[Event]: ...
    def signals(self, execution_id: str) -> dict[str, Any]: ...


class NodeStateStore(NodeReader, Protocol):
    """Node and attempt state, written a round at a time; and signals for gates (approve,
    wait_for_input): the first value sent for a name stands."""

    def commit_round(self, write: RoundWrite, *, owner: str | None) -> ExecutionRecord: ...
    def send_signal(self, execution_id: str, name: str, value: Any, now: float) -> bool: ...


class CatalogStore(Protocol):
    """The memo catalog (written inside `NodeStateStore.commit_round`; read and managed here) and
    the reservations that keep two executions from computing one cache key at once."""

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


class LineageStore(Protocol):
    """Which executions consumed and produced which values (written inside commit_round)."""

    def lineage_by_hash(self, value_hash: str, direction: str, limit: int = 1000) -> list[LineageRow]: ...
    def lineage_of(self, execution_id: str) -> list[LineageRow]: ...


class ExecutionView(ExecutionReader, NodeReader, Protocol):
    """Read-only: executions with their nodes, attempts, history and signals (following, inspecting)."""


class LineageReader(ExecutionView, LineageStore, Protocol):
    """What tracing a value's lineage reads: pinned specs, node rows and lineage rows."""


class RegistryStore(SpecStore, Protocol):
    """Projects and immutable registered entities (with the spec bodies they pin)."""

    def create_project(self, name: str, now: float) -> bool: ...
    def list_projects(self) -> list[str]: ...
    def register_entity(self, entity: RegisteredEntity) -> tuple[RegisteredEntity, bool]: ...
    def get_entity(self, kind: str, project: str, name: str, version: str | None = None) -> RegisteredEntity: ...
    def list_entity_versions(self, kind: str, project: str, name: str, limit: int = 100) -> list[RegisteredEntity]: ...
    def list_entities(self, kind: str, project: str, limit: int = 1000) -> list[RegisteredEntity]: ...


class ScheduleStore(RegistryStore, Protocol):
    """Launch plan activation and the record of fired schedule ticks, over the registered plans.

    Activating a registered version replaces any other active version of the name (activating the
    active one changes nothing); fire_tick records a tick and creates its execution in one
    transaction, and does neither (returns False) when the tick was fired already or its version is
    no longer the active one. The execution insert is idempotent on its id: an execution with that
    id already there stands.
    """

    def activate_launchplan(self, project: str, name: str, version: str, now: float) -> Activation: ...
    def deactivate_launchplan(self, project: str, name: str) -> bool: ...
    def get_activation(self, project: str, name: str) -> Activation | None: ...
    def list_activations(self, project: str | None = None) -> list[Activation]: ...
    def fire_tick(self, tick: TickRecord, execution: ExecutionRecord, events: Sequence[Event] = ()) -> bool: ...
    def list_ticks(self, project: str, launchplan: str, limit: int = 20) -> list[TickRecord]: ...


class TokenStore(Protocol):
    """API tokens, kept as digests."""

    def put_token(self, token: TokenRecord) -> None: ...
    def get_token(self, token_hash: str) -> TokenRecord | None: ...


class Store(
    ExecutionStore, NodeStateStore, CatalogStore, LineageStore, ScheduleStore, RegistryStore, TokenStore, Protocol
):
    """Declared and observed state: every role, as a backend implements it."""

    def close(self) -> None: ...
