"""Expanded nodes: map nodes and dynamic tasks grow a child graph, and settle when it has.

The core does not build child specs (that needs the spec compiler and the blob store): a ready map
node, or a dynamic task whose attempt returned a sub-workflow, asks the shell for one (an
`ExpandRequest`), and the next round grafts the answer onto the graph. A parent is settled from its
children's counts: a map succeeds once enough elements did (``min_success_ratio``) and fails as
soon as too many failed; a dynamic node fails with the first failed child. A map's
``concurrency`` caps how many of its elements run at once.
"""

from __future__ import annotations

import math
from typing import Any

from setpoint.core.model import AttemptRecord, ErrorInfo, NodeDetail, NodeRecord
from setpoint.core.phases import AttemptPhase, ErrorKind, NodePhase, is_active
from setpoint.core.reconcile.nodes import lineage_in, lineage_out, node_failed, node_succeeded
from setpoint.core.reconcile.overlay import Round, resolve_binding
from setpoint.core.state import ExpandRequest
from setpoint.spec.workflow import MapConfig, NodeSpec


def parent_saturated(r: Round, parent: str) -> bool:
    """A map's ``concurrency`` caps how many of its elements are in flight at once."""
    config = r.state.graph.node_map[parent].config
    limit = config.concurrency if isinstance(config, MapConfig) else 0
    return limit > 0 and r.active_children(parent) >= limit


def expand_map(r: Round, node: NodeRecord, spec_node: NodeSpec, inputs: dict[str, Any]) -> None:
    """A ready map node grows one child per element (built and stored by the shell)."""
    answer = r.expanded.get(spec_node.id)
    if answer is None:
        over = spec_node.config.over if isinstance(spec_node.config, MapConfig) else ()
        r.expand_requests.append(ExpandRequest(spec_node.id, spec_node.task, inputs, over))
        return
    if isinstance(answer, str):
        error = ErrorInfo(ErrorKind.USER, "BadMapInput", f"map node '{spec_node.id}': {answer}", False, spec_node.id)
        node_failed(r, node.evolve(inputs=inputs), error)
        return
    digest, child = answer
    r.set_node(
        node.evolve(
            phase=NodePhase.RUNNING,
            inputs=inputs,
            started_at=r.now,
            detail=NodeDetail(expanded=digest, size=len(child.nodes)).to_json(),
        ),
        f"expanded into {len(child.nodes)} elements",
    )
    lineage_in(r, spec_node.id, inputs)
    r.expansions.append((spec_node.id, child))
    r.wake_in(0.0)  # start the elements in the next round, once the graph holds them
    if not child.nodes:
        r.pending_parents[spec_node.id] = None


def expand_dynamic(r: Round, node: NodeRecord, spec_json: Any) -> None:
    """A dynamic task's attempt returned a sub-workflow: validate it (in the shell) and graft it."""
    answer = r.expanded.get(node.node_id)
    if answer is None:
        spec_node = r.state.graph.node_map[node.node_id]
        r.expand_requests.append(ExpandRequest(node.node_id, spec_node.task, dict(node.inputs or {}), (), spec_json))
        return
    if isinstance(answer, str):
        error = ErrorInfo(ErrorKind.USER, "BadDynamicWorkflow", answer, False, node.node_id)
        node_failed(r, node, error)
        return
    digest, child = answer
    if not child.nodes:  # a base case: the body returned values, not nodes
        outputs = {name: resolve_binding(b, r.state, r) for name, b in child.outputs}
        att = r.attempt(node.attempt_id) or AttemptRecord(
            r.execution.id, node.node_id, node.attempt, AttemptPhase.SUCCEEDED, "", r.now
        )
        node_succeeded(r, node, att, outputs)
        return
    detail = node.typed_detail.evolve(expanded=digest, size=len(child.nodes)).to_json()
    r.set_node(node.evolve(phase=NodePhase.RUNNING, detail=detail), f"built a sub-workflow of {len(child.nodes)} nodes")
    r.expansions.append((node.node_id, child))
    r.wake_in(0.0)


def check_parent(r: Round, parent: str) -> None:
    """Finish (or fail) an expanded node once its children are settled."""
    rec = r.node(parent)
    if not is_active(rec.phase):
        return
    spec_parent = r.state.graph.node_map[parent]
    config = spec_parent.config
    if not isinstance(config, MapConfig):
        _check_dynamic(r, parent, rec)
        return
    children = r.state.graph.children.get(parent, ())
    total = len(children) if parent in r.state.graph.children else (rec.typed_detail.size or 0)
    ok = r.child_count(r.state.child_ok, r.child_ok_delta, parent)
    failed = r.child_count(r.state.child_failed, r.child_failed_delta, parent)
    ratio = config.min_success_ratio
    need = math.ceil(ratio * total)
    if failed > total - need:
        error = ErrorInfo(
            ErrorKind.USER,
            "MapFailed",
            f"{failed} of {total} elements failed; at least {need} had to succeed",
            False,
            parent,
        )
        node_failed(r, rec, error)
        return
    if ok + failed < total:
        return
    outputs: dict[str, Any] = {}
    names = list(r.state.graph.tasks[spec_parent.task].interface.output_map)
    for name in names:
        values = []
        for child in children:
            crec = r.node(child)
            values.append((crec.outputs or {}).get(name) if crec.phase.is_success else None)
        outputs[name] = values
    lineage_out(r, parent, outputs)
    r.set_node(
        rec.evolve(phase=NodePhase.SUCCEEDED, outputs=outputs, finished_at=r.now),
        f"{ok} of {total} elements succeeded",
    )


def _check_dynamic(r: Round, parent: str, rec: NodeRecord) -> None:
    children = r.state.graph.children.get(parent, ())
    failed = r.child_count(r.state.child_failed, r.child_failed_delta, parent)
    ok = r.child_count(r.state.child_ok, r.child_ok_delta, parent)
    if failed:
        culprit = next((c for c in children if r.node(c).phase is NodePhase.FAILED), None)
        cause = r.node(culprit).error if culprit else None
        message = f"node '{culprit}' of the sub-workflow failed" + (f": {cause.message}" if cause else "")
        code = cause.code if cause else "ChildFailed"
        node_failed(r, rec, ErrorInfo(cause.kind if cause else ErrorKind.USER, code, message, False, parent))
        return
    if ok < len(children):
        return
    outputs = {name: resolve_binding(b, r.state, r) for name, b in r.state.graph.child_outputs.get(parent, ())}
    lineage_out(r, parent, outputs)
    r.set_node(rec.evolve(phase=NodePhase.SUCCEEDED, outputs=outputs, finished_at=r.now), "sub-workflow done")
