"""The end of an execution: stopping what is in flight, the ``on_failure`` handler, the final phase.

A user's abort, a fail-fast failure or a passed execution deadline stops every active node and
attempt (aborts are idempotent and re-sent until the executor confirms). Once nothing is live the
execution takes its final phase; a failed execution with an ``on_failure`` task runs it first,
once, with the workflow's inputs and the error in a parameter named ``err`` (flytekit's name) or
``error``: the message for a ``str``, or a ``WorkflowError`` (message, failed node) struct.
"""

from __future__ import annotations

from setpoint.core.model import AbortReason, ErrorInfo
from setpoint.core.phases import AttemptPhase, ErrorKind, ExecutionPhase, NodePhase, is_active
from setpoint.core.reconcile.nodes import new_attempt, release
from setpoint.core.reconcile.overlay import ABORT_RECHECK_S, Round, resolve_binding
from setpoint.core.state import Abort, AbortChild
from setpoint.spec.bindings import PathError
from setpoint.spec.types import TypeKind, TypeRef
from setpoint.spec.validate import ERROR_PARAMS, error_param_form
from setpoint.spec.workflow import ON_FAILURE_NODE, FailurePolicy


def stop(r: Round) -> None:
    """Abort everything in flight (a user's terminate, or fail-fast after a node failed)."""
    reason = r.execution.abort_reason or (
        r.execution.error.message
        if r.execution.error and r.execution.error.code == "DeadlineExceeded"
        else "fail-fast: another node failed"
    )
    spare = r.state.graph.hidden if r.execution.abort_reason is None else frozenset()  # the failure handler
    for node_id in dict.fromkeys([*r.state.active, *(n for n, rec in r.nodes.items() if is_active(rec.phase))]):
        node = r.node(node_id)
        if not is_active(node.phase) or node_id in spare:
            continue
        release(r, node)
        child_id = node.typed_detail.child
        if child_id:
            r.actions.append(AbortChild(str(child_id), reason))
        r.set_node(node.evolve(phase=NodePhase.ABORTED, finished_at=r.now), reason)
    for aid in dict.fromkeys([*r.state.live_attempts, *r.attempts]):
        att = r.attempt(aid)
        if att is None or att.phase.is_terminal or att.node_id in spare:
            continue
        if att.phase is AttemptPhase.ABORTING and att.abort_reason == AbortReason.TIMEOUT:
            continue  # already being killed; its outcome is settled by observe
        if att.phase is not AttemptPhase.ABORTING:
            r.set_attempt(att.evolve(phase=AttemptPhase.ABORTING, abort_reason=AbortReason.ABORT), reason)
        r.actions.append(Abort(aid, reason, att.executor))
        r.wake_in(ABORT_RECHECK_S)


def _run_failure_handler(r: Round) -> bool:
    """Start the on_failure task once (with the error and the workflow's inputs); True while it runs."""
    handler = r.node(ON_FAILURE_NODE)
    if handler.phase.is_terminal:
        return False
    if is_active(handler.phase):
        return True
    task = r.state.graph.tasks[r.state.graph.node_map[ON_FAILURE_NODE].task]
    error = r.execution.error
    inputs: dict[str, object] = {}
    for name, var in task.interface.inputs:
        if name in r.execution.inputs:
            inputs[name] = r.execution.inputs[name]
        elif name in ERROR_PARAMS:
            inputs[name] = _error_literal(error, var.type)
    new_attempt(r, handler, inputs)
    return True


def _error_literal(error: ErrorInfo | None, t: TypeRef) -> object:
    """The error as the handler's parameter takes it: the message, or a WorkflowError-shaped struct."""
    message = error.message if error else ""
    if error_param_form(t) != "struct":
        return message
    struct = next(a for a in (t.args if t.kind is TypeKind.UNION else (t,)) if a.kind is TypeKind.STRUCT)
    values = {"message": message, "failed_node_id": (error.node or "") if error else ""}
    return {name: values[name] for name, _ in struct.fields}


def finish(r: Round) -> None:
    ex = r.execution
    if ex.phase.is_terminal:
        return
    spec = r.state.spec
    if ex.abort_reason is not None:
        if r.live_attempt_count == 0:
            r.set_execution(ex.evolve(phase=ExecutionPhase.ABORTED, finished_at=r.now, error=ex.error), ex.abort_reason)
        return
    stops = spec.failure_policy == FailurePolicy.FAIL_FAST or (
        ex.error is not None and ex.error.code == "DeadlineExceeded"
    )
    if ex.error is not None and (stops or r.all_terminal):
        if r.live_attempt_count == 0:
            if spec.on_failure is not None and _run_failure_handler(r):
                return
            r.set_execution(ex.evolve(phase=ExecutionPhase.FAILED, finished_at=r.now), ex.error.message)
        return
    if r.all_succeeded:
        try:
            outputs = {name: resolve_binding(b, r.state, r) for name, b in spec.outputs}
        except PathError as e:  # an output is a path into a value that does not have it
            error = ErrorInfo(ErrorKind.USER, "BadOutputPath", f"a workflow output could not be resolved: {e}", False)
            r.set_execution(ex.evolve(phase=ExecutionPhase.FAILED, finished_at=r.now, error=error), error.message)
            return
        r.set_execution(ex.evolve(phase=ExecutionPhase.SUCCEEDED, finished_at=r.now, outputs=outputs))
