"""The production store: PostgreSQL behind the same `Store` port as the embedded SQLite file.

Several controller replicas, an API server and the CLI can share one PostgreSQL database, and none
of them can tell it from SQLite: every operation is the shared `SqlStore`, and the contract suite in
``tests/contract`` runs unchanged against both. What this backend adds is what a shared server needs
and a local file does not, each in a module of its own:

- ``connector``: short READ COMMITTED transactions, retries of failures that provably changed
  nothing, ambiguous COMMITs raised (never retried), statement timeouts, and the watchdog (``pool``).
- **Whose clock** (``sql``). ``clock="caller"`` uses the ``now`` the port passes, like SQLite. With
  ``clock="db"`` lease and reservation expiry is computed and compared with the server's
  ``statement_timestamp()``: replicas on machines with skewed clocks then agree on when a lease has
  expired, and a replica whose clock runs ahead cannot take a live lease.
- **Wake-ups** (``listen``). `PostgresStore.watch` delivers the ids of created, aborted and
  committed executions to a callback, leaving out the echo of this store's own commits.
- ``migrate``: the schema (``migrations_pg/``) brought up to date at open, once across processes.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from types import TracebackType
from typing import Literal

from setpoint.adapters.store.postgres.connector import PostgresConnector, RetryPolicy
from setpoint.adapters.store.postgres.listen import Listener
from setpoint.adapters.store.postgres.migrate import migrate_pg
from setpoint.adapters.store.postgres.pool import Connection
from setpoint.adapters.store.postgres.sql import DB_CLOCK_QUERIES, MIGRATIONS, QUERIES
from setpoint.adapters.store.postgres.target import Target
from setpoint.adapters.store.sql.store import SqlStore

Clock = Literal["caller", "db"]


class PostgresStore(SqlStore):
    """A `Store` on a PostgreSQL database. Safe to share between threads and between processes."""

    def __init__(
        self,
        url: str,
        *,
        clock: Clock = "caller",
        pool_size: int = 8,
        connect_timeout: int = 5,
        statement_timeout: float = 30.0,
        retry: RetryPolicy = RetryPolicy(),  # noqa: B008 (frozen)
        migrate: bool = True,
        call_grace: float = 2.0,
    ) -> None:
        if clock not in ("caller", "db"):
            raise ValueError(f"clock must be 'caller' or 'db', got {clock!r}")
        if not statement_timeout > 0 or call_grace < 0:
            raise ValueError(
                f"statement_timeout must be > 0 and call_grace >= 0, got {statement_timeout!r} and {call_grace!r}"
            )
        connector = PostgresConnector(
            url,
            DB_CLOCK_QUERIES if clock == "db" else QUERIES,
            pool_size=pool_size,
            connect_timeout=connect_timeout,
            statement_timeout=statement_timeout,
            retry=retry,
            call_grace=call_grace,
        )
        super().__init__(connector)
        self._connector = connector
        self.target: Target = connector.target
        self.clock: Clock = clock
        self._watchers: set[Listener] = set()
        self._watch_lock = threading.Lock()
        # (execution id, version) of rounds this store is committing or has just committed, so its
        # listeners can drop their echo; bounded, oldest forgotten first.
        self._own_commits: OrderedDict[tuple[str, int], None] = OrderedDict()
        self._own_lock = threading.Lock()
        if migrate:
            try:
                connector.run("open the store", lambda conn: migrate_pg(conn, MIGRATIONS, where=self.where))
            except BaseException:
                connector.close()
                raise

    @property
    def where(self) -> str:
        return self.target.where

    @property
    def before_commit(self) -> Callable[[Connection], None] | None:
        """Fault injection for tests: called with the connection just before each COMMIT is sent."""
        return self._connector.before_commit

    @before_commit.setter
    def before_commit(self, hook: Callable[[Connection], None] | None) -> None:
        self._connector.before_commit = hook

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
        self._connector.close()

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
        self._connector.pool.check_open()
        skip = None if own_commits else self._is_own_commit
        listener = Listener(self._connector.conninfo, callback, self.target, skip)
        with self._watch_lock:
            self._watchers.add(listener)
        listener.start()
        listener.listening.wait(ready_timeout)

        def stop() -> None:
            with self._watch_lock:
                self._watchers.discard(listener)
            listener.stop()

        return stop

    # -- the echo of our own commits --------------------------------------------------------------

    _OWN_COMMITS_KEPT = 4096

    def _round_committing(self, execution_id: str, version: int) -> None:
        with self._own_lock:
            self._own_commits[(execution_id, version)] = None
            while len(self._own_commits) > self._OWN_COMMITS_KEPT:
                self._own_commits.popitem(last=False)

    def _round_failed(self, execution_id: str, version: int) -> None:
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
