"""Explaining the cache: why a node's lookup hit or missed, compared with the closest stored entry.

`setpoint cache explain`, the API's ``cache-explain`` route and the console all show this; it reads
the node's recorded cache detail and the catalog, and changes nothing.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from setpoint.core.cachekey import explain
from setpoint.core.model import CacheStatus
from setpoint.errors import NotFoundError, UserError
from setpoint.ports import CatalogStore, ExecutionReader, NodeReader
from setpoint.spec.workflow import NodeKind, WorkflowSpec


class ExplainStore(ExecutionReader, NodeReader, CatalogStore, Protocol):
    """What an explanation reads: the execution and its spec, the node, the task's catalog entries."""


def explain_cache(store: ExplainStore, execution_id: str, node_id: str) -> dict[str, Any]:
    """Why a cached node hit or missed: its key compared with the closest entry of the same task."""
    rec = store.get_execution(execution_id)
    node = next((n for n in store.load_nodes(execution_id) if n.node_id == node_id), None)
    spec = WorkflowSpec.from_json(json.loads(store.get_spec(rec.spec_digest)))
    if node_id not in spec.node_map:
        raise NotFoundError(f"execution '{execution_id}' has no node '{node_id}'")
    if spec.node_map[node_id].kind is not NodeKind.TASK:
        raise UserError(f"node '{node_id}' is a {spec.node_map[node_id].kind} node; only task nodes are cached")
    task = spec.tasks[spec.node_map[node_id].task]
    cache = node.typed_detail.cache if node is not None else None
    out: dict[str, Any] = {"execution": execution_id, "node": node_id, "task": task.name}
    if not task.cache.enabled:
        return {**out, "status": "DISABLED", "summary": f"task '{task.name}' is not cached (@task(cache=True))"}
    if node is None or cache is None:
        return {**out, "status": None, "summary": "the node has not reached the catalog yet"}
    out.update(status=node.cache_status, key=cache["key"])
    if node.cache_status == CacheStatus.HIT:
        src = cache.get("source", {})
        return {**out, "summary": f"hit: outputs of {src.get('execution')}/{src.get('node')}/{src.get('attempt')}"}
    if node.cache_status == CacheStatus.SKIPPED or (
        node.cache_status == CacheStatus.PUT and "replaced" not in cache and rec.config.overwrite_cache
    ):
        return {**out, "summary": "the execution ran with overwrite_cache: the catalog was not consulted"}
    wanted = cache["components"]
    candidates = [
        e
        for e in store.catalog_list(rec.project, task.name, 1000)
        if not (e.source_execution == execution_id and e.source_node == node_id)
    ]
    if "replaced" in cache:
        return {**out, "summary": f"miss: the stored entry was not usable ({cache['replaced']}); it was replaced"}
    if not candidates:
        return {
            **out,
            "summary": f"miss: the catalog had no entry for task '{task.name}' in project '{rec.project}'",
        }
    best = min(candidates, key=lambda e: len(explain(wanted, e.components)))
    diffs = explain(wanted, best.components)
    return {
        **out,
        "closest": {"key": best.key, "execution": best.source_execution, "node": best.source_node},
        "differences": diffs,
        "summary": "miss: compared with the closest entry (from "
        f"{best.source_execution}/{best.source_node}), these differ: " + "; ".join(diffs),
    }
