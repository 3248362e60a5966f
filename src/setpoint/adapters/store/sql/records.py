"""The statements that write whole records, generated from the records' row form.

A record's columns are its fields: a stored row is the record's row form (`setpoint.core.wire.ROWS`,
every field under its own name, what `codec` writes and reads back). So the statements that write a
whole record — the INSERT of an execution, node, attempt, event, catalog entry or lineage row, and
the compare-and-swap UPDATE that rewrites an execution, node or attempt — are not written out by
hand: their column lists are derived here from the row form, once, at import. Adding a field to a
record is then one edit to the record plus a migration that adds its column (the contract test
``tests/contract/test_record_columns.py`` fails on either without the other). ``queries.sql`` keeps
the statements whose shape is not "every column of a record": filters, leases, cursors, catalog
reservations, the registry.

What differs from table to table is declared once, in the `RecordTable` entries below: the primary
key, what an insert does when the key is taken, which columns the database fills in, and which
columns a compare-and-swap may rewrite. Every other column is fixed once written: it never appears
in an UPDATE's SET. For executions that set is `codec.MUTABLE_EXECUTION_COLUMNS` (promise 3,
immutable executions), the very list the in-memory fake applies, so the fake and SQL cannot
disagree; for the other versioned records it is every column but the key.

The statements are plain ``queries.sql`` text (``:name`` parameters, no comments), so each backend
rewrites them exactly as it rewrites the named blocks (`setpoint.adapters.store.sql.queries`).
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass

from setpoint.adapters.store import codec
from setpoint.core.model import AttemptRecord, CatalogEntry, Event, ExecutionRecord, LineageRow, NodeRecord
from setpoint.core.wire import ROWS

# The compare-and-swap column of a versioned record. A stored row starts at version 1 (a record's
# version 0 means "not yet stored") and every swap adds one; no statement ever binds it as a value.
VERSION = "version"


class OnConflict(enum.Enum):
    """What inserting a record does when a row with its primary key is already stored."""

    APPEND = "append"  # nothing: the database assigns the key (an event's ``seq``)
    KEEP = "keep"  # the stored row stands and the insert changes nothing (rowcount 0)
    REPLACE = "replace"  # the new row replaces the stored one, key kept (a catalog put)


@functools.cache
def row_columns(record: type) -> tuple[str, ...]:
    """The columns of ``record``'s row, in field order: the keys of its row form."""
    return tuple(f.key for f in ROWS.fields(record))


@dataclass(frozen=True, slots=True)
class RecordTable:
    """How one record type is stored: the one place that says what its statements cannot derive."""

    record: type
    table: str
    key: tuple[str, ...]  # the primary key: names the row, so never rewritten
    on_conflict: OnConflict
    # Columns a compare-and-swap may rewrite; every other column is fixed once written.
    # None: every column but the key (and the version, which the swap itself bumps).
    mutable: tuple[str, ...] | None = None
    first_wins: tuple[str, ...] = ()  # mutable columns never cleared once set: COALESCE(stored, new)
    assigned: tuple[str, ...] = ()  # filled in by the database: never inserted

    def __post_init__(self) -> None:
        # Refuse to import on a declaration that names a column the record does not have (a field
        # renamed or removed without its table entry), rather than fail on the first write.
        columns = set(self.columns)
        named = {*self.key, *(self.mutable or ()), *self.first_wins, *self.assigned}
        unknown = sorted(named - columns)
        if unknown:
            raise RuntimeError(
                f"table {self.table!r} names {unknown}, which are not fields of {self.record.__name__} "
                f"(its row form has {sorted(columns)})"
            )
        if self.mutable is not None and ({*self.key, VERSION} & set(self.mutable)):
            raise RuntimeError(f"table {self.table!r}: the key and {VERSION!r} cannot be rewritten")
        if set(self.first_wins) - set(self.updated):
            raise RuntimeError(f"table {self.table!r}: first_wins columns must be mutable")

    @property
    def columns(self) -> tuple[str, ...]:
        return row_columns(self.record)

    @property
    def versioned(self) -> bool:
        return VERSION in self.columns

    @property
    def inserted(self) -> tuple[str, ...]:
        """The columns an insert names: all but those the database assigns."""
        return tuple(c for c in self.columns if c not in self.assigned)

    @property
    def updated(self) -> tuple[str, ...]:
        """The columns a compare-and-swap (or a replacing insert) rewrites, in field order; none for a
        record that is only ever inserted (events, lineage)."""
        if not self.versioned and self.on_conflict is not OnConflict.REPLACE:
            return ()
        if self.mutable is not None:
            allowed = set(self.mutable)
            return tuple(c for c in self.columns if c in allowed)
        fixed = {*self.key, *self.assigned, VERSION}
        return tuple(c for c in self.columns if c not in fixed)

    @property
    def immutable(self) -> tuple[str, ...]:
        """The columns no UPDATE ever sets (the version aside: only the swap bumps it)."""
        updated = set(self.updated)
        return tuple(c for c in self.columns if c not in updated and c != VERSION)


# -- the records the store keeps ----------------------------------------------------------------------

EXECUTIONS = RecordTable(
    ExecutionRecord,
    "executions",
    key=("id",),
    on_conflict=OnConflict.KEEP,  # creating an existing execution is refused; a fired tick's stands
    mutable=codec.MUTABLE_EXECUTION_COLUMNS,  # lease columns change only through the lease statements
    first_wins=("abort_reason",),  # a user's abort request stands, whatever a round decides
)
NODES = RecordTable(NodeRecord, "node_executions", ("execution_id", "node_id"), OnConflict.KEEP)
ATTEMPTS = RecordTable(AttemptRecord, "attempts", ("execution_id", "node_id", "number"), OnConflict.KEEP)
EVENTS = RecordTable(Event, "events", ("seq",), OnConflict.APPEND, assigned=("seq",))
# A put replaces an entry with the same key (overwrite_cache; replacing an entry found corrupt).
CATALOG_ENTRIES = RecordTable(CatalogEntry, "catalog_entries", ("project", "key"), OnConflict.REPLACE)
# The first recorded value of a (node, direction, name) stands; re-recording it is a no-op.
LINEAGE = RecordTable(LineageRow, "lineage", ("execution_id", "node_id", "direction", "name"), OnConflict.KEEP)

TABLES: tuple[RecordTable, ...] = (EXECUTIONS, NODES, ATTEMPTS, EVENTS, CATALOG_ENTRIES, LINEAGE)


# -- the statements ---------------------------------------------------------------------------------


def insert(t: RecordTable) -> str:
    """INSERT of one whole record, with its table's conflict rule."""
    values = ["1" if c == VERSION else f":{c}" for c in t.inserted]
    sql = f"INSERT INTO {t.table} ({', '.join(t.inserted)})\nVALUES ({', '.join(values)})"
    if t.on_conflict is OnConflict.KEEP:
        sql += f"\nON CONFLICT ({', '.join(t.key)}) DO NOTHING"
    elif t.on_conflict is OnConflict.REPLACE:
        assignments = ", ".join(f"{c} = excluded.{c}" for c in t.updated)
        sql += f"\nON CONFLICT ({', '.join(t.key)}) DO UPDATE\nSET {assignments}"
    return sql


def update(t: RecordTable, *, guard: str | None = None, returning: bool = False) -> str:
    """The compare-and-swap of a stored record: its mutable columns rewritten if (and only if) the
    stored version is the one the record was loaded at (and ``guard`` holds)."""
    if not t.versioned:
        raise RuntimeError(f"table {t.table!r} has no {VERSION!r} column to compare and swap")
    assignments = [f"{c} = COALESCE({c}, :{c})" if c in t.first_wins else f"{c} = :{c}" for c in t.updated]
    assignments.append(f"{VERSION} = {VERSION} + 1")
    where = [f"{c} = :{c}" for c in (*t.key, VERSION)]
    if guard is not None:
        where.append(guard)
    sql = f"UPDATE {t.table}\nSET {', '.join(assignments)}\nWHERE {' AND '.join(where)}"
    return sql + "\nRETURNING *" if returning else sql


# A round commits only while its controller still holds the lease (owner None: leases are off).
_HOLDS_LEASE = "(CAST(:owner AS TEXT) IS NULL OR lease_owner = :owner)"

# Named like the blocks of ``queries.sql``, which `setpoint.adapters.store.sql.queries` merges them
# into (a name in both is refused).
STATEMENTS: dict[str, str] = {
    "insert_execution": insert(EXECUTIONS),
    "commit_execution": update(EXECUTIONS, guard=_HOLDS_LEASE, returning=True),
    "insert_node": insert(NODES),
    "update_node": update(NODES),
    "insert_attempt": insert(ATTEMPTS),
    "update_attempt": update(ATTEMPTS),
    "insert_event": insert(EVENTS),
    "upsert_catalog_entry": insert(CATALOG_ENTRIES),
    "insert_lineage": insert(LINEAGE),
}
