"""The PostgreSQL backend: `PostgresStore` (the shared SQL store over a pooled, retrying connector)
with LISTEN/NOTIFY wake-ups, database-clock leases and a watchdog for stalled calls.

Imports nothing from the SQLite backend (an import-linter contract keeps the two independent).
Needs psycopg 3 (``pip install 'setpoint[postgres]'``).
"""

try:
    import psycopg  # noqa: F401 (fail early, with the install hint)
except ImportError as exc:  # pragma: no cover - exercised only without the extra installed
    raise ImportError("the PostgreSQL store needs psycopg 3: pip install 'setpoint[postgres]'") from exc

from setpoint.adapters.store.postgres.connector import RetryPolicy
from setpoint.adapters.store.postgres.listen import CHANNEL
from setpoint.adapters.store.postgres.migrate import MIGRATION_LOCK, current_version_pg, migrate_pg
from setpoint.adapters.store.postgres.sql import (
    DB_CLOCK_QUERIES,
    MIGRATIONS,
    QUERIES,
    escape_text,
    to_psycopg,
    unescape_text,
    with_db_clock,
)
from setpoint.adapters.store.postgres.store import Clock, PostgresStore
from setpoint.adapters.store.postgres.target import Target

__all__ = [
    "CHANNEL",
    "DB_CLOCK_QUERIES",
    "MIGRATIONS",
    "MIGRATION_LOCK",
    "QUERIES",
    "Clock",
    "PostgresStore",
    "RetryPolicy",
    "Target",
    "current_version_pg",
    "escape_text",
    "migrate_pg",
    "to_psycopg",
    "unescape_text",
    "with_db_clock",
]
