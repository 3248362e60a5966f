"""A pure, in-memory harness that drives `reconcile` the way the controller shell does.

`Sim` keeps "stored" records (what survives a crash), a cached `ExecutionState` (what a running
controller holds), and a toy executor world whose attempts finish when the test says so. It lets
property tests inject crashes (drop the cache, rebuild from records), lost or duplicated
notifications and clock jumps, while checking invariants after every round.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from setpoint.core.model import (
    AttemptObservation,
    AttemptRecord,
    ErrorInfo,
    ExecutionRecord,
    NodeRecord,
    Observed,
)
from setpoint.core.phases import (
    ATTEMPT_TRANSITIONS,
    EXECUTION_TRANSITIONS,
    NODE_TRANSITIONS,
    ErrorKind,
    NodePhase,
    legal,
)
from setpoint.core.reconcile import ReconcileConfig, reconcile
from setpoint.core.state import Abort, Decision, ExecutionState, Launch
from setpoint.spec.workflow import WorkflowSpec


@dataclass
class WorldAttempt:
    inputs: dict[str, object]
    status: Observed = Observed.RUNNING
    outputs: dict[str, object] | None = None
    error: ErrorInfo | None = None
    killed: bool = False


@dataclass
class Sim:
    spec: WorkflowSpec
    execution: ExecutionRecord
    cfg: ReconcileConfig = field(default_factory=lambda: ReconcileConfig(backoff_base_s=0.0))
    now: float = 1000.0
    nodes: dict[str, NodeRecord] = field(default_factory=dict)
    attempts: dict[str, AttemptRecord] = field(default_factory=dict)
    world: dict[str, WorldAttempt] = field(default_factory=dict)
    launches: list[str] = field(default_factory=list)  # every Launch action received
    started: list[str] = field(default_factory=list)  # attempts that actually began running
    pending_hints: set[str] = field(default_factory=set)
    state: ExecutionState | None = None
    rounds: int = 0

    def __post_init__(self) -> None:
        self.state = None

    # -- the shell's round ----------------------------------------------------------------------
    def load(self) -> ExecutionState:
        if self.state is None:
            self.state = ExecutionState.build(self.spec, self.execution, self.nodes.values(), self.attempts.values())
        return self.state

    def crash(self) -> None:
        """Lose everything not persisted: the cached state and undelivered hints."""
        self.state = None
        self.pending_hints.clear()

    def observe(self, aid: str) -> AttemptObservation:
        w = self.world.get(aid)
        if w is None:
            return AttemptObservation(Observed.UNKNOWN)
        return AttemptObservation(w.status, started_at=self.now, finished_at=self.now, outputs=w.outputs, error=w.error)

    def round(self, *, full: bool = False) -> Decision:
        state = self.load()
        aids = list(state.live_attempts) if full else [a for a in self.pending_hints if a in state.live_attempts]
        self.pending_hints.clear()
        obs = {a: self.observe(a) for a in aids}
        d = reconcile(state, obs, self.now, self.cfg)
        self.check_legal(state, d)
        self.persist(d)
        state.apply(d)
        self.execution = state.execution
        self.rounds += 1
        for action in d.actions:
            if isinstance(action, Launch):
                self.launch(action)
            elif isinstance(action, Abort):
                self.abort(action.attempt_id)
        return d

    def persist(self, d: Decision) -> None:
        if d.execution is not None:
            self.execution = d.execution.evolve(version=self.execution.version + 1)
        for n in d.nodes:
            stored = self.nodes.get(n.node_id)
            assert (stored.version if stored else 0) == n.version, "lost update on a node row"
            self.nodes[n.node_id] = n.evolve(version=n.version + 1)
        for a in d.attempts:
            stored_a = self.attempts.get(a.id)
            assert (stored_a.version if stored_a else 0) == a.version, "lost update on an attempt row"
            self.attempts[a.id] = a.evolve(version=a.version + 1)
        if self.state is not None and d.execution is not None:
            self.state.execution = self.execution

    @staticmethod
    def check_legal(state: ExecutionState, d: Decision) -> None:
        if d.execution is not None:
            assert legal(EXECUTION_TRANSITIONS, state.execution.phase, d.execution.phase)  # type: ignore[arg-type]
        for n in d.nodes:
            assert legal(NODE_TRANSITIONS, state.phase(n.node_id), n.phase), (  # type: ignore[arg-type]
                n.node_id,
                state.phase(n.node_id),
                n.phase,
            )
        for a in d.attempts:
            prev = state.live_attempts.get(a.id)
            if prev is not None:
                assert legal(ATTEMPT_TRANSITIONS, prev.phase, a.phase)  # type: ignore[arg-type]

    # -- the toy executor ---------------------------------------------------------------------
    def launch(self, action: Launch) -> None:
        self.launches.append(action.attempt_id)
        if action.attempt_id in self.world:
            return  # idempotent on the attempt id
        self.world[action.attempt_id] = WorldAttempt(dict(action.inputs))
        self.started.append(action.attempt_id)
        self.pending_hints.add(action.attempt_id)

    def abort(self, aid: str) -> None:
        w = self.world.get(aid)
        if w is not None and w.status == Observed.RUNNING:
            w.status = Observed.FAILED
            w.error = ErrorInfo(ErrorKind.SYSTEM, "Aborted", "killed")
            w.killed = True
        self.pending_hints.add(aid)

    def running(self) -> list[str]:
        return [a for a, w in self.world.items() if w.status == Observed.RUNNING]

    def succeed(self, aid: str) -> None:
        w = self.world[aid]
        total = sum(int(v) for v in w.inputs.values())  # type: ignore[call-overload]
        w.status = Observed.SUCCEEDED
        w.outputs = {"o0": total}
        self.pending_hints.add(aid)

    def fail(self, aid: str, kind: ErrorKind = ErrorKind.USER, *, retryable: bool = True) -> None:
        w = self.world[aid]
        w.status = Observed.FAILED
        w.error = ErrorInfo(kind, "TaskRaised" if kind is ErrorKind.USER else "ProcessLost", "boom", retryable)
        self.pending_hints.add(aid)

    def node_phase(self, node_id: str) -> NodePhase:
        rec = self.nodes.get(node_id)
        return rec.phase if rec else NodePhase.PENDING
