"""A loopback TCP proxy that a test can cut and restore, to put a network fault between a client
and a server (reliability.md §2.2: "cut the DB mid-run").

``cut()`` closes every open connection and refuses new ones (each is accepted and closed at once,
which a client sees as the server going away); ``restore()`` lets new connections through again.
Bounded by construction: it only listens on 127.0.0.1 and forwards to the one address it was given.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType
from typing import Self


class TcpProxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._cut = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="tcp-proxy", daemon=True)
        self._thread.start()

    def cut(self) -> None:
        with self._lock:
            self._cut = True
            doomed, self._open = self._open, set()
        for sock in doomed:
            close_socket(sock)

    def restore(self) -> None:
        with self._lock:
            self._cut = False

    def close(self) -> None:
        self._stop.set()
        self.cut()
        self._thread.join(timeout=2)
        self._listener.close()

    def __enter__(self) -> Self:  # a FaultProxy stays a FaultProxy in `with`
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                refused = self._cut
            if refused:
                close_socket(client)
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                close_socket(client)
                continue
            server.settimeout(None)
            with self._lock:
                self._open.update((client, server))
            self._connected(client, server)

    def _connected(self, client: socket.socket, server: socket.socket) -> None:
        """Start forwarding a new connection both ways (subclasses may tamper with the traffic)."""
        for src, dst in ((client, server), (server, client)):
            threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            close_socket(src)
            close_socket(dst)


def close_socket(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
