"""Cached tasks: consult the catalog before launching.

The core cannot read the catalog, so a cached node's first round asks for the answer (a
`CacheLookup` in the decision) and the shell calls again with it. A hit succeeds the node with the
stored outputs and no launch; a miss (or `overwrite_cache`) launches an attempt that will put its
outputs; a key reserved by another execution (a serialized cache) makes the node wait and look again.
"""

from __future__ import annotations

from typing import Any

from setpoint.core.cachekey import cache_key
from setpoint.core.model import CacheStatus, NodeDetail, NodeRecord
from setpoint.core.phases import NodePhase
from setpoint.core.reconcile.nodes import lineage_in, lineage_out, new_attempt
from setpoint.core.reconcile.overlay import ReconcileConfig, Round
from setpoint.core.state import CacheLookup
from setpoint.spec.canonical import literal_hash
from setpoint.spec.workflow import TaskSpec


def start_cached(r: Round, node: NodeRecord, task: TaskSpec, inputs: dict[str, Any], cfg: ReconcileConfig) -> None:
    """Consult the catalog: take a hit, wait on another's reservation, or run (a miss)."""
    key = cache_key(r.execution.project, task, r.execution.code_digest, inputs)
    digest = key.digest
    owner = f"{r.execution.id}/{node.node_id}"
    cache = {"key": digest, "components": key.components(), "serialize": task.cache.serialize}
    if r.execution.config.overwrite_cache:
        new_attempt(r, node, inputs, cache_status=CacheStatus.SKIPPED, detail=NodeDetail(cache=cache).to_json())
        return
    answer = r.catalog.get(digest)
    if answer is None:
        r.lookups[digest] = CacheLookup(digest, owner, task.cache.serialize, tuple(task.interface.output_map))
        return
    if answer.entry is not None:
        entry = answer.entry
        if answer.reserved_by == owner:  # we took the reservation just as the entry appeared: drop it
            r.releases.append((r.execution.project, digest, owner))
        source = {"execution": entry.source_execution, "node": entry.source_node, "attempt": entry.source_attempt}
        provenance_inputs = {k: literal_hash(v) for k, v in inputs.items()}
        lineage_in(r, node.node_id, inputs)
        lineage_out(r, node.node_id, entry.outputs)
        r.set_node(
            node.evolve(
                phase=NodePhase.SUCCEEDED,
                inputs=inputs,
                outputs=dict(entry.outputs),
                started_at=r.now,
                finished_at=r.now,
                cache_status=CacheStatus.HIT,
                detail=NodeDetail(
                    cache={**cache, "source": source}, provenance={**source, "inputs": provenance_inputs}
                ).to_json(),
            ),
            f"cache hit: outputs of {entry.source_execution}/{entry.source_node}/{entry.source_attempt}",
        )
        return
    if task.cache.serialize and answer.reserved_by not in (None, owner):
        r.wake_in(cfg.cache_wait_s)  # another execution computes this key; look again soon
        return
    if answer.problem:
        cache["replaced"] = answer.problem
    new_attempt(r, node, inputs, cache_status=CacheStatus.MISS, detail=NodeDetail(cache=cache).to_json())
