"""Launch-plan nodes: a node that runs as a child execution of its own.

The child's id is derived from the parent execution and the node (`child_execution_id`), so
starting it twice (after a crash between recording the intent and starting) is one start. The
node follows the child's phase: it succeeds with the child's outputs or fails with its cause.
"""

from __future__ import annotations

import hashlib

from setpoint.core.model import ErrorInfo, NodeDetail, NodeRecord
from setpoint.core.phases import ErrorKind, ExecutionPhase, NodePhase
from setpoint.core.reconcile.nodes import lineage_in, lineage_out, node_failed
from setpoint.core.reconcile.overlay import Round, resolve_binding
from setpoint.core.state import StartChild
from setpoint.spec.workflow import LaunchPlanConfig, NodeSpec


def child_execution_id(execution_id: str, node_id: str) -> str:
    """A launch-plan node's child execution id: deterministic, so starting it twice is one start."""
    return "c" + hashlib.sha256(f"{execution_id}/{node_id}".encode()).hexdigest()[:11]


def start_child(r: Round, node: NodeRecord, spec_node: NodeSpec) -> None:
    config = spec_node.config
    if not isinstance(config, LaunchPlanConfig):  # validate() rules this out
        raise TypeError(f"node '{spec_node.id}' is not a launch plan")
    given = {name: resolve_binding(b, r.state, r) for name, b in spec_node.inputs}
    inputs = {**config.defaults, **given, **config.fixed}
    child_id = child_execution_id(r.execution.id, spec_node.id)
    r.set_node(
        node.evolve(
            phase=NodePhase.RUNNING, inputs=inputs, started_at=r.now, detail=NodeDetail(child=child_id).to_json()
        ),
        f"started child execution {child_id} (launch plan '{config.launchplan}')",
    )
    lineage_in(r, spec_node.id, inputs)
    r.actions.append(StartChild(child_id, spec_node.id, inputs))


def check_children(r: Round) -> None:
    for node_id in list(r.state.launched):
        node = r.node(node_id)
        child_id = str(node.typed_detail.child)
        child = r.child_executions.get(child_id)
        if node.phase is not NodePhase.RUNNING:
            continue
        if child is None:
            # not created yet (a crash between recording and starting it): start it again, idempotently
            r.actions.append(StartChild(child_id, node_id, dict(node.inputs or {})))
            continue
        if not child.phase.is_terminal:
            continue
        if child.phase is ExecutionPhase.SUCCEEDED:
            outputs = dict(child.outputs or {})
            lineage_out(r, node_id, outputs)
            r.set_node(
                node.evolve(phase=NodePhase.SUCCEEDED, outputs=outputs, finished_at=r.now),
                f"child execution {child_id} succeeded",
            )
            continue
        cause = child.error.message if child.error else (child.abort_reason or child.phase.value.lower())
        error = ErrorInfo(
            ErrorKind.USER,
            "ChildFailed",
            f"child execution {child_id} {child.phase.value.lower()}: {cause}",
            False,
            node_id,
        )
        node_failed(r, node, error)
