"""Deadlines: an attempt's timeout, a node's deadline over all its attempts, the execution's deadline."""

from __future__ import annotations

import pytest

from setpoint.core.phases import AttemptPhase, ErrorKind, ExecutionPhase, NodePhase
from setpoint.core.reconcile import ABORT_RECHECK_S, ReconcileConfig
from setpoint.core.state import Abort
from tests.unit.core import workflows as wf
from tests.unit.core.builders import T0, Run, aborts, failed, running


@pytest.mark.parametrize(
    ("elapsed", "attempt_phase", "killed", "requeue_after"),
    [
        (0.0, AttemptPhase.RUNNING, False, 10.0),  # look again when the timeout is due
        (4.0, AttemptPhase.RUNNING, False, 6.0),
        (10.0, AttemptPhase.ABORTING, True, ABORT_RECHECK_S),  # due: kill it, and check the kill soon
        (15.0, AttemptPhase.ABORTING, True, ABORT_RECHECK_S),
    ],
)
def test_an_attempt_running_past_its_timeout_is_killed(
    elapsed: float, attempt_phase: AttemptPhase, killed: bool, requeue_after: float
) -> None:
    r = Run.of(wf.timed)
    r.step()
    aid = r.attempt("bounded")
    r.step({aid: running(started_at=T0)})
    r.advance(elapsed)
    d = r.step()
    assert r.state.live_attempts[aid].phase is attempt_phase
    assert [a for a in d.actions if isinstance(a, Abort)] == ([Abort(aid, "timeout", "local")] if killed else [])
    assert d.requeue_after == requeue_after


def test_a_killed_timeout_is_a_user_failure_named_timeout() -> None:
    r = Run.of(wf.timed)
    r.step()
    aid = r.attempt("bounded")
    r.step({aid: running(started_at=T0)})
    r.advance(10.0)
    r.step()
    r.step({aid: failed("Aborted", ErrorKind.SYSTEM, message="killed")})  # what the kill looks like
    node = r.node("bounded")
    assert node.phase is NodePhase.FAILED and node.user_failures == 1 and node.system_failures == 0
    assert node.error is not None and node.error.code == "Timeout"
    assert node.error.message == "the attempt ran longer than its timeout of 10s"
    assert r.execution.phase is ExecutionPhase.FAILED


@pytest.mark.parametrize(
    ("backoff_base_s", "elapsed", "phase", "killed", "requeue_after"),
    [
        (0.0, 10.0, NodePhase.QUEUED, False, 10.0),  # the second attempt runs; wake at the node's deadline
        (0.0, 20.0, NodePhase.FAILED, True, ABORT_RECHECK_S),  # due: the live attempt is killed
        (100.0, 10.0, NodePhase.RETRYING, False, 10.0),  # backing off; the deadline comes before the retry
        (100.0, 20.0, NodePhase.FAILED, False, None),  # due while backing off: no retry, nothing to kill
    ],
)
def test_a_nodes_deadline_covers_all_its_attempts_and_backoffs(
    backoff_base_s: float, elapsed: float, phase: NodePhase, killed: bool, requeue_after: float | None
) -> None:
    r = Run.of(wf.node_deadline, cfg=ReconcileConfig(backoff_base_s=backoff_base_s, backoff_max_s=100.0))
    r.step()
    r.advance(5.0)
    r.step({r.attempt("stubborn"): failed()})  # retries=10: the budget is not what stops it
    r.advance(elapsed - 5.0)
    live = r.attempt("stubborn")
    d = r.step()
    node = r.node("stubborn")
    assert node.phase is phase
    assert aborts(d) == ([live] if killed else [])
    assert d.requeue_after == requeue_after
    if phase is NodePhase.FAILED:
        assert node.error is not None and node.error.code == "Deadline"
        assert node.error.message.startswith("the node did not finish within its deadline of 20s")
        assert r.execution.error is not None and r.execution.error.code == "Deadline"


@pytest.mark.parametrize(
    ("elapsed", "error", "killed", "requeue_after"),
    [
        (0.0, None, False, 60.0),  # the first round asks to be woken at the deadline
        (30.0, None, False, 30.0),
        (60.0, "DeadlineExceeded", True, ABORT_RECHECK_S),  # due: stop everything in flight
    ],
)
def test_the_execution_deadline_stops_the_execution(
    elapsed: float, error: str | None, killed: bool, requeue_after: float
) -> None:
    r = Run.of(wf.execution_deadline)
    first = r.step()
    assert first.requeue_after == 60.0
    aid = r.attempt("inc")
    r.step({aid: running()})
    r.advance(elapsed)
    d = r.step()
    assert (r.execution.error.code if r.execution.error else None) == error
    assert aborts(d) == ([aid] if killed else [])
    assert d.requeue_after == requeue_after
    if killed:
        assert r.phase("inc") is NodePhase.ABORTED
        assert r.execution.phase is ExecutionPhase.RUNNING  # until the kill is confirmed
        r.confirm_aborts()
        assert r.execution.phase is ExecutionPhase.FAILED  # type: ignore[comparison-overlap]  # mypy keeps the narrowing across confirm_aborts()
        assert r.execution.error is not None
        assert r.execution.error.message == "the execution did not finish within its deadline of 60s"
