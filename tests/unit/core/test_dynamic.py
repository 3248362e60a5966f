"""Dynamic nodes: the sub-workflow an attempt built is requested, grafted, run, and settles the node."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from setpoint.core.phases import ExecutionPhase, NodePhase
from setpoint.sdk.task import Task
from setpoint.sdk.workflow import Workflow
from tests.unit.core import workflows as wf
from tests.unit.core.builders import SETTINGS, Run, built, failed, launched_nodes, succeeded


def started(workflow: Workflow, inputs: dict[str, Any], node: str) -> Run:
    r = Run.of(workflow, inputs)
    assert launched_nodes(r.step()) == [node]  # a dynamic task's body runs as an attempt, like any task
    return r


def test_a_built_sub_workflow_is_handed_to_the_shell_before_it_is_grafted() -> None:
    r = started(wf.fanned, {"values": [2, 3]}, "fan")
    obs = {r.attempt("fan"): built(wf.fan, values=[2, 3])}
    d = r.decide(obs)
    (req,) = d.expand_requests
    assert (req.node_id, req.inputs) == ("fan", {"values": [2, 3]})
    assert req.dynamic is not None  # the spec JSON, for the shell to validate
    assert "fan" not in {rec.node_id for rec in d.nodes} and d.expansions == ()


@pytest.mark.parametrize(
    ("workflow", "node", "inputs", "body", "phase", "children", "outputs"),
    [
        (wf.fanned, "fan", {"values": [2, 3]}, wf.fan, NodePhase.RUNNING, ["square", "square-1", "total"], None),
        (wf.fanned, "fan", {"values": []}, wf.fan, NodePhase.RUNNING, ["total"], None),
        (wf.settling, "settle", {"x": 4, "limit": 5}, wf.settle, NodePhase.RUNNING, ["inc", "settle"], None),
        # a base case: the body returned a value and built no node, so the node succeeds with it
        (wf.settling, "settle", {"x": 5, "limit": 5}, wf.settle, NodePhase.SUCCEEDED, [], {"o0": 5}),
    ],
)
def test_a_validated_sub_workflow_is_grafted_under_its_node(
    workflow: Workflow,
    node: str,
    inputs: dict[str, Any],
    body: Task,
    phase: NodePhase,
    children: list[str],
    outputs: dict[str, Any] | None,
) -> None:
    r = started(workflow, inputs, node)
    d = r.step_expanding({r.attempt(node): built(body, **inputs)})
    assert r.phase(node) is phase
    assert r.node(node).outputs == outputs
    assert list(r.state.graph.children.get(node, ())) == [f"{node}.{c}" for c in children]
    if children:
        assert [parent for parent, _ in d.expansions] == [node]
        assert d.requeue_after == 0.0  # the grafted nodes start in the next round


def test_a_grafted_sub_workflow_runs_and_its_outputs_become_the_nodes() -> None:
    r = started(wf.fanned, {"values": [2, 3]}, "fan")
    r.step_expanding({r.attempt("fan"): built(wf.fan, values=[2, 3])})
    assert launched_nodes(r.step()) == ["fan.square", "fan.square-1"]
    r.step({r.attempt("fan.square"): succeeded({"o0": 4}), r.attempt("fan.square-1"): succeeded({"o0": 9})})
    assert r.node("fan.total").inputs == {"xs": [4, 9]}
    r.finish("fan.total", {"o0": 13})
    assert r.phase("fan") is NodePhase.SUCCEEDED and r.node("fan").outputs == {"o0": 13}
    assert r.execution.phase is ExecutionPhase.SUCCEEDED and r.execution.outputs == {"o0": 13}


@pytest.mark.parametrize(
    ("failing_child", "settings", "code", "message"),
    [
        ("fan.square-1", SETTINGS, "TaskRaised", "node 'fan.square-1' of the sub-workflow failed: boom"),
        (
            None,
            replace(SETTINGS, max_nodes=3),
            "BadDynamicWorkflow",
            "the execution would grow to 4 nodes; the limit is 3",
        ),
    ],
)
def test_a_failed_sub_workflow_fails_its_node_and_the_execution(
    failing_child: str | None, settings: Any, code: str, message: str
) -> None:
    r = started(wf.fanned, {"values": [2, 3]}, "fan")
    obs = {r.attempt("fan"): built(wf.fan, values=[2, 3])}
    first = r.decide(obs)
    r.step(obs, expanded=r.expansions(first, settings))
    if failing_child is not None:
        r.step()
        r.step({r.attempt(failing_child): failed(retryable=False)})
    node = r.node("fan")
    assert node.phase is NodePhase.FAILED
    assert node.error is not None and (node.error.code, node.error.message) == (code, message)
    r.confirm_aborts()  # fail-fast killed the sibling still running, if any
    assert r.execution.phase is ExecutionPhase.FAILED
    assert r.execution.error is not None and r.execution.error.code == code
