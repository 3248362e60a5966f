"""Deadlines: the execution's overall deadline, each node's deadline, each attempt's timeout.

The core reads no clock: each check compares the round's ``now`` with a due time, kills (or fails)
what is past due, and otherwise asks to be woken when the earliest due time comes
(`Round.wake_in`), so a deadline fires even if no event ever arrives.
"""

from __future__ import annotations

from setpoint.core.model import AbortReason, ErrorInfo, NodeRecord
from setpoint.core.phases import AttemptPhase, ErrorKind, is_active
from setpoint.core.reconcile.nodes import node_failed, task_of
from setpoint.core.reconcile.overlay import ABORT_RECHECK_S, Round
from setpoint.core.state import Abort


def check_execution_deadline(r: Round) -> None:
    deadline = r.state.spec.deadline_s
    ex = r.execution
    if deadline is None or ex.started_at is None or ex.error is not None or ex.abort_reason is not None:
        return
    due = ex.started_at + deadline
    if r.now >= due:
        error = ErrorInfo(
            ErrorKind.USER,
            "DeadlineExceeded",
            f"the execution did not finish within its deadline of {deadline:g}s",
            False,
        )
        r.set_execution(ex.evolve(error=error), error.message)
    else:
        r.wake_in(due - r.now)


def node_deadline_passed(r: Round, node: NodeRecord) -> bool:
    """A node's total deadline (all attempts and backoffs together) has passed: fail it for good."""
    task = task_of(r, node.node_id)
    if task.deadline_s is None or node.started_at is None or not is_active(node.phase):
        return False
    due = node.started_at + task.deadline_s
    if r.now < due:
        r.wake_in(due - r.now)
        return False
    for aid in (node.attempt_id,):
        att = r.attempt(aid)
        if att is not None and att.phase in (AttemptPhase.LAUNCHING, AttemptPhase.RUNNING):
            r.set_attempt(att.evolve(phase=AttemptPhase.ABORTING, abort_reason=AbortReason.DEADLINE), "deadline")
            r.actions.append(Abort(aid, AbortReason.DEADLINE, att.executor))
            r.wake_in(ABORT_RECHECK_S)
    message = f"the node did not finish within its deadline of {task.deadline_s:g}s (attempts: {node.attempt})"
    node_failed(r, node, ErrorInfo(ErrorKind.USER, "Deadline", message, False, node.node_id))
    return True


def check_deadlines(r: Round) -> None:
    """Per-attempt timeouts and per-node deadlines: kill what is past due; otherwise wake when it is due."""
    graph = r.state.graph
    for aid in list(r.state.timed):
        att = r.attempt(aid)
        if att is None or att.phase.is_terminal or att.phase is AttemptPhase.ABORTING:
            continue
        if node_deadline_passed(r, r.node(att.node_id)):
            continue
        if att.phase is not AttemptPhase.RUNNING or att.started_at is None:
            continue
        timeout = graph.tasks[graph.node_map[att.node_id].task].timeout_s
        if timeout is None:
            continue
        due = att.started_at + timeout
        if r.now >= due:
            r.set_attempt(att.evolve(phase=AttemptPhase.ABORTING, abort_reason=AbortReason.TIMEOUT), "timeout")
            r.actions.append(Abort(aid, AbortReason.TIMEOUT, att.executor))
            r.wake_in(ABORT_RECHECK_S)
        else:
            r.wake_in(due - r.now)
