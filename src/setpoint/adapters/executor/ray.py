"""The Ray executor: task attempts run on a Ray cluster; the controller, store and catalog stay the same.

How it keeps the executor's promises:

* **Found by attempt id after a restart.** Every attempt is a Ray task named by its attempt id,
  submitted and owned by one detached actor per cluster, the launcher (`ray_node.Launcher`,
  ``setpoint-launcher`` in the ``setpoint`` namespace). Tasks rather than one actor per attempt:
  a task runs in one of Ray's pooled worker processes, an actor needs a fresh process (about ten
  times the start-up cost per attempt here). The launcher, not the controller, owns the tasks,
  so a controller that dies leaves them running (Ray kills what a dead owner started), and the
  next controller asks the launcher about attempt ids (`status`) and follows their starts and
  ends through a cursor over its log of changes (`changes`, a long poll, watched by one thread).
* **At most one launch per attempt id.** As for local attempts, ``launch.json`` is created with
  O_EXCL in the attempt directory before anything is submitted, and the task claims the
  attempt's ``pid`` file before it runs anything: a repeated launch, a second controller, or a
  task that starts after its launch was declared lost can never run an attempt twice. The
  attempt directory lives on storage every Ray node mounts at the same path (the setpoint home's
  ``attempts`` folder), and it is the durable record: outputs, error, exit and logs.
* **Ray's retries are off** (``max_retries=0``): a worker or node lost mid-attempt is a system
  error the controller retries under a new attempt id, within the system budget.
* **Resources.** ``cpu`` → ``num_cpus`` (default 1), ``mem`` → ``memory`` (bytes; ``512Mi``,
  ``2Gi``, ``1G``), ``gpu`` → ``num_gpus``. A request that no alive node can satisfy fails the
  attempt at launch with the largest node's resources in the reason (``check_feasible``; turn it
  off for an autoscaling cluster and set ``pending_timeout`` instead, which fails an attempt that
  has not started after that many seconds).
* **Abort** writes the ``aborted`` file first (so the outcome reads "Aborted"), then has the
  launcher cancel the task with ``force=True``, which kills its worker process; an attempt that
  has not started is fenced and never will.

Just over the usual size: launch, observation, the change-log watcher and abort share one lock and
one memory of outcomes; the resource mapping (`ray_resources`) and the cluster side (`ray_node`)
are already apart.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from setpoint.adapters.executor import attempt_dir as files
from setpoint.adapters.executor.ray_resources import infeasible, parse_memory, ray_options
from setpoint.core.model import AttemptObservation, ErrorInfo, Observed
from setpoint.core.phases import ErrorKind
from setpoint.errors import SetpointError
from setpoint.ports import Clock, LaunchRequest, SystemClock

__all__ = ["RayExecutor", "RayUnavailableError", "infeasible", "parse_memory", "ray_options"]

log = logging.getLogger(__name__)

UNSCHEDULABLE = "unschedulable.json"  # why no node could ever run the attempt (written at launch)
_PENDING = AttemptObservation(Observed.PENDING)
_UNKNOWN = AttemptObservation(Observed.UNKNOWN)
_TERMINAL = (Observed.SUCCEEDED, Observed.FAILED)
class RayUnavailableError(SetpointError):
    """Ray is not installed, or no cluster address is configured or reachable."""


class RayExecutor:
    """Runs each attempt as a Ray task on the cluster at ``address``; records live under ``root``.

    ``root`` must be the same path on the controller and on every Ray node (shared storage): it
    holds the attempt directories, logs included. Connecting to Ray is deferred to the first
    call that needs the cluster, so building the executor is cheap and needs no cluster.
    """

    name = "ray"

    def __init__(
        self,
        address: str,
        root: Path,
        *,
        bundle_cache: str | None = None,
        default_cpus: float = 1.0,
        check_feasible: bool = True,
        pending_timeout: float | None = None,
        scheduling_strategy: str = "DEFAULT",
        launch_grace: float = 30.0,
        clock: Clock | None = None,
    ) -> None:
        if not address:
            raise RayUnavailableError(
                "the Ray executor needs a cluster address (SETPOINT_RAY_ADDRESS, e.g. 'head:6379')"
            )
        self.address = address
        self._root = Path(root).absolute()
        self._root.mkdir(parents=True, exist_ok=True)
        # Where Ray nodes extract code bundles (node-local; the bundle itself comes from the blob store).
        self._bundle_cache = bundle_cache or str(Path(tempfile.gettempdir()) / "setpoint-ray-bundles")
        self._default_cpus = default_cpus
        self._check_feasible = check_feasible
        self._pending_timeout = pending_timeout
        self._strategy = scheduling_strategy
        self._launch_grace = launch_grace
        self._clock: Clock = clock or SystemClock()

        self._lock = threading.Lock()  # guards the fields below; never held across a Ray call
        self._connect_lock = threading.Lock()
        self._connected = False
        self._owns_ray = False
        self._launcher: Any = None
        self._inflight: set[str] = set()  # launched or adopted here; their ends come through the watcher
        self._done = files.Outcomes()  # bounded: the attempt folders keep the truth
        self._nodes: tuple[float, list[dict[str, float]]] = (0.0, [])
        self._listener: Callable[[str], None] | None = None
        self._closed = False
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    # -- the Executor protocol -------------------------------------------------------------------

    def set_listener(self, listener: Callable[[str], None]) -> None:
        with self._lock:
            self._listener = listener

    def launch(self, request: LaunchRequest) -> None:
        aid = request.attempt_id
        path = self._path(aid)
        with self._lock:
            if self._closed:
                raise SetpointError("the Ray executor is closed")
            if aid in self._inflight or aid in self._done:
                return
        task = request.payload.get("task") or {}
        where = f"task '{task.get('name', '?')}'"
        body = files.dump(_request_json(request))
        launcher = self._connect()
        path.mkdir(parents=True, exist_ok=True)
        marker = {"attempt_id": aid, "executor": "ray", "launched_at": self._clock.now(), "address": self.address}
        if not files.create_marker(path / files.MARKER, files.dump(marker)):
            return  # launched before (by this controller or another): observe() tells what became of it
        files.write_atomic(path / files.REQUEST, body)
        try:
            opts = ray_options(dict(task.get("resources") or {}), where, self._default_cpus)
            reason = infeasible(opts, self._cluster_nodes()) if self._check_feasible else None
        except SetpointError as exc:
            reason = str(exc)
        if reason is not None:
            self._unschedulable(aid, path, reason)
            return
        if self._strategy != "DEFAULT":
            opts["scheduling_strategy"] = self._strategy
        args = [
            str(path),
            str(request.payload.get("code_digest", "")),
            str(request.payload["blob_root"]),
            self._bundle_cache,
        ]
        with self._lock:
            self._inflight.add(aid)
        launcher.launch.remote(aid, opts, args)  # not awaited: a launch that never arrives reads LaunchLost later
        self._ensure_watcher()

    def observe(self, attempt_id: str) -> AttemptObservation:
        path = self._path(attempt_id)
        with self._lock:
            done = self._done.get(attempt_id)
            inflight = attempt_id in self._inflight
        if done is not None:
            return done
        if inflight:
            return self._waiting(attempt_id, path)
        return self._observe_cold(attempt_id, path)

    def abort(self, attempt_id: str) -> None:
        path = self._path(attempt_id)
        with self._lock:
            if attempt_id in self._done:
                return
        if not (path / files.MARKER).exists():
            path.mkdir(parents=True, exist_ok=True)
            files.write_atomic(path / files.ABORTED, files.dump({"at": self._clock.now()}))
            if files.create_marker(path / files.MARKER, files.dump({"attempt_id": attempt_id, "aborted": True})):
                self._finish(attempt_id, files.aborted_before_start())
                return
        if not (path / files.ABORTED).exists():
            files.write_atomic(path / files.ABORTED, files.dump({"at": self._clock.now()}))
        if files.claim_lost(path, "aborted before the attempt started"):
            # no task will ever run it; cancel the queued one so it frees its place at once
            self._finish(attempt_id, files.aborted_before_start())
        with contextlib.suppress(Exception):
            self._connect().cancel.remote(attempt_id)
        self._ensure_watcher()

    def logs(self, attempt_id: str) -> dict[str, Path]:
        path = self._path(attempt_id)
        return {"stdout": path / files.STDOUT, "stderr": path / files.STDERR}

    def placement(self, attempt_id: str) -> dict[str, Any] | None:
        """Where the attempt ran (node id and address, worker pid, Ray task id), once it started."""
        from setpoint.adapters.executor.ray_node import PLACEMENT

        try:
            return files.read_json(self._path(attempt_id) / PLACEMENT)
        except files.Corrupt:
            return None

    def close(self) -> None:
        """Stop following attempts; they keep running on the cluster and are re-adopted later."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=15)
        if self._owns_ray:
            _RAY.release()

    # -- connecting ------------------------------------------------------------------------------

    def _connect(self) -> Any:
        if self._connected:
            return self._launcher
        with self._connect_lock:
            if self._connected:
                return self._launcher
            try:
                from setpoint.adapters.executor import ray_node
            except ImportError as exc:
                raise RayUnavailableError(
                    f"the Ray executor needs Ray on this machine: pip install 'setpoint[ray]' ({exc})"
                ) from None
            if not self._owns_ray:
                _RAY.acquire(self.address, ray_node.NAMESPACE)
                self._owns_ray = True
            self._launcher = ray_node.launcher_handle()
            self._connected = True
            return self._launcher

    def _cluster_nodes(self) -> list[dict[str, float]]:
        """Total resources of every alive node (cached for a few seconds)."""
        at, nodes = self._nodes
        now = time.monotonic()
        if now - at < 5.0 and nodes:
            return nodes
        import ray

        nodes = [dict(n.get("Resources", {})) for n in ray.nodes() if n.get("Alive")]  # type: ignore[no-untyped-call]
        self._nodes = (now, nodes)
        return nodes

    # -- observing ---------------------------------------------------------------------------------

    def _waiting(self, aid: str, path: Path) -> AttemptObservation:
        """An attempt whose end the watcher will report: RUNNING once its task claimed it."""
        claim = files.read_claim(path)
        if isinstance(claim, files.ProcessClaim):
            return AttemptObservation(Observed.RUNNING, started_at=claim.started_at)
        if isinstance(claim, str):
            return self._remember(aid, files.launch_lost(claim))
        placed = self.placement(aid)  # the task started on a node and is about to claim the attempt
        if placed is not None and isinstance(placed.get("at"), int | float):
            return AttemptObservation(Observed.RUNNING, started_at=float(placed["at"]))
        if self._pending_timeout is not None:
            age = self._age(path)
            if age is not None and age > self._pending_timeout:
                reason = (
                    f"not started on the Ray cluster after {age:.0f}s (pending_timeout {self._pending_timeout:g}s); "
                    "no node had the resources free"
                )
                if files.claim_lost(path, reason):
                    info = ErrorInfo(ErrorKind.SYSTEM, "PendingTimeout", reason)
                    # remembered before the cancel: the cancelled task's end must not be read as another outcome
                    outcome = self._remember(aid, AttemptObservation(Observed.FAILED, error=info))
                    with contextlib.suppress(Exception):
                        self._connect().cancel.remote(aid)
                    return outcome
        return _PENDING

    def _observe_cold(self, aid: str, path: Path) -> AttemptObservation:
        """Not followed by this instance: ask the attempt directory, then the launcher."""
        if not (path / files.MARKER).exists():
            return _UNKNOWN
        unschedulable = self._unschedulable_outcome(path)
        if unschedulable is not None:
            return self._remember(aid, unschedulable)
        self._ensure_watcher()  # before asking: an end logged after this point reaches the watcher
        import ray

        status = ray.get(self._connect().status.remote([aid]), timeout=60)[aid]
        state = status.get("state")
        if state == "running":
            with self._lock:
                self._inflight.add(aid)
            return self._waiting(aid, path)
        if state in ("done", "lost"):
            return self._remember(aid, self._ended(path, status))
        # The launcher never heard of it: the launch did not arrive, or an earlier launcher (and
        # with it every task it owned) is gone. The files tell what happened.
        claim = files.read_claim(path)
        if isinstance(claim, str):
            return self._remember(aid, files.launch_lost(claim))
        if claim is None:
            age = self._age(path)
            if age is not None and age < self._launch_grace:
                return _PENDING
            reason = (
                "marked as launched but the Ray cluster's launcher has no record of it (the controller "
                "stopped before submitting it, or the launcher was restarted); it will not run under this id"
            )
            if files.claim_lost(path, reason):
                return self._remember(aid, files.launch_lost(reason))
            claim = files.read_claim(path)
            if not isinstance(claim, files.ProcessClaim):
                return _PENDING
        return self._remember(aid, self._ended(path, {"state": "lost", "error": "the launcher that owned it is gone"}))

    def _ended(self, path: Path, status: dict[str, Any]) -> AttemptObservation:
        """The outcome of an attempt whose Ray task is over, from its files (they win) and Ray's word."""
        ray_error = status.get("error") if status.get("state") == "lost" else None
        result = status.get("result") or {}
        claim = files.read_claim(path)
        if claim is None:
            reason = str(result.get("error") or f"the Ray task ended before the attempt started: {ray_error}")
            if files.claim_lost(path, reason):
                return files.launch_lost(reason)
            claim = files.read_claim(path)
        if isinstance(claim, str):
            return files.launch_lost(claim)
        if claim is None:
            return files.launch_lost("the attempt's pid file vanished")
        code = result.get("code") if status.get("state") == "done" else None
        obs = files.finished(path, claim, code if isinstance(code, int) else None, self._clock.now())
        if obs.error is not None and obs.error.code == "ProcessLost":
            where = (self.placement("/".join(path.parts[-3:])) or {}).get("node_id", "?")
            message = (
                f"the Ray worker running the attempt (node {str(where)[:12]}) was lost: {ray_error or 'no exit record'}"
            )
            return AttemptObservation(
                Observed.FAILED,
                obs.started_at,
                obs.finished_at,
                error=ErrorInfo(ErrorKind.SYSTEM, "ProcessLost", message),
            )
        return obs

    def _unschedulable(self, aid: str, path: Path, reason: str) -> None:
        files.write_atomic(path / UNSCHEDULABLE, files.dump({"reason": reason}), durable=True)
        files.claim_lost(path, reason)  # fenced: nothing can start it later
        outcome = self._unschedulable_outcome(path)
        assert outcome is not None
        self._finish(aid, outcome)

    @staticmethod
    def _unschedulable_outcome(path: Path) -> AttemptObservation | None:
        try:
            rec = files.read_json(path / UNSCHEDULABLE)
        except files.Corrupt:
            return None
        if rec is None:
            return None
        info = ErrorInfo(ErrorKind.USER, "Unschedulable", str(rec.get("reason")), retryable=False)
        return AttemptObservation(Observed.FAILED, error=info)

    def _age(self, path: Path) -> float | None:
        try:
            return self._clock.now() - (path / files.MARKER).stat().st_mtime
        except FileNotFoundError:
            return None

    # -- following ends --------------------------------------------------------------------------

    def _ensure_watcher(self) -> None:
        with self._lock:
            if self._watcher is not None or self._closed:
                return
            started = threading.Event()
            self._watcher = threading.Thread(
                target=self._watch, args=(started,), name="setpoint-ray-watch", daemon=True
            )
            self._watcher.start()
        started.wait(timeout=60)

    def _watch(self, started: threading.Event) -> None:
        """Follow the launcher's log of finished attempts; report those this instance follows."""
        import ray

        cursor: int | None = None
        while not self._stop.is_set():
            try:
                launcher = self._connect()
                if cursor is None:
                    cursor = ray.get(launcher.cursor.remote(), timeout=60)
                    started.set()
                cursor, entries = ray.get(launcher.changes.remote(cursor, 1.0), timeout=60)
            except (Exception, SystemExit) as exc:  # Ray raises SystemExit once the connection is shut down
                started.set()
                if self._stop.is_set():
                    return
                log.warning("lost touch with the Ray launcher (%s); re-observing every followed attempt", exc)
                self._reconnect()
                cursor = None
                self._stop.wait(1.0)
                continue
            for aid, status in entries:
                with self._lock:
                    if aid not in self._inflight:
                        continue
                if status.get("state") == "running":
                    self._notify(aid)  # started: observe() now reads its placement
                    continue
                try:
                    outcome = self._ended(self._path(aid), status)
                except Exception:
                    log.exception("could not read the outcome of %s", aid)
                    continue
                self._finish(aid, outcome)

    def _reconnect(self) -> None:
        """The launcher is gone: forget the handle; every followed attempt is observed afresh."""
        with self._connect_lock:
            self._connected = False
            self._launcher = None
        with self._lock:
            orphans = list(self._inflight)
            self._inflight.clear()
        for aid in orphans:
            self._notify(aid)

    # -- helpers ---------------------------------------------------------------------------------

    def _finish(self, aid: str, outcome: AttemptObservation) -> None:
        with self._lock:
            self._inflight.discard(aid)
            self._remember_locked(aid, outcome)
        self._notify(aid)

    def _remember(self, aid: str, outcome: AttemptObservation) -> AttemptObservation:
        if outcome.status not in _TERMINAL:
            return outcome
        with self._lock:
            self._inflight.discard(aid)
            return self._remember_locked(aid, outcome)

    def _remember_locked(self, aid: str, outcome: AttemptObservation) -> AttemptObservation:
        return self._done.remember(aid, outcome)

    def _notify(self, aid: str) -> None:
        with self._lock:
            listener = None if self._closed else self._listener
        files.notify(listener, aid, log)

    def _path(self, attempt_id: str) -> Path:
        return files.attempt_path(self._root, attempt_id)


class _RayConnection:
    """The connection to Ray is per process: executors share it, and the last one closed that
    connected through here disconnects (a connection the embedding program made is left alone)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0
        self.ours = False

    def acquire(self, address: str, namespace: str) -> None:
        import ray

        with self.lock:
            if not ray.is_initialized():
                try:
                    # ray.init installs its SIGTERM handler only from the main thread, and says so
                    # otherwise; the controller connects from a worker thread, on purpose.
                    logging.getLogger("ray._private.worker").addFilter(_QuietSigterm())
                    ray.init(
                        address=address,
                        namespace=namespace,
                        log_to_driver=False,
                        logging_level=logging.WARNING,
                        configure_logging=False,
                    )
                except Exception as exc:
                    raise RayUnavailableError(f"cannot connect to the Ray cluster at {address}: {exc}") from exc
                self.ours = True
            self.users += 1

    def release(self) -> None:
        import ray

        with self.lock:
            self.users -= 1
            if self.users == 0 and self.ours:
                ray.shutdown()
                self.ours = False


_RAY = _RayConnection()


class _QuietSigterm(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "SIGTERM handler is not set" not in record.getMessage()


def _request_json(request: LaunchRequest) -> dict[str, Any]:
    # sys_path stays empty: the node puts its own extraction of the code bundle on sys.path.
    return {
        "attempt_id": request.attempt_id,
        "entrypoint": request.entrypoint,
        "payload": request.payload,
        "sys_path": [],
        "preload": list(request.preload),
        "env": [list(kv) for kv in request.env],
    }
