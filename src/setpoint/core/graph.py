"""The graph an execution runs: its pinned spec plus the child graphs expanded while it runs.

A map node expands into one child node per element; a dynamic node into the sub-DAG its task
built. Children live in the same flat namespace as the static nodes, under the parent's id
(``train.0``, ``train.1``, … or ``tune.fit-2``), so they get the same rows, attempts, retries,
cache entries and logs as any node. Each expansion is itself a content-addressed spec recorded
in the parent node's row, so the graph can always be rebuilt from what was stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from setpoint.spec.workflow import ON_FAILURE_NODE, Binding, NodeSpec, TaskSpec, WorkflowSpec


class Graph:
    def __init__(self, spec: WorkflowSpec) -> None:
        self.spec = spec
        self.node_map: dict[str, NodeSpec] = dict(spec.node_map)
        self.upstream: dict[str, tuple[str, ...]] = dict(spec.upstream)
        self.downstream: dict[str, list[str]] = {k: list(v) for k, v in spec.downstream.items()}
        self.tasks: dict[str, TaskSpec] = dict(spec.tasks)
        self.parent_of: dict[str, str] = {}
        self.children: dict[str, tuple[str, ...]] = {}
        self.child_outputs: dict[str, tuple[tuple[str, Binding], ...]] = {}
        self.hidden: frozenset[str] = frozenset()  # nodes outside the DAG (the on_failure handler)
        if spec.on_failure is not None:
            self.node_map[ON_FAILURE_NODE] = NodeSpec(ON_FAILURE_NODE, spec.on_failure)
            self.upstream[ON_FAILURE_NODE] = ()
            self.downstream[ON_FAILURE_NODE] = []
            self.hidden = frozenset({ON_FAILURE_NODE})

    def add_children(self, parent: str, child: WorkflowSpec, parent_inputs: Mapping[str, Any]) -> list[str]:
        """Graft an expansion under ``parent``; returns the new node ids in the child's order."""
        if parent in self.children:
            return list(self.children[parent])
        prefix = f"{parent}."

        def rebind(b: Binding) -> Binding:
            return b.rebased(_rebind_base(b))

        def _rebind_base(b: Binding) -> Binding:
            if b.input is not None:
                return Binding.const(parent_inputs[b.input])
            if b.node is not None:
                return Binding.from_node(prefix + b.node, b.output or "")
            if b.items is not None:
                return Binding(items=tuple(rebind(x) for x in b.items))
            if b.entries is not None:
                return Binding(entries=tuple((k, rebind(x)) for k, x in b.entries))
            if b.select is not None:
                cases = tuple(None if c is None else rebind(c) for c in b.select[1])
                return Binding(select=(prefix + b.select[0], cases))
            return Binding.const(b.literal)

        ids: list[str] = []
        for n in child.nodes:
            node = NodeSpec(
                id=prefix + n.id,
                task=n.task,
                inputs=tuple((k, rebind(b)) for k, b in n.inputs),
                after=tuple(prefix + a for a in n.after),
                kind=n.kind,
                config=n.config,
                config_json=n.config_json,
                case_of=(prefix + n.case_of[0], n.case_of[1]) if n.case_of else None,
            )
            self.node_map[node.id] = node
            self.upstream[node.id] = node.upstream
            self.downstream.setdefault(node.id, [])
            self.parent_of[node.id] = parent
            ids.append(node.id)
        for nid in ids:
            for u in self.upstream[nid]:
                self.downstream.setdefault(u, []).append(nid)
        for name, t in child.tasks.items():
            self.tasks.setdefault(name, t)
        self.children[parent] = tuple(ids)
        self.child_outputs[parent] = tuple((k, rebind(b)) for k, b in child.outputs)
        return ids

    def top_level(self, node_id: str) -> bool:
        return node_id not in self.parent_of
