"""The PostgreSQL store's connections: a small pool of our own, and a watchdog for stalled calls.

The pool is ours rather than psycopg_pool's: it connects on demand in the caller's thread, so an
unreachable server fails fast with libpq's own reason (not a pool timeout), and the retry policy
stays in one place (`connector`).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus

from setpoint.errors import StoreError

log = logging.getLogger("setpoint.adapters.store.postgres")

Connection = psycopg.Connection[dict[str, Any]]


class Pool:
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
        self.check_open()
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

    def check_open(self) -> None:
        if self._closed:
            raise StoreError(f"the store at {self._where} is closed")

    def _take_idle(self) -> Connection | None:
        with self._lock:
            self.check_open()
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


class Call:
    """One store call on one connection, as the watchdog sees it."""

    __slots__ = ("conn", "deadline", "severed")

    def __init__(self, conn: Connection, deadline: float) -> None:
        self.conn = conn
        self.deadline = deadline
        self.severed = False


class Watchdog:
    """Severs the connection of any call still waiting ``timeout`` seconds after it started.

    libpq has no client-side read timeout: a server that hangs, or a network path that accepts and
    acknowledges packets but never delivers an answer, keeps a caller blocked for ever (keepalives
    are answered, ``statement_timeout`` never reaches the server). Shutting the socket down wakes
    the blocked call with a lost connection, which `PostgresConnector.run` treats as it treats any
    other: retried if nothing can have been applied, ambiguous if COMMIT was in flight.
    """

    def __init__(self, timeout: float, where: str) -> None:
        self.timeout = timeout
        self._where = where
        self._lock = threading.Lock()
        self._calls: dict[int, Call] = {}
        self._ids = itertools.count()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @contextlib.contextmanager
    def watch(self, conn: Connection) -> Iterator[Call]:
        call = Call(conn, time.monotonic() + self.timeout)
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
                sever(call.conn)


def sever(conn: Connection) -> None:
    """Shut the connection's socket down under the thread blocked on it (which then sees it lost)."""
    with contextlib.suppress(Exception):
        fd = conn.pgconn.socket
        sock = socket.socket(fileno=os.dup(fd))
        try:
            sock.shutdown(socket.SHUT_RDWR)
        finally:
            sock.close()
