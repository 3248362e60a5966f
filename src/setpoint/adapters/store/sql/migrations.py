"""Numbered schema migrations, as files: what both SQL backends load and apply in order.

A user's store outlives the setpoint version that created it, so opening it must bring its schema
up to date. Each backend ships a folder of ``NNNN_name.sql`` files (SQLite ``migrations/``,
PostgreSQL its twin ``migrations_pg/``, same numbers) and applies them its own way, one transaction
each, recorded in ``schema_migrations`` (see each backend's ``migrate`` module).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.resources.abc import Traversable

from setpoint.errors import StoreError

_FILE_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations(directory: Traversable) -> tuple[Migration, ...]:
    """The migrations found in ``directory``, in order, numbered 1..n."""
    found: list[Migration] = []
    for entry in directory.iterdir():
        match = _FILE_RE.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    numbers = [m.version for m in found]
    if numbers != list(range(1, len(found) + 1)):
        raise StoreError(f"migrations must be numbered 0001, 0002, ... without gaps; found {numbers}")
    return tuple(found)
