"""What runs inside the Ray cluster for the Ray executor: the launcher actor and the attempt task.

Two pieces, both imported on Ray nodes (setpoint must be installed there, like the task's own
third-party libraries):

* `Launcher`, one named, detached, async actor per cluster (``setpoint-launcher`` in the
  ``setpoint`` namespace). It submits one Ray task per attempt, named by the attempt id, and
  keeps the task's result reference by attempt id. It is the task's *owner*, and it outlives any
  controller: a controller killed mid-run leaves its attempts running, and the next one finds
  them by attempt id here (`status`), and hears about their ends through `changes`, a cursor
  over the log of finished attempts (a long poll, so several controllers can follow it).
* `run_attempt_on_node`, the Ray task. It fetches the execution's code bundle through the blob
  store into a node-local cache, points the worker's stdout/stderr at the attempt's log files
  on shared storage, and runs the same harness as the local executor
  (`setpoint.adapters.executor.worker`): claim the attempt's ``pid`` file (at most one process
  ever runs an attempt id), append to ``launch.log``, call the runtime, write the outputs or the
  error. The attempt directory is the durable record, exactly as for local attempts.

Ray workers are pooled and run many tasks one after another, so the task restores what the
harness changes in its process (file descriptors 1 and 2, ``sys.path``, the environment, the
working directory) and forgets every module imported from a code bundle, so the next attempt
imports its own bundle's code and never a stale copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import ray

from setpoint.adapters.executor import attempt_dir as files

NAMESPACE = "setpoint"
LAUNCHER_NAME = "setpoint-launcher"
PLACEMENT = "ray.json"  # where an attempt ran: node id and address, worker pid, Ray task id
_LOG_KEEP = 100_000  # finished attempts remembered by the launcher (older ones: the files tell)


def _open_blobs(location: str) -> Any:
    """The blob store at ``location`` (a path or URL), as the controller's settings named it."""
    from setpoint.adapters import blobs

    opener = getattr(blobs, "open_blob_store", None)
    if opener is not None:
        return opener(location)
    from setpoint.adapters.blobs.local import LocalBlobStore

    return LocalBlobStore(Path(location))


def _forget_bundle_modules(bundle_root: str) -> None:
    prefix = os.path.join(bundle_root, "")
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if isinstance(file, str) and file.startswith(prefix):
            del sys.modules[name]


def run_attempt_on_node(
    attempt_dir: str, code_digest: str, blob_location: str, bundle_cache: str, launcher: Any = None
) -> dict[str, Any]:
    """Run one attempt in this Ray worker; return ``{"code", "node_id", "pid"}``.

    Anything that goes wrong before the harness claims the attempt (the bundle cannot be
    fetched, ...) fences the attempt as lost with the reason, so it reads as a system error and
    can never start later under this id.
    """
    from setpoint.adapters.bundle import BundleCache
    from setpoint.adapters.executor import worker

    path = Path(attempt_dir)
    ctx = ray.get_runtime_context()
    node_id = ctx.get_node_id()
    placement = {
        "node_id": node_id,
        "node_ip": ray.util.get_node_ip_address(),  # type: ignore[no-untyped-call]
        "pid": os.getpid(),
        "task_id": ctx.get_task_id(),
        "at": time.time(),
    }
    files.write_atomic(path / PLACEMENT, files.dump(placement))
    if launcher is not None:
        launcher.started.remote("/".join(path.parts[-3:]))  # a hint: the controller records RUNNING now
    saved_path = list(sys.path)
    saved_env = dict(os.environ)
    saved_cwd = os.getcwd()
    _forget_bundle_modules(bundle_cache)
    try:
        bundle = BundleCache(Path(bundle_cache), _open_blobs(blob_location)).path(code_digest)
    except Exception as exc:
        reason = f"could not fetch code bundle {code_digest[:12]} on Ray node {node_id[:12]}: {exc}"
        files.claim_lost(path, reason)
        return {"code": None, "node_id": node_id, "pid": os.getpid(), "error": reason}
    sys.stdout.flush()
    sys.stderr.flush()
    saved_fds = (os.dup(1), os.dup(2))
    code: int | None = None
    try:
        for fd, name in ((1, files.STDOUT), (2, files.STDERR)):
            new = os.open(path / name, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.dup2(new, fd)
            os.close(new)
        sys.path.insert(0, str(bundle))
        os.chdir(path)
        # The exit code travels back as the task's result, not as exit.json: Ray stops a worker
        # whose owner died by raising SystemExit in it, which the harness reports like a task's
        # own sys.exit; only a result that reached the launcher is the attempt's real end.
        code = worker.run_attempt(path, redirect_stdio=False)
    finally:
        with contextlib.suppress(OSError, ValueError):
            sys.stdout.flush()
            sys.stderr.flush()
        for fd, saved in zip((1, 2), saved_fds, strict=True):
            os.dup2(saved, fd)
            os.close(saved)
        os.chdir(saved_cwd)
        sys.path[:] = saved_path
        os.environ.clear()
        os.environ.update(saved_env)
        _forget_bundle_modules(bundle_cache)
    return {"code": code, "node_id": node_id, "pid": os.getpid()}


attempt_task = ray.remote(max_retries=0, retry_exceptions=False)(run_attempt_on_node)


class Launcher:
    """Owns the attempts' Ray tasks, by attempt id, for as long as the cluster lives.

    Async: ``launch`` and ``status`` never wait on a task, and ``changes`` waits without holding
    up the other calls.
    """

    def __init__(self) -> None:
        self._running: dict[str, Any] = {}  # attempt id -> ObjectRef of its task
        self._done: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._log: list[tuple[int, str, str]] = []  # (seq, attempt id, "started" | "ended"), oldest first
        self._seq = 0
        self._changed: asyncio.Event | None = None
        self._self: Any = None

    async def launch(self, aid: str, options: dict[str, Any], args: list[str]) -> bool:
        """Submit the attempt's task unless this launcher already knows the attempt id."""
        if aid in self._running or aid in self._done:
            return False
        if self._self is None:
            self._self = ray.get_runtime_context().current_actor
        ref = attempt_task.options(name=aid, **options).remote(*args, launcher=self._self)
        self._running[aid] = ref
        asyncio.get_running_loop().create_task(self._follow(aid, ref))
        return True

    async def _follow(self, aid: str, ref: Any) -> None:
        outcome: dict[str, Any]
        try:
            outcome = {"state": "done", "result": await ref}
        except Exception as exc:  # the worker or its node died, the task was cancelled, ...
            outcome = {"state": "lost", "error": f"{type(exc).__name__}: {_first_line(exc)}"}
        self._running.pop(aid, None)
        self._done[aid] = outcome
        while len(self._done) > _LOG_KEEP:
            self._done.popitem(last=False)
        self._append(aid, "ended")

    async def started(self, aid: str) -> None:
        """Called by the attempt's task as it starts: followers hear of it (a hint, like the end)."""
        if aid in self._running:
            self._append(aid, "started")

    def _append(self, aid: str, kind: str) -> None:
        self._seq += 1
        self._log.append((self._seq, aid, kind))
        if len(self._log) > 2 * _LOG_KEEP:
            del self._log[:_LOG_KEEP]
        changed, self._changed = self._changed, None
        if changed is not None:
            changed.set()

    async def status(self, aids: list[str]) -> dict[str, dict[str, Any]]:
        """Per attempt id: ``{"state": "running"}``, the finished outcome, or ``{"state": "unknown"}``."""
        out: dict[str, dict[str, Any]] = {}
        for aid in aids:
            if aid in self._running:
                out[aid] = {"state": "running"}
            else:
                out[aid] = self._done.get(aid) or {"state": "unknown"}
        return out

    async def cancel(self, aid: str) -> bool:
        """Kill the attempt's worker (force): the task ends as lost, its files say why."""
        ref = self._running.get(aid)
        if ref is None:
            return False
        ray.cancel(ref, force=True)
        return True

    async def changes(self, after: int, timeout: float) -> tuple[int, list[tuple[str, dict[str, Any]]]]:
        """Attempts that started or ended after cursor ``after`` (waits up to ``timeout`` s for one).

        An end comes with the outcome; a start as ``{"state": "running"}``.
        """
        if self._seq <= after:
            if self._changed is None:
                self._changed = asyncio.Event()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout)
        first = self._log[0][0] if self._log else self._seq + 1
        if after + 1 < first and self._seq > after:
            after = first - 1  # the cursor fell behind the kept log: the controller's resync covers the gap
        start = max(0, after + 1 - first)  # the log's seqs are consecutive
        running = {"state": "running"}
        entries = [
            (aid, running if kind == "started" else self._done.get(aid, {"state": "unknown"}))
            for _, aid, kind in self._log[start:]
        ]
        return self._seq, entries

    async def cursor(self) -> int:
        return self._seq

    async def pid(self) -> int:
        return os.getpid()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:500] if text else ""


def launcher_handle(options: dict[str, Any] | None = None) -> Any:
    """The cluster's launcher actor, created if it does not exist (get_if_exists: no duplicates)."""
    actor = ray.remote(Launcher)
    return actor.options(
        name=LAUNCHER_NAME,
        namespace=NAMESPACE,
        lifetime="detached",
        get_if_exists=True,
        max_restarts=0,
        num_cpus=0,
        **(options or {}),
    ).remote()
