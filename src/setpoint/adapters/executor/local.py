"""The local executor: every attempt in its own OS process, observed from files and the process table.

This is what ``pip install setpoint`` runs tasks with, so it has to keep the orchestrator's
promises on one machine with nothing but a directory:

* **At most one launch per attempt id.** ``launch.json`` is created with O_EXCL before any
  process starts, and the attempt process claims the ``pid`` file before it runs anything, so
  neither a retried ``launch()``, a second executor on the same root, nor a launch that is
  declared lost and then starts late can run an attempt twice.
* **Level-triggered observation.** ``observe()`` can always be answered from the attempt
  directory plus the process table (pid *and* create time, so a recycled pid is never taken for
  the attempt). Memory is only a cache: terminal outcomes, and the attempts this instance
  started and is told about by its fork servers or waiter threads.
* **Survives the controller.** Attempt processes run in their own sessions; closing or losing
  the executor leaves them running, and a new executor on the same root re-adopts them.

The warm path (mode ``"fork"``) asks a fork server (see `forkserver`) to fork each attempt from
an interpreter that already imported setpoint and the task's ``preload`` modules; mode
``"spawn"`` starts a fresh interpreter per attempt. Both leave the same files behind.

A little over the usual size on purpose: launch, the exit of a process, observation and abort
all move one attempt through the same few states under one lock, and they read best side by
side; the file protocol (`attempt_dir`) and the fork servers (`forkserver`) are already apart.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from setpoint.adapters.executor import attempt_dir as files
from setpoint.adapters.executor.attempt_dir import ProcessClaim, read_launch_log
from setpoint.adapters.executor.forkserver import ForkServerClient, ServerKey
from setpoint.adapters.executor.worker import ATTEMPT_DIR_ENV
from setpoint.core.model import AttemptObservation, ErrorInfo, Observed
from setpoint.core.phases import ErrorKind
from setpoint.errors import SetpointError
from setpoint.ports import Clock, LaunchRequest, SystemClock

__all__ = ["LocalExecutor", "read_launch_log"]

log = logging.getLogger(__name__)


_WORKER = "setpoint.adapters.executor.worker"
_PENDING = AttemptObservation(Observed.PENDING)
_UNKNOWN = AttemptObservation(Observed.UNKNOWN)
_TERMINAL = (Observed.SUCCEEDED, Observed.FAILED)


def _could_not_prepare(path: Path, exc: OSError) -> AttemptObservation:
    name = errno.errorcode.get(exc.errno or 0, "")
    reason = f"could not prepare the attempt's folder {path}: {f'{name}, ' if name else ''}{exc.strerror or exc}"
    return AttemptObservation(Observed.FAILED, error=ErrorInfo(ErrorKind.SYSTEM, "LaunchFailed", reason))


@dataclass(slots=True)
class _Live:
    """An attempt this instance started; its fork server or waiter thread will report its end."""

    server: ForkServerClient | None = None
    pid: int | None = None
    started_at: float | None = None
    sends: int = 0  # requests sent to fork servers: more than one may have forked twice


class LocalExecutor:
    """Runs each attempt in its own process under ``root/<execution>/<node>/<n>/``."""

    name = "local"

    def __init__(
        self,
        root: Path,
        *,
        mode: str = "fork",  # "fork" | "spawn"; a str because it comes from settings and env vars
        max_workers: int | None = None,
        clock: Clock | None = None,
        launch_grace: float = 10.0,
        kill_grace: float = 3.0,
        poll_interval: float = 0.15,
    ) -> None:
        if mode not in ("fork", "spawn"):
            raise ValueError(f"mode must be 'fork' or 'spawn', got {mode!r}")
        if max_workers is not None and max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, got {max_workers}")
        self._root = Path(root).absolute()  # attempt processes chdir into their own directory
        self._root.mkdir(parents=True, exist_ok=True)
        self._mode = mode
        self._max_workers = max_workers or max(4, 2 * (os.cpu_count() or 1))
        self._clock: Clock = clock or SystemClock()
        self._launch_grace = launch_grace
        self._kill_grace = kill_grace
        self._poll_interval = poll_interval

        self._lock = threading.Lock()  # guards everything below; never held across I/O
        self._queue: dict[str, bytes] = {}  # attempt id -> request.json, oldest first
        self._live: dict[str, _Live] = {}
        self._adopted: dict[str, ProcessClaim] = {}  # running attempts found on disk, polled
        self._done = files.Outcomes()  # bounded: the attempt folders keep the truth
        self._aborting: set[str] = set()
        self._servers_lock = threading.Lock()  # taken after _closed is set, so close() misses none
        self._servers: dict[ServerKey, ForkServerClient] = {}
        self._listener: Callable[[str], None] | None = None
        self._closed = False
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    # -- the Executor protocol -------------------------------------------------------------------

    @property
    def launch_log_path(self) -> Path:
        return self._root / files.LAUNCH_LOG

    def set_listener(self, listener: Callable[[str], None]) -> None:
        with self._lock:
            self._listener = listener

    def launch(self, request: LaunchRequest) -> None:
        """Queue the attempt unless it is already known here or on disk; start it when a slot frees."""
        aid = request.attempt_id
        path = self._path(aid)
        body = files.dump(_request_json(request))  # a payload that is not JSON fails here, in the caller
        with self._lock:
            if self._closed:
                raise SetpointError("the local executor is closed")
            if self._known(aid):
                return
        if (path / files.MARKER).exists():
            return
        with self._lock:
            if self._known(aid):
                return
            self._queue[aid] = body
        self._pump()

    def observe(self, attempt_id: str) -> AttemptObservation:
        path = self._path(attempt_id)
        with self._lock:
            done = self._done.get(attempt_id)
            if done is not None:
                return done
            if attempt_id in self._queue:
                return _PENDING
            live = self._live.get(attempt_id)
            if live is not None:
                if live.pid is None:
                    return _PENDING
                return AttemptObservation(Observed.RUNNING, started_at=live.started_at)
            claim = self._adopted.get(attempt_id)
            if claim is not None:
                return AttemptObservation(Observed.RUNNING, started_at=claim.started_at)
        return self._observe_files(attempt_id, path)

    def abort(self, attempt_id: str) -> None:
        """Kill the attempt's process group (SIGTERM, SIGKILL after ``kill_grace``); idempotent.

        The ``aborted`` file is written before any signal, so the outcome reads "Aborted" rather
        than "ProcessLost". An attempt that has not started is fenced instead: it never will.
        """
        path = self._path(attempt_id)
        with self._lock:
            if attempt_id in self._done or attempt_id in self._aborting:
                return
            self._aborting.add(attempt_id)
            was_queued = self._queue.pop(attempt_id, None) is not None
        if was_queued or not (path / files.MARKER).exists():
            path.mkdir(parents=True, exist_ok=True)
            files.write_atomic(path / files.ABORTED, files.dump({"at": self._clock.now()}))
            if files.create_marker(
                path / files.MARKER, files.dump({"attempt_id": attempt_id, "aborted": True})
            ):
                self._finish(attempt_id, files.aborted_before_start())
                return
            # a launcher created the marker first: the process may exist, so kill it below
        claim = files.read_claim(path)
        if isinstance(claim, ProcessClaim) and not files.is_running(claim):
            with self._lock:
                self._aborting.discard(attempt_id)
            return  # already over; its own outcome stands
        if not (path / files.ABORTED).exists():
            files.write_atomic(path / files.ABORTED, files.dump({"at": self._clock.now()}))
        # A process that claims the attempt after this point sees `aborted` and never runs the task.
        _signal_group(files.read_claim(path), signal.SIGTERM)
        threading.Thread(
            target=self._escalate, args=(path,), name=f"setpoint-kill-{attempt_id}", daemon=True
        ).start()

    def logs(self, attempt_id: str) -> dict[str, Path]:
        path = self._path(attempt_id)
        return {"stdout": path / files.STDOUT, "stderr": path / files.STDERR}

    def close(self) -> None:
        """Stop this executor's threads and fork servers; attempt processes keep running."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.clear()
        with self._servers_lock:
            servers = list(self._servers.values())
            self._servers.clear()
        self._stop.set()
        for server in servers:
            server.close()
        if self._watcher is not None:
            self._watcher.join(timeout=5)

    # -- starting attempts -----------------------------------------------------------------------

    def _pump(self) -> None:
        """Start queued attempts while there are free slots (adopted attempts use slots too)."""
        while True:
            with self._lock:
                if (
                    self._closed
                    or not self._queue
                    or len(self._live) + len(self._adopted) >= self._max_workers
                ):
                    return
                aid = next(iter(self._queue))
                body = self._queue.pop(aid)
                live = self._live[aid] = _Live()
            self._start(aid, body, live)

    def _start(self, aid: str, body: bytes, live: _Live) -> None:
        path = self._path(aid)
        marked = spawning = False
        try:
            path.mkdir(parents=True, exist_ok=True)
            marker = {
                "attempt_id": aid,
                "mode": self._mode,
                "launched_at": self._clock.now(),
                "by": os.getpid(),
            }
            if not files.create_marker(path / files.MARKER, files.dump(marker)):
                self._release(aid, None, pump=False)  # launched elsewhere; the files tell the rest
                return
            marked = True
            files.write_atomic(path / files.REQUEST, body)
            spawning = True
            if self._mode == "spawn":
                self._spawn(aid, path, live)
            else:
                self._fork(aid, json.loads(body), path, live)
        except Exception as exc:
            log.exception("could not start attempt %s", aid)
            if isinstance(exc, OSError) and not spawning and self._unmark(path, marked):
                # Nothing was started and nothing can start now: a definite failure (a full disk,
                # a read-only or missing attempts folder), retried by the controller under a new id.
                self._release(aid, _could_not_prepare(path, exc), pump=False)
            elif marked:
                self._launch_failed(aid, path, f"could not start the attempt process: {exc}", pump=False)
            else:
                self._release(aid, None, pump=False)

    @staticmethod
    def _unmark(path: Path, marked: bool) -> bool:
        """Take back this launcher's own marker (no process was started from it); False if it stays."""
        if not marked:
            return True
        try:
            (path / files.MARKER).unlink()
        except OSError:
            return False
        return True

    def _spawn(self, aid: str, path: Path, live: _Live) -> None:
        with open(path / files.STDOUT, "ab") as out, open(path / files.STDERR, "ab") as err:
            proc = subprocess.Popen(
                [sys.executable, "-P", "-m", _WORKER, str(path)],
                cwd=path,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        with self._lock:
            live.pid, live.started_at = proc.pid, self._clock.now()
        threading.Thread(
            target=self._wait_spawned, args=(aid, path, proc), name=f"setpoint-wait-{aid}", daemon=True
        ).start()
        self._notify(aid)

    def _wait_spawned(self, aid: str, path: Path, proc: subprocess.Popen[bytes]) -> None:
        code = proc.wait()
        with contextlib.suppress(OSError):
            files.record_exit(path, proc.pid, code)
        self._exited(aid, path, proc.pid, code)

    def _fork(self, aid: str, request: dict[str, Any], path: Path, live: _Live) -> None:
        key: ServerKey = (tuple(request["sys_path"]), tuple(request["preload"]))
        for _ in range(2):  # a server that died since its last use is replaced once
            server = self._server(key)
            with self._lock:
                self._live[aid] = live  # back in, if the old server's reader already let it go
                live.server = server
            live.sends += 1
            if server.send({"id": aid, "dir": str(path)}):
                return
        # Both servers refused. Resending is safe even if one of them did fork: only one process
        # can claim the pid file.
        raise OSError("no fork server accepted the attempt")

    def _server(self, key: ServerKey) -> ForkServerClient:
        with self._servers_lock:  # not self._lock: starting a server takes milliseconds
            if self._closed:
                raise SetpointError("the local executor is closed")
            server = self._servers.get(key)
            if server is not None and server.alive():
                return server
            server = self._servers[key] = ForkServerClient(key, self._on_report, self._on_server_gone)
            return server

    def _on_report(self, server: ForkServerClient, line: str) -> None:
        kind, _, rest = line.strip().partition(" ")
        aid, _, arg = rest.partition(" ")
        with self._lock:
            live = self._live.get(aid)
            if live is None or live.server is not server:
                return
            if kind == "started":
                live.pid, live.started_at = int(arg), self._clock.now()
            pid = live.pid
        if kind == "started":
            self._notify(aid)
        elif kind == "exited" and pid is not None:
            self._exited(aid, self._path(aid), pid, int(arg))
        elif kind == "failed":
            self._launch_failed(aid, self._path(aid), arg, pump=True)

    def _on_server_gone(self, server: ForkServerClient) -> None:
        """A fork server died: its children live on, so watch them like re-adopted attempts."""
        with self._lock:
            if self._closed:
                return
            orphans = [aid for aid, live in self._live.items() if live.server is server]
            for aid in orphans:
                del self._live[aid]
        for aid in orphans:
            self._observe_files(aid, self._path(aid))
            self._notify(aid)
        self._pump()

    def _launch_failed(self, aid: str, path: Path, reason: str, *, pump: bool) -> None:
        """Fence an attempt whose process could not be started, so it reads LaunchLost at once."""
        try:
            fenced = files.claim_lost(path, reason)
        except OSError:
            fenced = False
        self._release(aid, files.launch_lost(reason) if fenced else None, pump=pump)

    # -- ends of attempts ------------------------------------------------------------------------

    def _exited(self, aid: str, path: Path, pid: int, code: int) -> None:
        claim = files.read_claim(path)
        if isinstance(claim, ProcessClaim) and claim.pid == pid:
            self._release(aid, files.finished(path, claim, code, self._clock.now()), pump=True)
            return
        if claim is None:  # it died before it could claim the attempt, so nothing ever ran
            with self._lock:
                live = self._live.get(aid)
                only = live is not None and live.sends == 1 and self._mode == "fork"
            if code == files.EXIT_NO_SPACE and only:
                # The one process ever started for it could not even claim the attempt (a full
                # disk): no other can claim it later, so no fence is needed (none could be written).
                self._release(aid, files.no_space(path, None, self._clock.now()), pump=True)
                return
            reason = f"the attempt process exited with code {code} before starting the task (see its stderr)"
            self._launch_failed(aid, path, reason, pump=True)
            return
        # This process never owned the attempt (it lost the pid claim): let the files decide.
        with self._lock:
            self._live.pop(aid, None)
        self._observe_files(aid, path)
        self._notify(aid)
        self._pump()

    def _release(self, aid: str, outcome: AttemptObservation | None, *, pump: bool) -> None:
        with self._lock:
            self._live.pop(aid, None)
            if outcome is not None:
                self._remember(aid, outcome)
        self._notify(aid)
        if pump:
            self._pump()

    def _finish(self, aid: str, outcome: AttemptObservation) -> None:
        with self._lock:
            self._aborting.discard(aid)
            self._remember(aid, outcome)
        self._notify(aid)

    def _escalate(self, path: Path) -> None:
        """After the grace period, SIGKILL what is left: the group, and any process tagged with it."""
        time.sleep(self._kill_grace)  # not cut short by close(): a promised kill still happens
        _signal_group(files.read_claim(path), signal.SIGKILL)
        _sweep(path, signal.SIGKILL)
        with self._lock:
            self._aborting.discard("/".join(path.parts[-3:]))

    # -- observing from disk ---------------------------------------------------------------------

    def _observe_files(self, aid: str, path: Path) -> AttemptObservation:
        """Derive the observation from the attempt directory; cache it if terminal, watch it if running."""
        obs, claim = self._derive(path)
        with self._lock:
            if obs.status in _TERMINAL:
                return self._remember(aid, obs)
            if claim is not None and not self._closed and aid not in self._live and aid not in self._done:
                self._adopted.setdefault(aid, claim)
                if self._watcher is None and not self._closed:
                    self._watcher = threading.Thread(target=self._watch, name="setpoint-adopted", daemon=True)
                    self._watcher.start()
        return obs

    def _derive(self, path: Path) -> tuple[AttemptObservation, ProcessClaim | None]:
        try:
            marker = (path / files.MARKER).stat()
        except FileNotFoundError:
            return _UNKNOWN, None
        # `aborted` is read before the claim: if it exists and the claim does not, any process
        # that claims later will see it and exit without running the task.
        aborted = (path / files.ABORTED).exists()
        claim = files.read_claim(path)
        if claim is None:
            if aborted:
                return files.aborted_before_start(), None
            age = self._clock.now() - marker.st_mtime
            if age < self._launch_grace:
                return _PENDING, None
            reason = (
                f"marked as launched {age:.0f}s ago but no attempt process ever started "
                "(the launcher probably crashed in between); it will not run under this id"
            )
            try:
                fenced = files.claim_lost(path, reason)
            except OSError as exc:  # a full disk: cannot fence yet, so it may still start; look again later
                log.warning("cannot fence attempt %s yet: %s", path, exc)
                return _PENDING, None
            if fenced:
                return files.launch_lost(reason), None
            claim = files.read_claim(path)  # the attempt process claimed it just now
            if claim is None:
                return _PENDING, None
        if isinstance(claim, str):
            return files.launch_lost(claim), None
        if files.is_running(claim):
            return AttemptObservation(Observed.RUNNING, started_at=claim.started_at), claim
        return files.finished(path, claim, None, self._clock.now()), None

    def _watch(self) -> None:
        """Poll adopted attempts: nobody reaps them for us, so their end is seen in the process table."""
        while not self._stop.wait(self._poll_interval):
            with self._lock:
                adopted = list(self._adopted.items())
            ended = False
            for aid, claim in adopted:
                if files.is_running(claim):
                    continue
                outcome = files.finished(self._path(aid), claim, None, self._clock.now())
                with self._lock:
                    self._adopted.pop(aid, None)
                    self._remember(aid, outcome)
                self._notify(aid)
                ended = True
            if ended:
                self._pump()

    # -- helpers ---------------------------------------------------------------------------------

    def _path(self, attempt_id: str) -> Path:
        return files.attempt_path(self._root, attempt_id)

    def _remember(self, aid: str, outcome: AttemptObservation) -> AttemptObservation:
        """Cache a terminal outcome (the first one wins); call with the lock held."""
        return self._done.remember(aid, outcome)

    def _known(self, aid: str) -> bool:
        return aid in self._queue or aid in self._live or aid in self._adopted or aid in self._done

    def _notify(self, aid: str) -> None:
        with self._lock:
            listener = None if self._closed else self._listener
        files.notify(listener, aid, log)


# -- processes -------------------------------------------------------------------------------------


def _signal_group(claim: ProcessClaim | str | None, sig: signal.Signals) -> None:
    """Signal the attempt's process group, if its leader is verifiably ours or its pid is unused.

    A pid cannot be reused while a process group of that id exists, so when no process has the
    leader's pid any group with that id is what is left of the attempt's own.
    """
    if not isinstance(claim, ProcessClaim):
        return
    state = files.process_state(claim.pid)
    if state is None or files.is_claimant(claim, state):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(claim.pid, sig)


def _sweep(path: Path, sig: signal.Signals) -> None:
    """Signal every process tagged with this attempt directory: daemons that left the process group."""
    tag = str(path)
    for proc in psutil.process_iter():
        try:
            if proc.pid != os.getpid() and proc.environ().get(ATTEMPT_DIR_ENV) == tag:
                proc.send_signal(sig)
        except psutil.Error:
            continue


def _request_json(request: LaunchRequest) -> dict[str, Any]:
    return {
        "attempt_id": request.attempt_id,
        "entrypoint": request.entrypoint,
        "payload": request.payload,
        "sys_path": list(request.sys_path),
        "preload": list(request.preload),
        "env": [list(kv) for kv in request.env],
    }
