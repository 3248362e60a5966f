"""The reconciler: compare an execution's declared DAG with what is recorded and observed, and decide.

`reconcile` is a pure function. It never asks *why* it was called (which event arrived); it looks
at the whole current state — the pinned spec, the recorded node and attempt rows, what executors
report about live attempts, and the time — and returns a `Decision`: the rows to persist (intent
first), the idempotent actions to take after persisting, and when to look again. Calling it twice
on the same state gives the same decision, so lost, duplicated or late events change nothing.

Cost: a round touches the nodes in flight, the nodes that became ready, and the attempts that
were observed; it never walks the whole DAG (see `ExecutionState`).
"""

from __future__ import annotations

import hashlib
import math
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from setpoint.core.cachekey import cache_key
from setpoint.core.model import (
    AttemptObservation,
    AttemptRecord,
    CacheStatus,
    CatalogAnswer,
    CatalogEntry,
    ErrorInfo,
    Event,
    ExecutionRecord,
    LineageRow,
    NodeRecord,
    Observed,
    attempt_id,
)
from setpoint.core.phases import AttemptPhase, ErrorKind, ExecutionPhase, NodePhase, is_active
from setpoint.core.state import (
    Abort,
    AbortChild,
    Action,
    CacheLookup,
    Decision,
    ExecutionState,
    ExpandRequest,
    Launch,
    StartChild,
    counts_as_success,
)
from setpoint.spec.branch import OTHERWISE_FAIL, choose, describe
from setpoint.spec.canonical import literal_hash
from setpoint.spec.workflow import ON_FAILURE_NODE, Binding, FailurePolicy, NodeSpec, TaskSpec, WorkflowSpec

ABORT_RECHECK_S = 0.5  # how soon to look again at attempts being killed


@dataclass(frozen=True, slots=True)
class ReconcileConfig:
    default_max_parallelism: int = 256
    max_system_retries: int = 3
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0
    cache_wait_s: float = 1.0  # how often a node waiting on another's cache reservation looks again


def backoff_delay(failures: int, aid: str, cfg: ReconcileConfig) -> float:
    """Exponential backoff with deterministic jitter in [50%, 100%] derived from the attempt id."""
    if cfg.backoff_base_s <= 0:
        return 0.0
    raw = min(cfg.backoff_max_s, cfg.backoff_base_s * float(2 ** max(0, failures - 1)))
    jitter = (zlib.crc32(aid.encode()) % 1000) / 1000.0
    return raw * (0.5 + 0.5 * jitter)


def resolve_binding(b: Binding, state: ExecutionState, view: _Round) -> Any:
    if b.is_literal:
        return b.literal
    if b.input is not None:
        return state.execution.inputs[b.input]
    if b.node is not None:
        outputs = view.node(b.node).outputs or {}
        return outputs[b.output or ""]
    if b.items is not None:
        return [resolve_binding(x, state, view) for x in b.items]
    if b.entries is not None:
        return {k: resolve_binding(x, state, view) for k, x in b.entries}
    if b.select is not None:
        chosen = (view.node(b.select[0]).outputs or {})["case"]
        case = b.select[1][chosen]
        if case is None:
            raise ValueError(f"branch '{b.select[0]}' took case {chosen}, which produces no value")
        return resolve_binding(case, state, view)
    raise ValueError("empty binding")


class _Round:
    """The records this round changes, layered over the state (which it never mutates)."""

    def __init__(
        self,
        state: ExecutionState,
        now: float,
        catalog: Mapping[str, CatalogAnswer],
        expanded: Mapping[str, tuple[str, WorkflowSpec] | str],
    ) -> None:
        self.state = state
        self.now = now
        self.catalog = catalog
        self.expanded = expanded
        self.expansions: list[tuple[str, WorkflowSpec]] = []
        self.expand_requests: list[ExpandRequest] = []
        self.pending_parents: dict[str, None] = {}  # expanded parents whose children changed this round
        self.child_ok_delta: dict[str, int] = {}
        self.child_failed_delta: dict[str, int] = {}
        self.active_children_delta: dict[str, int] = {}
        self.child_executions: Mapping[str, ExecutionRecord] = {}
        self.catalog_puts: list[CatalogEntry] = []
        self.releases: list[tuple[str, str, str]] = []
        self.lineage: list[LineageRow] = []
        self.lookups: dict[str, CacheLookup] = {}
        self.execution = state.execution
        self.nodes: dict[str, NodeRecord] = {}
        self.attempts: dict[str, AttemptRecord] = {}
        self.events: list[Event] = []
        self.actions: list[Action] = []
        self.requeue: float | None = None
        self.newly_ready: dict[str, None] = {}
        self.ready_list: list[str] = []  # newly_ready in order, append-only: walked by index
        self.finished_upstreams: dict[str, int] = {}
        self.terminal_delta = 0
        self.success_delta = 0
        self.active_delta = 0
        self.live_attempts_delta = 0

    # -- reads through the overlay --------------------------------------------------------
    def node(self, node_id: str) -> NodeRecord:
        rec = self.nodes.get(node_id)
        return rec if rec is not None else self.state.node(node_id)

    def attempt(self, aid: str) -> AttemptRecord | None:
        rec = self.attempts.get(aid)
        return rec if rec is not None else self.state.live_attempts.get(aid)

    @staticmethod
    def child_count(base: Mapping[str, int], delta: Mapping[str, int], parent: str) -> int:
        return base.get(parent, 0) + delta.get(parent, 0)

    def active_children(self, parent: str) -> int:
        return self.child_count(self.state.active_children, self.active_children_delta, parent)

    @property
    def live_attempt_count(self) -> int:
        return len(self.state.live_attempts) + self.live_attempts_delta

    @property
    def active_count(self) -> int:
        return len(self.state.active) + self.active_delta

    @property
    def all_terminal(self) -> bool:
        return self.state.terminal + self.terminal_delta == self.state.total

    @property
    def all_succeeded(self) -> bool:
        return self.state.succeeded + self.success_delta == self.state.total

    # -- writes -------------------------------------------------------------------------------
    def wake_in(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        if self.requeue is None or seconds < self.requeue:
            self.requeue = seconds

    def set_execution(self, rec: ExecutionRecord, message: str = "") -> None:
        if rec.phase is not self.execution.phase:
            self.events.append(Event(rec.id, self.now, "execution", rec.phase.value, message=message))
        self.execution = rec.evolve(updated_at=self.now)

    def set_node(self, rec: NodeRecord, message: str = "") -> None:
        old = self.node(rec.node_id)
        self.nodes[rec.node_id] = rec
        if old.phase is rec.phase:
            return
        self.events.append(
            Event(rec.execution_id, self.now, "node", rec.phase.value, rec.node_id, rec.attempt or None, message)
        )
        self.active_delta += is_active(rec.phase) - is_active(old.phase)
        parent = self.state.graph.parent_of.get(rec.node_id)
        if parent is not None:
            change = is_active(rec.phase) - is_active(old.phase)
            if change:
                self.active_children_delta[parent] = self.active_children_delta.get(parent, 0) + change
        if rec.phase.is_terminal and not old.phase.is_terminal and rec.node_id not in self.state.graph.hidden:
            if parent is None:
                self.terminal_delta += 1
                self.success_delta += counts_as_success(rec)
            else:
                bucket = self.child_ok_delta if counts_as_success(rec) else self.child_failed_delta
                bucket[parent] = bucket.get(parent, 0) + 1
                self.pending_parents[parent] = None
            for d in self.state.graph.downstream.get(rec.node_id, ()):
                left = self.state.remaining.get(d)
                if left is None:
                    continue
                done = self.finished_upstreams.get(d, 0) + 1
                self.finished_upstreams[d] = done
                if left - done == 0:
                    self.newly_ready[d] = None
                    self.ready_list.append(d)

    def set_attempt(self, rec: AttemptRecord, message: str = "") -> None:
        old = self.attempt(rec.id)
        self.attempts[rec.id] = rec
        was_live = old is not None and not old.phase.is_terminal
        self.live_attempts_delta += (not rec.phase.is_terminal) - was_live
        if old is None or old.phase is not rec.phase:
            self.events.append(
                Event(rec.execution_id, self.now, "attempt", rec.phase.value, rec.node_id, rec.number, message)
            )

    def decision(self) -> Decision:
        changed_execution = self.execution if self.execution is not self.state.execution else None
        return Decision(
            execution=changed_execution,
            nodes=tuple(self.nodes.values()),
            attempts=tuple(self.attempts.values()),
            events=tuple(self.events),
            actions=_unique(self.actions),
            requeue_after=self.requeue,
            catalog_puts=tuple(self.catalog_puts),
            releases=tuple(self.releases),
            lineage=tuple(self.lineage),
            lookups=tuple(self.lookups.values()),
            expansions=tuple(self.expansions),
            expand_requests=tuple(self.expand_requests),
        )


def _unique(actions: list[Action]) -> tuple[Action, ...]:
    """The same action on the same attempt twice in one round is done once."""
    seen: set[tuple[type, str]] = set()
    out = []
    for a in actions:
        key = (type(a), a.child_id if isinstance(a, StartChild | AbortChild) else a.attempt_id)
        if key not in seen:
            seen.add(key)
            out.append(a)
    return tuple(out)


def reconcile(
    state: ExecutionState,
    observations: Mapping[str, AttemptObservation],
    now: float,
    cfg: ReconcileConfig = ReconcileConfig(),
    catalog: Mapping[str, CatalogAnswer] | None = None,
    expanded: Mapping[str, tuple[str, WorkflowSpec] | str] | None = None,
    child_executions: Mapping[str, ExecutionRecord] | None = None,
) -> Decision:
    """Decide the next step for one execution. Pure: no I/O, no clock, no randomness.

    ``catalog`` holds the answers the shell fetched for cache keys this round asked about; a
    decision with ``lookups`` says which answers are still missing (fetch them, call again).
    """
    ex = state.execution
    if ex.phase.is_terminal:
        return Decision()
    r = _Round(state, now, catalog or {}, expanded or {})
    r.child_executions = child_executions or {}
    if ex.phase is ExecutionPhase.QUEUED:
        r.set_execution(ex.evolve(phase=ExecutionPhase.RUNNING, started_at=now))

    _observe(r, observations, cfg)
    _check_execution_deadline(r)
    _check_deadlines(r)
    stopping = r.execution.abort_reason is not None or (
        r.execution.error is not None
        and (state.spec.failure_policy == FailurePolicy.FAIL_FAST or r.execution.error.code == "DeadlineExceeded")
    )
    if stopping:
        _stop(r)
    else:
        _start_retries(r, cfg)
        _check_gates(r, cfg)
        _check_children(r)
        _start_ready(r, cfg)
        _settle_parents(r, cfg)
        if r.execution.error is not None and state.spec.failure_policy == FailurePolicy.FAIL_FAST:
            _stop(r)
    _finish(r)
    return r.decision()


# ---------------------------------------------------------------------------------------------
# Steps
# ---------------------------------------------------------------------------------------------


def _observe(r: _Round, observations: Mapping[str, AttemptObservation], cfg: ReconcileConfig) -> None:
    for aid, obs in observations.items():
        att = r.attempt(aid)
        if att is None or att.phase.is_terminal:
            continue  # late or duplicated news about an attempt already settled
        node = r.node(att.node_id)
        if node.attempt != att.number:
            continue
        if obs.status == Observed.PENDING:
            continue
        if obs.status == Observed.UNKNOWN:
            if att.phase is AttemptPhase.LAUNCHING:
                _relaunch(r, node, att)
            elif att.phase is AttemptPhase.ABORTING:
                r.set_attempt(att.evolve(phase=AttemptPhase.ABORTED, finished_at=r.now))
            else:
                lost = ErrorInfo(ErrorKind.SYSTEM, "ProcessLost", "the executor has no record of this attempt")
                _attempt_failed(r, node, att, lost, cfg)
        elif obs.status == Observed.RUNNING:
            if att.phase is AttemptPhase.LAUNCHING:
                started = obs.started_at or r.now
                r.set_attempt(att.evolve(phase=AttemptPhase.RUNNING, started_at=started))
                if node.phase is NodePhase.QUEUED:
                    r.set_node(node.evolve(phase=NodePhase.RUNNING))
            elif att.phase is AttemptPhase.ABORTING:
                r.actions.append(Abort(aid, att.abort_reason or "abort", att.executor))
                r.wake_in(ABORT_RECHECK_S)
        elif obs.status == Observed.SUCCEEDED:
            if att.phase is AttemptPhase.ABORTING and att.abort_reason != "timeout":
                r.set_attempt(att.evolve(phase=AttemptPhase.ABORTED, finished_at=obs.finished_at or r.now))
                continue
            finished = obs.finished_at or r.now
            began = obs.started_at or att.started_at  # the executor's own record of the start wins
            r.set_attempt(
                att.evolve(
                    phase=AttemptPhase.SUCCEEDED,
                    started_at=min(began, finished) if began is not None else None,
                    finished_at=finished,
                )
            )
            if is_active(node.phase):
                outputs = dict(obs.outputs or {})
                if "$dynamic" in outputs:
                    _expand_dynamic(r, node, outputs["$dynamic"])
                else:
                    _node_succeeded(r, node, att, outputs)
        else:  # FAILED
            error = obs.error or ErrorInfo(ErrorKind.SYSTEM, "Unknown", "the attempt failed")
            if att.phase is AttemptPhase.ABORTING:
                if att.abort_reason == "timeout":
                    timeout = r.state.graph.tasks[r.state.graph.node_map[att.node_id].task].timeout_s
                    error = ErrorInfo(
                        ErrorKind.USER, "Timeout", f"the attempt ran longer than its timeout of {timeout:g}s"
                    )
                else:
                    r.set_attempt(att.evolve(phase=AttemptPhase.ABORTED, finished_at=obs.finished_at or r.now))
                    continue
            _attempt_failed(r, node, att, error, cfg)


def _task_of(r: _Round, node_id: str) -> TaskSpec:
    return r.state.graph.tasks[r.state.graph.node_map[node_id].task]


def _node_succeeded(r: _Round, node: NodeRecord, att: AttemptRecord, outputs: dict[str, Any]) -> None:
    detail = dict(node.detail or {})
    status = node.cache_status
    cache = detail.get("cache")
    if cache is not None and status in (CacheStatus.MISS, CacheStatus.SKIPPED):
        r.catalog_puts.append(
            CatalogEntry(
                project=r.execution.project,
                task=_task_of(r, node.node_id).name,
                key=cache["key"],
                components=cache["components"],
                outputs=outputs,
                source_execution=r.execution.id,
                source_node=node.node_id,
                source_attempt=att.number,
                created_at=r.now,
            )
        )
        status = CacheStatus.PUT
        _release(r, node)
    detail["provenance"] = {
        "execution": r.execution.id,
        "node": node.node_id,
        "attempt": att.number,
        "code_digest": r.execution.code_digest,
        "inputs": {k: literal_hash(v) for k, v in (node.inputs or {}).items()},
    }
    _lineage_out(r, node.node_id, outputs)
    r.set_node(
        node.evolve(
            phase=NodePhase.SUCCEEDED,
            outputs=outputs,
            finished_at=r.now,
            error=None,
            cache_status=status,
            detail=detail,
        )
    )


def _release(r: _Round, node: NodeRecord) -> None:
    cache = (node.detail or {}).get("cache")
    if cache is not None and cache.get("serialize"):
        r.releases.append((r.execution.project, cache["key"], f"{r.execution.id}/{node.node_id}"))


def _lineage_in(r: _Round, node_id: str, inputs: Mapping[str, Any]) -> None:
    for name, value in inputs.items():
        r.lineage.append(LineageRow(r.execution.id, node_id, "in", name, literal_hash(value)))


def _lineage_out(r: _Round, node_id: str, outputs: Mapping[str, Any]) -> None:
    for name, value in outputs.items():
        r.lineage.append(LineageRow(r.execution.id, node_id, "out", name, literal_hash(value)))


def _relaunch(r: _Round, node: NodeRecord, att: AttemptRecord) -> None:
    """The attempt was recorded but the executor never saw it: launch it (same id, idempotent)."""
    spec_node = r.state.graph.node_map[node.node_id]
    r.actions.append(Launch(att.id, node.node_id, spec_node.task, dict(node.inputs or {}), att.executor))


def _attempt_failed(r: _Round, node: NodeRecord, att: AttemptRecord, error: ErrorInfo, cfg: ReconcileConfig) -> None:
    r.set_attempt(att.evolve(phase=AttemptPhase.FAILED, finished_at=r.now, error=error), error.code)
    if not is_active(node.phase):
        return
    user = node.user_failures + (error.kind is ErrorKind.USER)
    system = node.system_failures + (error.kind is ErrorKind.SYSTEM)
    task = r.state.graph.tasks[r.state.graph.node_map[node.node_id].task]
    if error.kind is ErrorKind.USER:
        can_retry = error.retryable and user <= task.retries
    else:
        can_retry = error.retryable and system <= cfg.max_system_retries
    if can_retry:
        delay = backoff_delay(user + system, att.id, cfg)
        r.set_node(
            node.evolve(
                phase=NodePhase.RETRYING,
                user_failures=user,
                system_failures=system,
                error=error,
                retry_at=r.now + delay,
            ),
            f"{error.code}: retrying in {delay:.2f}s",
        )
        r.wake_in(delay)
        return
    if error.kind is ErrorKind.USER and error.retryable and task.retries:
        budget = f" (retries exhausted: {task.retries})"
    elif error.kind is ErrorKind.SYSTEM and error.retryable:
        budget = f" (system retries exhausted: {cfg.max_system_retries})"
    else:
        budget = ""
    final = ErrorInfo(error.kind, error.code, error.message + budget, False, node.node_id)
    _release(r, node)
    _node_failed(r, node.evolve(user_failures=user, system_failures=system), final)


def _check_execution_deadline(r: _Round) -> None:
    deadline = r.state.spec.deadline_s
    ex = r.execution
    if deadline is None or ex.started_at is None or ex.error is not None or ex.abort_reason is not None:
        return
    due = ex.started_at + deadline
    if r.now >= due:
        error = ErrorInfo(
            ErrorKind.USER,
            "DeadlineExceeded",
            f"the execution did not finish within its deadline of {deadline:g}s",
            False,
        )
        r.set_execution(ex.evolve(error=error), error.message)
    else:
        r.wake_in(due - r.now)


def _node_deadline_passed(r: _Round, node: NodeRecord) -> bool:
    """A node's total deadline (all attempts and backoffs together) has passed: fail it for good."""
    task = _task_of(r, node.node_id)
    if task.deadline_s is None or node.started_at is None or not is_active(node.phase):
        return False
    due = node.started_at + task.deadline_s
    if r.now < due:
        r.wake_in(due - r.now)
        return False
    for aid in (node.attempt_id,):
        att = r.attempt(aid)
        if att is not None and att.phase in (AttemptPhase.LAUNCHING, AttemptPhase.RUNNING):
            r.set_attempt(att.evolve(phase=AttemptPhase.ABORTING, abort_reason="deadline"), "deadline")
            r.actions.append(Abort(aid, "deadline", att.executor))
            r.wake_in(ABORT_RECHECK_S)
    message = f"the node did not finish within its deadline of {task.deadline_s:g}s (attempts: {node.attempt})"
    _node_failed(r, node, ErrorInfo(ErrorKind.USER, "Deadline", message, False, node.node_id))
    return True


def _check_deadlines(r: _Round) -> None:
    """Per-attempt timeouts and per-node deadlines: kill what is past due; otherwise wake when it is due."""
    graph = r.state.graph
    for aid in list(r.state.timed):
        att = r.attempt(aid)
        if att is None or att.phase.is_terminal or att.phase is AttemptPhase.ABORTING:
            continue
        if _node_deadline_passed(r, r.node(att.node_id)):
            continue
        if att.phase is not AttemptPhase.RUNNING or att.started_at is None:
            continue
        timeout = graph.tasks[graph.node_map[att.node_id].task].timeout_s
        if timeout is None:
            continue
        due = att.started_at + timeout
        if r.now >= due:
            r.set_attempt(att.evolve(phase=AttemptPhase.ABORTING, abort_reason="timeout"), "timeout")
            r.actions.append(Abort(aid, "timeout", att.executor))
            r.wake_in(ABORT_RECHECK_S)
        else:
            r.wake_in(due - r.now)


def _start_retries(r: _Round, cfg: ReconcileConfig) -> None:
    for node_id in list(r.state.retrying):
        node = r.node(node_id)
        if node.phase is not NodePhase.RETRYING:
            continue
        if _node_deadline_passed(r, node):
            continue
        if node.retry_at is not None and node.retry_at > r.now:
            r.wake_in(node.retry_at - r.now)
            continue
        _new_attempt(r, node, node.inputs or {})
    # nodes that started retrying in this very round
    for node_id, node in list(r.nodes.items()):
        if (
            node.phase is NodePhase.RETRYING
            and node_id not in r.state.retrying
            and node.retry_at is not None
            and node.retry_at <= r.now
        ):
            _new_attempt(r, node, node.inputs or {})


def _new_attempt(r: _Round, node: NodeRecord, inputs: Mapping[str, Any], **changes: Any) -> None:
    spec_node = r.state.graph.node_map[node.node_id]
    task = r.state.graph.tasks[spec_node.task]
    number = node.attempt + 1
    executor = task.executor or r.execution.config.executor
    att = AttemptRecord(r.execution.id, node.node_id, number, AttemptPhase.LAUNCHING, executor, r.now)
    r.set_attempt(att)
    if number == 1:
        _lineage_in(r, node.node_id, inputs)
    r.set_node(
        node.evolve(
            phase=NodePhase.QUEUED,
            attempt=number,
            inputs=dict(inputs),
            started_at=node.started_at or r.now,
            retry_at=None,
            **changes,
        )
    )
    r.actions.append(Launch(att.id, node.node_id, spec_node.task, dict(inputs), executor))


def _start_ready(r: _Round, cfg: ReconcileConfig) -> None:
    spec = r.state.spec
    graph = r.state.graph
    limit = r.execution.config.max_parallelism or spec.max_parallelism or cfg.default_max_parallelism
    # Ready nodes stay in `state.ready` until they start, so the front of it is always fresh;
    # iterate it lazily (it can hold a whole 10,000-element map) and stop at the capacity limit.
    # Nodes made ready during this round are appended to r.ready_list and walked by index, so a
    # cascade (a failure skipping thousands of dependents) stays linear.
    ready_iter = iter(r.state.ready)  # the overlay never mutates the state, so this is safe
    i = 0
    while True:
        node_id = next(ready_iter, None)
        if node_id is None:
            if i >= len(r.ready_list):
                break
            node_id = r.ready_list[i]
            i += 1
        node = r.node(node_id)
        if node.phase is not NodePhase.PENDING:
            continue
        spec_node = graph.node_map[node_id]
        if spec_node.case_of is not None and _not_taken(r, spec_node.case_of):
            branch_id, case = spec_node.case_of
            r.set_node(
                node.evolve(phase=NodePhase.SKIPPED, finished_at=r.now, detail={"not_taken": True}),
                f"branch '{branch_id}' did not take case {case}",
            )
            continue
        ups = graph.upstream[node_id]
        if any(not counts_as_success(r.node(u)) for u in ups):
            r.set_node(node.evolve(phase=NodePhase.SKIPPED, finished_at=r.now), "an upstream node did not succeed")
            continue
        if spec_node.kind == "branch":
            _decide(r, node, spec_node)
            continue
        if spec_node.kind == "gate":  # waiting costs nothing: gates do not take parallelism slots
            _start_gate(r, node, spec_node)
            continue
        if spec_node.kind == "launchplan":  # a separate execution: it has its own parallelism
            _start_child(r, node, spec_node)
            continue
        if r.active_count >= limit:
            break
        parent = graph.parent_of.get(node_id)
        if parent is not None and _parent_saturated(r, parent):
            continue
        inputs = _node_inputs(r, spec_node)
        if spec_node.kind == "map":
            _expand_map(r, node, spec_node, inputs)
            continue
        task = graph.tasks[spec_node.task]
        if not task.cache.enabled:
            _new_attempt(r, node, inputs)
            continue
        _start_cached(r, node, task, inputs, cfg)


def _settle_parents(r: _Round, cfg: ReconcileConfig) -> None:
    """Expanded parents whose children changed this round (and parents of parents, as they settle)."""
    for parent in r.state.graph.children:
        if r.state.open_children.get(parent, 0) == 0 and is_active(r.node(parent).phase):
            r.pending_parents[parent] = None  # every child was settled before this round (recovered)
    seen: set[str] = set()
    while r.pending_parents:
        parent = next(iter(r.pending_parents))
        del r.pending_parents[parent]
        if parent in seen:
            continue
        seen.add(parent)
        was_active = is_active(r.node(parent).phase)
        _check_parent(r, parent)
        if was_active and not is_active(r.node(parent).phase) and r.newly_ready:
            _start_ready(r, cfg)  # what the parent's completion made ready starts in this round


def _parent_saturated(r: _Round, parent: str) -> bool:
    """A map's ``concurrency`` caps how many of its elements are in flight at once."""
    spec_parent = r.state.graph.node_map[parent]
    limit = int((spec_parent.config or {}).get("concurrency") or 0)
    return limit > 0 and r.active_children(parent) >= limit


def _expand_map(r: _Round, node: NodeRecord, spec_node: NodeSpec, inputs: dict[str, Any]) -> None:
    """A ready map node grows one child per element (built and stored by the shell)."""
    answer = r.expanded.get(spec_node.id)
    if answer is None:
        over = tuple((spec_node.config or {}).get("over", ()))
        r.expand_requests.append(ExpandRequest(spec_node.id, spec_node.task, inputs, over))
        return
    if isinstance(answer, str):
        error = ErrorInfo(ErrorKind.USER, "BadMapInput", f"map node '{spec_node.id}': {answer}", False, spec_node.id)
        _node_failed(r, node.evolve(inputs=inputs), error)
        return
    digest, child = answer
    r.set_node(
        node.evolve(
            phase=NodePhase.RUNNING,
            inputs=inputs,
            started_at=r.now,
            detail={"expanded": digest, "size": len(child.nodes)},
        ),
        f"expanded into {len(child.nodes)} elements",
    )
    _lineage_in(r, spec_node.id, inputs)
    r.expansions.append((spec_node.id, child))
    r.wake_in(0.0)  # start the elements in the next round, once the graph holds them
    if not child.nodes:
        r.pending_parents[spec_node.id] = None


def _expand_dynamic(r: _Round, node: NodeRecord, spec_json: Any) -> None:
    """A dynamic task's attempt returned a sub-workflow: validate it (in the shell) and graft it."""
    answer = r.expanded.get(node.node_id)
    if answer is None:
        spec_node = r.state.graph.node_map[node.node_id]
        r.expand_requests.append(ExpandRequest(node.node_id, spec_node.task, dict(node.inputs or {}), (), spec_json))
        return
    if isinstance(answer, str):
        error = ErrorInfo(ErrorKind.USER, "BadDynamicWorkflow", answer, False, node.node_id)
        _node_failed(r, node, error)
        return
    digest, child = answer
    if not child.nodes:  # a base case: the body returned values, not nodes
        outputs = {name: resolve_binding(b, r.state, r) for name, b in child.outputs}
        att = r.attempt(node.attempt_id) or AttemptRecord(
            r.execution.id, node.node_id, node.attempt, AttemptPhase.SUCCEEDED, "", r.now
        )
        _node_succeeded(r, node, att, outputs)
        return
    detail = {**(node.detail or {}), "expanded": digest, "size": len(child.nodes)}
    r.set_node(node.evolve(phase=NodePhase.RUNNING, detail=detail), f"built a sub-workflow of {len(child.nodes)} nodes")
    r.expansions.append((node.node_id, child))
    r.wake_in(0.0)


def _check_parent(r: _Round, parent: str) -> None:
    """Finish (or fail) an expanded node once its children are settled."""
    rec = r.node(parent)
    if not is_active(rec.phase):
        return
    spec_parent = r.state.graph.node_map[parent]
    if spec_parent.kind != "map":
        _check_dynamic(r, parent, rec)
        return
    children = r.state.graph.children.get(parent, ())
    total = len(children) if parent in r.state.graph.children else int((rec.detail or {}).get("size", 0))
    ok = r.child_count(r.state.child_ok, r.child_ok_delta, parent)
    failed = r.child_count(r.state.child_failed, r.child_failed_delta, parent)
    ratio = float((spec_parent.config or {}).get("min_success_ratio", 1.0))
    need = math.ceil(ratio * total)
    if failed > total - need:
        error = ErrorInfo(
            ErrorKind.USER,
            "MapFailed",
            f"{failed} of {total} elements failed; at least {need} had to succeed",
            False,
            parent,
        )
        _node_failed(r, rec, error)
        return
    if ok + failed < total:
        return
    outputs: dict[str, Any] = {}
    names = list(r.state.graph.tasks[spec_parent.task].interface.output_map)
    for name in names:
        values = []
        for child in children:
            crec = r.node(child)
            values.append((crec.outputs or {}).get(name) if crec.phase.is_success else None)
        outputs[name] = values
    _lineage_out(r, parent, outputs)
    r.set_node(
        rec.evolve(phase=NodePhase.SUCCEEDED, outputs=outputs, finished_at=r.now),
        f"{ok} of {total} elements succeeded",
    )


def _check_dynamic(r: _Round, parent: str, rec: NodeRecord) -> None:
    children = r.state.graph.children.get(parent, ())
    failed = r.child_count(r.state.child_failed, r.child_failed_delta, parent)
    ok = r.child_count(r.state.child_ok, r.child_ok_delta, parent)
    if failed:
        culprit = next((c for c in children if r.node(c).phase is NodePhase.FAILED), None)
        cause = r.node(culprit).error if culprit else None
        message = f"node '{culprit}' of the sub-workflow failed" + (f": {cause.message}" if cause else "")
        code = cause.code if cause else "ChildFailed"
        _node_failed(r, rec, ErrorInfo(cause.kind if cause else ErrorKind.USER, code, message, False, parent))
        return
    if ok < len(children):
        return
    outputs = {name: resolve_binding(b, r.state, r) for name, b in r.state.graph.child_outputs.get(parent, ())}
    _lineage_out(r, parent, outputs)
    r.set_node(rec.evolve(phase=NodePhase.SUCCEEDED, outputs=outputs, finished_at=r.now), "sub-workflow done")


def _node_failed(r: _Round, node: NodeRecord, error: ErrorInfo) -> None:
    """A node failed for good: fail its parent's evaluation, or the execution (fail-fast)."""
    r.set_node(node.evolve(phase=NodePhase.FAILED, error=error, finished_at=r.now), error.message)
    if r.state.graph.parent_of.get(node.node_id) is None and r.execution.error is None:
        r.set_execution(r.execution.evolve(error=error))


def child_execution_id(execution_id: str, node_id: str) -> str:
    """A launch-plan node's child execution id: deterministic, so starting it twice is one start."""
    return "c" + hashlib.sha256(f"{execution_id}/{node_id}".encode()).hexdigest()[:11]


def _start_child(r: _Round, node: NodeRecord, spec_node: NodeSpec) -> None:
    config = spec_node.config or {}
    given = {name: resolve_binding(b, r.state, r) for name, b in spec_node.inputs}
    inputs = {**(config.get("defaults") or {}), **given, **(config.get("fixed") or {})}
    child_id = child_execution_id(r.execution.id, spec_node.id)
    r.set_node(
        node.evolve(phase=NodePhase.RUNNING, inputs=inputs, started_at=r.now, detail={"child": child_id}),
        f"started child execution {child_id} (launch plan '{config.get('launchplan')}')",
    )
    _lineage_in(r, spec_node.id, inputs)
    r.actions.append(StartChild(child_id, spec_node.id, inputs))


def _check_children(r: _Round) -> None:
    for node_id in list(r.state.launched):
        node = r.node(node_id)
        child_id = str((node.detail or {}).get("child"))
        child = r.child_executions.get(child_id)
        if node.phase is not NodePhase.RUNNING:
            continue
        if child is None:
            # not created yet (a crash between recording and starting it): start it again, idempotently
            r.actions.append(StartChild(child_id, node_id, dict(node.inputs or {})))
            continue
        if not child.phase.is_terminal:
            continue
        if child.phase is ExecutionPhase.SUCCEEDED:
            outputs = dict(child.outputs or {})
            _lineage_out(r, node_id, outputs)
            r.set_node(
                node.evolve(phase=NodePhase.SUCCEEDED, outputs=outputs, finished_at=r.now),
                f"child execution {child_id} succeeded",
            )
            continue
        cause = child.error.message if child.error else (child.abort_reason or child.phase.value.lower())
        error = ErrorInfo(
            ErrorKind.USER,
            "ChildFailed",
            f"child execution {child_id} {child.phase.value.lower()}: {cause}",
            False,
            node_id,
        )
        _node_failed(r, node, error)


def _start_gate(r: _Round, node: NodeRecord, spec_node: NodeSpec) -> None:
    config = spec_node.config or {}
    inputs = {name: resolve_binding(b, r.state, r) for name, b in spec_node.inputs}
    started = node.evolve(
        phase=NodePhase.RUNNING,
        inputs=inputs,
        started_at=r.now,
        detail={"gate": config.get("gate"), "signal": config.get("name")},
    )
    what = f"waiting for signal '{config['name']}'" if config.get("name") else f"sleeping {config.get('seconds')}s"
    r.set_node(started, what)
    _evaluate_gate(r, started, spec_node)


def _check_gates(r: _Round, cfg: ReconcileConfig) -> None:
    for node_id in list(r.state.gates):
        node = r.node(node_id)
        if node.phase is NodePhase.RUNNING:
            _evaluate_gate(r, node, r.state.graph.node_map[node_id])


def _evaluate_gate(r: _Round, node: NodeRecord, spec_node: NodeSpec) -> None:
    config = spec_node.config or {}
    started = node.started_at if node.started_at is not None else r.now
    gate = config.get("gate")
    if gate == "sleep":
        due = started + float(config.get("seconds", 0))
        if r.now >= due:
            r.set_node(node.evolve(phase=NodePhase.SUCCEEDED, outputs={}, finished_at=r.now), "slept")
        else:
            r.wake_in(due - r.now)
        return
    name = str(config.get("name"))
    if name in r.state.signals:
        value = r.state.signals[name]
        if gate == "approve":
            if value is True:
                outputs = {"o0": (node.inputs or {}).get("value")}
                r.set_node(node.evolve(phase=NodePhase.SUCCEEDED, outputs=outputs, finished_at=r.now), "approved")
            else:
                error = ErrorInfo(ErrorKind.USER, "Rejected", f"approval '{name}' was rejected", False, node.node_id)
                _node_failed(r, node, error)
            return
        r.set_node(node.evolve(phase=NodePhase.SUCCEEDED, outputs={"o0": value}, finished_at=r.now), "received")
        return
    timeout = config.get("timeout_s")
    if timeout is None:
        return  # a signal wakes the controller; no timer needed
    due = started + float(timeout)
    if r.now >= due:
        error = ErrorInfo(
            ErrorKind.USER, "GateTimeout", f"no signal '{name}' arrived within {float(timeout):g}s", False, node.node_id
        )
        _node_failed(r, node, error)
    else:
        r.wake_in(due - r.now)


def _not_taken(r: _Round, case_of: tuple[str, int]) -> bool:
    decided = r.node(case_of[0])
    if decided.phase is NodePhase.SKIPPED:
        return bool((decided.detail or {}).get("not_taken"))
    return decided.phase.is_success and (decided.outputs or {}).get("case") != case_of[1]


def _decide(r: _Round, node: NodeRecord, spec_node: NodeSpec) -> None:
    """Evaluate a branch's conditions on its operands and record the case it takes."""
    operands = {name: resolve_binding(b, r.state, r) for name, b in spec_node.inputs}
    config = spec_node.config or {}
    conditions = list(config.get("conditions", []))
    chosen = choose(conditions, operands)
    if chosen < 0 and config.get("otherwise") == OTHERWISE_FAIL:
        shown = "; ".join(describe(c) for c in conditions)
        message = config.get("message") or f"no case of branch '{spec_node.id}' matched ({shown})"
        error = ErrorInfo(ErrorKind.USER, "NoBranchMatched", str(message), False, spec_node.id)
        r.set_node(node.evolve(phase=NodePhase.FAILED, inputs=operands, error=error, finished_at=r.now), error.message)
        if r.execution.error is None:
            r.set_execution(r.execution.evolve(error=error))
        return
    taken = f"took case {chosen}: {describe(conditions[chosen])}" if chosen >= 0 else "no case matched"
    r.set_node(
        node.evolve(
            phase=NodePhase.SUCCEEDED,
            inputs=operands,
            outputs={"case": chosen},
            started_at=r.now,
            finished_at=r.now,
        ),
        taken,
    )


def _start_cached(r: _Round, node: NodeRecord, task: TaskSpec, inputs: dict[str, Any], cfg: ReconcileConfig) -> None:
    """Consult the catalog: take a hit, wait on another's reservation, or run (a miss)."""
    key = cache_key(r.execution.project, task, r.execution.code_digest, inputs)
    digest = key.digest
    owner = f"{r.execution.id}/{node.node_id}"
    cache = {"key": digest, "components": key.components(), "serialize": task.cache.serialize}
    if r.execution.config.overwrite_cache:
        _new_attempt(r, node, inputs, cache_status=CacheStatus.SKIPPED, detail={"cache": cache})
        return
    answer = r.catalog.get(digest)
    if answer is None:
        r.lookups[digest] = CacheLookup(digest, owner, task.cache.serialize, tuple(task.interface.output_map))
        return
    if answer.entry is not None:
        entry = answer.entry
        if answer.reserved_by == owner:  # we took the reservation just as the entry appeared: drop it
            r.releases.append((r.execution.project, digest, owner))
        source = {"execution": entry.source_execution, "node": entry.source_node, "attempt": entry.source_attempt}
        provenance_inputs = {k: literal_hash(v) for k, v in inputs.items()}
        _lineage_in(r, node.node_id, inputs)
        _lineage_out(r, node.node_id, entry.outputs)
        r.set_node(
            node.evolve(
                phase=NodePhase.SUCCEEDED,
                inputs=inputs,
                outputs=dict(entry.outputs),
                started_at=r.now,
                finished_at=r.now,
                cache_status=CacheStatus.HIT,
                detail={"cache": {**cache, "source": source}, "provenance": {**source, "inputs": provenance_inputs}},
            ),
            f"cache hit: outputs of {entry.source_execution}/{entry.source_node}/{entry.source_attempt}",
        )
        return
    if task.cache.serialize and answer.reserved_by not in (None, owner):
        r.wake_in(cfg.cache_wait_s)  # another execution computes this key; look again soon
        return
    if answer.problem:
        cache["replaced"] = answer.problem
    _new_attempt(r, node, inputs, cache_status=CacheStatus.MISS, detail={"cache": cache})


def _node_inputs(r: _Round, spec_node: NodeSpec) -> dict[str, Any]:
    task = r.state.graph.tasks[spec_node.task]
    bound = dict(spec_node.inputs)
    out: dict[str, Any] = {}
    for name, var in task.interface.inputs:
        b = bound.get(name)
        if b is not None:
            out[name] = resolve_binding(b, r.state, r)
        elif var.has_default:
            out[name] = var.default
    return out


def _stop(r: _Round) -> None:
    """Abort everything in flight (a user's terminate, or fail-fast after a node failed)."""
    reason = r.execution.abort_reason or (
        r.execution.error.message
        if r.execution.error and r.execution.error.code == "DeadlineExceeded"
        else "fail-fast: another node failed"
    )
    spare = r.state.graph.hidden if r.execution.abort_reason is None else frozenset()  # the failure handler
    for node_id in dict.fromkeys([*r.state.active, *(n for n, rec in r.nodes.items() if is_active(rec.phase))]):
        node = r.node(node_id)
        if not is_active(node.phase) or node_id in spare:
            continue
        _release(r, node)
        child_id = (node.detail or {}).get("child")
        if child_id:
            r.actions.append(AbortChild(str(child_id), reason))
        r.set_node(node.evolve(phase=NodePhase.ABORTED, finished_at=r.now), reason)
    for aid in dict.fromkeys([*r.state.live_attempts, *r.attempts]):
        att = r.attempt(aid)
        if att is None or att.phase.is_terminal or att.node_id in spare:
            continue
        if att.phase is AttemptPhase.ABORTING and att.abort_reason == "timeout":
            continue  # already being killed; its outcome is settled by _observe
        if att.phase is not AttemptPhase.ABORTING:
            r.set_attempt(att.evolve(phase=AttemptPhase.ABORTING, abort_reason="abort"), reason)
        r.actions.append(Abort(aid, reason, att.executor))
        r.wake_in(ABORT_RECHECK_S)


def _run_failure_handler(r: _Round) -> bool:
    """Start the on_failure task once (with the error and the workflow's inputs); True while it runs."""
    handler = r.node(ON_FAILURE_NODE)
    if handler.phase.is_terminal:
        return False
    if is_active(handler.phase):
        return True
    task = r.state.graph.tasks[r.state.graph.node_map[ON_FAILURE_NODE].task]
    error = r.execution.error
    offered = {"error": error.message if error else "", **r.execution.inputs}
    inputs = {name: offered[name] for name, _ in task.interface.inputs if name in offered}
    _new_attempt(r, handler, inputs)
    return True


def _finish(r: _Round) -> None:
    ex = r.execution
    if ex.phase.is_terminal:
        return
    spec = r.state.spec
    if ex.abort_reason is not None:
        if r.live_attempt_count == 0:
            r.set_execution(ex.evolve(phase=ExecutionPhase.ABORTED, finished_at=r.now, error=ex.error), ex.abort_reason)
        return
    stops = spec.failure_policy == FailurePolicy.FAIL_FAST or (
        ex.error is not None and ex.error.code == "DeadlineExceeded"
    )
    if ex.error is not None and (stops or r.all_terminal):
        if r.live_attempt_count == 0:
            if spec.on_failure is not None and _run_failure_handler(r):
                return
            r.set_execution(ex.evolve(phase=ExecutionPhase.FAILED, finished_at=r.now), ex.error.message)
        return
    if r.all_succeeded:
        outputs = {name: resolve_binding(b, r.state, r) for name, b in spec.outputs}
        r.set_execution(ex.evolve(phase=ExecutionPhase.SUCCEEDED, finished_at=r.now, outputs=outputs))


def node_attempt_id(node: NodeRecord) -> str:
    return attempt_id(node.execution_id, node.node_id, node.attempt)
