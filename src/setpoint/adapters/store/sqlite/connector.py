"""How the SQL store reaches one SQLite file: pooled connections, WAL, write locks, driver errors.

How it stays correct with several threads and processes on one file:

- WAL mode lets readers (the CLI, the API server) run while a controller writes;
  ``synchronous=NORMAL`` keeps commits off the fsync path (WAL stays consistent after a crash, at
  worst the last commits are lost, which level-triggered reconciling redoes).
- Every write is one ``BEGIN IMMEDIATE`` transaction: it takes the write lock up front, so two
  writers queue on ``busy_timeout`` instead of failing half-way with SQLITE_BUSY on lock upgrade.
  That single write lock is also why `SqliteSession.lock_registry` has nothing to do.
- Connections come from a small pool (one per concurrent caller), never shared by two threads at
  once, and all are closed by `close`.
- Every ``sqlite3`` error is translated here into `setpoint.errors`, with the file's path in the
  message; nothing above this module sees a driver exception.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

from setpoint.adapters.store.codec import RowLike
from setpoint.adapters.store.sql.connector import Params, Session
from setpoint.adapters.store.sqlite.queries import QUERIES, list_chunks, list_query
from setpoint.errors import StoreError

T = TypeVar("T")


class Pool:
    """Connections handed to one caller at a time; closed together by `close`."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], where: str) -> None:
        self._connect = connect
        self._where = where
        self._lock = threading.Lock()
        self._idle: list[sqlite3.Connection] = []
        self._closed = False

    @contextlib.contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._closed:
                raise StoreError(f"the store at {self._where} is closed")
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            conn = self._connect()
        try:
            yield conn
        finally:
            if conn.in_transaction:  # an exception escaped mid-transaction
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            with self._lock:
                keep = not self._closed and not conn.in_transaction
                if keep:
                    self._idle.append(conn)
            if not keep:
                conn.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


class SqliteSession:
    """A `Session` on one ``sqlite3`` connection; list parameters run chunk by chunk."""

    __slots__ = ("_conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def fetch_one(self, query: str, params: Params) -> RowLike | None:
        cursor = self._conn.execute(QUERIES[query], params)
        try:
            row: RowLike | None = cursor.fetchone()
        finally:
            cursor.close()  # an unfinished UPDATE ... RETURNING would otherwise hold up COMMIT
        return row

    def fetch_all(self, query: str, params: Params) -> list[RowLike]:
        return list(self._conn.execute(QUERIES[query], params).fetchall())

    def execute(self, query: str, params: Params) -> int:
        return self._conn.execute(QUERIES[query], params).rowcount

    def execute_many(self, query: str, rows: Sequence[Params]) -> int:
        return self._conn.executemany(QUERIES[query], rows).rowcount

    def fetch_all_in(self, query: str, name: str, values: Sequence[str], params: Params) -> list[RowLike]:
        rows: list[RowLike] = []
        for slots, chunk in list_chunks(name, values, **params):
            rows.extend(self._conn.execute(list_query(query, slots), chunk).fetchall())
        return rows

    def execute_in(self, query: str, name: str, values: Sequence[str], params: Params) -> int:
        return sum(
            self._conn.execute(list_query(query, slots), chunk).rowcount
            for slots, chunk in list_chunks(name, values, **params)
        )

    def lock_registry(self) -> None:
        """Nothing to do: ``BEGIN IMMEDIATE`` already holds the file's only write lock."""


class SqliteConnector:
    """A `Connector` on one SQLite file. Safe to share between threads."""

    def __init__(self, path: Path, busy_timeout: float) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self.pool = Pool(self._connect, str(path))

    def read(self, doing: str, body: Callable[[Session], T]) -> T:
        with self.errors(doing), self.pool.connection() as conn:
            return body(SqliteSession(conn))

    def write(self, doing: str, body: Callable[[Session], T]) -> T:
        """One write transaction; any exception rolls it back and nothing of it is kept."""
        with self.errors(doing), self.pool.connection() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = body(SqliteSession(conn))
                conn.execute("COMMIT")
            finally:
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
            return result

    def close(self) -> None:
        self.pool.close()

    def enable_wal(self, conn: sqlite3.Connection) -> str:
        """Switch to WAL and return the journal mode now in force.

        Several processes opening a fresh file at once race on this switch, and SQLite answers the
        losers SQLITE_BUSY at once, without waiting on busy_timeout; so wait here instead.
        """
        deadline = time.monotonic() + self.busy_timeout
        while True:
            try:
                return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
            except sqlite3.OperationalError as exc:
                busy = str(getattr(exc, "sqlite_errorname", "")).startswith("SQLITE_BUSY")
                if not busy or time.monotonic() >= deadline:
                    raise
                time.sleep(0.005)

    @contextlib.contextmanager
    def errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise self._store_error(doing, exc) from exc

    def _connect(self) -> sqlite3.Connection:
        with self.errors("open the store"):
            conn = sqlite3.connect(
                self.path,
                timeout=self.busy_timeout,
                isolation_level=None,  # autocommit; transactions are explicit BEGIN IMMEDIATE
                check_same_thread=False,  # the pool hands a connection to one thread at a time
                cached_statements=256,
            )
            try:
                conn.row_factory = sqlite3.Row
                conn.execute("PRAGMA foreign_keys = ON")
                conn.execute("PRAGMA synchronous = NORMAL")
            except BaseException:
                conn.close()
                raise
        return conn

    def _store_error(self, doing: str, exc: sqlite3.Error) -> StoreError:
        code = getattr(exc, "sqlite_errorname", "") or ""
        text = str(exc)
        if code in ("SQLITE_NOTADB", "SQLITE_CORRUPT") or "not a database" in text or "malformed" in text:
            hint = "the file is not a SQLite database or is corrupt; restore a backup or use another path"
        elif code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
            hint = f"another connection held the database lock for more than {self.busy_timeout:g}s; retry"
        elif code.startswith("SQLITE_READONLY"):
            hint = "the file or its directory is read-only"
        elif code.startswith("SQLITE_CANTOPEN"):
            hint = "check that the path names a file in a directory you can write"
        elif code == "SQLITE_FULL":
            hint = "the disk is full"
        else:
            hint = ""
        return StoreError(f"store {self.path}: cannot {doing}: {text}" + (f" ({hint})" if hint else ""))
