"""Map nodes: expansion into elements, the concurrency cap, min-success ratio, element failure."""

from __future__ import annotations

from dataclasses import replace

import pytest

from setpoint.core.phases import ErrorKind, NodePhase
from setpoint.sdk.workflow import Workflow
from tests.unit.core import workflows as wf
from tests.unit.core.builders import SETTINGS, Run, aborts, failed, launched_nodes, running, succeeded

MAP = "square-map"


def elements(n: int) -> list[str]:
    return [f"{MAP}.{i}" for i in range(n)]


def mapped_run(workflow: Workflow, n: int) -> Run:
    """A run whose map node is expanded over ``range(n)`` (its elements not yet launched)."""
    r = Run.of(workflow, {"n": n})
    r.step()
    r.finish("numbers", {"o0": list(range(n))})
    return r


@pytest.mark.parametrize("n", [0, 1, 3])
def test_a_ready_map_asks_the_shell_for_its_elements_before_it_starts(n: int) -> None:
    r = Run.of(wf.mapped, {"n": n})
    r.step()
    d = r.decide({r.attempt("numbers"): succeeded({"o0": list(range(n))})})
    (req,) = d.expand_requests
    assert (req.node_id, req.over, req.inputs) == (MAP, ("x",), {"x": list(range(n))})
    assert MAP not in {rec.node_id for rec in d.nodes}  # nothing is recorded until the child spec exists
    assert d.expansions == ()


@pytest.mark.parametrize(
    ("n", "map_phase", "launched_next_round"),
    [
        (0, NodePhase.SUCCEEDED, []),  # nothing to wait for: done in the round it expanded
        (1, NodePhase.RUNNING, elements(1)),
        (3, NodePhase.RUNNING, elements(3)),
    ],
)
def test_an_expanded_map_runs_one_element_per_item(
    n: int, map_phase: NodePhase, launched_next_round: list[str]
) -> None:
    r = Run.of(wf.mapped, {"n": n})
    r.step()
    d = r.finish("numbers", {"o0": list(range(n))})
    assert r.phase(MAP) is map_phase
    assert [(parent, len(child.nodes)) for parent, child in d.expansions] == [(MAP, n)]
    assert launched_nodes(r.step()) == launched_next_round
    assert [r.node(e).inputs for e in launched_next_round] == [{"x": i} for i in range(n)]


def test_an_empty_map_succeeds_with_empty_lists_and_its_downstream_starts_at_once() -> None:
    r = Run.of(wf.mapped, {"n": 0})
    r.step()
    d = r.finish("numbers", {"o0": []})
    assert r.node(MAP).outputs == {"o0": []}
    assert launched_nodes(d) == ["total"]
    assert r.node("total").inputs == {"xs": []}


@pytest.mark.parametrize(
    ("workflow", "launched_first", "launched_after_one_succeeds"),
    [
        (wf.mapped, elements(5), []),  # no cap: every element at once
        (wf.mapped_two_at_a_time, elements(2), [f"{MAP}.2"]),  # concurrency=2
    ],
)
def test_map_concurrency_caps_elements_in_flight(
    workflow: Workflow, launched_first: list[str], launched_after_one_succeeds: list[str]
) -> None:
    r = mapped_run(workflow, 5)
    assert launched_nodes(r.step()) == launched_first
    d = r.finish(f"{MAP}.0", {"o0": 0})
    assert launched_nodes(d) == launched_after_one_succeeds


@pytest.mark.parametrize(
    ("workflow", "failing", "map_phase", "outputs", "error"),
    [
        (wf.mapped, set(), NodePhase.SUCCEEDED, [0, 1, 4, 9], None),
        (wf.mapped, {2}, NodePhase.FAILED, None, "1 of 4 elements failed; at least 4 had to succeed"),
        (wf.mapped_half, {1}, NodePhase.SUCCEEDED, [0, None, 4, 9], None),  # a failed element is a None
        (wf.mapped_half, {1, 3}, NodePhase.SUCCEEDED, [0, None, 4, None], None),
        (wf.mapped_half, {0, 1, 3}, NodePhase.FAILED, None, "3 of 4 elements failed; at least 2 had to succeed"),
    ],
)
def test_min_success_ratio_decides_whether_a_map_with_failed_elements_succeeds(
    workflow: Workflow, failing: set[int], map_phase: NodePhase, outputs: list[int | None] | None, error: str | None
) -> None:
    r = mapped_run(workflow, 4)
    r.step()
    obs = {r.attempt(e): failed() if i in failing else succeeded({"o0": i * i}) for i, e in enumerate(elements(4))}
    r.step(obs)
    node = r.node(MAP)
    assert node.phase is map_phase
    assert (node.outputs or {}).get("o0") == outputs
    assert (node.error.message if node.error else None) == error
    if error is not None:
        assert node.error is not None and node.error.code == "MapFailed" and node.error.kind is ErrorKind.USER
        assert r.execution.error is not None and r.execution.error.code == "MapFailed"


@pytest.mark.parametrize(
    ("workflow", "map_phase", "aborted"),
    [
        # all must succeed: the first failure fails the map, and fail-fast aborts the elements still running
        (wf.mapped, NodePhase.FAILED, elements(4)[1:]),
        # half may fail: one failure changes nothing for the others
        (wf.mapped_half, NodePhase.RUNNING, []),
    ],
)
def test_a_failed_element_fails_the_map_as_soon_as_too_many_have_failed(
    workflow: Workflow, map_phase: NodePhase, aborted: list[str]
) -> None:
    r = mapped_run(workflow, 4)
    r.step()
    r.step({r.attempt(e): running() for e in elements(4)})
    d = r.step({r.attempt(f"{MAP}.0"): failed(retryable=False)})
    first = r.node(f"{MAP}.0")
    assert first.phase is NodePhase.FAILED
    assert first.error is not None and first.error.code == "TaskRaised"
    assert r.phase(MAP) is map_phase
    assert aborts(d) == [r.attempt(e) for e in aborted]
    assert [e for e in elements(4) if r.phase(e) is NodePhase.ABORTED] == aborted


@pytest.mark.parametrize(
    ("n", "max_map_size", "phase", "error"),
    [
        (3, 3, NodePhase.RUNNING, None),
        (3, 2, NodePhase.FAILED, "map node 'square-map': a map over 3 elements exceeds the limit of 2"),
    ],
)
def test_a_map_the_shell_cannot_expand_fails_with_the_shells_reason(
    n: int, max_map_size: int, phase: NodePhase, error: str | None
) -> None:
    r = Run.of(wf.mapped, {"n": n})
    r.step()
    obs = {r.attempt("numbers"): succeeded({"o0": list(range(n))})}
    first = r.decide(obs)
    r.step(obs, expanded=r.expansions(first, replace(SETTINGS, max_map_size=max_map_size)))
    node = r.node(MAP)
    assert node.phase is phase
    assert (node.error.message if node.error else None) == error
    if error is not None:
        assert node.error is not None and node.error.code == "BadMapInput"
        assert r.execution.error is not None and r.execution.error.code == "BadMapInput"
