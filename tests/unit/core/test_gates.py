"""Gates: a sleep's timer, approvals and signals, and their timeouts — all without a task."""

from __future__ import annotations

from typing import Any

import pytest

from setpoint.core.phases import NodePhase
from setpoint.sdk.workflow import Workflow
from tests.unit.core import workflows as wf
from tests.unit.core.builders import Run, launched_nodes

NO_SIGNAL = object()


@pytest.mark.parametrize(
    ("elapsed", "phase", "requeue_after", "launched"),
    [
        (0.0, NodePhase.RUNNING, 30.0, []),  # asleep: look again when it is due
        (12.5, NodePhase.RUNNING, 17.5, []),
        (30.0, NodePhase.SUCCEEDED, None, ["inc"]),  # due: done, and what waited on it starts
        (45.0, NodePhase.SUCCEEDED, None, ["inc"]),
    ],
)
def test_a_sleep_asks_to_be_woken_when_due_and_succeeds_then(
    elapsed: float, phase: NodePhase, requeue_after: float | None, launched: list[str]
) -> None:
    r = Run.of(wf.napping)
    d = r.step()
    assert r.phase("sleep") is NodePhase.RUNNING and launched_nodes(d) == []  # a gate launches nothing
    r.advance(elapsed)
    d = r.step()
    assert r.phase("sleep") is phase
    assert d.requeue_after == requeue_after
    assert launched_nodes(d) == launched


def waiting_at(workflow: Workflow, gate: str) -> Run:
    """A run whose ``gate`` has started (its upstream, if any, succeeded with 25)."""
    r = Run.of(workflow)
    d = r.step()
    if launched_nodes(d):
        r.finish(launched_nodes(d)[0], {"o0": 25})
    assert r.phase(gate) is NodePhase.RUNNING
    return r


@pytest.mark.parametrize(
    ("workflow", "gate", "signal", "elapsed", "phase", "outputs", "error", "requeue_after"),
    [
        (wf.released, "ship_it", True, 1.0, NodePhase.SUCCEEDED, {"o0": 25}, None, None),  # passes its input on
        (wf.released, "ship_it", False, 1.0, NodePhase.FAILED, None, "Rejected", None),
        (wf.released, "ship_it", NO_SIGNAL, 20.0, NodePhase.RUNNING, None, None, 40.0),  # wakes at its timeout
        (wf.released, "ship_it", NO_SIGNAL, 60.0, NodePhase.FAILED, None, "GateTimeout", None),
        (wf.asking, "factor", 7, 1.0, NodePhase.SUCCEEDED, {"o0": 7}, None, None),  # the signal's value
        (wf.asking, "factor", NO_SIGNAL, 59.0, NodePhase.RUNNING, None, None, 1.0),
        (wf.asking, "factor", NO_SIGNAL, 61.0, NodePhase.FAILED, None, "GateTimeout", None),
        (wf.waiting_forever, "someday", NO_SIGNAL, 1e6, NodePhase.RUNNING, None, None, None),  # no timer at all
        (wf.waiting_forever, "someday", 3, 1e6, NodePhase.SUCCEEDED, {"o0": 3}, None, None),
    ],
)
def test_approvals_and_signals_decide_a_waiting_gate(
    workflow: Workflow,
    gate: str,
    signal: Any,
    elapsed: float,
    phase: NodePhase,
    outputs: dict[str, Any] | None,
    error: str | None,
    requeue_after: float | None,
) -> None:
    r = waiting_at(workflow, gate)
    if signal is not NO_SIGNAL:
        r.state.signals[gate] = signal  # recorded by the API; the shell loads it with the state
    r.advance(elapsed)
    d = r.step()
    node = r.node(gate)
    assert node.phase is phase
    assert node.outputs == outputs
    assert (node.error.code if node.error else None) == error
    assert d.requeue_after == requeue_after
    if phase is NodePhase.SUCCEEDED:
        assert launched_nodes(d) == ["inc"] and r.node("inc").inputs == {"x": (outputs or {})["o0"]}
