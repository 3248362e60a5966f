"""A warm, single-threaded process that forks attempt processes on request.

Starting a Python interpreter and importing a task's libraries costs tens to hundreds of
milliseconds; forking a process that already did both costs about one. The local executor starts
one fork server per distinct ``(sys_path, preload)`` and talks to it over a pipe pair:

    stdin   first line: {"sys_path": [...], "preload": [...]}; then one {"id", "dir"} per attempt
    stdout  "started <id> <pid>" | "exited <id> <returncode>" | "failed <id> <reason>"

It stays single-threaded so that forking is safe, waits on stdin and a SIGCHLD wakeup pipe with
select(), reaps its children, writes each child's ``exit.json`` and reports the exit. When stdin
closes (the controller went away) it exits at once and leaves its children running: they are in
their own sessions, and a new executor re-adopts them from their attempt directories.

Both ends of the pipe live here: `ForkServerClient` runs in the controller, `main` in the server.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from setpoint.adapters.executor import attempt_dir as files
from setpoint.adapters.executor import worker

log = logging.getLogger(__name__)

_MODULE = "setpoint.adapters.executor.forkserver"  # not __name__: that is "__main__" in the server

ServerKey = tuple[tuple[str, ...], tuple[str, ...]]  # (sys_path, preload): one server for each


class ForkServerClient:
    """The executor's end of one fork server: a pipe to send attempts, a thread reading reports."""

    def __init__(
        self,
        key: ServerKey,
        on_report: Callable[[ForkServerClient, str], None],
        on_gone: Callable[[ForkServerClient], None],
    ) -> None:
        self._wlock = threading.Lock()
        self._dead = False
        self.proc = subprocess.Popen(
            [sys.executable, "-P", "-m", _MODULE], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        self.send({"sys_path": list(key[0]), "preload": list(key[1])})
        self._reader = threading.Thread(
            target=self._read, args=(on_report, on_gone), name="setpoint-forkserver", daemon=True
        )
        self._reader.start()

    def alive(self) -> bool:
        return not self._dead and self.proc.poll() is None

    def send(self, message: dict[str, Any]) -> bool:
        data = json.dumps(message).encode() + b"\n"
        with self._wlock:
            if self._dead or self.proc.stdin is None:
                return False
            try:
                self.proc.stdin.write(data)
                self.proc.stdin.flush()
            except (OSError, ValueError):
                self._dead = True
                return False
        return True

    def close(self) -> None:
        """Close the server's stdin, which makes it exit; the reader thread reaps it."""
        self._hang_up()
        self._reader.join(timeout=5)
        if self._reader.is_alive():
            self.proc.kill()  # only the server: attempts are in their own sessions
            self._reader.join()

    def _hang_up(self) -> None:
        with self._wlock:
            self._dead = True
            if self.proc.stdin is not None:
                with contextlib.suppress(OSError):
                    self.proc.stdin.close()

    def _read(
        self, on_report: Callable[[ForkServerClient, str], None], on_gone: Callable[[ForkServerClient], None]
    ) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            try:
                on_report(self, raw.decode())
            except Exception:
                log.exception("could not handle fork server report %r", raw)
        # EOF: the server exited (it only ever closes its end by exiting).
        self._hang_up()
        self.proc.wait()
        self.proc.stdout.close()
        on_gone(self)


# -- the server process ----------------------------------------------------------------------------


class _Server:
    def __init__(self, commands: int, reports: int) -> None:
        self.commands, self.reports = commands, reports
        self.children: dict[int, tuple[str, Path]] = {}
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)

    def serve(self, pending: bytes) -> None:
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, _on_sigchld)
        buf = pending
        while True:
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                self._handle(line)
            ready, _, _ = select.select([self.commands, self.wake_r], [], [])
            if self.wake_r in ready:
                with contextlib.suppress(BlockingIOError):
                    while os.read(self.wake_r, 512):
                        pass
            self._reap()
            if self.commands in ready:
                data = os.read(self.commands, 65536)
                if not data:
                    return  # the executor is gone; children keep running and will be re-adopted
                buf += data

    def _handle(self, line: bytes) -> None:
        try:
            msg = json.loads(line)
            aid, attempt_dir = str(msg["id"]), Path(msg["dir"])
        except (ValueError, KeyError, TypeError):
            return  # not from our executor; nothing sensible to answer
        for stream in (sys.stdout, sys.stderr):  # else a child would inherit and re-flush our buffers
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        try:
            pid = os.fork()
        except OSError as exc:
            self._say(f"failed {aid} fork failed: {exc.strerror or exc}")
            return
        if pid == 0:
            self._child(attempt_dir)  # never returns
        self.children[pid] = (aid, attempt_dir)
        self._say(f"started {aid} {pid}")

    def _child(self, attempt_dir: Path) -> None:
        code = 70  # EX_SOFTWARE: the harness itself failed before it could report anything
        try:
            os.setsid()  # its own process group, so abort can kill the task and all it started
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            for fd in (self.wake_r, self.wake_w, self.commands, self.reports):
                os.close(fd)  # else the executor's reader would not see EOF while children live
            os.chdir(attempt_dir)
            code = worker.run_attempt(attempt_dir, redirect_stdio=True)
        except BaseException:
            with contextlib.suppress(BaseException):
                traceback.print_exc()
        finally:
            os._exit(code)

    def _reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            entry = self.children.pop(pid, None)
            if entry is None:
                continue
            aid, attempt_dir = entry
            code = os.waitstatus_to_exitcode(status)
            with contextlib.suppress(OSError):
                files.record_exit(attempt_dir, pid, code)
            self._say(f"exited {aid} {code}")

    def _say(self, line: str) -> None:
        data = (line + "\n").encode()
        while data:
            data = data[os.write(self.reports, data) :]


def _on_sigchld(signum: int, frame: FrameType | None) -> None:
    """Nothing to do here: the wakeup fd makes select() return, and the loop reaps."""


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the controller; EOF stops us
    # Move the protocol pipes off fds 0/1 so a preloaded module that prints cannot corrupt them.
    commands, reports = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    buf = b""
    while b"\n" not in buf:
        data = os.read(commands, 65536)
        if not data:
            return
        buf += data
    first, rest = buf.split(b"\n", 1)
    config = json.loads(first)
    sys.path[:0] = [str(p) for p in config.get("sys_path", ())]
    warm = () if sys.platform.startswith("linux") else ("psutil",)  # the pid claim needs it off Linux
    for name in (*warm, *config.get("preload", ())):
        # A module that fails here fails again, with a proper error record, inside the attempt.
        with contextlib.suppress(BaseException):
            importlib.import_module(str(name))
    with contextlib.suppress(BrokenPipeError):  # the executor closed its end: nobody is listening
        _Server(commands, reports).serve(rest)


if __name__ == "__main__":
    main()
