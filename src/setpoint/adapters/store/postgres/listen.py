"""Wake-ups from PostgreSQL's LISTEN/NOTIFY: one background listener per `PostgresStore.watch`.

A trigger NOTIFYs channel ``setpoint`` with the execution id (and new version) on every creation,
abort request and commit. They are hints: a missed one only delays work until the controller's
periodic resync.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg

from setpoint.adapters.store.postgres.sql import unescape_text
from setpoint.adapters.store.postgres.target import Target

log = logging.getLogger("setpoint.adapters.store.postgres")

CHANNEL = "setpoint"


class Listener:
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
