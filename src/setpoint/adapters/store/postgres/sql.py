"""``queries.sql`` as PostgreSQL runs it, and the text PostgreSQL cannot hold.

Every statement is one the SQLite store runs (a named block, or a record's generated INSERT or
UPDATE: `setpoint.adapters.store.sql.queries.RAW_QUERIES`), rewritten mechanically at import
(``:name`` -> ``%(name)s``, a list parameter ``IN (:keys*)`` -> ``= ANY(%(keys)s)``, one array
instead of padded chunks). With ``clock="db"`` the lease and reservation statements take their
times from the server instead of the caller (`with_db_clock`).

PostgreSQL text cannot hold U+0000, which the contract treats as ordinary data. Text values are
therefore stored with a reversible, order-preserving escape (U+0001 -> U+0001 U+0002, U+0000 ->
U+0001 U+0001) applied to parameters and undone on every row read; any other string is stored as
is. JSON columns never contain either character raw, so they are untouched.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import TYPE_CHECKING, Any

import psycopg

from setpoint.adapters.store.sql.migrations import load_migrations
from setpoint.adapters.store.sql.queries import RAW_QUERIES

if TYPE_CHECKING:
    from psycopg.rows import RowMaker

_LIST_IN_RE = re.compile(r"\bIN\s*\(\s*:(\w+)\*\s*\)")
_PARAM_RE = re.compile(r"(?<![:\w]):(\w+)")
# The server's clock as epoch seconds, one value per statement (so "now" and "now + ttl" agree).
_DB_NOW = "CAST(EXTRACT(EPOCH FROM statement_timestamp()) AS DOUBLE PRECISION)"
# Statements whose :now / :expires_at are lease or reservation times (the only ones clock="db" changes).
_CLOCKED = ("acquire_lease", "renew_leases", "reserve", "renew_reservations")


def to_psycopg(sql: str) -> str:
    """One ``queries.sql`` block in psycopg's placeholder style (comments dropped, ``%`` escaped)."""
    body = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    body = body.replace("%", "%%")
    body = _LIST_IN_RE.sub(lambda m: f"= ANY(:{m.group(1)})", body)
    return _PARAM_RE.sub(lambda m: f"%({m.group(1)})s", body)


def with_db_clock(sql: str) -> str:
    """``sql`` with lease/reservation times taken from the server: ``now`` is its clock, and
    ``expires_at`` its clock plus the ``ttl`` parameter."""
    return sql.replace("%(now)s", _DB_NOW).replace("%(expires_at)s", f"({_DB_NOW} + %(ttl)s)")


QUERIES: dict[str, str] = {name: to_psycopg(sql) for name, sql in RAW_QUERIES.items()}
DB_CLOCK_QUERIES: dict[str, str] = {**QUERIES, **{name: with_db_clock(QUERIES[name]) for name in _CLOCKED}}

MIGRATIONS = load_migrations(resources.files("setpoint.adapters.store") / "migrations_pg")

# -- text that PostgreSQL cannot hold ------------------------------------------------------------

_ESC = "\x01"
_UNESCAPE_RE = re.compile("\x01(.)", re.S)


def escape_text(value: str) -> str:
    """``value`` without U+0000; injective and order-preserving under byte ("C") collation."""
    if "\x00" in value or _ESC in value:
        return value.replace(_ESC, "\x01\x02").replace("\x00", "\x01\x01")
    return value


def unescape_text(value: str) -> str:
    if _ESC not in value:
        return value
    return _UNESCAPE_RE.sub(lambda m: "\x00" if m.group(1) == "\x01" else _ESC, value)


def _param(value: Any) -> Any:
    if type(value) is str:
        return escape_text(value)
    if type(value) is list:
        return [escape_text(v) if type(v) is str else v for v in value]
    return value


def escape_params(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _param(v) for k, v in params.items()}


def dict_row(cursor: psycopg.Cursor[Any]) -> RowMaker[dict[str, Any]]:
    """Rows as dicts (what `codec` decodes), with escaped text restored.

    Column names come straight from the result (``cursor.description`` builds objects we would
    throw away, which cost as much as a small query); the schema's names are ASCII.
    """
    res = cursor.pgresult
    names = [(res.fname(i) or b"").decode() for i in range(res.nfields)] if res is not None else []

    def make(values: Sequence[Any]) -> dict[str, Any]:
        return {
            name: unescape_text(v) if type(v) is str and _ESC in v else v for name, v in zip(names, values, strict=True)
        }

    return make
