"""Record <-> row conversion, plus the checks and error messages every store backend shares.

SQLite, PostgreSQL and the in-memory fake must agree on what a stored record looks like (JSON
columns as text, phases as their string values, ``None`` as SQL NULL) and on how each failure is
reported. A row is the record's store form (`setpoint.core.wire.ROWS`: every field under its own
name) with structured fields as JSON text, so a new record field needs no edit here, only a
migration for its column. Keeping the encoding, the argument checks and the error constructors here, in one module
that knows nothing about any driver, is what lets one contract suite hold every backend to the same
behaviour: the fake stores exactly the rows the SQL backends store, so it cannot drift from them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, TypeVar, cast

from setpoint.core.model import (
    AttemptRecord,
    CatalogEntry,
    Event,
    EventKind,
    ExecutionRecord,
    LineageRow,
    NodeRecord,
)
from setpoint.core.phases import ExecutionPhase
from setpoint.core.wire import ROWS, is_structured
from setpoint.errors import (
    AlreadyExistsError,
    ConflictError,
    LeaseLostError,
    NotFoundError,
    StoreError,
)
from setpoint.ports import ExecutionFilter, RoundWrite

T = TypeVar("T")

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


def _to_row(record: Any, label: str) -> Row:
    """A record as a row: its store form (`setpoint.core.wire.ROWS`), structured fields as JSON text.

    Encoding dumps here rather than in `ROWS` so a value that is not JSON is refused with a message
    naming the record and the field.
    """
    row = ROWS.encode(record)
    for name, is_json in _columns(type(record)):
        if is_json:
            row[name] = _dump(row[name], f"the {name} of {label}")
    return row


_COLUMNS: dict[type, tuple[tuple[str, bool], ...]] = {}


def _columns(cls: type) -> tuple[tuple[str, bool], ...]:
    """Each column of ``cls``'s row, and whether it holds JSON text (a structured field)."""
    got = _COLUMNS.get(cls)
    if got is None:
        got = _COLUMNS[cls] = tuple((f.key, is_structured(f.type)) for f in ROWS.fields(cls))
    return got


def _read(cls: type[T], row: RowLike, what: str) -> T:
    try:
        # Rows look keys up by name only (every column is there); `ROWS` never calls ``get`` on them.
        return ROWS.decode(cls, cast("Mapping[str, Any]", row))
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise StoreError(f"{what} cannot be read ({exc!r}); is the store corrupt?") from exc


# -- executions -----------------------------------------------------------------------------------


def execution_to_row(rec: ExecutionRecord) -> Row:
    return _to_row(rec, f"execution {rec.id!r}")


def execution_from_row(row: RowLike) -> ExecutionRecord:
    return _read(ExecutionRecord, row, f"stored execution {_safe_id(row)}")


# -- node executions ------------------------------------------------------------------------------


def node_to_row(rec: NodeRecord) -> Row:
    return _to_row(rec, f"node {rec.node_id!r} of execution {rec.execution_id!r}")


def node_from_row(row: RowLike) -> NodeRecord:
    return _read(NodeRecord, row, "a stored node row")


# -- attempts -------------------------------------------------------------------------------------


def attempt_to_row(rec: AttemptRecord) -> Row:
    return _to_row(rec, f"attempt {rec.id!r}")


def attempt_from_row(row: RowLike) -> AttemptRecord:
    return _read(AttemptRecord, row, "a stored attempt row")


# -- events ---------------------------------------------------------------------------------------


def event_to_row(ev: Event) -> Row:
    """The row to insert; ``seq`` is left out because the store assigns it."""
    row = _to_row(ev, f"an event of execution {ev.execution_id!r}")
    del row["seq"]
    return row


def event_from_row(row: RowLike) -> Event:
    return _read(Event, row, "a stored event row")


def signal_event(execution_id: str, name: str, now: float) -> Event:
    """The history line `send_signal` appends (the value itself lives in the signals table)."""
    return Event(execution_id, now, EventKind.EXECUTION, "SIGNAL", message=f"signal '{name}' received")


def abort_event(execution_id: str, reason: str, now: float) -> Event:
    """The history line `request_abort` appends: the user's declared intent to stop."""
    return Event(execution_id, now, EventKind.EXECUTION, "ABORT_REQUESTED", message=reason)


# -- catalog entries ------------------------------------------------------------------------------


def catalog_entry_to_row(entry: CatalogEntry) -> Row:
    what = f"catalog entry {entry.key!r} of project {entry.project!r}"
    for name in ("components", "outputs"):
        if not isinstance(getattr(entry, name), dict):
            raise ValueError(f"cannot store {what}: its {name} must be a JSON object (a dict)")
    return _to_row(entry, what)


def catalog_entry_from_row(row: RowLike) -> CatalogEntry:
    return _read(CatalogEntry, row, "a stored catalog entry")


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
    return _to_row(row, f"a lineage row of execution {row.execution_id!r}")


def lineage_from_row(row: RowLike) -> LineageRow:
    return _read(LineageRow, row, "a stored lineage row")


def lineage_key(row: Row) -> tuple[str, str, str]:
    """A lineage row's identity within its execution (with the execution id: the primary key)."""
    return (row["node_id"], row["direction"], row["name"])


# -- argument checks (caller bugs: ValueError, identical in every backend) ------------------------


def check_events(execution_id: str, events: Sequence[Event]) -> None:
    for ev in events:
        if ev.execution_id != execution_id:
            raise ValueError(f"an event of execution {ev.execution_id!r} was written with execution {execution_id!r}")


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
            raise ValueError(f"a lineage row of execution {lin.execution_id!r} was written with execution {eid!r}")
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
    return AlreadyExistsError(f"spec {digest!r} is already stored with a different body; a digest must name one body")


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
        f"{what} changed since it was loaded (expected version {expected}, found {found}); reload and decide again"
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
