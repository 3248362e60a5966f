"""``queries.sql`` as SQLite runs it: ``:name`` placeholders, list parameters as padded slots.

A list parameter ``:name*`` becomes a fixed number of slots: the smallest of `LIST_TIERS` that
holds the values (a one-key lookup binds 8 parameters, not 512), longer lists run in chunks of the
largest. So each query has at most ``len(LIST_TIERS)`` prepared forms, and every statement stays far
below SQLITE_MAX_VARIABLE_NUMBER (999 on old builds, 32766 since 3.32). Bound parameters, not
``json_each``: SQLite's JSON functions cut a string at an embedded NUL.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Sequence
from importlib import resources
from typing import Any

from setpoint.adapters.store.sql.migrations import load_migrations
from setpoint.adapters.store.sql.queries import RAW_QUERIES

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


QUERIES: dict[str, str] = {name: expand_list_params(sql) for name, sql in RAW_QUERIES.items()}


@functools.cache
def list_query(name: str, slots: int) -> str:
    """Query ``name`` with its list parameters expanded to ``slots`` slots (see `list_chunks`)."""
    return expand_list_params(RAW_QUERIES[name], slots)


MIGRATIONS = load_migrations(resources.files("setpoint.adapters.store") / "migrations")
