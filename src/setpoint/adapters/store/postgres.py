"""The production store: PostgreSQL behind the same `Store` port as the embedded SQLite file.

Several controller replicas, an API server and the CLI can share one PostgreSQL database, and none
of them can tell it from SQLite: the contract suite in ``tests/contract`` runs unchanged against
both. What this module adds is what a shared server needs and a local file does not:

- **One source of truth for SQL.** Every statement is the named block of ``queries.sql`` that the
  SQLite store runs, rewritten mechanically at import (``:name`` -> ``%(name)s``, a list
  parameter ``IN (:keys*)`` -> ``= ANY(%(keys)s)``, one array instead of padded chunks). The schema
  is ``migrations_pg/``, the numbered twin of ``migrations/``.
- **Compare-and-swap, not locks held across a round.** Each write is one short READ COMMITTED
  transaction. ``UPDATE ... WHERE version = :version`` re-checks its condition on the newest row
  version after waiting for a concurrent writer, so a stale round matches no row and becomes a
  `ConflictError`, exactly as with SQLite's single writer. Catalog upserts run in key order so two
  rounds sharing keys cannot deadlock; a deadlock or serialization failure anyway is retried, since
  PostgreSQL rolled it back.
- **Whose clock.** ``clock="caller"`` uses the ``now`` the port passes, like SQLite. With
  ``clock="db"`` lease and reservation expiry is computed and compared with the server's
  ``statement_timestamp()``: replicas on machines with skewed clocks then agree on when a lease has
  expired, and a replica whose clock runs ahead cannot take a live lease.
- **Failures say where, and never guess.** Driver errors become `StoreError` naming
  ``host:port/db`` (never the password). A failure before ``COMMIT`` was sent provably changed
  nothing, so it is retried a few times with exponential backoff within a few seconds, reads and
  writes alike; a connection lost *during* ``COMMIT`` is ambiguous and is raised at once, so the
  caller reloads and reconciles instead of writing twice. ``statement_timeout``, a connect timeout
  and TCP keepalives bound every wait; a watchdog severs a connection whose call got no answer
  within the statement timeout plus a grace (a stalled network or a hung server that still
  acknowledges packets, which keepalives cannot see), so no caller ever waits without bound.
- **Wake-ups.** A trigger NOTIFYs channel ``setpoint`` with the execution id (and new version) on
  every creation, abort request and commit; `PostgresStore.watch` delivers those ids to a callback
  from a background listener that reconnects by itself, leaving out the echo of this store's own
  commits (a controller needs no wake-up for the round it just persisted). They are hints: a
  missed one only delays work until the controller's periodic resync.

PostgreSQL text cannot hold U+0000, which the contract treats as ordinary data. Text values are
therefore stored with a reversible, order-preserving escape (U+0001 -> U+0001 U+0002, U+0000 ->
U+0001 U+0001) applied to parameters and undone on every row read; any other string is stored as
is. JSON columns never contain either character raw, so they are untouched.

The connection pool is a small one of our own rather than psycopg_pool: it connects on demand in the
caller's thread, so an unreachable server fails fast with libpq's own reason (not a pool timeout),
and the retry policy above stays in one place.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import random
import re
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar

try:
    import psycopg
    from psycopg import errors as pg_errors
    from psycopg.conninfo import conninfo_to_dict, make_conninfo
    from psycopg.pq import TransactionStatus
except ImportError as exc:  # pragma: no cover - exercised only without the extra installed
    raise ImportError("the PostgreSQL store needs psycopg 3: pip install 'setpoint[postgres]'") from exc

from setpoint.adapters.store import codec, registry_rows
from setpoint.adapters.store.migrate import Migration, load_migrations
from setpoint.adapters.store.sqlite import list_params, load_queries
from setpoint.core.model import AttemptRecord, CatalogEntry, Event, ExecutionRecord, LineageRow, NodeRecord
from setpoint.errors import ConflictError, StoreError
from setpoint.ports import Activation, ExecutionFilter, RegisteredEntity, RoundWrite, TickRecord, TokenRecord

if TYPE_CHECKING:
    from psycopg.rows import RowMaker

    from setpoint.ports import Store

log = logging.getLogger(__name__)

T = TypeVar("T")
Clock = Literal["caller", "db"]
Connection = psycopg.Connection[dict[str, Any]]

CHANNEL = "setpoint"

# -- SQL: queries.sql rewritten for psycopg ---------------------------------------------------------

_LIST_IN_RE = re.compile(r"\bIN\s*\(\s*:(\w+)\*\s*\)")
_PARAM_RE = re.compile(r"(?<![:\w]):(\w+)")
# The server's clock as epoch seconds, one value per statement (so "now" and "now + ttl" agree).
_DB_NOW = "CAST(EXTRACT(EPOCH FROM statement_timestamp()) AS DOUBLE PRECISION)"
# Statements whose :now / :expires_at are lease or reservation times (the only ones clock="db" changes).
_CLOCKED = ("acquire_lease", "renew_leases", "reserve", "renew_reservations")


def to_psycopg(sql: str) -> str:
    """One ``queries.sql`` block in psycopg's placeholder style (comments dropped, ``%`` escaped)."""
    body = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    body = body.replace("%", "%%")
    body = _LIST_IN_RE.sub(lambda m: f"= ANY(:{m.group(1)})", body)
    return _PARAM_RE.sub(lambda m: f"%({m.group(1)})s", body)


def with_db_clock(sql: str) -> str:
    """``sql`` with lease/reservation times taken from the server: ``now`` is its clock, and
    ``expires_at`` its clock plus the ``ttl`` parameter."""
    return sql.replace("%(now)s", _DB_NOW).replace("%(expires_at)s", f"({_DB_NOW} + %(ttl)s)")


_RAW_QUERIES = load_queries(resources.files(__package__ or __name__).joinpath("queries.sql").read_text("utf-8"))
QUERIES: dict[str, str] = {name: to_psycopg(sql) for name, sql in _RAW_QUERIES.items()}
DB_CLOCK_QUERIES: dict[str, str] = {**QUERIES, **{name: with_db_clock(QUERIES[name]) for name in _CLOCKED}}

MIGRATIONS = load_migrations(resources.files(__package__ or __name__) / "migrations_pg")

_UNFINISHED = {f"unfinished_{i}": p.value for i, p in enumerate(codec.UNFINISHED_PHASES)}

# -- text that PostgreSQL cannot hold ------------------------------------------------------------

_ESC = "\x01"
_UNESCAPE_RE = re.compile("\x01(.)", re.S)


def escape_text(value: str) -> str:
    """``value`` without U+0000; injective and order-preserving under byte ("C") collation."""
    if "\x00" in value or _ESC in value:
        return value.replace(_ESC, "\x01\x02").replace("\x00", "\x01\x01")
    return value


def unescape_text(value: str) -> str:
    if _ESC not in value:
        return value
    return _UNESCAPE_RE.sub(lambda m: "\x00" if m.group(1) == "\x01" else _ESC, value)


def _param(value: Any) -> Any:
    if type(value) is str:
        return escape_text(value)
    if type(value) is list:
        return [escape_text(v) if type(v) is str else v for v in value]
    return value


def _params(row: dict[str, Any]) -> dict[str, Any]:
    return {k: _param(v) for k, v in row.items()}


def _dict_row(cursor: psycopg.Cursor[Any]) -> RowMaker[dict[str, Any]]:
    """Rows as dicts (what `codec` decodes), with escaped text restored.

    Column names come straight from the result (``cursor.description`` builds objects we would
    throw away, which cost as much as a small query); the schema's names are ASCII.
    """
    res = cursor.pgresult
    names = [(res.fname(i) or b"").decode() for i in range(res.nfields)] if res is not None else []

    def make(values: Sequence[Any]) -> dict[str, Any]:
        return {
            name: unescape_text(v) if type(v) is str and _ESC in v else v for name, v in zip(names, values, strict=True)
        }

    return make


# -- where the store is, for messages -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    """The parts of a connection string that are safe to show (never the password)."""

    host: str
    port: str
    dbname: str
    user: str
    password: str | None

    @staticmethod
    def parse(url: str) -> Target:
        try:
            parts = conninfo_to_dict(url)
        except psycopg.ProgrammingError as exc:
            raise StoreError(f"not a PostgreSQL connection URL: {_hide_url_password(url)!r} ({exc})") from None
        user = str(parts.get("user") or "")
        return Target(
            host=str(parts.get("host") or parts.get("hostaddr") or "localhost"),
            port=str(parts.get("port") or "5432"),
            dbname=str(parts.get("dbname") or user or "postgres"),
            user=user,
            password=None if parts.get("password") is None else str(parts["password"]),
        )

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}/{self.dbname}"

    def scrub(self, text: str) -> str:
        """``text`` with the password (if any) masked: driver messages are shown to users."""
        if self.password:
            text = text.replace(self.password, "***")
        return text


def _hide_url_password(url: str) -> str:
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


# -- errors and retries -----------------------------------------------------------------------------

# SQLSTATE classes after which PostgreSQL has rolled the transaction back and nothing was applied.
_RETRY_ROLLED_BACK = (pg_errors.SerializationFailure, pg_errors.DeadlockDetected)
# The server is going away or not there yet: a new connection may work.
_RETRY_SERVER = (pg_errors.AdminShutdown, pg_errors.CrashShutdown, pg_errors.CannotConnectNow)


class _AmbiguousCommit(Exception):
    """Internal: the connection failed while COMMIT was in flight; the outcome is unknown."""


class _RowsConflict(Exception):
    """Internal: an executemany wrote fewer rows than asked; diagnosed after the rollback."""

    def __init__(self, kind: str, rows: list[codec.Row]) -> None:
        super().__init__(kind)
        self.kind = kind
        self.rows = rows


def _connection_lost(exc: BaseException, conn: Connection | None) -> bool:
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


# -- connections ----------------------------------------------------------------------------------


class _Pool:
    """Connections handed to one caller at a time, at most ``size`` open; closed by `close`."""

    def __init__(self, connect: Callable[[], Connection], where: str, size: int, wait: float) -> None:
        self._connect = connect
        self._where = where
        self._wait = wait
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(size)
        self._size = size
        self._idle: list[Connection] = []
        self._closed = False

    @contextlib.contextmanager
    def connection(self) -> Iterator[Connection]:
        self._check_open()
        if not self._slots.acquire(timeout=self._wait):
            raise StoreError(f"store {self._where}: all {self._size} connections stayed busy for {self._wait:g}s")
        try:
            conn = self._take_idle()
            if conn is None:
                conn = self._connect()
            try:
                yield conn
            finally:
                self._give_back(conn)
        finally:
            self._slots.release()

    def discard_idle(self) -> None:
        """Close every idle connection: after one was found dead, the others likely are too."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self.discard_idle()

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"the store at {self._where} is closed")

    def _take_idle(self) -> Connection | None:
        with self._lock:
            self._check_open()
            while self._idle:
                conn = self._idle.pop()
                if not conn.closed and not conn.broken:
                    return conn
                conn.close()
        return None

    def _give_back(self, conn: Connection) -> None:
        with self._lock:
            keep = (
                not self._closed
                and not conn.closed
                and not conn.broken
                and conn.info.transaction_status == TransactionStatus.IDLE
            )
            if keep:
                self._idle.append(conn)
        if not keep:
            conn.close()


class _Call:
    """One store call on one connection, as the watchdog sees it."""

    __slots__ = ("conn", "deadline", "severed")

    def __init__(self, conn: Connection, deadline: float) -> None:
        self.conn = conn
        self.deadline = deadline
        self.severed = False


class _Watchdog:
    """Severs the connection of any call still waiting ``timeout`` seconds after it started.

    libpq has no client-side read timeout: a server that hangs, or a network path that accepts and
    acknowledges packets but never delivers an answer, keeps a caller blocked for ever (keepalives
    are answered, ``statement_timeout`` never reaches the server). Shutting the socket down wakes
    the blocked call with a lost connection, which `PostgresStore._run` treats as it treats any
    other: retried if nothing can have been applied, ambiguous if COMMIT was in flight.
    """

    def __init__(self, timeout: float, where: str) -> None:
        self.timeout = timeout
        self._where = where
        self._lock = threading.Lock()
        self._calls: dict[int, _Call] = {}
        self._ids = itertools.count()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @contextlib.contextmanager
    def watch(self, conn: Connection) -> Iterator[_Call]:
        call = _Call(conn, time.monotonic() + self.timeout)
        key = next(self._ids)
        with self._lock:
            self._calls[key] = call
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, name=f"setpoint-watchdog {self._where}", daemon=True)
                self._thread.start()
        try:
            yield call
        finally:
            with self._lock:
                del self._calls[key]

    def close(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        tick = min(0.5, max(0.05, self.timeout / 10))
        while not self._stop.wait(tick):
            now = time.monotonic()
            with self._lock:
                late = [c for c in self._calls.values() if not c.severed and c.deadline <= now]
                for call in late:
                    call.severed = True
            for call in late:
                log.warning("store %s: no answer within %gs; dropping the connection", self._where, self.timeout)
                _sever(call.conn)


def _sever(conn: Connection) -> None:
    """Shut the connection's socket down under the thread blocked on it (which then sees it lost)."""
    with contextlib.suppress(Exception):
        fd = conn.pgconn.socket
        sock = socket.socket(fileno=os.dup(fd))
        try:
            sock.shutdown(socket.SHUT_RDWR)
        finally:
            sock.close()


class PostgresStore:
    """A `Store` on a PostgreSQL database. Safe to share between threads and between processes."""

    def __init__(
        self,
        url: str,
        *,
        clock: Clock = "caller",
        pool_size: int = 8,
        connect_timeout: int = 5,
        statement_timeout: float = 30.0,
        retry: RetryPolicy = RetryPolicy(),
        migrate: bool = True,
        call_grace: float = 2.0,
    ) -> None:
        if clock not in ("caller", "db"):
            raise ValueError(f"clock must be 'caller' or 'db', got {clock!r}")
        if not statement_timeout > 0 or call_grace < 0:
            raise ValueError(
                f"statement_timeout must be > 0 and call_grace >= 0, got {statement_timeout!r} and {call_grace!r}"
            )
        self.target = Target.parse(url)
        self.clock: Clock = clock
        self._queries = DB_CLOCK_QUERIES if clock == "db" else QUERIES
        self._retry = retry
        self._statement_timeout = statement_timeout
        self._conninfo = self._build_conninfo(url, connect_timeout, statement_timeout)
        self._pool = _Pool(self._connect, self.where, pool_size, wait=statement_timeout)
        # A call (one read, or one whole transaction) gets the server's statement timeout plus a
        # grace for the answer to travel back; past that, the connection is presumed stalled.
        self._watchdog = _Watchdog(statement_timeout + call_grace, self.where)
        self._watchers: set[_Listener] = set()
        self._watch_lock = threading.Lock()
        # Fault injection for tests: called with the connection just before each COMMIT is sent.
        self.before_commit: Callable[[Connection], None] | None = None
        # (execution id, version) of rounds this store is committing or has just committed, so its
        # listeners can drop their echo; bounded, oldest forgotten first.
        self._own_commits: OrderedDict[tuple[str, int], None] = OrderedDict()
        self._own_lock = threading.Lock()
        if migrate:
            try:
                self._run("open the store", lambda conn: migrate_pg(conn, MIGRATIONS, where=self.where))
            except BaseException:
                self._pool.close()
                self._watchdog.close()
                raise

    @property
    def where(self) -> str:
        return self.target.where

    def __repr__(self) -> str:
        return f"PostgresStore({self.where!r}, clock={self.clock!r})"

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        with self._watch_lock:
            watchers, self._watchers = list(self._watchers), set()
        for watcher in watchers:
            watcher.stop()
        self._pool.close()
        self._watchdog.close()

    # -- specs ------------------------------------------------------------------------------------

    def put_spec(self, digest: str, body: str) -> None:
        params = _params({"digest": digest, "body": body})

        def write(conn: Connection) -> None:
            if conn.execute(self._queries["put_spec"], params).rowcount == 0:
                stored = conn.execute(self._queries["get_spec"], params).fetchone()
                if stored is not None and stored["body"] != body:
                    raise codec.spec_body_differs(digest)

        self._write(f"store spec {digest!r}", write)

    def get_spec(self, digest: str) -> str:
        row = self._one(f"read spec {digest!r}", "get_spec", {"digest": digest})
        if row is None:
            raise codec.spec_not_found(digest)
        return str(row["body"])

    # -- executions -------------------------------------------------------------------------------

    def create_execution(
        self, record: ExecutionRecord, events: Sequence[Event] = (), nodes: Sequence[NodeRecord] = ()
    ) -> ExecutionRecord:
        codec.check_events(record.id, events)
        codec.check_nodes(record.id, nodes)
        row = codec.execution_to_row(record)
        params = _params(row)
        event_rows = [_params(codec.event_to_row(ev)) for ev in events]
        node_rows = [_params(codec.node_to_row(n)) for n in nodes]  # stored at version 1

        def write(conn: Connection) -> None:
            if conn.execute(self._queries["insert_execution"], params).rowcount == 0:
                raise codec.execution_exists(record.id)
            with conn.cursor() as cur:
                if node_rows:
                    cur.executemany(self._queries["insert_node"], node_rows)
                if event_rows:
                    cur.executemany(self._queries["insert_event"], event_rows)

        self._write(f"create execution {record.id!r}", write)
        row["version"] = 1
        return codec.execution_from_row(row)

    def get_execution(self, execution_id: str) -> ExecutionRecord:
        row = self._one(f"read execution {execution_id!r}", "get_execution", {"id": execution_id})
        if row is None:
            raise codec.execution_not_found(execution_id)
        return codec.execution_from_row(row)

    def list_executions(self, flt: ExecutionFilter = ExecutionFilter()) -> list[ExecutionRecord]:  # noqa: B008 (frozen)
        codec.check_filter(flt)
        params = list_params(flt)

        def read(conn: Connection) -> list[dict[str, Any]]:
            if flt.before is not None:
                cursor = conn.execute(self._queries["get_execution_cursor"], _params({"id": flt.before})).fetchone()
                if cursor is None:
                    raise codec.execution_not_found(flt.before)
                params.update(has_cursor=True, cursor_created_at=cursor["created_at"], cursor_id=cursor["id"])
            return conn.execute(self._queries["list_executions"], _params(params)).fetchall()

        return [codec.execution_from_row(row) for row in self._read("list executions", read)]

    def unfinished_executions(self) -> list[str]:
        rows = self._all("list unfinished executions", "unfinished_executions", _UNFINISHED)
        return [str(row["id"]) for row in rows]

    def request_abort(self, execution_id: str, reason: str, now: float) -> ExecutionRecord:
        params = _params({"id": execution_id, "reason": reason, "now": now, **_UNFINISHED})
        event = _params(codec.event_to_row(codec.abort_event(execution_id, reason, now)))

        def write(conn: Connection) -> dict[str, Any]:
            row = conn.execute(self._queries["request_abort"], params).fetchone()
            if row is not None:
                conn.execute(self._queries["insert_event"], event)
                return row
            row = conn.execute(self._queries["get_execution"], params).fetchone()  # requested, terminal, missing
            if row is None:
                raise codec.execution_not_found(execution_id)
            return row

        return codec.execution_from_row(self._write(f"request abort of execution {execution_id!r}", write))

    # -- leases -----------------------------------------------------------------------------------

    def acquire_lease(self, execution_id: str, owner: str, ttl: float, now: float) -> ExecutionRecord | None:
        codec.check_lease_args(owner, ttl)
        params = _params(
            {"id": execution_id, "owner": owner, "expires_at": now + ttl, "now": now, "ttl": ttl, **_UNFINISHED}
        )

        def write(conn: Connection) -> dict[str, Any] | None:
            row = conn.execute(self._queries["acquire_lease"], params).fetchone()
            if row is None and conn.execute(self._queries["get_execution_version"], params).fetchone() is None:
                raise codec.execution_not_found(execution_id)
            return row

        row = self._write(f"acquire the lease on execution {execution_id!r}", write)
        return None if row is None else codec.execution_from_row(row)

    def renew_leases(self, owner: str, ttl: float, now: float) -> list[str]:
        codec.check_lease_args(owner, ttl)
        params = _params({"owner": owner, "expires_at": now + ttl, "now": now, "ttl": ttl, **_UNFINISHED})

        def write(conn: Connection) -> list[dict[str, Any]]:
            return conn.execute(self._queries["renew_leases"], params).fetchall()

        rows = self._write(f"renew the leases of {owner!r}", write)
        return sorted(str(row["id"]) for row in rows)

    def release_lease(self, execution_id: str, owner: str) -> None:
        params = _params({"id": execution_id, "owner": owner})
        self._write(
            f"release the lease on execution {execution_id!r}",
            lambda conn: conn.execute(self._queries["release_lease"], params),
        )

    # -- node and attempt state -------------------------------------------------------------------

    def load_nodes(self, execution_id: str) -> list[NodeRecord]:
        rows = self._all(f"load the nodes of execution {execution_id!r}", "load_nodes", {"execution_id": execution_id})
        return [codec.node_from_row(row) for row in rows]

    def load_attempts(self, execution_id: str, *, node_id: str | None = None) -> list[AttemptRecord]:
        rows = self._all(
            f"load the attempts of execution {execution_id!r}",
            "load_attempts",
            {"execution_id": execution_id, "node_id": node_id},
        )
        return [codec.attempt_from_row(row) for row in rows]

    def commit_round(self, write: RoundWrite, *, owner: str | None) -> ExecutionRecord:
        codec.check_round(write)
        rec = write.execution
        exe = codec.execution_to_row(rec)
        exe["owner"] = owner
        exe_params = _params(exe)
        nodes = [_params(codec.node_to_row(n)) for n in write.nodes]
        attempts = [_params(codec.attempt_to_row(a)) for a in write.attempts]
        events = [_params(codec.event_to_row(ev)) for ev in write.events]
        # The last put of a key wins (as with row-by-row upserts); then key order, so two rounds that
        # put the same keys lock them in the same order and cannot deadlock.
        last_puts = {(e.project, e.key): e for e in write.catalog_puts}
        puts = [_params(codec.catalog_entry_to_row(last_puts[k])) for k in sorted(last_puts)]
        releases = [_params({"project": p, "key": k, "owner": o}) for p, k, o in sorted(set(write.releases))]
        lineage = [_params(codec.lineage_to_row(r)) for r in write.lineage]
        q = self._queries

        def body(conn: Connection) -> dict[str, Any]:
            row = conn.execute(q["commit_execution"], exe_params).fetchone()
            if row is None:
                raise self._execution_cas_error(conn, rec, owner)
            # Noted before COMMIT: the notification may reach a listener before COMMIT returns here.
            self._note_own_commit(rec.id, int(row["version"]))
            with conn.cursor() as cur:
                self._write_rows(cur, "node", nodes)
                self._write_rows(cur, "attempt", attempts)
                if events:
                    cur.executemany(q["insert_event"], events)
                if puts:
                    cur.executemany(q["upsert_catalog_entry"], puts)
                if releases:
                    cur.executemany(q["release_reservation"], releases)
                if lineage:
                    cur.executemany(q["insert_lineage"], lineage)
            return row

        try:
            row = self._write(f"commit a round of execution {rec.id!r}", body)
        except _RowsConflict as bad:
            self._forget_own_commit(rec.id, rec.version + 1)
            raise self._diagnose(bad) from None
        except BaseException:
            self._forget_own_commit(rec.id, rec.version + 1)
            raise
        return codec.execution_from_row(row)

    # -- history ----------------------------------------------------------------------------------

    def events(self, execution_id: str, after_seq: int = 0, limit: int = 10_000) -> list[Event]:
        if limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        params = {"execution_id": execution_id, "after_seq": after_seq, "limit": limit}
        rows = self._all(f"read the events of execution {execution_id!r}", "events", params)
        return [codec.event_from_row(row) for row in rows]

    # -- signals ----------------------------------------------------------------------------------

    def send_signal(self, execution_id: str, name: str, value: Any, now: float) -> bool:
        params = _params(
            {
                "id": execution_id,
                "execution_id": execution_id,
                "name": name,
                "value": codec.dump_value(value, "a signal value"),
                "now": now,
            }
        )
        event = _params(codec.event_to_row(codec.signal_event(execution_id, name, now)))
        q = self._queries

        def write(conn: Connection) -> bool:
            if conn.execute(q["get_execution_version"], params).fetchone() is None:
                raise codec.execution_not_found(execution_id)
            if conn.execute(q["insert_signal"], params).rowcount == 0:
                return False
            conn.execute(q["touch_execution"], params)  # takes the row lock before the event, as commits do
            conn.execute(q["insert_event"], event)
            return True

        return self._write(f"record signal {name!r} of execution {execution_id!r}", write)

    def signals(self, execution_id: str) -> dict[str, Any]:
        rows = self._all(
            f"read the signals of execution {execution_id!r}", "load_signals", {"execution_id": execution_id}
        )
        return {str(row["name"]): json.loads(row["value"]) for row in rows}

    # -- registry ---------------------------------------------------------------------------------

    def create_project(self, name: str, now: float) -> bool:
        params = _params({"name": name, "now": now})
        q = self._queries
        return self._write(
            f"create project {name!r}", lambda conn: bool(conn.execute(q["insert_project"], params).rowcount)
        )

    def list_projects(self) -> list[str]:
        return [str(row["name"]) for row in self._all("list projects", "list_projects", {})]

    def register_entity(self, entity: RegisteredEntity) -> tuple[RegisteredEntity, bool]:
        row = _params(registry_rows.entity_to_row(entity))
        q = self._queries

        def write(conn: Connection) -> tuple[dict[str, Any], bool]:
            # One registration at a time: seq is MAX + 1, and the latest must be the last registered.
            conn.execute("LOCK TABLE registry_entities IN SHARE ROW EXCLUSIVE MODE")
            created = bool(conn.execute(q["insert_entity"], row).rowcount)
            stored = conn.execute(q["get_entity"], row).fetchone()
            if stored is None:  # cannot happen: the row was inserted or already there, under the lock
                raise StoreError(f"{entity.kind} {entity.name!r} vanished while being registered")
            return stored, created

        stored, created = self._write(f"register {entity.kind} {entity.name!r} version {entity.version!r}", write)
        return registry_rows.entity_from_row(stored), created

    def get_entity(self, kind: str, project: str, name: str, version: str | None = None) -> RegisteredEntity:
        registry_rows.check_kind(kind)
        params = {"kind": kind, "project": project, "name": name, "version": version}
        row = self._one(f"read {kind} {name!r}", "latest_entity" if version is None else "get_entity", params)
        if row is None:
            raise registry_rows.entity_not_found(kind, project, name, version)
        return registry_rows.entity_from_row(row)

    def list_entity_versions(self, kind: str, project: str, name: str, limit: int = 100) -> list[RegisteredEntity]:
        registry_rows.check_kind(kind)
        codec.check_limit(limit)
        params = {"kind": kind, "project": project, "name": name, "limit": limit}
        rows = self._all(f"list the versions of {kind} {name!r}", "list_entity_versions", params)
        return [registry_rows.entity_from_row(row) for row in rows]

    def list_entities(self, kind: str, project: str, limit: int = 1000) -> list[RegisteredEntity]:
        registry_rows.check_kind(kind)
        codec.check_limit(limit)
        rows = self._all(f"list {kind} entities", "list_entities", {"kind": kind, "project": project, "limit": limit})
        return [registry_rows.entity_from_row(row) for row in rows]

    def put_token(self, token: TokenRecord) -> None:
        row = _params(registry_rows.token_to_row(token))
        q = self._queries
        self._write("store an API token", lambda conn: conn.execute(q["insert_token"], row))

    def get_token(self, token_hash: str) -> TokenRecord | None:
        row = self._one("read an API token", "get_token", {"token_hash": token_hash})
        return None if row is None else registry_rows.token_from_row(row)

    # -- launch plan activation and schedule ticks --------------------------------------------------

    def activate_launchplan(self, project: str, name: str, version: str, now: float) -> Activation:
        key = _params({"kind": "launchplan", "project": project, "name": name, "version": version, "now": now})
        q = self._queries

        def write(conn: Connection) -> dict[str, Any]:
            if conn.execute(q["get_entity"], key).fetchone() is None:
                raise registry_rows.entity_not_found("launchplan", project, name, version)
            conn.execute(q["upsert_activation"], key)
            row: dict[str, Any] | None = conn.execute(q["get_activation"], key).fetchone()
            if row is None:  # cannot happen: written in this transaction
                raise StoreError(f"the activation of launch plan {name!r} vanished while being written")
            return row

        return registry_rows.activation_from_row(
            self._write(f"activate launch plan {name!r} version {version!r}", write)
        )

    def deactivate_launchplan(self, project: str, name: str) -> bool:
        key = _params({"kind": "launchplan", "project": project, "name": name})
        q = self._queries

        def write(conn: Connection) -> bool:
            if conn.execute(q["latest_entity"], key).fetchone() is None:
                raise registry_rows.entity_not_found("launchplan", project, name, None)
            return bool(conn.execute(q["delete_activation"], key).rowcount)

        return self._write(f"deactivate launch plan {name!r}", write)

    def get_activation(self, project: str, name: str) -> Activation | None:
        row = self._one(
            f"read the activation of launch plan {name!r}", "get_activation", {"project": project, "name": name}
        )
        return None if row is None else registry_rows.activation_from_row(row)

    def list_activations(self, project: str | None = None) -> list[Activation]:
        rows = self._all("list active launch plans", "list_activations", {"project": project})
        return [registry_rows.activation_from_row(row) for row in rows]

    def fire_tick(self, tick: TickRecord, execution: ExecutionRecord, events: Sequence[Event] = ()) -> bool:
        registry_rows.check_tick(tick, execution.id)
        codec.check_events(execution.id, events)
        tick_row = _params(registry_rows.tick_to_row(tick))
        row = _params(codec.execution_to_row(execution))
        event_rows = [_params(codec.event_to_row(ev)) for ev in events]
        q = self._queries

        def write(conn: Connection) -> bool:
            if conn.execute(q["insert_tick"], tick_row).rowcount == 0:
                return False
            # Idempotent on the (deterministic) execution id: an execution already there stands.
            if conn.execute(q["insert_execution"], row).rowcount and event_rows:
                with conn.cursor() as cur:
                    cur.executemany(q["insert_event"], event_rows)
            return True

        return self._write(f"fire tick {tick.tick} of launch plan {tick.launchplan!r}", write)

    def list_ticks(self, project: str, launchplan: str, limit: int = 20) -> list[TickRecord]:
        codec.check_limit(limit)
        params = {"project": project, "launchplan": launchplan, "limit": limit}
        rows = self._all(f"list the ticks of launch plan {launchplan!r}", "list_ticks", params)
        return [registry_rows.tick_from_row(row) for row in rows]

    # -- catalog ----------------------------------------------------------------------------------

    def catalog_get_many(self, project: str, keys: Sequence[str]) -> dict[str, CatalogEntry]:
        codec.check_str_list(keys, "catalog_get_many keys")
        distinct = list(dict.fromkeys(keys))
        if not distinct:
            return {}
        rows = self._all(
            f"read {len(distinct)} catalog entries of project {project!r}",
            "catalog_get_many",
            {"project": project, "keys": distinct},
        )
        return {str(row["key"]): codec.catalog_entry_from_row(row) for row in rows}

    def catalog_list(self, project: str | None = None, task: str | None = None, limit: int = 100) -> list[CatalogEntry]:
        codec.check_limit(limit)
        query = "catalog_list_project" if task is None else "catalog_list_task"
        if project is None:
            query = "catalog_list"
        rows = self._all("list catalog entries", query, {"project": project, "task": task, "limit": limit})
        return [codec.catalog_entry_from_row(row) for row in rows]

    def catalog_evict(
        self,
        project: str,
        *,
        keys: Sequence[str] = (),
        task: str | None = None,
        source_execution: str | None = None,
    ) -> int:
        codec.check_evict_filters(keys, task, source_execution)
        q = self._queries

        def write(conn: Connection) -> int:
            deleted: set[str] = set()
            if keys:
                params = _params({"project": project, "keys": list(dict.fromkeys(keys))})
                deleted.update(r["key"] for r in conn.execute(q["catalog_evict_keys"], params))
            if task is not None:
                params = _params({"project": project, "task": task})
                deleted.update(r["key"] for r in conn.execute(q["catalog_evict_task"], params))
            if source_execution is not None:
                params = _params({"project": project, "source_execution": source_execution})
                deleted.update(r["key"] for r in conn.execute(q["catalog_evict_source"], params))
            if deleted:
                conn.execute(q["drop_reservations"], _params({"project": project, "keys": sorted(deleted)}))
            return len(deleted)

        return self._write(f"evict catalog entries of project {project!r}", write)

    def reserve(self, project: str, key: str, owner: str, ttl: float, now: float) -> str:
        codec.check_reservation_args(owner, ttl)
        params = _params(
            {
                "project": project,
                "key": key,
                "owner": owner,
                "execution_id": codec.reservation_execution(owner),
                "expires_at": now + ttl,
                "now": now,
                "ttl": ttl,
            }
        )

        def write(conn: Connection) -> str:
            row = conn.execute(self._queries["reserve"], params).fetchone()
            if row is None:  # someone else holds it, unexpired (and we now hold its row lock): name them
                row = conn.execute(self._queries["reservation_owner"], params).fetchone()
            if row is None:
                raise ConflictError(f"the reservation of catalog key {key!r} vanished while taking it; retry")
            return str(row["owner"])

        return self._write(f"reserve catalog key {key!r} of project {project!r}", write)

    def renew_reservations(self, execution_ids: Sequence[str], ttl: float, now: float) -> int:
        codec.check_str_list(execution_ids, "renew_reservations execution_ids")
        codec.check_reservation_ttl(ttl)
        distinct = list(dict.fromkeys(execution_ids))
        if not distinct:
            return 0
        params = _params({"execution_ids": distinct, "expires_at": now + ttl, "now": now, "ttl": ttl})
        return self._write(
            f"renew the reservations of {len(distinct)} executions",
            lambda conn: conn.execute(self._queries["renew_reservations"], params).rowcount,
        )

    # -- lineage ----------------------------------------------------------------------------------

    def lineage_by_hash(self, value_hash: str, direction: str, limit: int = 1000) -> list[LineageRow]:
        codec.check_direction(direction)
        codec.check_limit(limit)
        params = {"value_hash": value_hash, "direction": direction, "limit": limit}
        rows = self._all(f"read the lineage of value {value_hash!r}", "lineage_by_hash", params)
        return [codec.lineage_from_row(row) for row in rows]

    def lineage_of(self, execution_id: str) -> list[LineageRow]:
        rows = self._all(
            f"read the lineage of execution {execution_id!r}", "lineage_of", {"execution_id": execution_id}
        )
        return [codec.lineage_from_row(row) for row in rows]

    # -- wake-ups ---------------------------------------------------------------------------------

    def watch(
        self, callback: Callable[[str], None], *, own_commits: bool = False, ready_timeout: float = 5.0
    ) -> Callable[[], None]:
        """Call ``callback(execution_id)`` whenever an execution is created, aborted or committed.

        Rounds committed through this very store object are left out unless ``own_commits``: the
        controller that persisted a round needs no wake-up for it, and would otherwise reconcile
        every execution once more after each of its own commits. Creations and abort requests are
        always delivered, whoever made them.

        A background thread LISTENs on its own connection and reconnects with bounded backoff when
        it is lost (notifications sent meanwhile are lost too: they are hints, and a periodic resync
        must still cover everything). The callback runs on that thread and should only enqueue;
        its exceptions are logged and swallowed. Returns a function that stops the listener (also
        stopped by `close`). Several processes may watch the same database.

        Waits up to ``ready_timeout`` seconds for LISTEN to be in force, so that writes made after
        this returns are seen; if the server cannot be reached by then, it returns anyway and the
        listener keeps trying in the background.
        """
        self._pool._check_open()
        skip = None if own_commits else self._is_own_commit
        listener = _Listener(self._conninfo, callback, self.target, skip)
        with self._watch_lock:
            self._watchers.add(listener)
        listener.start()
        listener.listening.wait(ready_timeout)

        def stop() -> None:
            with self._watch_lock:
                self._watchers.discard(listener)
            listener.stop()

        return stop

    # -- internals --------------------------------------------------------------------------------

    _OWN_COMMITS_KEPT = 4096

    def _note_own_commit(self, execution_id: str, version: int) -> None:
        with self._own_lock:
            self._own_commits[(execution_id, version)] = None
            while len(self._own_commits) > self._OWN_COMMITS_KEPT:
                self._own_commits.popitem(last=False)

    def _forget_own_commit(self, execution_id: str, version: int) -> None:
        with self._own_lock:
            self._own_commits.pop((execution_id, version), None)

    def _is_own_commit(self, execution_id: str, version: int | None) -> bool:
        """Was (execution, version) written by this store's commit_round? (Consumes the entry.)"""
        if version is None:
            return False
        key = (execution_id, version)
        with self._own_lock:
            if key not in self._own_commits:
                return False
            del self._own_commits[key]
            return True

    @staticmethod
    def _build_conninfo(url: str, connect_timeout: int, statement_timeout: float) -> str:
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

    def _connect(self) -> Connection:
        return psycopg.connect(self._conninfo, autocommit=True, row_factory=_dict_row)

    def _one(self, doing: str, query: str, params: dict[str, Any]) -> dict[str, Any] | None:
        escaped = _params(params)
        return self._read(doing, lambda conn: conn.execute(self._queries[query], escaped).fetchone())

    def _all(self, doing: str, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        escaped = _params(params)
        return self._read(doing, lambda conn: conn.execute(self._queries[query], escaped).fetchall())

    def _read(self, doing: str, body: Callable[[Connection], T]) -> T:
        """Run ``body`` in autocommit mode (each statement sees the latest committed state)."""
        return self._run(doing, body)

    def _write(self, doing: str, body: Callable[[Connection], T]) -> T:
        """Run ``body`` in one transaction; any exception rolls it back and nothing of it is kept."""
        return self._run(doing, lambda conn: _in_transaction(conn, body, self.before_commit))

    def _run(self, doing: str, body: Callable[[Connection], T]) -> T:
        """``body`` on a pooled connection, retried while a failure provably changed nothing."""
        policy = self._retry
        started = time.monotonic()
        delay = policy.first_delay
        attempt = 0
        while True:
            attempt += 1
            conn: Connection | None = None
            call: _Call | None = None
            try:
                with self._pool.connection() as conn, self._watchdog.watch(conn) as call:
                    return body(conn)
            except _AmbiguousCommit as exc:
                self._pool.discard_idle()
                cause = exc.__cause__ if isinstance(exc.__cause__, psycopg.Error) else None
                stalled = (
                    f" (no answer within {self._watchdog.timeout:g}s)" if call is not None and call.severed else ""
                )
                raise StoreError(
                    f"store {self.where}: cannot {doing}: the connection was lost while committing{stalled}, "
                    f"so the write may or may not have been applied; reload and check"
                    + (f" ({self._driver_text(cause)})" if cause is not None else "")
                ) from None
            except psycopg.Error as exc:
                lost = _connection_lost(exc, conn)
                if lost:
                    self._pool.discard_idle()
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
            f"{self._watchdog.timeout:g}s{tried}, so the connection was dropped; check that the server is not "
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

    def _execution_cas_error(self, conn: Connection, rec: ExecutionRecord, owner: str | None) -> Exception:
        current = conn.execute(self._queries["get_execution_version"], _params({"id": rec.id})).fetchone()
        if current is None:
            return codec.execution_not_found(rec.id)
        if owner is not None and current["lease_owner"] != owner:
            return codec.lease_lost(rec.id, owner, current["lease_owner"])
        return codec.execution_conflict(rec.id, rec.version, int(current["version"]))

    def _write_rows(self, cur: psycopg.Cursor[dict[str, Any]], kind: str, rows: list[codec.Row]) -> None:
        """Insert new rows (version 0) and compare-and-swap the others; any miss aborts the round."""
        new = [r for r in rows if r["version"] == 0]
        old = [r for r in rows if r["version"] != 0]
        if new:
            cur.executemany(self._queries[f"insert_{kind}"], new)
            if cur.rowcount != len(new):
                raise _RowsConflict(kind, new)
        if old:
            cur.executemany(self._queries[f"update_{kind}"], old)
            if cur.rowcount != len(old):
                raise _RowsConflict(kind, old)

    def _diagnose(self, bad: _RowsConflict) -> ConflictError:
        """Name the first row whose compare-and-swap failed (read after the rollback, as SQLite does:
        inside the transaction the round's own inserts would look like conflicts)."""

        def read(conn: Connection) -> ConflictError:
            for row in bad.rows:
                found = conn.execute(self._queries[f"get_{bad.kind}_version"], row).fetchone()
                version = None if found is None else int(found["version"])
                if version != (row["version"] or None):
                    eid, nid = unescape_text(row["execution_id"]), unescape_text(row["node_id"])
                    if bad.kind == "node":
                        label = codec.node_label(eid, nid)
                    else:
                        label = codec.attempt_label(eid, nid, row["number"])
                    return codec.row_conflict(label, row["version"], version)
            return ConflictError(f"a {bad.kind} row changed during the round; reload and decide again")

        return self._read(f"diagnose a conflicting {bad.kind} write", read)


def _in_transaction(
    conn: Connection, body: Callable[[Connection], T], before_commit: Callable[[Connection], None] | None = None
) -> T:
    """BEGIN, ``body``, COMMIT on an autocommit connection; a failed COMMIT that lost the
    connection is `_AmbiguousCommit` (anything earlier is rolled back and provably not applied)."""
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
        if _connection_lost(exc, conn):
            raise _AmbiguousCommit from exc
        raise
    return result


# -- migrations -----------------------------------------------------------------------------------

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

        if _in_transaction(conn, step):
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


# -- LISTEN/NOTIFY --------------------------------------------------------------------------------


class _Listener:
    """One background LISTEN connection feeding a callback; see `PostgresStore.watch`."""

    POLL = 0.25  # how often the thread checks whether it was asked to stop
    MAX_BACKOFF = 5.0

    def __init__(
        self,
        conninfo: str,
        callback: Callable[[str], None],
        target: Target,
        skip: Callable[[str, int | None], bool] | None = None,
    ) -> None:
        self._conninfo = conninfo
        self._callback = callback
        self._target = target
        self._skip = skip
        self._stop = threading.Event()
        self.listening = threading.Event()  # set while LISTEN is in force (tests wait on it)
        self.reconnects = 0
        self._thread = threading.Thread(target=self._run, name=f"setpoint-listen {target.where}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not threading.current_thread() and self._thread.is_alive():
            self._thread.join(timeout=5.0)

    def _run(self) -> None:
        backoff = 0.1
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    backoff = 0.1
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=self.POLL):
                            self._deliver(note.payload)
            except psycopg.Error as exc:
                if self._stop.is_set():
                    break
                log.warning(
                    "store %s: wake-up listener lost its connection (%s); reconnecting in %.1fs",
                    self._target.where,
                    self._target.scrub(" ".join(str(exc).split())),
                    backoff,
                )
            finally:
                self.listening.clear()
            self.reconnects += 1
            self._stop.wait(backoff)
            backoff = min(backoff * 2, self.MAX_BACKOFF)

    def _deliver(self, payload: str) -> None:
        """``payload`` is "<execution id> <version>" (the id as stored, escaped)."""
        head, _, tail = payload.rpartition(" ")
        execution_id, version = (unescape_text(head), int(tail)) if head and tail.isdigit() else (payload, None)
        if self._skip is not None and self._skip(execution_id, version):
            return
        try:
            self._callback(execution_id)
        except Exception:
            log.exception("store %s: a wake-up callback failed for %r", self._target.where, execution_id)


if TYPE_CHECKING:

    def _conforms(store: PostgresStore) -> Store:
        return store
