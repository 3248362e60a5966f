"""What every concern does to a node: start an attempt, succeed, fail, record lineage, release.

Task nodes, cache hits, map and dynamic parents, gates and launch-plan children all end the same
few ways; these transitions are written once here so that each concern module stays about its own
decisions and the modules form a tree (they import this one and `overlay`, never each other's
steps).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from setpoint.core.model import (
    AttemptRecord,
    CacheStatus,
    CatalogEntry,
    ErrorInfo,
    LineageDirection,
    LineageRow,
    NodeRecord,
    attempt_id,
)
from setpoint.core.phases import AttemptPhase, NodePhase
from setpoint.core.reconcile.overlay import Round, resolve_binding
from setpoint.core.state import Launch
from setpoint.spec.canonical import literal_hash
from setpoint.spec.workflow import NodeSpec, TaskSpec


def task_of(r: Round, node_id: str) -> TaskSpec:
    return r.state.graph.tasks[r.state.graph.node_map[node_id].task]


def node_inputs(r: Round, spec_node: NodeSpec) -> dict[str, Any]:
    task = r.state.graph.tasks[spec_node.task]
    bound = dict(spec_node.inputs)
    out: dict[str, Any] = {}
    for name, var in task.interface.inputs:
        b = bound.get(name)
        if b is not None:
            out[name] = resolve_binding(b, r.state, r)
        elif var.has_default:
            out[name] = var.default
    return out


def new_attempt(r: Round, node: NodeRecord, inputs: Mapping[str, Any], **changes: Any) -> None:
    spec_node = r.state.graph.node_map[node.node_id]
    task = r.state.graph.tasks[spec_node.task]
    number = node.attempt + 1
    executor = task.executor or r.execution.config.executor
    att = AttemptRecord(r.execution.id, node.node_id, number, AttemptPhase.LAUNCHING, executor, r.now)
    r.set_attempt(att)
    if number == 1:
        lineage_in(r, node.node_id, inputs)
    r.set_node(
        node.evolve(
            phase=NodePhase.QUEUED,
            attempt=number,
            inputs=dict(inputs),
            started_at=node.started_at or r.now,
            retry_at=None,
            **changes,
        )
    )
    r.actions.append(Launch(att.id, node.node_id, spec_node.task, dict(inputs), executor))


def node_succeeded(r: Round, node: NodeRecord, att: AttemptRecord, outputs: dict[str, Any]) -> None:
    detail = node.typed_detail
    status = node.cache_status
    cache = detail.cache
    if cache is not None and status in (CacheStatus.MISS, CacheStatus.SKIPPED):
        r.catalog_puts.append(
            CatalogEntry(
                project=r.execution.project,
                task=task_of(r, node.node_id).name,
                key=cache["key"],
                components=cache["components"],
                outputs=outputs,
                source_execution=r.execution.id,
                source_node=node.node_id,
                source_attempt=att.number,
                created_at=r.now,
            )
        )
        status = CacheStatus.PUT
        release(r, node)
    provenance = {
        "execution": r.execution.id,
        "node": node.node_id,
        "attempt": att.number,
        "code_digest": r.execution.code_digest,
        "inputs": {k: literal_hash(v) for k, v in (node.inputs or {}).items()},
    }
    lineage_out(r, node.node_id, outputs)
    r.set_node(
        node.evolve(
            phase=NodePhase.SUCCEEDED,
            outputs=outputs,
            finished_at=r.now,
            error=None,
            cache_status=status,
            detail=detail.evolve(provenance=provenance).to_json(),
        )
    )


def node_failed(r: Round, node: NodeRecord, error: ErrorInfo) -> None:
    """A node failed for good: fail its parent's evaluation, or the execution (fail-fast)."""
    r.set_node(node.evolve(phase=NodePhase.FAILED, error=error, finished_at=r.now), error.message)
    if r.state.graph.parent_of.get(node.node_id) is None and r.execution.error is None:
        r.set_execution(r.execution.evolve(error=error))


def release(r: Round, node: NodeRecord) -> None:
    cache = node.typed_detail.cache
    if cache is not None and cache.get("serialize"):
        r.releases.append((r.execution.project, cache["key"], f"{r.execution.id}/{node.node_id}"))


def lineage_in(r: Round, node_id: str, inputs: Mapping[str, Any]) -> None:
    for name, value in inputs.items():
        r.lineage.append(LineageRow(r.execution.id, node_id, LineageDirection.IN, name, literal_hash(value)))


def lineage_out(r: Round, node_id: str, outputs: Mapping[str, Any]) -> None:
    for name, value in outputs.items():
        r.lineage.append(LineageRow(r.execution.id, node_id, LineageDirection.OUT, name, literal_hash(value)))


def node_attempt_id(node: NodeRecord) -> str:
    return attempt_id(node.execution_id, node.node_id, node.attempt)
