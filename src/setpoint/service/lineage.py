"""Lineage: where a value came from, and where it went.

Every node that starts records the content hash of each input, and every node that succeeds the
hash of each output, plus its provenance (execution, node, attempt, code digest, input hashes; a
cache hit keeps pointing at the original producer). Upstream walks follow the pinned spec's
bindings back to the workflow inputs; downstream walks follow content hashes across executions:
which nodes, anywhere, consumed a value with this hash.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from setpoint.core.model import LineageRow, NodeRecord
from setpoint.errors import NotFoundError
from setpoint.ports import Store
from setpoint.spec.canonical import literal_hash
from setpoint.spec.workflow import Binding, NodeKind, WorkflowSpec


@dataclass
class Source:
    """Where one input came from."""

    input: str
    value_hash: str
    kind: str  # "node" | "workflow_input" | "literal" | "collection"
    node: str | None = None
    output: str | None = None
    workflow_input: str | None = None
    upstream: list[LineageNode] = field(default_factory=list)


@dataclass
class LineageNode:
    execution: str
    node: str
    task: str
    phase: str
    attempt: int
    cache_status: str | None
    produced_by: dict[str, Any] | None  # provenance: who computed these outputs
    outputs: dict[str, str]  # output name -> content hash
    inputs: list[Source] = field(default_factory=list)
    repeated: bool = False  # already shown higher up in the tree (a diamond)


def _spec(store: Store, execution_id: str) -> WorkflowSpec:
    rec = store.get_execution(execution_id)
    return WorkflowSpec.from_json(json.loads(store.get_spec(rec.spec_digest)))


def upstream(store: Store, execution_id: str, node_id: str | None = None) -> list[LineageNode]:
    """The tree behind a node (or behind every workflow output), down to the workflow inputs."""
    spec = _spec(store, execution_id)
    records = {n.node_id: n for n in store.load_nodes(execution_id)}
    if node_id is not None:
        if node_id not in spec.node_map:
            raise NotFoundError(f"execution '{execution_id}' has no node '{node_id}'")
        roots = [node_id]
    else:
        roots = list(dict.fromkeys(n for _, b in spec.outputs for n in b.upstream_nodes()))
    seen: set[str] = set()
    return [_walk(spec, records, execution_id, r, seen) for r in roots]


def _walk(
    spec: WorkflowSpec, records: dict[str, NodeRecord], execution_id: str, node_id: str, seen: set[str]
) -> LineageNode:
    rec = records.get(node_id)
    provenance = rec.typed_detail.provenance if rec else None  # who computed the outputs
    node = LineageNode(
        execution=execution_id,
        node=node_id,
        task=spec.tasks[spec.node_map[node_id].task].name if spec.node_map[node_id].kind is NodeKind.TASK else "branch",
        phase=rec.phase.value if rec else "PENDING",
        attempt=rec.attempt if rec else 0,
        cache_status=rec.cache_status if rec else None,
        produced_by=dict(provenance) if provenance is not None else None,
        outputs={k: literal_hash(v) for k, v in ((rec.outputs if rec else None) or {}).items()},
    )
    if node_id in seen:
        node.repeated = True
        return node
    seen.add(node_id)
    inputs = (rec.inputs if rec else None) or {}
    for name, b in spec.node_map[node_id].inputs:
        value_hash = literal_hash(inputs[name]) if name in inputs else ""
        node.inputs.append(_source(spec, records, execution_id, name, value_hash, b, seen))
    return node


def _source(
    spec: WorkflowSpec,
    records: dict[str, NodeRecord],
    execution_id: str,
    name: str,
    value_hash: str,
    b: Binding,
    seen: set[str],
) -> Source:
    if b.node is not None:
        return Source(
            name,
            value_hash,
            "node",
            node=b.node,
            output=b.output,
            upstream=[_walk(spec, records, execution_id, b.node, seen)],
        )
    if b.input is not None:
        return Source(name, value_hash, "workflow_input", workflow_input=b.input)
    if b.is_literal:
        return Source(name, value_hash, "literal")
    ups = list(dict.fromkeys(b.upstream_nodes()))
    return Source(name, value_hash, "collection", upstream=[_walk(spec, records, execution_id, u, seen) for u in ups])


@dataclass(frozen=True)
class Consumer:
    value_hash: str
    execution: str
    node: str
    input: str
    depth: int


def consumers(
    store: Store, execution_id: str, node_id: str, output: str | None = None, max_depth: int = 5
) -> list[Consumer]:
    """Every node, in any execution, that consumed this node's output(s) — then theirs, and so on."""
    records = {n.node_id: n for n in store.load_nodes(execution_id)}
    rec = records.get(node_id)
    if rec is None or rec.outputs is None:
        raise NotFoundError(f"node '{node_id}' of execution '{execution_id}' has no recorded outputs")
    if output is not None and output not in rec.outputs:
        raise NotFoundError(f"node '{node_id}' has no output '{output}' (outputs: {', '.join(rec.outputs)})")
    frontier = [literal_hash(v) for k, v in rec.outputs.items() if output is None or k == output]
    out: list[Consumer] = []
    seen_hashes: set[str] = set()
    seen_nodes: set[tuple[str, str]] = {(execution_id, node_id)}
    rows_of: dict[str, list[LineageRow]] = {}
    for depth in range(1, max_depth + 1):
        next_frontier: list[str] = []
        for h in frontier:
            if h in seen_hashes:
                continue
            seen_hashes.add(h)
            for row in store.lineage_by_hash(h, "in"):
                out.append(Consumer(h, row.execution_id, row.node_id, row.name, depth))
                key = (row.execution_id, row.node_id)
                if key in seen_nodes:
                    continue
                seen_nodes.add(key)
                if row.execution_id not in rows_of:
                    rows_of[row.execution_id] = store.lineage_of(row.execution_id)
                next_frontier.extend(
                    r.value_hash for r in rows_of[row.execution_id] if r.node_id == row.node_id and r.direction == "out"
                )
        frontier = next_frontier
        if not frontier:
            break
    return out
