"""Launch-plan nodes: a child execution with a deterministic id, whose phase becomes the node's."""

from __future__ import annotations

from typing import Any

import pytest

from setpoint.core.model import ErrorInfo, ExecutionRecord
from setpoint.core.phases import ErrorKind, ExecutionPhase, NodePhase
from setpoint.core.reconcile import child_execution_id
from setpoint.core.state import AbortChild, StartChild
from setpoint.sdk.workflow import Workflow
from tests.unit.core import workflows as wf
from tests.unit.core.builders import Run, child_aborts, child_execution, child_starts

NODE = "core_tables_nightly"


@pytest.mark.parametrize(
    ("workflow", "inputs", "child_inputs"),
    [
        (wf.orchestrate, {"epochs": 5}, {"epochs": 5, "dataset": "prod"}),  # given inputs, fixed ones win
        (wf.orchestrate_defaults, {}, {"epochs": 3, "dataset": "prod"}),  # the launch plan's defaults
    ],
)
def test_a_launch_plan_node_starts_one_child_with_a_deterministic_id(
    workflow: Workflow, inputs: dict[str, Any], child_inputs: dict[str, Any]
) -> None:
    r = Run.of(workflow, inputs)
    first = r.decide()
    assert first == r.decide()  # deciding again (a retried round) asks for the very same start
    r.state.apply(first)
    (start,) = child_starts(first)
    assert start == StartChild(child_execution_id("exec1", NODE), NODE, child_inputs)
    assert start.child_id != child_execution_id("exec2", NODE)  # each parent execution has its own child
    assert r.phase(NODE) is NodePhase.RUNNING and r.node(NODE).inputs == child_inputs
    assert not first.requeue_after  # the child's progress wakes the parent; no timer


CHILD = child_execution_id("exec1", NODE)


@pytest.mark.parametrize(
    ("child", "phase", "outputs", "error", "restarted"),
    [
        (None, NodePhase.RUNNING, None, None, True),  # lost between recording and starting: start it again
        (child_execution(CHILD, ExecutionPhase.QUEUED), NodePhase.RUNNING, None, None, False),
        (child_execution(CHILD, ExecutionPhase.RUNNING), NodePhase.RUNNING, None, None, False),
        (
            child_execution(CHILD, ExecutionPhase.SUCCEEDED, outputs={"o0": "5 epochs on prod"}),
            NodePhase.SUCCEEDED,
            {"o0": "5 epochs on prod"},
            None,
            False,
        ),
        (
            child_execution(CHILD, ExecutionPhase.FAILED, error=ErrorInfo(ErrorKind.USER, "TaskRaised", "boom")),
            NodePhase.FAILED,
            None,
            f"child execution {CHILD} failed: boom",
            False,
        ),
        (
            child_execution(CHILD, ExecutionPhase.ABORTED, abort_reason="stopped by alice"),
            NodePhase.FAILED,
            None,
            f"child execution {CHILD} aborted: stopped by alice",
            False,
        ),
    ],
)
def test_the_child_executions_phase_becomes_the_nodes(
    child: ExecutionRecord | None,
    phase: NodePhase,
    outputs: dict[str, Any] | None,
    error: str | None,
    restarted: bool,
) -> None:
    r = Run.of(wf.orchestrate, {"epochs": 5})
    r.step()
    d = r.step(children={CHILD: child} if child is not None else {})
    node = r.node(NODE)
    assert node.phase is phase
    assert node.outputs == outputs
    assert (node.error.message if node.error else None) == error
    if error is not None:
        assert node.error is not None and node.error.code == "ChildFailed"
    assert child_starts(d) == ([StartChild(CHILD, NODE, {"epochs": 5, "dataset": "prod"})] if restarted else [])
    if phase is NodePhase.SUCCEEDED:
        assert r.execution.phase is ExecutionPhase.SUCCEEDED and r.execution.outputs == outputs


def test_aborting_the_parent_aborts_its_child_execution() -> None:
    r = Run.of(wf.orchestrate, {"epochs": 5})
    r.step()
    r.state.execution = r.execution.evolve(abort_reason="stopped by alice")  # as a terminate records it
    d = r.step(children={CHILD: child_execution(CHILD, ExecutionPhase.RUNNING)})
    assert child_aborts(d) == [AbortChild(CHILD, "stopped by alice")]
    assert r.phase(NODE) is NodePhase.ABORTED
    assert r.execution.phase is ExecutionPhase.ABORTED
