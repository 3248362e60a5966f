"""How the SQL store reaches PostgreSQL: short transactions, bounded waits, retries that never guess.

- **Compare-and-swap, not locks held across a round.** Each write is one short READ COMMITTED
  transaction. ``UPDATE ... WHERE version = :version`` re-checks its condition on the newest row
  version after waiting for a concurrent writer, so a stale round matches no row and becomes a
  `ConflictError`, exactly as with SQLite's single writer. A deadlock or serialization failure is
  retried, since PostgreSQL rolled it back.
- **Failures say where, and never guess.** Driver errors become `StoreError` naming
  ``host:port/db`` (never the password). A failure before ``COMMIT`` was sent provably changed
  nothing, so it is retried a few times with exponential backoff within a few seconds, reads and
  writes alike (which is why a body is a function the connector may call again); a connection lost
  *during* ``COMMIT`` is ambiguous and is raised at once, so the caller reloads and reconciles
  instead of writing twice. ``statement_timeout``, a connect timeout and TCP keepalives bound every
  wait; the `Watchdog` severs a connection whose call got no answer within the statement timeout
  plus a grace, so no caller ever waits without bound.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from setpoint.adapters.store.codec import RowLike
from setpoint.adapters.store.postgres.pool import Call, Connection, Pool, Watchdog
from setpoint.adapters.store.postgres.sql import dict_row, escape_params
from setpoint.adapters.store.postgres.target import Target
from setpoint.adapters.store.sql.connector import Params, Session
from setpoint.errors import StoreError

log = logging.getLogger("setpoint.adapters.store.postgres")

T = TypeVar("T")

# SQLSTATE classes after which PostgreSQL has rolled the transaction back and nothing was applied.
_RETRY_ROLLED_BACK = (pg_errors.SerializationFailure, pg_errors.DeadlockDetected)
# The server is going away or not there yet: a new connection may work.
_RETRY_SERVER = (pg_errors.AdminShutdown, pg_errors.CrashShutdown, pg_errors.CannotConnectNow)


class AmbiguousCommit(Exception):
    """Internal: the connection failed while COMMIT was in flight; the outcome is unknown."""


def connection_lost(exc: BaseException, conn: Connection | None) -> bool:
    """Did ``exc`` come from a connection that is gone (rather than from the statement)?"""
    if isinstance(exc, (*_RETRY_SERVER, pg_errors.ConnectionException)):
        return True
    if not isinstance(exc, psycopg.OperationalError):
        return False
    return conn is None or conn.broken


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How failures that provably changed nothing are retried: a few attempts, bounded in time."""

    attempts: int = 4
    first_delay: float = 0.1
    max_delay: float = 1.0
    budget: float = 5.0  # no new attempt starts after this many seconds


def in_transaction(
    conn: Connection, body: Callable[[Connection], T], before_commit: Callable[[Connection], None] | None = None
) -> T:
    """BEGIN, ``body``, COMMIT on an autocommit connection; a failed COMMIT that lost the
    connection is `AmbiguousCommit` (anything earlier is rolled back and provably not applied)."""
    conn.execute("BEGIN")
    try:
        result = body(conn)
        if before_commit is not None:
            before_commit(conn)
    except BaseException:
        if not conn.closed and not conn.broken:
            with contextlib.suppress(psycopg.Error):
                conn.execute("ROLLBACK")
        raise
    try:
        conn.execute("COMMIT")
    except psycopg.Error as exc:
        if connection_lost(exc, conn):
            raise AmbiguousCommit from exc
        raise
    return result


class PostgresSession:
    """A `Session` on one psycopg connection: text escaped on the way in, list parameters as arrays."""

    __slots__ = ("_conn", "_queries")

    def __init__(self, conn: Connection, queries: dict[str, str]) -> None:
        self._conn = conn
        self._queries = queries

    def fetch_one(self, query: str, params: Params) -> RowLike | None:
        return self._conn.execute(self._queries[query], escape_params(params)).fetchone()

    def fetch_all(self, query: str, params: Params) -> list[RowLike]:
        return list(self._conn.execute(self._queries[query], escape_params(params)).fetchall())

    def execute(self, query: str, params: Params) -> int:
        return self._conn.execute(self._queries[query], escape_params(params)).rowcount

    def execute_many(self, query: str, rows: Sequence[Params]) -> int:
        with self._conn.cursor() as cur:
            cur.executemany(self._queries[query], [escape_params(r) for r in rows])
            return cur.rowcount

    def fetch_all_in(self, query: str, name: str, values: Sequence[str], params: Params) -> list[RowLike]:
        distinct = list(dict.fromkeys(values))
        if not distinct:
            return []
        return self.fetch_all(query, {**params, name: distinct})

    def execute_in(self, query: str, name: str, values: Sequence[str], params: Params) -> int:
        distinct = list(dict.fromkeys(values))
        if not distinct:
            return 0
        return self.execute(query, {**params, name: distinct})

    def lock_registry(self) -> None:
        self._conn.execute("LOCK TABLE registry_entities IN SHARE ROW EXCLUSIVE MODE")


class PostgresConnector:
    """A `Connector` on one PostgreSQL database. Safe to share between threads."""

    def __init__(
        self,
        url: str,
        queries: dict[str, str],
        *,
        pool_size: int,
        connect_timeout: int,
        statement_timeout: float,
        retry: RetryPolicy,
        call_grace: float,
    ) -> None:
        self.target = Target.parse(url)
        self.where = self.target.where
        self.conninfo = build_conninfo(url, connect_timeout, statement_timeout)
        self._queries = queries
        self._retry = retry
        self._statement_timeout = statement_timeout
        self.pool = Pool(self._connect, self.where, pool_size, wait=statement_timeout)
        # A call (one read, or one whole transaction) gets the server's statement timeout plus a
        # grace for the answer to travel back; past that, the connection is presumed stalled.
        self.watchdog = Watchdog(statement_timeout + call_grace, self.where)
        # Fault injection for tests: called with the connection just before each COMMIT is sent.
        self.before_commit: Callable[[Connection], None] | None = None

    def read(self, doing: str, body: Callable[[Session], T]) -> T:
        """``body`` in autocommit mode (each statement sees the latest committed state)."""
        return self.run(doing, lambda conn: body(PostgresSession(conn, self._queries)))

    def write(self, doing: str, body: Callable[[Session], T]) -> T:
        """``body`` in one transaction; any exception rolls it back and nothing of it is kept."""
        return self.run(
            doing,
            lambda conn: in_transaction(conn, lambda c: body(PostgresSession(c, self._queries)), self.before_commit),
        )

    def close(self) -> None:
        self.pool.close()
        self.watchdog.close()

    def _connect(self) -> Connection:
        return psycopg.connect(self.conninfo, autocommit=True, row_factory=dict_row)

    def run(self, doing: str, body: Callable[[Connection], T]) -> T:
        """``body`` on a pooled connection, retried while a failure provably changed nothing."""
        policy = self._retry
        started = time.monotonic()
        delay = policy.first_delay
        attempt = 0
        while True:
            attempt += 1
            conn: Connection | None = None
            call: Call | None = None
            try:
                with self.pool.connection() as conn, self.watchdog.watch(conn) as call:
                    return body(conn)
            except AmbiguousCommit as exc:
                self.pool.discard_idle()
                cause = exc.__cause__ if isinstance(exc.__cause__, psycopg.Error) else None
                stalled = f" (no answer within {self.watchdog.timeout:g}s)" if call is not None and call.severed else ""
                raise StoreError(
                    f"store {self.where}: cannot {doing}: the connection was lost while committing{stalled}, "
                    f"so the write may or may not have been applied; reload and check"
                    + (f" ({self._driver_text(cause)})" if cause is not None else "")
                ) from None
            except psycopg.Error as exc:
                lost = connection_lost(exc, conn)
                if lost:
                    self.pool.discard_idle()
                retryable = lost or isinstance(exc, _RETRY_ROLLED_BACK)
                elapsed = time.monotonic() - started
                if not retryable or attempt >= policy.attempts or elapsed + delay > policy.budget:
                    if call is not None and call.severed:
                        raise self._stalled_error(doing, attempt) from None
                    raise self._store_error(doing, exc, lost, attempt) from None
                log.info("store %s: %s failed (%s); retrying in %.2fs", self.where, doing, type(exc).__name__, delay)
                time.sleep(delay * (0.5 + random.random() / 2))
                delay = min(delay * 2, policy.max_delay)

    def _driver_text(self, exc: psycopg.Error) -> str:
        return self.target.scrub(" ".join(str(exc).split()))

    def _stalled_error(self, doing: str, attempts: int) -> StoreError:
        tried = f" (attempt {attempts})" if attempts > 1 else ""
        return StoreError(
            f"store {self.where}: cannot {doing}: the PostgreSQL server did not answer within "
            f"{self.watchdog.timeout:g}s{tried}, so the connection was dropped; check that the server is not "
            f"hung or overloaded and that {self.target.host}:{self.target.port} is reachable"
        )

    def _store_error(self, doing: str, exc: psycopg.Error, lost: bool, attempts: int) -> StoreError:
        text = self._driver_text(exc)
        tried = f" after {attempts} attempts" if attempts > 1 else ""
        if lost:
            return StoreError(
                f"store {self.where}: cannot {doing}: the PostgreSQL server is unreachable{tried} ({text}); "
                f"check that it is running and that {self.target.host}:{self.target.port} can be reached"
            )
        if isinstance(exc, pg_errors.QueryCanceled):
            return StoreError(
                f"store {self.where}: cannot {doing}: no answer within the statement timeout "
                f"({self._statement_timeout:g}s); is the database overloaded or a lock held? ({text})"
            )
        if isinstance(exc, pg_errors.InvalidPassword | pg_errors.InvalidAuthorizationSpecification):
            return StoreError(f"store {self.where}: cannot {doing}: the server refused the login ({text})")
        return StoreError(f"store {self.where}: cannot {doing}{tried}: {text}")


def build_conninfo(url: str, connect_timeout: int, statement_timeout: float) -> str:
    """``url`` with our session settings: timeouts that bound every wait, keepalives, a name."""
    parts = conninfo_to_dict(url)
    ours = (
        f"-c statement_timeout={int(statement_timeout * 1000)} "
        f"-c idle_in_transaction_session_timeout={int(max(statement_timeout, 10.0) * 2000)}"
    )
    options = f"{parts['options']} {ours}" if parts.get("options") else ours
    extra: dict[str, Any] = {
        "options": options,
        "application_name": parts.get("application_name") or "setpoint",
        "connect_timeout": parts.get("connect_timeout") or max(2, int(connect_timeout)),
        # A dead peer (power loss, blackholed network) is noticed within about 20 s even while
        # a statement waits for its answer.
        "keepalives": 1,
        "keepalives_idle": parts.get("keepalives_idle") or 10,
        "keepalives_interval": parts.get("keepalives_interval") or 3,
        "keepalives_count": parts.get("keepalives_count") or 3,
        "tcp_user_timeout": parts.get("tcp_user_timeout") or 20_000,
    }
    return make_conninfo(url, **extra)
