"""Record <-> row conversion, plus the checks and error messages every store backend shares.

SQLite, PostgreSQL and the in-memory fake must agree on what a stored record looks like (JSON
columns as text, phases as their string values, ``None`` as SQL NULL) and on how each failure is
reported. Keeping the encoding, the argument checks and the error constructors here, in one module
that knows nothing about any driver, is what lets one contract suite hold every backend to the same
behaviour: the fake stores exactly the rows the SQL backends store, so it cannot drift from them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Protocol

from setpoint.core.model import (
    AttemptRecord,
    CatalogEntry,
    ErrorInfo,
    Event,
    ExecutionConfig,
    ExecutionRecord,
    LineageRow,
    NodeRecord,
)
from setpoint.core.phases import AttemptPhase, ExecutionPhase, NodePhase
from setpoint.errors import (
    AlreadyExistsError,
    ConflictError,
    LeaseLostError,
    NotFoundError,
    StoreError,
)
from setpoint.ports import ExecutionFilter, RoundWrite

# A stored row: a mapping from column name to a plain value (str, int, float or None).
Row = dict[str, Any]


class RowLike(Protocol):
    """What decoding needs from a driver's row: lookup by column name (``sqlite3.Row`` fits)."""

    def __getitem__(self, key: str, /) -> Any: ...


UNFINISHED_PHASES: tuple[ExecutionPhase, ...] = tuple(p for p in ExecutionPhase if not p.is_terminal)

EXECUTION_COLUMNS = (
    "id", "project", "workflow", "spec_digest", "code_digest", "inputs", "phase", "created_at",
    "updated_at", "started_at", "finished_at", "outputs", "error", "abort_reason", "source_id",
    "mode", "config", "version", "lease_owner", "lease_expires_at",
)  # fmt: skip

# What a reconcile round may change on an execution. Everything else is fixed at creation (promise
# 3: immutable executions); lease columns change only through the lease operations.
MUTABLE_EXECUTION_COLUMNS = (
    "phase", "updated_at", "started_at", "finished_at", "outputs", "error", "abort_reason",
)  # fmt: skip


# -- JSON columns ---------------------------------------------------------------------------------


def dump_value(value: Any, what: str) -> str:
    """JSON text of a non-null-able column value (a signal's literal may itself be JSON null)."""
    text = _dump(value, what)
    return "null" if text is None else text


def _dump(value: Any, what: str) -> str | None:
    if value is None:
        return None
    try:
        # Key order is kept (not sorted) so a record reads back as it was written; NaN and
        # infinities are refused because PostgreSQL's JSON types refuse them too.
        return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"cannot store {what}: it is not JSON ({exc})") from exc


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _error_to_text(error: ErrorInfo | None, what: str) -> str | None:
    return None if error is None else _dump(error.to_json(), what)


def _error_from_text(text: str | None) -> ErrorInfo | None:
    return None if text is None else ErrorInfo.from_json(json.loads(text))


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


# -- executions -----------------------------------------------------------------------------------


def execution_to_row(rec: ExecutionRecord) -> Row:
    what = f"execution {rec.id!r}"
    return {
        "id": rec.id,
        "project": rec.project,
        "workflow": rec.workflow,
        "spec_digest": rec.spec_digest,
        "code_digest": rec.code_digest,
        "inputs": _dump(rec.inputs, f"the inputs of {what}"),
        "phase": rec.phase.value,
        "created_at": rec.created_at,
        "updated_at": rec.updated_at,
        "started_at": rec.started_at,
        "finished_at": rec.finished_at,
        "outputs": _dump(rec.outputs, f"the outputs of {what}"),
        "error": _error_to_text(rec.error, f"the error of {what}"),
        "abort_reason": rec.abort_reason,
        "source_id": rec.source_id,
        "mode": rec.mode,
        "config": _dump(rec.config.to_json(), f"the config of {what}"),
        "version": rec.version,
        "lease_owner": rec.lease_owner,
        "lease_expires_at": rec.lease_expires_at,
    }


def execution_from_row(row: RowLike) -> ExecutionRecord:
    try:
        return ExecutionRecord(
            id=row["id"],
            project=row["project"],
            workflow=row["workflow"],
            spec_digest=row["spec_digest"],
            code_digest=row["code_digest"],
            inputs=json.loads(row["inputs"]),
            phase=ExecutionPhase(row["phase"]),
            created_at=float(row["created_at"]),
            updated_at=float(row["updated_at"]),
            started_at=_float(row["started_at"]),
            finished_at=_float(row["finished_at"]),
            outputs=_load(row["outputs"]),
            error=_error_from_text(row["error"]),
            abort_reason=row["abort_reason"],
            source_id=row["source_id"],
            mode=row["mode"],
            config=ExecutionConfig.from_json(json.loads(row["config"])),
            version=int(row["version"]),
            lease_owner=row["lease_owner"],
            lease_expires_at=_float(row["lease_expires_at"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise StoreError(
            f"stored execution {_safe_id(row)} cannot be read ({exc!r}); is the store corrupt?"
        ) from exc


# -- node executions ------------------------------------------------------------------------------


def node_to_row(rec: NodeRecord) -> Row:
    what = f"node {rec.node_id!r} of execution {rec.execution_id!r}"
    return {
        "execution_id": rec.execution_id,
        "node_id": rec.node_id,
        "phase": rec.phase.value,
        "attempt": rec.attempt,
        "user_failures": rec.user_failures,
        "system_failures": rec.system_failures,
        "inputs": _dump(rec.inputs, f"the inputs of {what}"),
        "outputs": _dump(rec.outputs, f"the outputs of {what}"),
        "error": _error_to_text(rec.error, f"the error of {what}"),
        "started_at": rec.started_at,
        "finished_at": rec.finished_at,
        "retry_at": rec.retry_at,
        "cache_status": rec.cache_status,
        "detail": _dump(rec.detail, f"the detail of {what}"),
        "version": rec.version,
    }


def node_from_row(row: RowLike) -> NodeRecord:
    try:
        return NodeRecord(
            execution_id=row["execution_id"],
            node_id=row["node_id"],
            phase=NodePhase(row["phase"]),
            attempt=int(row["attempt"]),
            user_failures=int(row["user_failures"]),
            system_failures=int(row["system_failures"]),
            inputs=_load(row["inputs"]),
            outputs=_load(row["outputs"]),
            error=_error_from_text(row["error"]),
            started_at=_float(row["started_at"]),
            finished_at=_float(row["finished_at"]),
            retry_at=_float(row["retry_at"]),
            cache_status=row["cache_status"],
            detail=_load(row["detail"]),
            version=int(row["version"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise StoreError(f"a stored node row cannot be read ({exc!r}); is the store corrupt?") from exc


# -- attempts -------------------------------------------------------------------------------------


def attempt_to_row(rec: AttemptRecord) -> Row:
    return {
        "execution_id": rec.execution_id,
        "node_id": rec.node_id,
        "number": rec.number,
        "phase": rec.phase.value,
        "executor": rec.executor,
        "created_at": rec.created_at,
        "started_at": rec.started_at,
        "finished_at": rec.finished_at,
        "error": _error_to_text(rec.error, f"the error of attempt {rec.id!r}"),
        "abort_reason": rec.abort_reason,
        "version": rec.version,
    }


def attempt_from_row(row: RowLike) -> AttemptRecord:
    try:
        return AttemptRecord(
            execution_id=row["execution_id"],
            node_id=row["node_id"],
            number=int(row["number"]),
            phase=AttemptPhase(row["phase"]),
            executor=row["executor"],
            created_at=float(row["created_at"]),
            started_at=_float(row["started_at"]),
            finished_at=_float(row["finished_at"]),
            error=_error_from_text(row["error"]),
            abort_reason=row["abort_reason"],
            version=int(row["version"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise StoreError(f"a stored attempt row cannot be read ({exc!r}); is the store corrupt?") from exc


# -- events ---------------------------------------------------------------------------------------


def event_to_row(ev: Event) -> Row:
    """The row to insert; ``seq`` is left out because the store assigns it."""
    return {
        "execution_id": ev.execution_id,
        "ts": ev.ts,
        "kind": ev.kind,
        "phase": ev.phase,
        "node_id": ev.node_id,
        "attempt": ev.attempt,
        "message": ev.message,
    }


def event_from_row(row: RowLike) -> Event:
    try:
        attempt = row["attempt"]
        return Event(
            execution_id=row["execution_id"],
            ts=float(row["ts"]),
            kind=row["kind"],
            phase=row["phase"],
            node_id=row["node_id"],
            attempt=None if attempt is None else int(attempt),
            message=row["message"],
            seq=int(row["seq"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise StoreError(f"a stored event row cannot be read ({exc!r}); is the store corrupt?") from exc


def signal_event(execution_id: str, name: str, now: float) -> Event:
    """The history line `send_signal` appends (the value itself lives in the signals table)."""
    return Event(execution_id, now, "execution", "SIGNAL", message=f"signal '{name}' received")


def abort_event(execution_id: str, reason: str, now: float) -> Event:
    """The history line `request_abort` appends: the user's declared intent to stop."""
    return Event(execution_id, now, "execution", "ABORT_REQUESTED", message=reason)


# -- catalog entries ------------------------------------------------------------------------------


def catalog_entry_to_row(entry: CatalogEntry) -> Row:
    what = f"catalog entry {entry.key!r} of project {entry.project!r}"
    for name in ("components", "outputs"):
        if not isinstance(getattr(entry, name), dict):
            raise ValueError(f"cannot store {what}: its {name} must be a JSON object (a dict)")
    return {
        "project": entry.project,
        "key": entry.key,
        "task": entry.task,
        "components": _dump(entry.components, f"the components of {what}"),
        "outputs": _dump(entry.outputs, f"the outputs of {what}"),
        "source_execution": entry.source_execution,
        "source_node": entry.source_node,
        "source_attempt": entry.source_attempt,
        "created_at": entry.created_at,
    }


def catalog_entry_from_row(row: RowLike) -> CatalogEntry:
    try:
        return CatalogEntry(
            project=row["project"],
            task=row["task"],
            key=row["key"],
            components=json.loads(row["components"]),
            outputs=json.loads(row["outputs"]),
            source_execution=row["source_execution"],
            source_node=row["source_node"],
            source_attempt=int(row["source_attempt"]),
            created_at=float(row["created_at"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise StoreError(f"a stored catalog entry cannot be read ({exc!r}); is the store corrupt?") from exc


def catalog_order(row: Row) -> tuple[float, str, str]:
    """`catalog_list` order as a sort key: newest first, then project and key."""
    return (-row["created_at"], row["project"], row["key"])


# -- reservations ---------------------------------------------------------------------------------


def reservation_execution(owner: str) -> str:
    """The execution a reservation owner ("<execution>/<node>") belongs to: the part before "/"."""
    return owner.split("/", 1)[0]


# -- lineage --------------------------------------------------------------------------------------

LINEAGE_DIRECTIONS = ("in", "out")


def lineage_to_row(row: LineageRow) -> Row:
    return {
        "execution_id": row.execution_id,
        "node_id": row.node_id,
        "direction": row.direction,
        "name": row.name,
        "value_hash": row.value_hash,
    }


def lineage_from_row(row: RowLike) -> LineageRow:
    try:
        return LineageRow(row["execution_id"], row["node_id"], row["direction"], row["name"], row["value_hash"])
    except (KeyError, IndexError) as exc:
        raise StoreError(f"a stored lineage row cannot be read ({exc!r}); is the store corrupt?") from exc


def lineage_key(row: Row) -> tuple[str, str, str]:
    """A lineage row's identity within its execution (with the execution id: the primary key)."""
    return (row["node_id"], row["direction"], row["name"])


# -- argument checks (caller bugs: ValueError, identical in every backend) ------------------------


def check_events(execution_id: str, events: Sequence[Event]) -> None:
    for ev in events:
        if ev.execution_id != execution_id:
            raise ValueError(
                f"an event of execution {ev.execution_id!r} was written with execution {execution_id!r}"
            )


def check_nodes(eid: str, nodes: Sequence[NodeRecord]) -> None:
    seen_nodes: set[str] = set()
    for node in nodes:
        if node.execution_id != eid:
            raise ValueError(
                f"node {node.node_id!r} of execution {node.execution_id!r} was written with execution {eid!r}"
            )
        if node.node_id in seen_nodes:
            raise ValueError(f"node {node.node_id!r} appears twice in one round of execution {eid!r}")
        if node.version < 0:
            raise ValueError(f"node {node.node_id!r} of execution {eid!r} has a negative version")
        seen_nodes.add(node.node_id)


def check_round(write: RoundWrite) -> None:
    """Refuse a round whose rows belong to another execution or name one row twice."""
    eid = write.execution.id
    check_nodes(eid, write.nodes)
    seen_attempts: set[tuple[str, int]] = set()
    for att in write.attempts:
        if att.execution_id != eid:
            raise ValueError(f"attempt {att.id!r} was written with execution {eid!r}")
        if (att.node_id, att.number) in seen_attempts:
            raise ValueError(f"attempt {att.id!r} appears twice in one round")
        if att.version < 0:
            raise ValueError(f"attempt {att.id!r} has a negative version")
        seen_attempts.add((att.node_id, att.number))
    check_events(eid, write.events)
    for lin in write.lineage:
        if lin.execution_id != eid:
            raise ValueError(
                f"a lineage row of execution {lin.execution_id!r} was written with execution {eid!r}"
            )
        check_direction(lin.direction)
    for release in write.releases:
        if len(release) != 3:
            raise ValueError(f"a release is (project, key, owner), got {release!r}")


def check_direction(direction: str) -> None:
    if direction not in LINEAGE_DIRECTIONS:
        raise ValueError(f"a lineage direction is 'in' or 'out', got {direction!r}")


def check_limit(limit: int) -> None:
    if limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")


def check_reservation_args(owner: str, ttl: float) -> None:
    if not owner:
        raise ValueError("a reservation owner must be a non-empty string")
    check_reservation_ttl(ttl)


def check_reservation_ttl(ttl: float) -> None:
    if ttl <= 0:
        raise ValueError(f"a reservation ttl must be positive, got {ttl}")


def check_str_list(values: Sequence[str], what: str) -> None:
    """A lone string is a sequence of characters: refuse it rather than look up each letter."""
    if isinstance(values, str):
        raise ValueError(f"{what} must be a sequence of strings, not one string")


def check_evict_filters(keys: Sequence[str], task: str | None, source_execution: str | None) -> None:
    check_str_list(keys, "catalog_evict keys")
    if not keys and task is None and source_execution is None:
        raise ValueError("catalog_evict needs at least one filter: keys, task or source_execution")


def check_filter(flt: ExecutionFilter) -> None:
    if flt.limit < 0:
        raise ValueError(f"ExecutionFilter.limit must be >= 0, got {flt.limit}")


def check_lease_args(owner: str, ttl: float) -> None:
    if not owner:
        raise ValueError("a lease owner must be a non-empty string")
    if ttl <= 0:
        raise ValueError(f"a lease ttl must be positive, got {ttl}")


def is_lease_free(row: Row, owner: str, now: float) -> bool:
    """The lease rule SQL backends express in their WHERE clause, for the in-memory fake.

    Free when nobody holds it, we hold it, or it expired (``expires_at < now``). An owner with no
    expiry holds nothing.
    """
    holder, expires = row["lease_owner"], row["lease_expires_at"]
    return holder is None or holder == owner or expires is None or expires < now


# -- errors (the same words from every backend) ---------------------------------------------------


def execution_not_found(execution_id: str) -> NotFoundError:
    return NotFoundError(f"execution {execution_id!r} not found")


def spec_not_found(digest: str) -> NotFoundError:
    return NotFoundError(f"spec {digest!r} not found")


def spec_body_differs(digest: str) -> AlreadyExistsError:
    return AlreadyExistsError(
        f"spec {digest!r} is already stored with a different body; a digest must name one body"
    )


def execution_exists(execution_id: str) -> AlreadyExistsError:
    return AlreadyExistsError(f"execution {execution_id!r} already exists")


def execution_conflict(execution_id: str, expected: int, found: int) -> ConflictError:
    return ConflictError(
        f"execution {execution_id!r} changed since it was loaded (expected version {expected}, "
        f"found {found}); reload and decide again"
    )


def lease_lost(execution_id: str, owner: str, holder: str | None) -> LeaseLostError:
    held = "nobody holds it" if holder is None else f"{holder!r} holds it"
    return LeaseLostError(f"{owner!r} no longer holds the lease on execution {execution_id!r} ({held})")


def row_conflict(what: str, expected: int, found: int | None) -> ConflictError:
    """A node or attempt row failed its compare-and-swap; ``found`` is None when it is missing."""
    if expected == 0:
        return ConflictError(f"{what} already exists (it was written as new); reload and decide again")
    if found is None:
        return ConflictError(f"{what} does not exist (expected version {expected}); reload and decide again")
    return ConflictError(
        f"{what} changed since it was loaded (expected version {expected}, found {found}); "
        "reload and decide again"
    )


def node_label(execution_id: str, node_id: str) -> str:
    return f"node {node_id!r} of execution {execution_id!r}"


def attempt_label(execution_id: str, node_id: str, number: int) -> str:
    return f"attempt '{execution_id}/{node_id}/{number}'"


def _safe_id(row: RowLike) -> str:
    try:
        return repr(row["id"])
    except (KeyError, IndexError):
        return "(unknown id)"
