"""Attempts: what executors observed about them, and what a failed attempt leads to.

An observation moves an attempt to RUNNING, SUCCEEDED or FAILED (or settles an abort); a failure
is retried after a deterministic exponential backoff while the user budget (`TaskSpec.retries`)
or the system budget (`ReconcileConfig.max_system_retries`) lasts, and fails the node for good
after that. A node in RETRYING gets its next attempt once its `retry_at` has come.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping

from setpoint.core.model import AbortReason, AttemptObservation, AttemptRecord, ErrorInfo, NodeRecord, Observed
from setpoint.core.phases import AttemptPhase, ErrorKind, NodePhase, is_active
from setpoint.core.reconcile.deadlines import node_deadline_passed
from setpoint.core.reconcile.expansions import expand_dynamic
from setpoint.core.reconcile.nodes import new_attempt, node_failed, node_succeeded, release
from setpoint.core.reconcile.overlay import ABORT_RECHECK_S, ReconcileConfig, Round
from setpoint.core.state import Abort, Launch


def backoff_delay(failures: int, aid: str, cfg: ReconcileConfig) -> float:
    """Exponential backoff with deterministic jitter in [50%, 100%] derived from the attempt id."""
    if cfg.backoff_base_s <= 0:
        return 0.0
    raw = min(cfg.backoff_max_s, cfg.backoff_base_s * float(2 ** max(0, failures - 1)))
    jitter = (zlib.crc32(aid.encode()) % 1000) / 1000.0
    return raw * (0.5 + 0.5 * jitter)


def observe(r: Round, observations: Mapping[str, AttemptObservation], cfg: ReconcileConfig) -> None:
    for aid, obs in observations.items():
        att = r.attempt(aid)
        if att is None or att.phase.is_terminal:
            continue  # late or duplicated news about an attempt already settled
        node = r.node(att.node_id)
        if node.attempt != att.number:
            continue
        if obs.status == Observed.PENDING:
            continue
        if obs.status == Observed.UNKNOWN:
            if att.phase is AttemptPhase.LAUNCHING:
                _relaunch(r, node, att)
            elif att.phase is AttemptPhase.ABORTING:
                r.set_attempt(att.evolve(phase=AttemptPhase.ABORTED, finished_at=r.now))
            else:
                lost = ErrorInfo(ErrorKind.SYSTEM, "ProcessLost", "the executor has no record of this attempt")
                _attempt_failed(r, node, att, lost, cfg)
        elif obs.status == Observed.RUNNING:
            if att.phase is AttemptPhase.LAUNCHING:
                started = obs.started_at or r.now
                r.set_attempt(att.evolve(phase=AttemptPhase.RUNNING, started_at=started))
                if node.phase is NodePhase.QUEUED:
                    r.set_node(node.evolve(phase=NodePhase.RUNNING))
            elif att.phase is AttemptPhase.ABORTING:
                r.actions.append(Abort(aid, att.abort_reason or AbortReason.ABORT, att.executor))
                r.wake_in(ABORT_RECHECK_S)
        elif obs.status == Observed.SUCCEEDED:
            if att.phase is AttemptPhase.ABORTING and att.abort_reason != AbortReason.TIMEOUT:
                r.set_attempt(att.evolve(phase=AttemptPhase.ABORTED, finished_at=obs.finished_at or r.now))
                continue
            finished = obs.finished_at or r.now
            began = obs.started_at or att.started_at  # the executor's own record of the start wins
            r.set_attempt(
                att.evolve(
                    phase=AttemptPhase.SUCCEEDED,
                    started_at=min(began, finished) if began is not None else None,
                    finished_at=finished,
                )
            )
            if is_active(node.phase):
                outputs = dict(obs.outputs or {})
                # A @dynamic task's sub-workflow comes back under "$dynamic", a name no output can
                # have (NAME_RE); it is never stored, and a typed channel would change the result
                # format every executor and the worker share (see adapters/executor/runtime.py).
                if "$dynamic" in outputs:
                    expand_dynamic(r, node, outputs["$dynamic"])
                else:
                    node_succeeded(r, node, att, outputs)
        else:  # FAILED
            error = obs.error or ErrorInfo(ErrorKind.SYSTEM, "Unknown", "the attempt failed")
            if att.phase is AttemptPhase.ABORTING:
                if att.abort_reason == AbortReason.TIMEOUT:
                    timeout = r.state.graph.tasks[r.state.graph.node_map[att.node_id].task].timeout_s
                    error = ErrorInfo(
                        ErrorKind.USER, "Timeout", f"the attempt ran longer than its timeout of {timeout:g}s"
                    )
                else:
                    r.set_attempt(att.evolve(phase=AttemptPhase.ABORTED, finished_at=obs.finished_at or r.now))
                    continue
            _attempt_failed(r, node, att, error, cfg)


def _relaunch(r: Round, node: NodeRecord, att: AttemptRecord) -> None:
    """The attempt was recorded but the executor never saw it: launch it (same id, idempotent)."""
    spec_node = r.state.graph.node_map[node.node_id]
    r.actions.append(Launch(att.id, node.node_id, spec_node.task, dict(node.inputs or {}), att.executor))


def _attempt_failed(r: Round, node: NodeRecord, att: AttemptRecord, error: ErrorInfo, cfg: ReconcileConfig) -> None:
    r.set_attempt(att.evolve(phase=AttemptPhase.FAILED, finished_at=r.now, error=error), error.code)
    if not is_active(node.phase):
        return
    user = node.user_failures + (error.kind is ErrorKind.USER)
    system = node.system_failures + (error.kind is ErrorKind.SYSTEM)
    task = r.state.graph.tasks[r.state.graph.node_map[node.node_id].task]
    if error.kind is ErrorKind.USER:
        can_retry = error.retryable and user <= task.retries
    else:
        can_retry = error.retryable and system <= cfg.max_system_retries
    if can_retry:
        delay = backoff_delay(user + system, att.id, cfg)
        r.set_node(
            node.evolve(
                phase=NodePhase.RETRYING,
                user_failures=user,
                system_failures=system,
                error=error,
                retry_at=r.now + delay,
            ),
            f"{error.code}: retrying in {delay:.2f}s",
        )
        r.wake_in(delay)
        return
    if error.kind is ErrorKind.USER and error.retryable and task.retries:
        budget = f" (retries exhausted: {task.retries})"
    elif error.kind is ErrorKind.SYSTEM and error.retryable:
        budget = f" (system retries exhausted: {cfg.max_system_retries})"
    else:
        budget = ""
    final = ErrorInfo(error.kind, error.code, error.message + budget, False, node.node_id)
    release(r, node)
    node_failed(r, node.evolve(user_failures=user, system_failures=system), final)


def start_retries(r: Round, cfg: ReconcileConfig) -> None:
    for node_id in list(r.state.retrying):
        node = r.node(node_id)
        if node.phase is not NodePhase.RETRYING:
            continue
        if node_deadline_passed(r, node):
            continue
        if node.retry_at is not None and node.retry_at > r.now:
            r.wake_in(node.retry_at - r.now)
            continue
        new_attempt(r, node, node.inputs or {})
    # nodes that started retrying in this very round
    for node_id, node in list(r.nodes.items()):
        if (
            node.phase is NodePhase.RETRYING
            and node_id not in r.state.retrying
            and node.retry_at is not None
            and node.retry_at <= r.now
        ):
            new_attempt(r, node, node.inputs or {})
