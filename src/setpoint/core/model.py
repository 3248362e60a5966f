"""The recorded state of executions: one record per execution, per started node, per attempt.

These frozen records are what the store persists and what `reconcile` reads. Times are float
seconds since the epoch, always supplied by the caller's clock (the core never reads a clock).
Literal values appear here only as their JSON form (inline values or blob references); the core
moves them around without looking inside.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from setpoint.core.phases import AttemptPhase, ErrorKind, ExecutionPhase, NodePhase
from setpoint.spec.configs import GateKind

EXECUTION_ID_RE = re.compile(r"^[a-z][a-z0-9-]{2,63}$")


# The discriminators below are `StrEnum`s whose values are the strings stored in databases and
# shown by the API, so a record reads and writes exactly as it did when they were plain strings.


class ExecutionMode(enum.StrEnum):
    """How an execution came to be."""

    RUN = "run"  # launched by a user
    RELAUNCH = "relaunch"  # a new run of ``source_id``'s spec and code, inputs possibly changed
    RECOVER = "recover"  # a rerun of ``source_id`` that reuses its succeeded nodes
    CHILD = "child"  # started by a launch-plan node of ``source_id``
    SCHEDULED = "scheduled"  # started by the scheduler for a launch plan's schedule


class LineageDirection(enum.StrEnum):
    """Whether a lineage row is a value a node consumed or one it produced."""

    IN = "in"
    OUT = "out"


_DIRECTIONS = frozenset(d.value for d in LineageDirection)


class EventKind(enum.StrEnum):
    """Which record an event of an execution's history is about."""

    EXECUTION = "execution"
    NODE = "node"
    ATTEMPT = "attempt"


class AbortReason(enum.StrEnum):
    """Why an ABORTING attempt is being killed."""

    ABORT = "abort"  # the execution is stopping (terminated, or failing fast)
    TIMEOUT = "timeout"  # the task's own timeout: the attempt fails and may be retried
    DEADLINE = "deadline"  # the node's deadline over all attempts: no retry


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """Why something failed, in words a person can act on."""

    kind: ErrorKind
    code: str  # short stable token: "TaskRaised", "Timeout", "ProcessLost", "NoOutputs", ...
    message: str
    retryable: bool = True
    node: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind.value,
            "code": self.code,
            "message": self.message,
            "retryable": self.retryable,
        }
        if self.node is not None:
            out["node"] = self.node
        return out

    @staticmethod
    def from_json(data: dict[str, Any] | None) -> ErrorInfo | None:
        if not data:
            return None
        return ErrorInfo(
            ErrorKind(data["kind"]),
            str(data["code"]),
            str(data["message"]),
            bool(data.get("retryable", True)),
            data.get("node"),
        )


@dataclass(frozen=True, slots=True)
class ExecutionConfig:
    """Per-execution settings chosen at launch (they are part of the immutable record)."""

    max_parallelism: int = 0  # 0: the spec's value, else the controller default
    executor: str = "local"
    overwrite_cache: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "max_parallelism": self.max_parallelism,
            "executor": self.executor,
            "overwrite_cache": self.overwrite_cache,
        }

    @staticmethod
    def from_json(data: dict[str, Any] | None) -> ExecutionConfig:
        data = data or {}
        return ExecutionConfig(
            int(data.get("max_parallelism", 0)),
            str(data.get("executor", "local")),
            bool(data.get("overwrite_cache", False)),
        )


@dataclass(frozen=True, slots=True)
class ExecutionRecord:
    id: str
    project: str
    workflow: str
    spec_digest: str
    code_digest: str
    inputs: dict[str, Any]  # literal JSON per input, defaults already filled in
    phase: ExecutionPhase = ExecutionPhase.QUEUED
    created_at: float = 0.0
    updated_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    outputs: dict[str, Any] | None = None
    error: ErrorInfo | None = None
    abort_reason: str | None = None  # set by a user's terminate, in their words: declared intent to stop
    source_id: str | None = None  # the execution this one relaunches, recovers or is a child of
    mode: ExecutionMode = ExecutionMode.RUN
    config: ExecutionConfig = field(default_factory=ExecutionConfig)
    version: int = 0
    lease_owner: str | None = None
    lease_expires_at: float | None = None

    def __post_init__(self) -> None:
        if type(self.mode) is not ExecutionMode:  # read from a row or a test as its string
            object.__setattr__(self, "mode", ExecutionMode(self.mode))

    def evolve(self, **changes: Any) -> ExecutionRecord:
        return replace(self, **changes)


@dataclass(frozen=True, slots=True)
class NodeRecord:
    execution_id: str
    node_id: str
    phase: NodePhase
    attempt: int = 0  # number of the current (latest) attempt; 0 before the first
    user_failures: int = 0
    system_failures: int = 0
    inputs: dict[str, Any] | None = None  # resolved input literals, recorded when the node starts
    outputs: dict[str, Any] | None = None
    error: ErrorInfo | None = None
    started_at: float | None = None
    finished_at: float | None = None
    retry_at: float | None = None  # RETRYING: not before this time
    cache_status: CacheStatus | None = None  # None: not cacheable
    detail: dict[str, Any] | None = None  # the JSON form of a `NodeDetail` (read it as `typed_detail`)
    version: int = 0  # 0: not yet stored

    def __post_init__(self) -> None:
        if self.cache_status is not None and type(self.cache_status) is not CacheStatus:  # its string
            object.__setattr__(self, "cache_status", CacheStatus(self.cache_status))

    def evolve(self, **changes: Any) -> NodeRecord:
        return replace(self, **changes)

    @property
    def typed_detail(self) -> NodeDetail:
        return NodeDetail.from_json(self.detail)

    @property
    def attempt_id(self) -> str:
        return attempt_id(self.execution_id, self.node_id, self.attempt)


@dataclass(frozen=True, slots=True)
class NodeDetail:
    """What a node records beyond its phase and values, each key written by one kind of node.

    `NodeRecord.detail` keeps the JSON form (`to_json`), which is what stores hold and the API
    shows, unchanged from when it was an ad-hoc dict; `NodeRecord.typed_detail` reads it back.
    Keys this version does not know (written by a newer one) are kept in ``extra`` and written back.
    """

    cache: Mapping[str, Any] | None = None  # a cacheable node: key, components, serialize, a hit's source
    provenance: Mapping[str, Any] | None = None  # a succeeded node: where its outputs were made
    gate: GateKind | None = None  # a gate: what it waits for
    signal: str | None = None  # ... and the signal it waits for (None for a sleep)
    not_taken: bool = False  # skipped because the case of its branch was not taken
    expanded: str | None = None  # a map or dynamic node: the digest of the spec it expanded into
    size: int | None = None  # ... and how many nodes that spec has
    child: str | None = None  # a launch-plan node: the id of its child execution
    recovered_from: Mapping[str, Any] | None = None  # a recovered node: execution, node, attempt
    extra: Mapping[str, Any] = field(default_factory=dict)

    def evolve(self, **changes: Any) -> NodeDetail:
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.cache is not None:
            out["cache"] = dict(self.cache)
        if self.provenance is not None:
            out["provenance"] = dict(self.provenance)
        if self.gate is not None:
            out["gate"] = self.gate.value
            out["signal"] = self.signal  # written for every gate, null for a sleep
        if self.not_taken:
            out["not_taken"] = True
        if self.expanded is not None:
            out["expanded"] = self.expanded
        if self.size is not None:
            out["size"] = self.size
        if self.child is not None:
            out["child"] = self.child
        if self.recovered_from is not None:
            out["recovered_from"] = dict(self.recovered_from)
        out.update(self.extra)
        return out

    @staticmethod
    def from_json(data: Mapping[str, Any] | None) -> NodeDetail:
        if not data:
            return _NO_DETAIL
        known = _DETAIL_KEYS
        size = data.get("size")
        return NodeDetail(
            cache=data.get("cache"),
            provenance=data.get("provenance"),
            gate=None if data.get("gate") is None else GateKind(data["gate"]),
            signal=data.get("signal"),
            not_taken=bool(data.get("not_taken", False)),
            expanded=data.get("expanded"),
            size=None if size is None else int(size),
            child=data.get("child"),
            recovered_from=data.get("recovered_from"),
            extra={k: v for k, v in data.items() if k not in known},
        )


_NO_DETAIL = NodeDetail()
_DETAIL_KEYS = frozenset(f for f in NodeDetail.__dataclass_fields__ if f != "extra")


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    execution_id: str
    node_id: str
    number: int
    phase: AttemptPhase
    executor: str
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    error: ErrorInfo | None = None
    abort_reason: AbortReason | None = None  # why an ABORTING attempt is being killed
    version: int = 0

    def __post_init__(self) -> None:
        if self.abort_reason is not None and type(self.abort_reason) is not AbortReason:  # its string
            object.__setattr__(self, "abort_reason", AbortReason(self.abort_reason))

    @property
    def id(self) -> str:
        return attempt_id(self.execution_id, self.node_id, self.number)

    def evolve(self, **changes: Any) -> AttemptRecord:
        return replace(self, **changes)


def attempt_id(execution_id: str, node_id: str, number: int) -> str:
    return f"{execution_id}/{node_id}/{number}"


def parse_attempt_id(aid: str) -> tuple[str, str, int]:
    parts = aid.split("/")
    if len(parts) != 3 or not parts[2].isdigit():
        raise ValueError(f"not an attempt id: {aid!r}")
    return parts[0], parts[1], int(parts[2])


@dataclass(frozen=True, slots=True)
class Event:
    """One line of an execution's append-only history."""

    execution_id: str
    ts: float
    kind: EventKind
    phase: str  # a phase of the kind's record, or a marker ("SIGNAL", "ABORT_REQUESTED", ...)
    node_id: str | None = None
    attempt: int | None = None
    message: str = ""
    seq: int = 0  # assigned by the store

    def __post_init__(self) -> None:
        if type(self.kind) is not EventKind:  # read from a row or a test as its string
            object.__setattr__(self, "kind", EventKind(self.kind))

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "ts": self.ts,
            "kind": self.kind.value,
            "phase": self.phase,
            "node": self.node_id,
            "attempt": self.attempt,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """A memoized result: the outputs a task produced for one cache key, and who produced them."""

    project: str
    task: str
    key: str  # hex digest of the cache key's canonical JSON
    components: dict[str, Any]  # the key's parts, kept to explain a later miss
    outputs: dict[str, Any]  # literal JSON
    source_execution: str
    source_node: str
    source_attempt: int
    created_at: float


@dataclass(frozen=True, slots=True)
class Reservation:
    """Who is computing a cache key right now (cache_serialize), until when."""

    project: str
    key: str
    owner: str  # "<execution>/<node>"
    expires_at: float


@dataclass(frozen=True, slots=True)
class LineageRow:
    """One value a node consumed (direction IN) or produced (OUT), by content hash."""

    execution_id: str
    node_id: str
    direction: LineageDirection
    name: str  # input or output name
    value_hash: str

    def __post_init__(self) -> None:
        if type(self.direction) is not LineageDirection:  # read from a row as its string
            if self.direction not in _DIRECTIONS:
                raise ValueError(f"lineage row of node '{self.node_id}': direction must be 'in' or 'out'")
            object.__setattr__(self, "direction", LineageDirection(self.direction))


@dataclass(frozen=True, slots=True)
class CatalogAnswer:
    """What the catalog said about one key, as fetched (and verified) by the shell."""

    entry: CatalogEntry | None
    reserved_by: str | None = None  # serialized keys: who holds the reservation after our attempt
    problem: str | None = None  # why a stored entry was not usable (missing or corrupt artifacts, ...)


class CacheStatus(enum.StrEnum):
    """What the catalog did for a cacheable node."""

    HIT = "HIT"  # outputs taken from the catalog; the node did not run
    MISS = "MISS"  # looked up, not found: the node runs
    PUT = "PUT"  # ran after a miss and wrote its outputs to the catalog
    SKIPPED = "SKIPPED"  # overwrite_cache: not looked up; the result replaces the entry


class Observed(enum.StrEnum):
    """What an executor can tell about an attempt."""

    UNKNOWN = "UNKNOWN"  # it has no record of this attempt being launched
    PENDING = "PENDING"  # accepted, waiting for a free slot; nothing has run yet
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"  # includes lost processes (ErrorKind.SYSTEM)


@dataclass(frozen=True, slots=True)
class AttemptObservation:
    status: Observed
    started_at: float | None = None
    finished_at: float | None = None
    outputs: dict[str, Any] | None = None  # literal JSON, on SUCCEEDED
    error: ErrorInfo | None = None  # on FAILED
