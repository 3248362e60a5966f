"""A record's columns are its fields: the row form, the migrated schemas and the statements agree.

Adding a field to a record must be one edit plus a migration (issue 12). The statements that write
whole records are generated from the record's row form (`setpoint.adapters.store.sql.records`), so
they follow a new field by themselves; what cannot follow by itself is the schema. These tests fail
when a field has no column in a migrated SQLite or PostgreSQL schema (a field added without its
migration) or a record's table has a column that is no field (a migration without its field), with
a message naming the record's field and the table's column; and they pin that the generated
statements name exactly the row form's columns, with the same keys, conflict rules and version
checks the hand-written statements had.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from setpoint.adapters.store import codec
from setpoint.adapters.store.sql.queries import RAW_QUERIES
from setpoint.adapters.store.sql.records import (
    ATTEMPTS,
    CATALOG_ENTRIES,
    EVENTS,
    EXECUTIONS,
    LINEAGE,
    NODES,
    STATEMENTS,
    TABLES,
    VERSION,
    OnConflict,
    RecordTable,
    row_columns,
)
from setpoint.adapters.store.sqlite import QUERIES as SQLITE_QUERIES
from setpoint.adapters.store.sqlite import SqliteStore
from setpoint.core.model import (
    AttemptRecord,
    CatalogEntry,
    Event,
    ExecutionRecord,
    LineageDirection,
    LineageRow,
    NodeRecord,
)
from tests.support import pg

from .test_store_contract import attempt, event, execution, node

# One record of each type, turned into the row the store binds (codec's row form).
SAMPLE_ROWS: dict[type, Callable[[], dict[str, Any]]] = {
    ExecutionRecord: lambda: codec.execution_to_row(execution("ex-1")),
    NodeRecord: lambda: codec.node_to_row(node("ex-1", "a")),
    AttemptRecord: lambda: codec.attempt_to_row(attempt("ex-1", "a")),
    Event: lambda: codec.event_to_row(event("ex-1")),
    CatalogEntry: lambda: codec.catalog_entry_to_row(
        CatalogEntry("proj", "t", "k", {"c": 1}, {"o": {"int": 1}}, "ex-1", "a", 1, 100.0)
    ),
    LineageRow: lambda: codec.lineage_to_row(LineageRow("ex-1", "a", LineageDirection.OUT, "o", "h")),
}

_PARAM_RE = re.compile(r"(?<![:\w]):(\w+)")


def params(sql: str) -> set[str]:
    return set(_PARAM_RE.findall(sql))


def names(clause: str) -> list[str]:
    """The column names of a comma-separated list ("a, b") or of assignments ("a = x, b = f(b, y)")."""
    return re.findall(r"(?:^|,)\s*(\w+)", re.sub(r"\([^()]*\)", "", clause))


# -- the schema of each SQL backend ------------------------------------------------------------------


def column_problems(t: RecordTable, columns: list[str], backend: str) -> list[str]:
    """What differs between ``t``'s record fields and its table's ``columns``, as messages naming both."""
    record, fields, found = t.record.__name__, row_columns(t.record), set(columns)
    problems = [
        f"field {record}.{f} has no column {t.table}.{f} in the migrated {backend} schema: "
        "add a migration that adds it (migrations/ and migrations_pg/)"
        for f in fields
        if f not in found
    ]
    problems += [
        f"column {t.table}.{c} of the migrated {backend} schema is no field of {record} ({record}.{c}): "
        "add the field to the record, or a migration that drops the column"
        for c in columns
        if c not in fields
    ]
    return problems


def sqlite_columns(directory: Path) -> dict[str, list[str]]:
    path = directory / "schema.db"
    SqliteStore(path).close()  # creates and migrates
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return {t.table: [str(r[1]) for r in conn.execute(f"PRAGMA table_info({t.table})")] for t in TABLES}


def postgres_columns(url: str) -> dict[str, list[str]]:
    import psycopg

    found: dict[str, list[str]] = {t.table: [] for t in TABLES}
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"
        ).fetchall()
    for table, column in rows:
        if table in found:
            found[table].append(str(column))
    return found


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_records_columns_are_its_fields(backend: str, tmp_path: Path, pg_session_url: str | None) -> None:
    if backend == "sqlite":
        schema = sqlite_columns(tmp_path)
    else:
        if pg_session_url is None:
            pg.skip_or_fail(pg.server_problem() or "no PostgreSQL test database")
        schema = postgres_columns(pg_session_url)  # migrated by the session fixture
    problems = [p for t in TABLES for p in column_problems(t, schema[t.table], backend)]
    assert not problems, "\n".join(problems)


def test_a_field_without_its_column_or_a_column_without_its_field_is_named() -> None:
    columns = [c for c in row_columns(ExecutionRecord) if c != "mode"] + ["not_a_field"]
    problems = column_problems(EXECUTIONS, columns, "sqlite")
    assert len(problems) == 2
    assert "ExecutionRecord.mode" in problems[0] and "executions.mode" in problems[0], problems
    assert "executions.not_a_field" in problems[1] and "ExecutionRecord.not_a_field" in problems[1], problems


def test_every_stored_record_has_its_table() -> None:
    assert {t.record for t in TABLES} == set(SAMPLE_ROWS)
    assert len({t.table for t in TABLES}) == len(TABLES)


# -- the statements generated from the row form ------------------------------------------------------


@pytest.mark.parametrize("t", TABLES, ids=lambda t: t.table)
def test_the_row_form_is_what_codec_writes(t: RecordTable) -> None:
    row = SAMPLE_ROWS[t.record]()
    assert sorted(row) == sorted(c for c in row_columns(t.record) if c not in t.assigned)


_INSERT_RE = re.compile(r"INSERT INTO (\w+) \(([^)]*)\)\s*VALUES \(([^)]*)\)(.*)", re.S)


@pytest.mark.parametrize(
    ("query", "t"),
    [
        ("insert_execution", EXECUTIONS),
        ("insert_node", NODES),
        ("insert_attempt", ATTEMPTS),
        ("insert_event", EVENTS),
        ("upsert_catalog_entry", CATALOG_ENTRIES),
        ("insert_lineage", LINEAGE),
    ],
)
def test_an_insert_names_exactly_the_row_forms_columns(query: str, t: RecordTable) -> None:
    match = _INSERT_RE.fullmatch(RAW_QUERIES[query])
    assert match is not None, RAW_QUERIES[query]
    table, columns, values, rest = match.groups()
    row = SAMPLE_ROWS[t.record]()
    assert table == t.table
    inserted = names(columns)
    assert sorted(inserted) == sorted(row)  # every column codec binds, the database's own (seq) left out
    expected_values = ["1" if c == VERSION else f":{c}" for c in inserted]  # a stored row starts at version 1
    assert [v.strip() for v in values.split(",")] == expected_values
    assert params(RAW_QUERIES[query]) <= set(row)
    conflict = rest.strip()
    if t.on_conflict is OnConflict.APPEND:
        assert conflict == ""
    elif t.on_conflict is OnConflict.KEEP:
        assert conflict == f"ON CONFLICT ({', '.join(t.key)}) DO NOTHING"
    else:  # a replacing put rewrites every column but the key
        head, _, assignments = conflict.partition("\nSET ")
        assert head == f"ON CONFLICT ({', '.join(t.key)}) DO UPDATE"
        replaced = [c for c in inserted if c not in t.key]
        assert assignments == ", ".join(f"{c} = excluded.{c}" for c in replaced)


_UPDATE_RE = re.compile(r"UPDATE (\w+)\nSET (.*)\nWHERE (.*?)(\nRETURNING \*)?", re.S)


@pytest.mark.parametrize(
    ("query", "t", "set_columns"),
    [
        ("commit_execution", EXECUTIONS, codec.MUTABLE_EXECUTION_COLUMNS),
        ("update_node", NODES, [c for c in row_columns(NodeRecord) if c not in ("execution_id", "node_id", VERSION)]),
        (
            "update_attempt",
            ATTEMPTS,
            [c for c in row_columns(AttemptRecord) if c not in ("execution_id", "node_id", "number", VERSION)],
        ),
    ],
)
def test_a_compare_and_swap_rewrites_exactly_the_mutable_columns(
    query: str, t: RecordTable, set_columns: tuple[str, ...] | list[str]
) -> None:
    match = _UPDATE_RE.fullmatch(RAW_QUERIES[query])
    assert match is not None, RAW_QUERIES[query]
    table, assignments, where, returning = match.groups()
    assert table == t.table
    assert sorted(names(assignments)) == sorted([*set_columns, VERSION])
    assert f"{VERSION} = {VERSION} + 1" in assignments
    # Every column is either rewritten or fixed once written, never both, never neither.
    assert set(t.updated) | set(t.immutable) | {VERSION} == set(row_columns(t.record))
    assert not set(t.updated) & set(t.immutable)
    assert not set(t.immutable) & set(names(assignments))
    # The swap: the row named by its key, at the version the record was loaded at.
    for c in (*t.key, VERSION):
        assert f"{c} = :{c}" in where.split(" AND ")
    row = SAMPLE_ROWS[t.record]()
    assert params(RAW_QUERIES[query]) <= set(row) | {"owner"}
    if query == "commit_execution":  # the lease guard, a first abort reason standing, the new row back
        assert "(CAST(:owner AS TEXT) IS NULL OR lease_owner = :owner)" in where
        assert "abort_reason = COALESCE(abort_reason, :abort_reason)" in assignments
        assert returning is not None
    else:
        assert returning is None and "COALESCE" not in assignments


def test_generated_statements_are_run_by_both_backends() -> None:
    assert set(STATEMENTS) <= set(SQLITE_QUERIES)
    assert {name: SQLITE_QUERIES[name] for name in STATEMENTS} == STATEMENTS
    try:
        from setpoint.adapters.store.postgres import QUERIES as POSTGRES_QUERIES
    except ImportError:  # without the postgres extra
        return
    for name, sql in STATEMENTS.items():
        assert POSTGRES_QUERIES[name] == _PARAM_RE.sub(lambda m: f"%({m.group(1)})s", sql)
