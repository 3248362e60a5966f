"""Building the child specs that map nodes and dynamic tasks expand into.

The pure core cannot build them: a map's list may be offloaded to the blob store, and a dynamic
task's sub-workflow must be parsed and validated like any submitted spec. So the core asks (an
`ExpandRequest`), and the controller answers with a spec built here — or with the reason, as
text, that the node cannot expand (the core fails the node with it). The limits that keep an
execution bounded (elements per map, dynamic nesting depth, total nodes) are checked here too.
Storing the spec is the controller's part.
"""

from __future__ import annotations

from typing import Any

from setpoint.config.settings import Settings
from setpoint.core.state import ExecutionState, ExpandRequest
from setpoint.errors import SetpointError
from setpoint.ports import BlobStore
from setpoint.spec.model import NODE_ID_RE
from setpoint.spec.workflow import Binding, Interface, NodeSpec, WorkflowSpec
from setpoint.types import inline_json


def child_spec(state: ExecutionState, req: ExpandRequest, blobs: BlobStore, settings: Settings) -> WorkflowSpec | str:
    """The child spec a map or dynamic node expands into, or why it cannot expand."""
    if req.dynamic is not None:
        return dynamic_spec(state, req, settings)
    return map_spec(state, req, blobs, settings)


def map_spec(state: ExecutionState, req: ExpandRequest, blobs: BlobStore, settings: Settings) -> WorkflowSpec | str:
    """A map node's child spec: one task node per element."""
    lists: dict[str, list[Any]] = {}
    for name in req.over:
        value = inline_json(req.inputs.get(name), blobs, f"map node '{req.node_id}', input '{name}'")
        if not isinstance(value, list):
            return f"map input '{name}' is not a list"
        lists[name] = value
    sizes = {name: len(v) for name, v in lists.items()}
    if len(set(sizes.values())) > 1:
        shown = ", ".join(f"{k}: {v}" for k, v in sizes.items())
        return f"the inputs a map goes over must have the same length ({shown})"
    size = next(iter(sizes.values()), 0)
    if size > settings.max_map_size:
        return f"a map over {size} elements exceeds the limit of {settings.max_map_size}"
    if size and (problem := too_long(req.node_id, str(size - 1))) is not None:
        return problem
    task = state.graph.tasks[req.task]
    fixed = [(k, Binding.const(v)) for k, v in req.inputs.items() if k not in lists]
    nodes = tuple(
        NodeSpec(
            id=str(i),
            task=req.task,
            inputs=tuple(sorted([*fixed, *((k, Binding.const(v[i])) for k, v in lists.items())])),
        )
        for i in range(size)
    )
    return WorkflowSpec(
        name=f"{state.spec.name}.{req.node_id}",
        interface=Interface(),
        nodes=nodes,
        outputs=(),
        tasks={req.task: task},
    )


def dynamic_spec(state: ExecutionState, req: ExpandRequest, settings: Settings) -> WorkflowSpec | str:
    """Validate a dynamic task's sub-workflow like any spec, and bound its depth and size."""
    depth, node = 1, req.node_id
    while node in state.graph.parent_of:
        node = state.graph.parent_of[node]
        depth += 1
    if depth > settings.max_dynamic_depth:
        return (
            f"dynamic task '{req.task}' nested {depth} levels deep; the limit is {settings.max_dynamic_depth} "
            "(does its recursion reach a base case?)"
        )
    try:
        child = WorkflowSpec.from_json(req.dynamic)
    except SetpointError as e:
        return f"dynamic task '{req.task}' built an invalid workflow: {e}"
    total = len(state.graph.node_map) + len(child.nodes)
    if total > settings.max_nodes:
        return f"the execution would grow to {total} nodes; the limit is {settings.max_nodes}"
    longest = max((n.id for n in child.nodes), key=len, default=None)
    if longest is not None and (problem := too_long(req.node_id, longest)) is not None:
        return f"dynamic task '{req.task}': {problem}"
    return child


def too_long(parent: str, child_id: str) -> str | None:
    """Why a child's full id (``parent.child``) cannot be a node id, or None when it can.

    Children are named by their parent's id and their own, so each level of nesting (a dynamic
    task, a subworkflow inlined in it) lengthens the ids; past the limit the node could not be
    stored or given an attempt folder, so the parent fails instead, naming the id.
    """
    full = f"{parent}.{child_id}"
    if NODE_ID_RE.fullmatch(full):
        return None
    return (
        f"its node '{full[:60]}...' would have an id of {len(full)} characters, more than node ids allow (128); "
        "the sub-workflow is nested too deep (does a recursion reach its base case?)"
    )
