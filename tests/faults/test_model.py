"""R-H3 (simulation-lite): a hypothesis state machine over the pure core, driven through the
`Sim` shell (tests/support/sim.py): submit, reconcile step, crash, executor events (success,
user/system failure, duplicated and stale notifications), terminate, clock advance. Invariants are
checked after every step; shrunk counterexamples belong in tests/unit/test_reconcile.py.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from setpoint.core.model import Event
from setpoint.core.phases import ErrorKind, ExecutionPhase
from setpoint.core.reconcile import ReconcileConfig
from tests.faults.harness import report
from tests.faults.invariants import _history_problems
from tests.support.sim import Sim
from tests.support.specs import dag_spec, execution_for, expected_value

FULL = os.environ.get("SETPOINT_FAULTS_FULL") == "1"
STATS: Counter[str] = Counter()  # what the examples did, for the figures line

DAGS = [
    {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"], "e": ["d"]},
    {"a": [], "b": [], "c": [], "d": ["a", "b", "c"]},
    {"a": [], "b": ["a"], "c": ["b"], "d": ["c"]},
]


class Orchestrator(RuleBasedStateMachine):
    @initialize(dag=st.sampled_from(DAGS))
    def submit(self, dag: dict[str, list[str]]) -> None:
        STATS["examples"] += 1
        self.edges = dag
        spec = dag_spec(dag, retries=2)
        self.sim = Sim(spec, execution_for(spec), cfg=ReconcileConfig(backoff_base_s=0.5, max_system_retries=2))
        self.events: list[Event] = []
        self.fails: Counter[str] = Counter()
        self.terminated = False
        self.terminal_seen: ExecutionPhase | None = None

    def _round(self, full: bool = False) -> None:
        STATS["steps"] += 1
        d = self.sim.round(full=full)
        self.events += [replace(e, seq=len(self.events) + i + 1) for i, e in enumerate(d.events)]

    @rule(full=st.booleans())
    def step(self, full: bool) -> None:
        self._round(full)

    @rule()
    def crash(self) -> None:
        STATS["crash"] += 1
        self.sim.crash()

    @precondition(lambda self: bool(self.sim.running()))
    @rule(data=st.data())
    def succeed(self, data: st.DataObject) -> None:
        self.sim.succeed(data.draw(st.sampled_from(self.sim.running())))

    @precondition(lambda self: bool(self.sim.running()))
    @rule(data=st.data(), system=st.booleans())
    def fail(self, data: st.DataObject, system: bool) -> None:
        aid = data.draw(st.sampled_from(self.sim.running()))
        node = aid.split("/")[1]
        if self.fails[node] < 2:  # within the retry budgets, so the run can still succeed
            self.fails[node] += 1
            STATS["fail"] += 1
            self.sim.fail(aid, ErrorKind.SYSTEM if system else ErrorKind.USER)

    @precondition(lambda self: bool(self.sim.world))
    @rule(data=st.data())
    def duplicate_or_stale_notification(self, data: st.DataObject) -> None:
        STATS["notify"] += 1
        self.sim.pending_hints.add(data.draw(st.sampled_from(sorted(self.sim.world))))

    @rule()
    def lose_notifications(self) -> None:
        self.sim.pending_hints.clear()

    @rule(seconds=st.sampled_from([0.1, 1.0, 30.0]))
    def advance_clock(self, seconds: float) -> None:
        self.sim.now += seconds

    @precondition(lambda self: not self.terminated)
    @rule()
    def terminate(self) -> None:
        self.terminated = True
        STATS["terminate"] += 1
        if not self.sim.execution.phase.is_terminal:
            self.sim.execution = self.sim.execution.evolve(abort_reason="test")
            if self.sim.state is not None:
                self.sim.state.execution = self.sim.execution

    @invariant()
    def history_is_legal_and_terminal_is_final(self) -> None:
        if not hasattr(self, "sim"):
            return
        phase = self.sim.execution.phase
        if self.terminal_seen is not None:
            assert phase is self.terminal_seen, f"left terminal {self.terminal_seen} for {phase}"
        elif phase.is_terminal:
            self.terminal_seen = phase
        problems = [p for p in _history_problems("sim", self.events) if "terminal execution events" not in p]
        assert problems == []
        assert len(self.sim.started) == len(set(self.sim.started)), "an attempt id started twice"
        live = Counter(a.node_id for a in self.sim.attempts.values() if not a.phase.is_terminal)
        assert all(n <= 1 for n in live.values()), "two live attempts for one node"

    def teardown(self) -> None:
        if not hasattr(self, "sim"):
            return
        for i in range(300):  # fault-free from here, periodic resyncs cover lost notifications
            if self.sim.execution.phase.is_terminal:
                break
            for aid in self.sim.running():
                self.sim.succeed(aid)
            self.sim.now += 1.0
            self._round(full=i % 3 == 0)
        ex = self.sim.execution
        assert ex.phase.is_terminal
        STATS[f"end/{ex.phase.value}"] += 1
        terminal = [e for e in self.events if e.kind == "execution" and e.phase in ("SUCCEEDED", "FAILED", "ABORTED")]
        assert len(terminal) == 1 and terminal[0].phase == ex.phase.value
        if not self.terminated:
            assert ex.phase is ExecutionPhase.SUCCEEDED
            assert ex.outputs == {"o0": expected_value(self.edges, list(self.edges)[-1])}
        if ex.phase is ExecutionPhase.ABORTED:
            assert self.sim.running() == [], "an aborted execution left attempts running"


def test_state_machine_over_the_core(capsys: pytest.CaptureFixture[str]) -> None:
    STATS.clear()
    started = time.monotonic()
    examples = 1000 if FULL else 200
    run_state_machine_as_test(
        Orchestrator,
        settings=settings(
            max_examples=examples,
            stateful_step_count=40,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
    report(
        {
            "scenario": "state_machine",
            "examples": STATS["examples"],
            "steps": STATS["steps"],
            "crashes": STATS["crash"],
            "failures_injected": STATS["fail"],
            "duplicate_or_stale_notifications": STATS["notify"],
            "terminates": STATS["terminate"],
            "ended": {k[4:]: v for k, v in sorted(STATS.items()) if k.startswith("end/")},
            "counterexamples": 0,
            "seconds": round(time.monotonic() - started, 2),
        },
        capsys,
    )
