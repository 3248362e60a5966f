"""An execution's recorded state, indexed so a reconcile round costs what changed, not the DAG's size.

`ExecutionState` holds the pinned spec, the execution record, the rows of started nodes and the
live (non-terminal) attempts. Its indexes — which pending nodes have every upstream finished
(`ready`), which nodes are in flight (`active`), how many are terminal — are derived data: they are
rebuilt from the records on load and kept current by `apply`, which the controller shell calls with
each `Decision` it has persisted. A property test checks that both ways give the same indexes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from setpoint.core.model import (
    AttemptRecord,
    CatalogEntry,
    Event,
    ExecutionRecord,
    LineageRow,
    NodeRecord,
)
from setpoint.core.phases import NodePhase, is_active
from setpoint.spec.workflow import WorkflowSpec


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


Action = Launch | Abort


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

    @property
    def writes(self) -> bool:
        return self.execution is not None or bool(self.nodes) or bool(self.attempts)


PENDING_NODE = NodePhase.PENDING


def counts_as_success(rec: NodeRecord) -> bool:
    """Succeeded, recovered, or skipped because its branch case was not taken (that is not a failure)."""
    if rec.phase.is_success:
        return True
    return rec.phase is NodePhase.SKIPPED and bool((rec.detail or {}).get("not_taken"))


@dataclass(slots=True)
class ExecutionState:
    spec: WorkflowSpec
    execution: ExecutionRecord
    nodes: dict[str, NodeRecord] = field(default_factory=dict)
    live_attempts: dict[str, AttemptRecord] = field(default_factory=dict)
    remaining: dict[str, int] = field(default_factory=dict)  # unfinished upstreams of pending nodes
    ready: dict[str, None] = field(default_factory=dict)  # ordered set: pending, every upstream terminal
    active: dict[str, None] = field(default_factory=dict)  # QUEUED / RUNNING / RETRYING
    terminal: int = 0
    succeeded: int = 0

    @staticmethod
    def build(
        spec: WorkflowSpec,
        execution: ExecutionRecord,
        nodes: Iterable[NodeRecord],
        attempts: Iterable[AttemptRecord],
    ) -> ExecutionState:
        st = ExecutionState(spec, execution)
        st.nodes = {n.node_id: n for n in nodes}
        st.live_attempts = {a.id: a for a in attempts if not a.phase.is_terminal}
        for rec in st.nodes.values():
            if rec.phase.is_terminal:
                st.terminal += 1
                st.succeeded += counts_as_success(rec)
            elif is_active(rec.phase):
                st.active[rec.node_id] = None
        for n in spec.nodes:
            if n.id in st.nodes:
                continue
            left = sum(1 for u in spec.upstream[n.id] if not st.phase(u).is_terminal)
            st.remaining[n.id] = left
            if left == 0:
                st.ready[n.id] = None
        return st

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
            else:
                self.live_attempts[att.id] = att.evolve(version=att.version + 1)

    def _set_node(self, rec: NodeRecord) -> None:
        old = self.phase(rec.node_id)
        self.nodes[rec.node_id] = rec
        new = rec.phase
        if old is PENDING_NODE and new is not PENDING_NODE:
            self.ready.pop(rec.node_id, None)
            self.remaining.pop(rec.node_id, None)
        if is_active(new):
            self.active[rec.node_id] = None
        else:
            self.active.pop(rec.node_id, None)
        if new.is_terminal and not old.is_terminal:
            self.terminal += 1
            self.succeeded += counts_as_success(rec)
            for d in self.spec.downstream[rec.node_id]:
                if d in self.remaining:
                    self.remaining[d] -= 1
                    if self.remaining[d] == 0:
                        self.ready[d] = None
