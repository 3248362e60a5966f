"""The controller shell: load → observe → decide → persist intent → act, for one execution at a time.

Workers take execution ids from a de-duplicating queue. A round loads the execution (from a
cache, re-checked against the stored row version), asks executors about live attempts, calls the
pure `reconcile`, persists the decision with a compare-and-swap on the execution's version and
lease, and only then launches or aborts attempts — every action idempotent on the attempt id, so
a crash at any point is safe: the next round recomputes from what was recorded. Wake-ups come from
new executions, executor notifications (hints), `requeue_after` timers, a poll for executions
that need a controller, and a periodic full resync that re-observes every live attempt.

This module keeps the round and the workers; what a round calls out to lives beside it: building
map and dynamic child specs (`expansion`), reading and starting launch-plan children (`children`),
answering cache lookups (`catalog`), the crash-point test hook (`crash`) and lease-owner ids (`owners`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from setpoint.adapters.blobs import preload_modules
from setpoint.adapters.bundle import BundleCache
from setpoint.config.settings import Settings
from setpoint.controller.catalog import blob_refs, consult
from setpoint.controller.children import child_executions, start_child
from setpoint.controller.crash import CRASH_POINTS, CrashInjector
from setpoint.controller.expansion import child_spec
from setpoint.controller.owners import local_owner_id, owner_is_dead
from setpoint.controller.workqueue import WorkQueue
from setpoint.core.model import AttemptObservation, CatalogAnswer, ExecutionMode, ExecutionRecord
from setpoint.core.phases import (
    ATTEMPT_TRANSITIONS,
    EXECUTION_TRANSITIONS,
    NODE_TRANSITIONS,
    legal,
)
from setpoint.core.reconcile import reconcile
from setpoint.core.state import (
    Abort,
    AbortChild,
    Decision,
    ExecutionState,
    ExpandRequest,
    Launch,
    StartChild,
)
from setpoint.errors import ConflictError, NotFoundError, SetpointError
from setpoint.ports import Clock, Executor, LaunchRequest, RoundWrite, Store, SystemClock
from setpoint.spec.canonical import canonical_json
from setpoint.spec.workflow import TaskSpec, WorkflowSpec

# CRASH_POINTS and blob_refs are re-exported: the fault tests import them from this module.
__all__ = ["CRASH_POINTS", "Controller", "IllegalTransitionError", "blob_refs", "running_controllers"]

log = logging.getLogger("setpoint.controller")

RUNTIME_ENTRYPOINT = "setpoint.adapters.executor.runtime:run_attempt"

MAX_ILLEGAL_ROUNDS = 3

CONTROLLERS_DIR = "controllers"  # under the home: one beacon per live controller that adopts everything
BEACON_STALE_S = 30.0


def running_controllers(home: Path, now: float | None = None) -> list[str]:
    """The owners of the live controllers on ``home`` that take on every execution (`setpoint
    controller`, a server): their beacons are fresh and, on this host, their processes alive."""
    import time

    now = time.time() if now is None else now
    owners = []
    for beacon in sorted((home / CONTROLLERS_DIR).glob("*.json")):
        try:
            fresh = now - beacon.stat().st_mtime < BEACON_STALE_S
            owner = str(json.loads(beacon.read_text())["owner"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if fresh and not owner_is_dead(owner):
            owners.append(owner)
    return owners


class IllegalTransitionError(SetpointError):
    """The core decided a transition the phase tables forbid (a bug): nothing was written."""


class Controller:
    def __init__(
        self,
        store: Store,
        executors: Mapping[str, Executor],
        bundles: BundleCache,
        settings: Settings,
        *,
        clock: Clock | None = None,
        owner: str | None = None,
        own_only: bool = False,
    ) -> None:
        """``own_only``: run only the executions submitted to this controller and the children they
        start (what `setpoint run` hosts: it exits when its execution ends, so it must not adopt
        others it would strand); otherwise every unfinished execution of the store."""
        self.store = store
        self.executors = dict(executors)
        self.bundles = bundles
        self.blobs = bundles.blobs
        self.settings = settings
        self.clock = clock or SystemClock()
        self.owner = owner or local_owner_id()
        self.queue = WorkQueue()
        self._crash = CrashInjector(settings.crash_at)
        self._lock = threading.Lock()
        self._states: dict[str, ExecutionState] = {}
        self._dirty: dict[str, set[str]] = {}
        self._full_sync: set[str] = set()
        self._specs: dict[str, WorkflowSpec] = {}
        self._task_json: dict[tuple[str, str], dict[str, Any]] = {}
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._unwatch: Any = None
        self._illegal: dict[str, int] = {}  # execution -> consecutive rounds refused as illegal
        self._blob_preload = preload_modules(settings.blob_location)  # the blob store's client library
        self._finished = threading.Condition()
        self.rounds = 0
        self._scope: set[str] | None = set() if own_only else None
        self._beacon: Path | None = None
        for ex in self.executors.values():
            ex.set_listener(self._on_attempt_event)

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> Controller:
        for i in range(max(1, self.settings.workers)):
            t = threading.Thread(target=self._work, name=f"setpoint-worker-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        t = threading.Thread(target=self._maintain, name="setpoint-maintenance", daemon=True)
        t.start()
        self._threads.append(t)
        watch = getattr(self.store, "watch", None)  # PostgreSQL: LISTEN/NOTIFY wake-ups (hints only)
        if callable(watch):
            self._unwatch = watch(self.queue.add)
        self._beat()
        return self

    def stop(self, *, release: bool = True) -> None:
        """Stop the workers, then (``release``) give up every lease this controller holds, so the
        next controller takes its executions over at once instead of after the leases' TTL."""
        self._stop.set()
        if self._unwatch is not None:
            self._unwatch()
            self._unwatch = None
        self.queue.close()
        for t in self._threads:
            t.join(timeout=10)
        self._threads.clear()
        if release and self.settings.leases:
            held = set(self._states)
            with contextlib.suppress(SetpointError):
                # also the leases of executions forgotten after a conflict or an error
                held.update(self.store.renew_leases(self.owner, self.settings.lease_ttl_s, self.clock.now()))
            for eid in sorted(held):
                with contextlib.suppress(SetpointError):
                    self.store.release_lease(eid, self.owner)
        self._states.clear()
        if self._beacon is not None:
            with contextlib.suppress(OSError):
                self._beacon.unlink()
            self._beacon = None

    @property
    def own_only(self) -> bool:
        """Whether this controller runs only its own executions (see ``own_only``)."""
        return self._scope is not None

    def owns(self, execution_id: str) -> bool:
        """Whether this controller takes ``execution_id`` on (all of them, unless ``own_only``)."""
        return self._scope is None or execution_id in self._scope

    def _beat(self) -> None:
        """Say in the home that a controller that adopts every execution is alive (`running_controllers`)."""
        if self._scope is not None:
            return
        folder = self.settings.home / CONTROLLERS_DIR
        try:
            if self._beacon is None:
                folder.mkdir(parents=True, exist_ok=True)
                self._beacon = folder / (re.sub(r"[^A-Za-z0-9_.-]", "_", self.owner) + ".json")
            self._beacon.write_text(json.dumps({"owner": self.owner}))
        except OSError as e:
            log.debug("cannot write the controller beacon: %s", e)

    def __enter__(self) -> Controller:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def _lease_owner(self) -> str | None:
        """The owner every commit checks; None without leases (only row versions are compared)."""
        return self.owner if self.settings.leases else None

    def submit(self, execution_id: str) -> None:
        """Wake the controller for an execution (new, terminated, or anything else changed); an
        ``own_only`` controller takes on every execution submitted to it."""
        with self._lock:
            if self._scope is not None:
                self._scope.add(execution_id)
            self._full_sync.add(execution_id)
        self.queue.add(execution_id)

    def wait(self, execution_id: str, timeout: float | None = None) -> ExecutionRecord:
        """Block until the execution is terminal (as recorded in the store) or the timeout passes."""
        deadline = None if timeout is None else self.clock.now() + timeout
        while True:
            rec = self.store.get_execution(execution_id)
            if rec.phase.is_terminal:
                return rec
            remaining = None if deadline is None else deadline - self.clock.now()
            if remaining is not None and remaining <= 0:
                return rec
            with self._finished:
                self._finished.wait(0.2 if remaining is None else min(0.2, remaining))

    # -- wake-ups -------------------------------------------------------------------------------
    def _on_attempt_event(self, attempt_id: str) -> None:
        execution_id = attempt_id.split("/", 1)[0]
        with self._lock:
            self._dirty.setdefault(execution_id, set()).add(attempt_id)
        self.queue.add(execution_id)

    def _maintain(self) -> None:
        last_resync = self.clock.now()
        last_renew = self.clock.now()
        while not self._stop.wait(self.settings.poll_interval_s):
            now = self.clock.now()
            try:
                if now - last_renew >= self.settings.lease_ttl_s / 3:
                    if self.settings.leases:
                        held = set(self.store.renew_leases(self.owner, self.settings.lease_ttl_s, now))
                    else:
                        held = set(self._states)
                    self.store.renew_reservations(sorted(held), self._reservation_ttl, now)
                    last_renew = now
                    for eid in list(self._states):
                        if eid not in held:
                            self._forget(eid)
                resync = now - last_resync >= self.settings.resync_interval_s
                if resync:
                    last_resync = now
                self._beat()
                for eid in self.store.unfinished_executions():
                    if not self.owns(eid):
                        continue
                    if resync:
                        with self._lock:
                            self._full_sync.add(eid)
                    elif self._unwatch is not None and eid in self._states:
                        continue  # notifications report changes to executions we hold; resync covers lost ones
                    self.queue.add(eid)
            except SetpointError as e:
                log.warning("maintenance: %s", e)

    # -- the round ------------------------------------------------------------------------------
    def _work(self) -> None:
        while not self._stop.is_set():
            eid = self.queue.get(timeout=0.5)
            if eid is None:
                continue
            try:
                self.reconcile_once(eid)
                self._illegal.pop(eid, None)
            except ConflictError:
                self._forget(eid)
                self.queue.add_after(eid, 0.01)
            except IllegalTransitionError as e:
                self._give_up_if_stuck(eid, e)
            except SetpointError as e:
                log.warning("execution %s: %s; retrying", eid, e)
                self._forget(eid)
                self.queue.add_after(eid, 1.0)
            except Exception:
                log.exception("execution %s: unexpected error in a reconcile round; retrying", eid)
                self._forget(eid)
                self.queue.add_after(eid, 1.0)
            finally:
                self.queue.done(eid)

    def _give_up_if_stuck(self, eid: str, error: Exception) -> None:
        """A round that keeps deciding an illegal transition is a bug; do not retry it forever.

        After a few tries the execution is aborted with the reason (a user-visible, terminal end
        instead of an execution left RUNNING), and the abort path reconciles what is in flight.
        """
        self._forget(eid)
        tries = self._illegal.get(eid, 0) + 1
        self._illegal[eid] = tries
        if tries < MAX_ILLEGAL_ROUNDS:
            log.warning("execution %s: %s; retrying", eid, error)
            self.queue.add_after(eid, 1.0)
            return
        log.error("execution %s: %s; %d rounds in a row, aborting it", eid, error, tries)
        with contextlib.suppress(SetpointError):
            self.store.request_abort(eid, f"internal error, please report it: {error}", self.clock.now())
        self._illegal.pop(eid, None)
        self.queue.add_after(eid, 0.01)

    def _forget(self, eid: str) -> None:
        self._states.pop(eid, None)

    def _load(self, eid: str) -> ExecutionState | None:
        if not self.owns(eid):
            return None
        now = self.clock.now()
        try:
            rec: ExecutionRecord | None
            if not self.settings.leases:  # testing / escape hatch: no lease, the row versions alone fence
                rec = self.store.get_execution(eid)
            else:
                rec = self.store.acquire_lease(eid, self.owner, self.settings.lease_ttl_s, now)
            if rec is None:
                holder = self.store.get_execution(eid).lease_owner
                if holder and owner_is_dead(holder):
                    log.info("execution %s: the controller holding its lease (%s) is gone; taking over", eid, holder)
                    self.store.release_lease(eid, holder)
                    rec = self.store.acquire_lease(eid, self.owner, self.settings.lease_ttl_s, now)
        except NotFoundError:
            return None
        if rec is None or rec.phase.is_terminal:
            return None
        spec = self._spec(rec.spec_digest)
        nodes = self.store.load_nodes(eid)
        expansions = {
            n.node_id: self._spec(expanded) for n in nodes if (expanded := n.typed_detail.expanded) is not None
        }
        signals = self.store.signals(eid)  # one indexed read; gates may also live in expanded children
        state = ExecutionState.build(spec, rec, nodes, self.store.load_attempts(eid), expansions, signals)
        self._states[eid] = state
        with self._lock:
            self._full_sync.add(eid)
        return state

    def _spec(self, digest: str) -> WorkflowSpec:
        spec = self._specs.get(digest)
        if spec is None:
            spec = WorkflowSpec.from_json(json.loads(self.store.get_spec(digest)))
            self._specs[digest] = spec
        return spec

    def reconcile_once(self, eid: str) -> Decision | None:
        """One round for one execution. Returns the decision, or None if not ours to reconcile."""
        state = self._states.get(eid)
        if state is not None:
            current = self.store.get_execution(eid)
            lost = self.settings.leases and current.lease_owner != self.owner
            if current.version != state.execution.version or lost:
                self._forget(eid)
                state = None
        if state is None:
            state = self._load(eid)
            if state is None:
                return None
        self._crash.hit("round.loaded")
        with self._lock:
            dirty = self._dirty.pop(eid, set())
            full = eid in self._full_sync
            self._full_sync.discard(eid)
        aids = list(state.live_attempts) if full else [a for a in dirty if a in state.live_attempts]
        observations = {aid: self._observe(state, aid) for aid in aids}
        children = child_executions(self.store, state)
        now = self.clock.now()
        decision = reconcile(state, observations, now, self.settings.reconcile, child_executions=children)
        answers: dict[str, CatalogAnswer] = {}
        expanded: dict[str, tuple[str, WorkflowSpec] | str] = {}
        for _ in range(3):  # each pass answers what the previous one asked; the core is pure
            if not (decision.lookups or decision.expand_requests):
                break
            if decision.lookups:
                project = state.execution.project
                answers.update(consult(self.store, self.blobs, project, decision.lookups, self._reservation_ttl, now))
            for req in decision.expand_requests:
                expanded[req.node_id] = self._expand(state, req)
            decision = reconcile(state, observations, now, self.settings.reconcile, answers, expanded, children)
        self.rounds += 1
        if decision.writes:
            self._check_legal(state, decision)
            self._crash.hit("round.decided")
            base = decision.execution or state.execution
            write = RoundWrite(
                execution=base.evolve(version=state.execution.version, updated_at=now),
                nodes=decision.nodes,
                attempts=decision.attempts,
                events=decision.events,
                catalog_puts=decision.catalog_puts,
                releases=decision.releases,
                lineage=decision.lineage,
            )
            stored = self.store.commit_round(write, owner=self._lease_owner)
            state.apply(decision)
            state.execution = stored
            self._crash.hit("round.committed")
        for action in decision.actions:
            if isinstance(action, StartChild):
                if self._scope is not None:
                    with self._lock:
                        self._scope.add(action.child_id)
                start_child(self.store, self.clock, state, action)
                self.queue.add(action.child_id)
                continue
            if isinstance(action, AbortChild):
                self.store.request_abort(action.child_id, f"the parent execution stopped: {action.reason}", now)
                self.queue.add(action.child_id)
                continue
            executor = self._executor(action.executor)
            if isinstance(action, Launch):
                executor.launch(self._launch_request(state, action))
                self._crash.hit("round.launched")
            elif isinstance(action, Abort):
                executor.abort(action.attempt_id)
                self._crash.hit("round.aborted")
        if state.execution.phase.is_terminal:
            if state.execution.mode == ExecutionMode.CHILD and state.execution.source_id:
                self.queue.add(state.execution.source_id)  # the parent is waiting on this one
            self._forget(eid)
            try:
                if self.settings.leases:
                    self.store.release_lease(eid, self.owner)
            finally:
                with self._finished:
                    self._finished.notify_all()
        elif decision.requeue_after is not None:
            self.queue.add_after(eid, decision.requeue_after)
        return decision

    def _expand(self, state: ExecutionState, req: ExpandRequest) -> tuple[str, WorkflowSpec] | str:
        """Build and store a map or dynamic node's child spec. Errors come back as text."""
        child = child_spec(state, req, self.blobs, self.settings)
        if isinstance(child, str):
            return child
        self.store.put_spec(child.digest, canonical_json(child.to_json()))
        self._specs[child.digest] = child
        return child.digest, child

    @property
    def _reservation_ttl(self) -> float:
        return 3 * self.settings.lease_ttl_s

    def _observe(self, state: ExecutionState, aid: str) -> AttemptObservation:
        att = state.live_attempts[aid]
        return self._executor(att.executor).observe(aid)

    def _executor(self, name: str) -> Executor:
        ex = self.executors.get(name)
        if ex is None:
            raise SetpointError(f"no executor named '{name}' is configured (have: {', '.join(self.executors)})")
        return ex

    def _launch_request(self, state: ExecutionState, action: Launch) -> LaunchRequest:
        task: TaskSpec = state.graph.tasks[action.task]
        key = (state.spec.digest, action.task)
        task_json = self._task_json.get(key)
        if task_json is None:
            task_json = self._task_json[key] = task.to_json()
        bundle_dir = self.bundles.path(state.execution.code_digest)
        payload = {
            "task": task_json,
            "inputs": action.inputs,
            "blob_root": self.settings.blob_location,  # a path or URL: the worker opens the same store
            "offload_threshold": self.settings.offload_threshold,
            "allow_pickle": task.unsafe_pickle,
            "code_digest": state.execution.code_digest,  # workers on other machines fetch the bundle by it
            "project": state.execution.project,  # current_context().execution_id names it
            "secrets_dir": str(self.settings.secrets_root),  # the deployment's secrets folder, not a guess
        }
        return LaunchRequest(
            attempt_id=action.attempt_id,
            entrypoint=RUNTIME_ENTRYPOINT,
            payload=payload,
            sys_path=(str(bundle_dir),),
            # the runtime and the task's module are imported once by the warm worker, not per attempt
            preload=(RUNTIME_ENTRYPOINT.split(":", 1)[0], task.module, *self._blob_preload),
        )

    @staticmethod
    def _check_legal(state: ExecutionState, decision: Decision) -> None:
        """A safety net under the core: never persist a transition the phase tables forbid."""
        if decision.execution is not None and not legal(
            EXECUTION_TRANSITIONS,  # type: ignore[arg-type]
            state.execution.phase,
            decision.execution.phase,
        ):
            raise IllegalTransitionError(
                f"illegal execution transition {state.execution.phase.value} -> {decision.execution.phase.value}"
            )
        for rec in decision.nodes:
            old = state.phase(rec.node_id)
            if not legal(NODE_TRANSITIONS, old, rec.phase):  # type: ignore[arg-type]
                raise IllegalTransitionError(f"illegal node transition {rec.node_id}: {old.value} -> {rec.phase.value}")
        for att in decision.attempts:
            prev = state.live_attempts.get(att.id)
            if prev is not None and not legal(ATTEMPT_TRANSITIONS, prev.phase, att.phase):  # type: ignore[arg-type]
                raise IllegalTransitionError(
                    f"illegal attempt transition {att.id}: {prev.phase.value} -> {att.phase.value}"
                )

    # -- running until there is nothing left --------------------------------------------------
    def run_until_idle(self, timeout: float | None = None, poll: float = 0.1) -> bool:
        """Return True once no execution in the store is unfinished (False on timeout)."""
        deadline = None if timeout is None else self.clock.now() + timeout
        while True:
            unfinished = [eid for eid in self.store.unfinished_executions() if self.owns(eid)]
            if not unfinished:
                return True
            for eid in unfinished:
                if eid not in self._states:
                    self.queue.add(eid)
            if deadline is not None and self.clock.now() >= deadline:
                return False
            with self._finished:
                self._finished.wait(poll)
