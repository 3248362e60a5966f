"""Launch-plan children: reading their records for the core, and creating them when it asks.

A launch-plan node runs as an execution of its own. The core decides from the child's record
(passed in each round as ``child_executions``) and asks for a start with a deterministic child id
(`StartChild`); creating it here is idempotent — a child that already exists was started before a
crash, and one start is enough. The new child is queued by the controller.
"""

from __future__ import annotations

import contextlib

from setpoint.core.executions import new_execution
from setpoint.core.model import ExecutionMode, ExecutionRecord
from setpoint.core.state import ExecutionState, StartChild
from setpoint.errors import AlreadyExistsError, NotFoundError
from setpoint.ports import Clock, ExecutionStore
from setpoint.spec.canonical import canonical_json
from setpoint.spec.workflow import LaunchPlanConfig, WorkflowSpec


def child_executions(store: ExecutionStore, state: ExecutionState) -> dict[str, ExecutionRecord]:
    """The records of the child executions of this execution's running launch-plan nodes."""
    found: dict[str, ExecutionRecord] = {}
    for node_id in state.launched:
        child_id = state.node(node_id).typed_detail.child
        if child_id:
            with contextlib.suppress(NotFoundError):  # not created yet: the core starts it again
                found[str(child_id)] = store.get_execution(str(child_id))
    return found


def start_child(store: ExecutionStore, clock: Clock, state: ExecutionState, action: StartChild) -> None:
    """Create a launch-plan node's child execution; it already existing is success."""
    config = state.graph.node_map[action.node_id].config
    if not isinstance(config, LaunchPlanConfig):  # the core starts children of launch-plan nodes only
        raise TypeError(f"node '{action.node_id}' is not a launch plan")
    child = WorkflowSpec.from_json(config.workflow)
    inputs = dict(action.inputs)
    for name, var in child.interface.inputs:
        if name not in inputs and var.has_default:
            inputs[name] = var.default
    store.put_spec(child.digest, canonical_json(child.to_json()))
    parent = state.execution
    record, event = new_execution(
        action.child_id,
        child,
        project=parent.project,
        code_digest=parent.code_digest,
        inputs=inputs,
        now=clock.now(),
        config=parent.config,
        source_id=parent.id,
        mode=ExecutionMode.CHILD,
        message=f"child of {parent.id}/{action.node_id}",
    )
    with contextlib.suppress(AlreadyExistsError):  # started before a crash: one start is enough
        store.create_execution(record, [event])
