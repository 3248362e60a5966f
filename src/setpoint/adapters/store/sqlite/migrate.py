"""Numbered schema migrations for the SQLite store: applied in order, one transaction each, recorded.

A user's store file outlives the setpoint version that created it, so opening it must bring its
schema up to date, safely even when two processes (a controller and a CLI) open a fresh file at the
same moment. Each ``NNNN_name.sql`` file under ``migrations/`` runs inside ``BEGIN IMMEDIATE``
together with its row in ``schema_migrations``: a migration is applied completely and recorded, or
not at all, and the write lock makes a concurrent opener wait and then see it applied. A file with a
newer schema than this code knows is refused rather than guessed at.
"""

from __future__ import annotations

import sqlite3

from setpoint.adapters.store.sql.migrations import Migration
from setpoint.errors import StoreError

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
)
"""


def statements(migration: Migration) -> list[str]:
    """Split the file into statements (``executescript`` would commit mid-transaction)."""
    out: list[str] = []
    pending = ""
    for line in migration.sql.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            out.append(pending.strip())
            pending = ""
    if _strip_comments(pending):
        raise StoreError(f"migration {migration.version:04d}_{migration.name}.sql ends with an unfinished statement")
    return out


def _strip_comments(sql: str) -> str:
    return "\n".join(line for line in sql.splitlines() if not line.strip().startswith("--")).strip()


def current_version(conn: sqlite3.Connection) -> int:
    """The highest applied migration, 0 for a file with no ``schema_migrations`` table."""
    has_table = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
    ).fetchone()
    if has_table is None:
        return 0
    row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()
    return int(row[0])


def migrate(
    conn: sqlite3.Connection,
    migrations: tuple[Migration, ...],
    *,
    where: str,
    target: int | None = None,
) -> list[int]:
    """Apply the pending migrations up to ``target`` (default: all); return the versions applied.

    ``conn`` must be in autocommit mode (``isolation_level=None``). ``where`` names the database in
    error messages. Idempotent: an up-to-date file is only read, never locked for writing.
    """
    latest = migrations[-1].version if migrations else 0
    goal = latest if target is None else target
    version = current_version(conn)
    if version > latest:
        raise StoreError(
            f"the store at {where} has schema version {version}, newer than this setpoint knows "
            f"({latest}); upgrade setpoint to open it"
        )
    if version >= goal:
        return []
    applied: list[int] = []
    for migration in migrations:
        if migration.version > goal:
            break
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = current_version(conn)
            if version >= migration.version:  # another process got here first
                conn.execute("ROLLBACK")
                continue
            if version == 0:
                _refuse_foreign_database(conn, where)
            conn.execute(_CREATE_TABLE)
            for statement in statements(migration):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                (migration.version, migration.name),
            )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        applied.append(migration.version)
    return applied


def _refuse_foreign_database(conn: sqlite3.Connection, where: str) -> None:
    """An unversioned file with tables is someone else's database: do not write ours into it."""
    tables = [
        str(row[0])
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ]
    if tables and "schema_migrations" not in tables:
        shown = ", ".join(tables[:5]) + (", ..." if len(tables) > 5 else "")
        raise StoreError(
            f"{where} is a SQLite database but not a setpoint store (it has tables {shown} and no "
            f"schema_migrations); choose another path"
        )
