"""The embedded SQLite backend: `SqliteStore` (the shared SQL store over one WAL file).

Imports nothing from the PostgreSQL backend (an import-linter contract keeps the two independent).
"""

from setpoint.adapters.store.sqlite.queries import (
    LIST_SLOTS,
    LIST_TIERS,
    MIGRATIONS,
    QUERIES,
    expand_list_params,
    list_chunks,
    list_query,
)
from setpoint.adapters.store.sqlite.store import SqliteStore

__all__ = [
    "LIST_SLOTS",
    "LIST_TIERS",
    "MIGRATIONS",
    "QUERIES",
    "SqliteStore",
    "expand_list_params",
    "list_chunks",
    "list_query",
]
