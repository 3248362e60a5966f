"""The round overlay: what one reconcile round has changed, layered over the unchanged state.

Every step of a round reads records through `Round` (its own writes first, then the state) and
writes through it, so later steps see earlier ones' decisions while `ExecutionState` stays
untouched until the shell has persisted the `Decision`. The overlay also keeps the derived counts
(terminal, succeeded, active, per-parent children) current as rows change, so no step walks the
DAG, and it assembles the `Decision` at the end (actions deduplicated).

`ReconcileConfig` (the controller's knobs) and `resolve_binding` (a binding's value as of this
round) live here because every concern module needs them and none may import another's step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from setpoint.core.model import (
    AttemptRecord,
    CatalogAnswer,
    CatalogEntry,
    Event,
    EventKind,
    ExecutionRecord,
    LineageRow,
    NodeRecord,
)
from setpoint.core.phases import is_active
from setpoint.core.state import (
    AbortChild,
    Action,
    CacheLookup,
    Decision,
    ExecutionState,
    ExpandRequest,
    StartChild,
    counts_as_success,
)
from setpoint.spec.bindings import follow_path
from setpoint.spec.workflow import Binding, WorkflowSpec

ABORT_RECHECK_S = 0.5  # how soon to look again at attempts being killed


@dataclass(frozen=True, slots=True)
class ReconcileConfig:
    default_max_parallelism: int = 256
    max_system_retries: int = 3
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0
    cache_wait_s: float = 1.0  # how often a node waiting on another's cache reservation looks again


def _offloaded(lit: Any) -> bool:
    return isinstance(lit, dict) and len(lit) == 1 and "$ref" in lit


def resolve_binding(b: Binding, state: ExecutionState, view: Round) -> Any:
    """A binding's literal as of this round; its path, if any, is followed (`PathError` if it fails).

    A path that reaches an offloaded part stops there: the value is ``{"$at": {"value": <the
    reference>, "path": <the rest>}}``, which the worker's decoder finishes once it reads the blob.
    """
    value = _resolve_base(b, state, view)
    if not b.path:
        return value
    reached, rest = follow_path(value, b.path, offloaded=_offloaded)
    return {"$at": {"value": reached, "path": list(rest)}} if rest else reached


def _resolve_base(b: Binding, state: ExecutionState, view: Round) -> Any:
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


class Round:
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
            self.events.append(Event(rec.id, self.now, EventKind.EXECUTION, rec.phase.value, message=message))
        self.execution = rec.evolve(updated_at=self.now)

    def set_node(self, rec: NodeRecord, message: str = "") -> None:
        old = self.node(rec.node_id)
        self.nodes[rec.node_id] = rec
        if old.phase is rec.phase:
            return
        self.events.append(
            Event(
                rec.execution_id, self.now, EventKind.NODE, rec.phase.value, rec.node_id, rec.attempt or None, message
            )
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
                Event(rec.execution_id, self.now, EventKind.ATTEMPT, rec.phase.value, rec.node_id, rec.number, message)
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
