"""Numbered schema migrations for the PostgreSQL store (``migrations_pg/``, the twin of SQLite's).

Each migration runs in its own transaction together with its ``schema_migrations`` row, under a
transaction-scoped advisory lock, so processes starting at once apply each exactly once.
"""

from __future__ import annotations

from collections.abc import Sequence

from setpoint.adapters.store.postgres.connector import in_transaction
from setpoint.adapters.store.postgres.pool import Connection
from setpoint.adapters.store.sql.migrations import Migration
from setpoint.errors import StoreError

# pg_advisory_xact_lock key that serializes migrations of one database ("setpoint" in ASCII).
MIGRATION_LOCK = 0x7365747030696E74

_CREATE_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""


def current_version_pg(conn: Connection) -> int:
    """The highest applied migration, 0 for a database without ``schema_migrations``."""
    # A plain catalog query, not to_regclass(): that reads the backend's catalog cache, which may not
    # yet show a table another process created while this one waited on the migration lock.
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = current_schema() "
        "AND tablename = 'schema_migrations') AS present"
    ).fetchone()
    if row is None or not row["present"]:
        return 0
    row = conn.execute("SELECT COALESCE(MAX(version), 0) AS version FROM schema_migrations").fetchone()
    return 0 if row is None else int(row["version"])


def migrate_pg(
    conn: Connection, migrations: Sequence[Migration], *, where: str, target: int | None = None
) -> list[int]:
    """Apply the pending migrations up to ``target`` (default: all); return the versions applied.

    Each migration runs in its own transaction together with its ``schema_migrations`` row, under a
    transaction-scoped advisory lock, so processes starting at once apply each exactly once (the
    others wait, then see it applied), and a failing migration leaves nothing behind. ``conn`` must
    be in autocommit mode. Idempotent: an up-to-date database is only read.
    """
    latest = migrations[-1].version if migrations else 0
    goal = latest if target is None else target
    version = current_version_pg(conn)
    if version > latest:
        raise StoreError(
            f"the store at {where} has schema version {version}, newer than this setpoint knows "
            f"({latest}); upgrade setpoint to open it"
        )
    applied: list[int] = []
    if version >= goal:
        return applied
    for migration in migrations:
        if migration.version > goal:
            break

        def step(conn: Connection, migration: Migration = migration) -> bool:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            version = current_version_pg(conn)
            if version >= migration.version:  # another process got here first
                return False
            if version == 0:
                _refuse_foreign_database(conn, where)
            conn.execute(_CREATE_MIGRATIONS_TABLE)
            conn.execute(migration.sql.encode("utf-8"), prepare=False)  # several statements: simple protocol
            conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (migration.version, migration.name)
            )
            return True

        if in_transaction(conn, step):
            applied.append(migration.version)
    return applied


def _refuse_foreign_database(conn: Connection, where: str) -> None:
    """An unversioned schema with tables is someone else's: do not write ours into it."""
    rows = conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"
    ).fetchall()
    tables = [str(r["tablename"]) for r in rows]
    if tables and "schema_migrations" not in tables:
        shown = ", ".join(tables[:5]) + (", ..." if len(tables) > 5 else "")
        raise StoreError(
            f"{where} is a PostgreSQL database but not a setpoint store (its schema has tables {shown} "
            f"and no schema_migrations); use an empty database, or another schema via "
            f"?options=-csearch_path%3D<schema>"
        )
