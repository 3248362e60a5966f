"""An execution's recorded state, indexed so a reconcile round costs what changed, not the DAG's size.

`ExecutionState` holds the pinned spec, the execution record, the rows of started nodes and the
live (non-terminal) attempts. Its indexes — which pending nodes have every upstream finished
(`ready`), which nodes are in flight (`active`), how many are terminal — are derived data: they are
rebuilt from the records on load and kept current by `apply`, which the controller shell calls with
each `Decision` it has persisted. A property test checks that both ways give the same indexes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from setpoint.core.graph import Graph
from setpoint.core.model import (
    AttemptRecord,
    CatalogEntry,
    Event,
    ExecutionRecord,
    LineageRow,
    NodeRecord,
)
from setpoint.core.phases import NodePhase, is_active
from setpoint.spec.workflow import NodeKind, WorkflowSpec


@dataclass(frozen=True, slots=True)
class Launch:
    """Start attempt ``attempt_id`` (idempotent on that id)."""

    attempt_id: str
    node_id: str
    task: str
    inputs: dict[str, object]
    executor: str


@dataclass(frozen=True, slots=True)
class Abort:
    """Kill attempt ``attempt_id`` and everything it started (idempotent)."""

    attempt_id: str
    reason: str
    executor: str


@dataclass(frozen=True, slots=True)
class StartChild:
    """Create the child execution of a launch-plan node (idempotent on ``child_id``)."""

    child_id: str
    node_id: str
    inputs: dict[str, object]


@dataclass(frozen=True, slots=True)
class AbortChild:
    child_id: str
    reason: str


Action = Launch | Abort | StartChild | AbortChild


@dataclass(frozen=True, slots=True)
class ExpandRequest:
    """A map node is ready: the shell builds its child spec (one node per element) and stores it."""

    node_id: str
    task: str
    inputs: dict[str, object]  # resolved input literals (mapped inputs are lists, maybe offloaded)
    over: tuple[str, ...]
    dynamic: dict[str, object] | None = None  # a dynamic task's sub-workflow (spec JSON) to validate


@dataclass(frozen=True, slots=True)
class CacheLookup:
    """The round needs the catalog's answer for this key before it can decide about a node."""

    key: str
    owner: str  # "<execution>/<node>": who would hold the reservation
    serialize: bool
    outputs: tuple[str, ...]  # the output names a usable entry must have


@dataclass(frozen=True, slots=True)
class Decision:
    """What one round decided: records to persist (intent), then actions to take, then when to look again."""

    execution: ExecutionRecord | None = None
    nodes: tuple[NodeRecord, ...] = ()
    attempts: tuple[AttemptRecord, ...] = ()
    events: tuple[Event, ...] = ()
    actions: tuple[Action, ...] = ()
    requeue_after: float | None = None
    catalog_puts: tuple[CatalogEntry, ...] = ()
    releases: tuple[tuple[str, str, str], ...] = ()  # reservations to drop: (project, key, owner)
    lineage: tuple[LineageRow, ...] = ()
    lookups: tuple[CacheLookup, ...] = ()  # answers needed: fetch them and reconcile again
    expansions: tuple[tuple[str, WorkflowSpec], ...] = ()  # child graphs grafted this round
    expand_requests: tuple[ExpandRequest, ...] = ()  # child graphs the shell must build first

    @property
    def writes(self) -> bool:
        return self.execution is not None or bool(self.nodes) or bool(self.attempts)


PENDING_NODE = NodePhase.PENDING


def counts_as_success(rec: NodeRecord) -> bool:
    """Succeeded, recovered, or skipped because its branch case was not taken (that is not a failure)."""
    if rec.phase.is_success:
        return True
    return rec.phase is NodePhase.SKIPPED and rec.typed_detail.not_taken


@dataclass(slots=True)
class ExecutionState:
    spec: WorkflowSpec
    execution: ExecutionRecord
    graph: Graph = field(init=False)
    nodes: dict[str, NodeRecord] = field(default_factory=dict)
    live_attempts: dict[str, AttemptRecord] = field(default_factory=dict)
    remaining: dict[str, int] = field(default_factory=dict)  # unfinished upstreams of pending nodes
    ready: dict[str, None] = field(default_factory=dict)  # ordered set: pending, every upstream terminal
    active: dict[str, None] = field(default_factory=dict)  # QUEUED / RUNNING / RETRYING
    retrying: dict[str, None] = field(default_factory=dict)  # RETRYING: waiting out a backoff
    timed: dict[str, None] = field(default_factory=dict)  # live attempts whose task has a timeout
    gates: dict[str, None] = field(default_factory=dict)  # gate nodes that are waiting
    launched: dict[str, None] = field(default_factory=dict)  # launch-plan nodes whose child runs
    signals: dict[str, Any] = field(default_factory=dict)  # recorded signal values by name
    terminal: int = 0  # top-level (static) nodes only
    succeeded: int = 0
    open_children: dict[str, int] = field(default_factory=dict)  # per expanded parent: children not terminal
    child_ok: dict[str, int] = field(default_factory=dict)
    child_failed: dict[str, int] = field(default_factory=dict)
    active_children: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.graph = Graph(self.spec)

    @staticmethod
    def build(
        spec: WorkflowSpec,
        execution: ExecutionRecord,
        nodes: Iterable[NodeRecord],
        attempts: Iterable[AttemptRecord],
        expansions: Mapping[str, WorkflowSpec] | None = None,
        signals: Mapping[str, Any] | None = None,
    ) -> ExecutionState:
        """Rebuild from stored rows; ``expansions`` are the child specs of expanded parents, by parent id."""
        st = ExecutionState(spec, execution)
        st.signals = dict(signals or {})
        st.nodes = {n.node_id: n for n in nodes}
        for parent in sorted(expansions or {}, key=len):
            rec = st.nodes.get(parent)
            st.graph.add_children(parent, (expansions or {})[parent], (rec.inputs if rec else None) or {})
        for att in attempts:
            if not att.phase.is_terminal:
                st._set_attempt(att)
        for rec in st.nodes.values():
            if rec.node_id not in st.graph.node_map:
                continue  # a child of an expansion that is not loaded: ignore (never expected)
            st._count(rec.node_id, PENDING_NODE, rec, first_seen=True)
        for node_id in st.graph.node_map:
            if node_id not in st.nodes and node_id not in st.graph.hidden:
                st._init_pending(node_id)
        return st

    def _init_pending(self, node_id: str) -> None:
        left = sum(1 for u in self.graph.upstream[node_id] if not self.phase(u).is_terminal)
        self.remaining[node_id] = left
        if left == 0:
            self.ready[node_id] = None
        parent = self.graph.parent_of.get(node_id)
        if parent is not None:
            self.open_children[parent] = self.open_children.get(parent, 0) + 1

    def _count(self, node_id: str, old: NodePhase, rec: NodeRecord, *, first_seen: bool = False) -> None:
        """Index bookkeeping for a node moving from ``old`` to ``rec.phase``.

        ``first_seen``: the node is being loaded with a row (on build), so it was never counted as
        an open child of its parent.
        """
        new = rec.phase
        if new is NodePhase.RETRYING:
            self.retrying[node_id] = None
        elif old is NodePhase.RETRYING:
            self.retrying.pop(node_id, None)
        kind = self.graph.node_map[node_id].kind
        if kind in (NodeKind.GATE, NodeKind.LAUNCHPLAN):
            index = self.gates if kind is NodeKind.GATE else self.launched
            if is_active(new):
                index[node_id] = None
            else:
                index.pop(node_id, None)
        parent = self.graph.parent_of.get(node_id)
        if parent is not None and first_seen:
            self.open_children[parent] = self.open_children.get(parent, 0) + 1
        if is_active(new) and not is_active(old):
            self.active[node_id] = None
            if parent is not None:
                self.active_children[parent] = self.active_children.get(parent, 0) + 1
        elif is_active(old) and not is_active(new):
            self.active.pop(node_id, None)
            if parent is not None:
                self.active_children[parent] -= 1
        if new.is_terminal and not old.is_terminal and node_id not in self.graph.hidden:
            if parent is None:
                self.terminal += 1
                self.succeeded += counts_as_success(rec)
            else:
                self.open_children[parent] -= 1
                if counts_as_success(rec):
                    self.child_ok[parent] = self.child_ok.get(parent, 0) + 1
                else:
                    self.child_failed[parent] = self.child_failed.get(parent, 0) + 1
            for d in self.graph.downstream.get(node_id, ()):
                if d in self.remaining:
                    self.remaining[d] -= 1
                    if self.remaining[d] == 0:
                        self.ready[d] = None

    def phase(self, node_id: str) -> NodePhase:
        rec = self.nodes.get(node_id)
        return rec.phase if rec is not None else PENDING_NODE

    def node(self, node_id: str) -> NodeRecord:
        rec = self.nodes.get(node_id)
        if rec is None:
            return NodeRecord(self.execution.id, node_id, PENDING_NODE)
        return rec

    @property
    def total(self) -> int:
        return len(self.spec.nodes)

    def apply(self, decision: Decision) -> None:
        """Fold a persisted decision into the state (each written row's version is bumped by one)."""
        if decision.execution is not None:
            self.execution = decision.execution
        for rec in decision.nodes:
            self._set_node(rec.evolve(version=rec.version + 1))
        for att in decision.attempts:
            if att.phase.is_terminal:
                self.live_attempts.pop(att.id, None)
                self.timed.pop(att.id, None)
            else:
                self._set_attempt(att.evolve(version=att.version + 1))
        for parent, child in decision.expansions:
            self.expand(parent, child)

    def _set_attempt(self, att: AttemptRecord) -> None:
        self.live_attempts[att.id] = att
        node = self.graph.node_map.get(att.node_id)
        if node is not None and node.task:
            task = self.graph.tasks[node.task]
            if task.timeout_s is not None or task.deadline_s is not None:
                self.timed[att.id] = None

    def expand(self, parent: str, child: WorkflowSpec) -> None:
        if parent in self.graph.children:
            return
        ids = self.graph.add_children(parent, child, self.node(parent).inputs or {})
        self.open_children.setdefault(parent, 0)
        for node_id in ids:
            rec = self.nodes.get(node_id)
            if rec is not None:  # recovered from a previous execution before the parent expanded
                self._count(node_id, PENDING_NODE, rec, first_seen=True)
            else:
                self._init_pending(node_id)

    def _set_node(self, rec: NodeRecord) -> None:
        old = self.phase(rec.node_id)
        self.nodes[rec.node_id] = rec
        if old is PENDING_NODE and rec.phase is not PENDING_NODE:
            self.ready.pop(rec.node_id, None)
            self.remaining.pop(rec.node_id, None)
        self._count(rec.node_id, old, rec)
