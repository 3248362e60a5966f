"""The embedded store: one SQLite file in WAL mode behind the `Store` port.

This is what makes ``pip install setpoint`` enough to run a pipeline: no server, one file under the
setpoint home, yet the same compare-and-swap semantics the PostgreSQL backend offers, so the
controller cannot tell them apart (the contract suite in ``tests/contract`` holds both to that).
Every operation is the shared `SqlStore`; this module only opens the file: checks the path, turns
on WAL and brings the schema (``migrations/``) up to date. The connection idiom is in `connector`.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

from setpoint.adapters.store.sql.store import SqlStore
from setpoint.adapters.store.sqlite.connector import SqliteConnector
from setpoint.adapters.store.sqlite.migrate import migrate
from setpoint.adapters.store.sqlite.queries import MIGRATIONS
from setpoint.errors import StoreError


class SqliteStore(SqlStore):
    """A `Store` on one SQLite file. Safe to share between threads; other processes may open the file too."""

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 10.0) -> None:
        raw = os.fspath(path)
        if raw in ("", ":memory:") or raw.startswith("file:"):
            raise StoreError(
                f"SqliteStore needs a file path, got {raw!r}; for an in-memory store use setpoint.testing.InMemoryStore"
            )
        self.path = Path(raw)
        self._prepare_directory()
        connector = SqliteConnector(self.path, busy_timeout)
        super().__init__(connector)
        self._pool = connector.pool  # tests reach a raw connection through it
        try:
            with connector.errors("open the store"), self._pool.connection() as conn:
                mode = connector.enable_wal(conn)
                if mode.lower() != "wal":
                    raise StoreError(
                        f"the store at {self.path} cannot use WAL mode (journal_mode is {mode!r}); "
                        f"is it on a network file system?"
                    )
                migrate(conn, MIGRATIONS, where=str(self.path))
        except BaseException:
            connector.close()
            raise

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.path)!r})"

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _prepare_directory(self) -> None:
        if self.path.is_dir():
            raise StoreError(f"the store path {self.path} is a directory; give a file path inside it")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            blocker = next((p for p in self.path.parents if p.exists() and not p.is_dir()), None)
            why = f"{blocker} is a file, not a directory" if blocker else (exc.strerror or str(exc))
            raise StoreError(f"cannot create the directory for the store at {self.path}: {why}") from exc
