"""Every statement of the SQL store, and the parameters every SQL backend binds the same way.

The statements are the named blocks of ``queries.sql`` and, generated from the records' fields,
those that write whole records (`setpoint.adapters.store.sql.records`).

Both SQL backends run the very same statements; each rewrites them once, at import, into its driver's
placeholder style (SQLite keeps ``:name`` and expands list parameters into slots, PostgreSQL turns
them into ``%(name)s`` and arrays). What stays dialect-free lives here: parsing the blocks, the
padded phase slots and the parameters of ``list_executions``.
"""

from __future__ import annotations

import math
import re
import string
from importlib import resources
from typing import Any

from setpoint.adapters.store import codec
from setpoint.adapters.store.sql.records import STATEMENTS
from setpoint.core.phases import ExecutionPhase
from setpoint.ports import ExecutionFilter

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


def _with_record_statements(blocks: dict[str, str]) -> dict[str, str]:
    """The named blocks plus the statements generated from the records' row form (`records`)."""
    both = sorted(set(blocks) & set(STATEMENTS))
    if both:
        raise RuntimeError(f"queries.sql defines {both}, which are generated from the records (sql/records.py)")
    return {**blocks, **STATEMENTS}


# Every statement as written, before any backend rewrites it: the named blocks of queries.sql and
# the statements that write whole records, derived from their fields.
RAW_QUERIES: dict[str, str] = _with_record_statements(
    load_queries(resources.files("setpoint.adapters.store").joinpath("queries.sql").read_text("utf-8"))
)

# Phase lists are fixed, padded parameter slots (one prepared statement per query); derive them
# from the enums here and refuse to import if queries.sql has a different number of slots.
UNFINISHED: dict[str, str] = {f"unfinished_{i}": p.value for i, p in enumerate(codec.UNFINISHED_PHASES)}
PHASE_SLOTS = len(ExecutionPhase)


def _check_slots() -> None:
    for name, sql in RAW_QUERIES.items():
        unfinished = set(re.findall(r":unfinished_\d+", sql))
        if unfinished and unfinished != {f":{k}" for k in UNFINISHED}:
            raise RuntimeError(f"query {name!r} has unfinished-phase slots {sorted(unfinished)}, expected {UNFINISHED}")
        phases = set(re.findall(r":phase_\d+", sql))
        if phases and len(phases) != PHASE_SLOTS:
            raise RuntimeError(f"query {name!r} has {len(phases)} phase slots, expected {PHASE_SLOTS}")


_check_slots()


def list_params(flt: ExecutionFilter) -> dict[str, Any]:
    """Parameters of ``list_executions`` (the phase filter padded to one slot per phase)."""
    phases = list(dict.fromkeys(p.value for p in flt.phases))
    slots = phases + [phases[0] if phases else None] * (PHASE_SLOTS - len(phases))
    params: dict[str, Any] = {f"phase_{i}": value for i, value in enumerate(slots)}
    params.update(
        any_phase=not phases,
        project=flt.project,
        workflow=flt.workflow,
        search=None if flt.search is None else like_pattern(flt.search),
        has_cursor=False,
        cursor_created_at=math.inf,  # before everything: the first page
        cursor_id="",
        limit=flt.limit,
    )
    return params


_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def fold(text: str) -> str:
    """Lowercase ASCII letters only, as SQL's ``lower`` does in every backend's collation."""
    return text.translate(_ASCII_LOWER)


def like_pattern(search: str) -> str:
    """A LIKE pattern (escape character ``!``) matching values that contain ``search``, folded."""
    escaped = fold(search).replace("!", "!!").replace("%", "!%").replace("_", "!_")
    return f"%{escaped}%"
