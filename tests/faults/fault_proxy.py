"""A loopback TCP proxy for PostgreSQL faults: tests/support/tcp_proxy.py generalised with
direction-aware pumps, so it can also lose the server's reply to a COMMIT (an ambiguous commit,
reliability.md R-S3: the commit is applied, the client never learns it).

``cut()`` closes every connection and refuses new ones; ``blackhole()`` keeps every connection
open and accepts new ones but forwards nothing either way (a hung server or a stalled network path
that still acknowledges packets, R-S2: nothing a client receives ever tells it something is
wrong); ``restore()`` heals both, and what was held back then flows on. With
``ambiguous_rate`` > 0, each COMMIT the client sends (a simple-query message, which is how psycopg
commits) is forwarded, and then with that probability the connection is dropped before the reply
gets back: the server commits, the client sees the connection die during COMMIT.
"""

from __future__ import annotations

import random
import socket
import threading
import time

from tests.support.tcp_proxy import TcpProxy, close_socket

_STARTUP_CODES = (80877103, 80877104)  # SSLRequest, GSSENCRequest: more untyped messages follow


class CommitSpotter:
    """Frames the client's side of the PostgreSQL protocol and spots COMMITs.

    psycopg sends ``COMMIT`` as an extended-protocol Parse the first times and, once the statement
    is prepared (after 5 uses), as a Bind of the prepared name; a simple Query is recognised too.
    """

    def __init__(self) -> None:
        self._buf = b""
        self._startup = True
        self._commit_statements: set[bytes] = set()

    def feed(self, data: bytes) -> int:
        """Return how many COMMITs the messages completed by ``data`` hold."""
        self._buf += data
        found = 0
        while True:
            if self._startup:
                if len(self._buf) < 8:
                    return found
                length = int.from_bytes(self._buf[:4], "big")
                if len(self._buf) < length:
                    return found
                code = int.from_bytes(self._buf[4:8], "big")
                self._buf = self._buf[length:]
                self._startup = code in _STARTUP_CODES
                continue
            if len(self._buf) < 5:
                return found
            kind, length = self._buf[:1], int.from_bytes(self._buf[1:5], "big")
            if len(self._buf) < 1 + length:
                return found
            body, self._buf = self._buf[5 : 1 + length], self._buf[1 + length :]
            found += self._is_commit(kind, body)

    def _is_commit(self, kind: bytes, body: bytes) -> bool:
        if kind == b"Q":
            return body.rstrip(b"\x00").strip().upper() == b"COMMIT"
        if kind == b"P":
            name, _, rest = body.partition(b"\x00")
            query = rest.partition(b"\x00")[0]
            if query.strip().upper() != b"COMMIT":
                return False
            if name:
                self._commit_statements.add(name)
            return not name  # a named statement commits when it is bound
        if kind == b"B":
            statement = body.partition(b"\x00")[2].partition(b"\x00")[0]
            return bool(statement) and statement in self._commit_statements
        return False


class FaultProxy(TcpProxy):
    """`TcpProxy` whose client-to-server pump can lose the reply to a COMMIT."""

    def __init__(
        self,
        upstream_host: str,
        upstream_port: int,
        *,
        ambiguous_rate: float = 0.0,
        ambiguous_at: frozenset[int] = frozenset(),
        seed: int | None = None,
    ) -> None:
        self.ambiguous_rate = ambiguous_rate
        self.ambiguous_at = ambiguous_at  # commit numbers (1-based) always made ambiguous
        self.rng = random.Random(seed)
        self.commits = 0
        self.ambiguous = 0
        self._flowing = threading.Event()  # cleared while blackholed
        self._flowing.set()
        super().__init__(upstream_host, upstream_port)

    def blackhole(self) -> None:
        self._flowing.clear()

    def restore(self) -> None:
        super().restore()
        self._flowing.set()

    def close(self) -> None:
        self._flowing.set()  # release pumps held by a blackhole, so they end with their sockets
        super().close()

    def _connected(self, client: socket.socket, server: socket.socket) -> None:
        mute = threading.Event()  # set: replies from the server are dropped
        threading.Thread(target=self._upstream, args=(client, server, mute), daemon=True).start()
        threading.Thread(target=self._downstream, args=(server, client, mute), daemon=True).start()

    def _upstream(self, client: socket.socket, server: socket.socket, mute: threading.Event) -> None:
        """Client to server; may turn a COMMIT into an ambiguous one."""
        spotter = CommitSpotter()
        try:
            while data := client.recv(65536):
                self._flowing.wait()
                if spotter.feed(data) and self._inject():
                    mute.set()  # before sending: the reply must never reach the client
                    server.sendall(data)
                    time.sleep(0.05)  # let the server apply it, then drop the connection
                    break
                server.sendall(data)
        except OSError:
            pass
        finally:
            close_socket(client)
            close_socket(server)

    def _downstream(self, server: socket.socket, client: socket.socket, mute: threading.Event) -> None:
        try:
            while data := server.recv(65536):
                self._flowing.wait()
                if mute.is_set():
                    break
                client.sendall(data)
        except OSError:
            pass
        finally:
            close_socket(server)
            close_socket(client)

    def _inject(self) -> bool:
        with self._lock:
            self.commits += 1
            hit = self.commits in self.ambiguous_at or (
                self.ambiguous_rate > 0 and self.rng.random() < self.ambiguous_rate
            )
            self.ambiguous += hit
            return hit
