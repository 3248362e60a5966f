"""The ``on_failure`` handler: run once, with the error and the inputs, before the execution fails."""

from __future__ import annotations

import pytest

from setpoint.core.model import AttemptObservation
from setpoint.core.phases import ExecutionPhase, NodePhase
from setpoint.sdk.workflow import Workflow
from setpoint.spec.workflow import ON_FAILURE_NODE
from tests.unit.core import workflows as wf
from tests.unit.core.builders import Run, failed, launched_nodes, succeeded


@pytest.mark.parametrize(
    ("workflow", "outcome", "launched", "phase"),
    [
        (wf.guarded, failed(retryable=False), [ON_FAILURE_NODE], ExecutionPhase.RUNNING),  # the handler runs first
        (wf.unguarded, failed(retryable=False), [], ExecutionPhase.FAILED),  # no handler: fails at once
        (wf.guarded, succeeded({"o0": 2}), [], ExecutionPhase.SUCCEEDED),  # no failure: the handler never runs
    ],
)
def test_a_failing_execution_starts_its_handler_before_it_fails(
    workflow: Workflow, outcome: AttemptObservation, launched: list[str], phase: ExecutionPhase
) -> None:
    r = Run.of(workflow, {"x": 1})
    r.step()
    d = r.step({r.attempt("inc"): outcome})
    assert launched_nodes(d) == launched
    assert r.execution.phase is phase
    if launched:
        assert r.node(ON_FAILURE_NODE).inputs == {"error": "boom", "x": 1}  # the error, and the workflow's inputs


@pytest.mark.parametrize(
    "handler_outcome",
    [succeeded({}), failed(retryable=False)],
    ids=["handler-succeeds", "handler-fails"],
)
def test_the_execution_fails_with_the_original_error_once_the_handler_is_done(
    handler_outcome: AttemptObservation,
) -> None:
    r = Run.of(wf.guarded, {"x": 1})
    r.step()
    r.step({r.attempt("inc"): failed(retryable=False)})
    d = r.step({r.attempt(ON_FAILURE_NODE): handler_outcome})
    assert r.phase(ON_FAILURE_NODE).is_terminal
    assert r.execution.phase is ExecutionPhase.FAILED
    assert r.execution.error is not None and (r.execution.error.node, r.execution.error.message) == ("inc", "boom")
    assert launched_nodes(d) == []  # the handler ran once
    assert r.node(ON_FAILURE_NODE).attempt == 1


def test_a_user_abort_does_not_run_the_handler() -> None:
    r = Run.of(wf.guarded, {"x": 1})
    r.step()
    r.state.execution = r.execution.evolve(abort_reason="stopped by alice")  # as a terminate records it
    r.step()
    d = r.confirm_aborts()
    assert launched_nodes(d) == [] and r.phase(ON_FAILURE_NODE) is NodePhase.PENDING
    assert r.execution.phase is ExecutionPhase.ABORTED
