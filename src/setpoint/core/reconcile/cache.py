"""Cached tasks: consult the catalog before launching.

The core cannot read the catalog, so a cached node's first round asks for the answer (a
`CacheLookup` in the decision) and the shell calls again with it. A hit succeeds the node with the
stored outputs and no launch; a miss (or `overwrite_cache`) launches an attempt that will put its
outputs; a key reserved by another execution (a serialized cache) makes the node wait and look again.

Inside one execution, a second node with the same key never runs the body again: while a node of
the execution computes the key, the other waits for it (serialized or not), and an entry put in
this very round (the first node finished just now) is a hit before the catalog has it.
"""

from __future__ import annotations

from itertools import chain
from typing import Any
from weakref import WeakKeyDictionary

from setpoint.core.cachekey import cache_key
from setpoint.core.model import CacheStatus, CatalogEntry, NodeDetail, NodeRecord
from setpoint.core.phases import NodePhase, is_active
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
    put_now = _put_this_round(r, digest)
    if put_now is not None:  # a node of this execution put the key in this round
        _hit(r, node, inputs, cache, put_now)
        return
    computing = _in_flight(r)
    holder = computing.get(digest)
    if holder is not None and holder != node.node_id and is_active(r.node(holder).phase):
        return  # a node of this execution computes the key: its completion starts a round that hits
    answer = r.catalog.get(digest)
    if answer is None:
        r.lookups[digest] = CacheLookup(digest, owner, task.cache.serialize, tuple(task.interface.output_map))
        return
    if answer.entry is not None:
        if answer.reserved_by == owner:  # we took the reservation just as the entry appeared: drop it
            r.releases.append((r.execution.project, digest, owner))
        _hit(r, node, inputs, cache, answer.entry)
        return
    if task.cache.serialize and answer.reserved_by not in (None, owner):
        r.wake_in(cfg.cache_wait_s)  # another execution computes this key; look again soon
        return
    if answer.problem:
        cache["replaced"] = answer.problem
    new_attempt(r, node, inputs, cache_status=CacheStatus.MISS, detail=NodeDetail(cache=cache).to_json())
    computing[digest] = node.node_id


def _hit(r: Round, node: NodeRecord, inputs: dict[str, Any], cache: dict[str, Any], entry: CatalogEntry) -> None:
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


# Per round: cache key -> the node of this execution computing it (active, a miss). Built once per
# round from the active nodes, on the first cached start, and kept up to date as misses launch.
_IN_FLIGHT: WeakKeyDictionary[Round, dict[str, str]] = WeakKeyDictionary()


# Per round: the entries put so far, by key, and how many of r.catalog_puts are indexed (puts are
# appended as nodes succeed, so the index catches up instead of scanning the list per cached start).
_PUT: WeakKeyDictionary[Round, tuple[int, dict[str, CatalogEntry]]] = WeakKeyDictionary()


def _put_this_round(r: Round, digest: str) -> CatalogEntry | None:
    seen, by_key = _PUT.get(r, (0, {}))
    for entry in r.catalog_puts[seen:]:
        by_key.setdefault(entry.key, entry)
    _PUT[r] = (len(r.catalog_puts), by_key)
    return by_key.get(digest)


def _in_flight(r: Round) -> dict[str, str]:
    keys = _IN_FLIGHT.get(r)
    if keys is None:
        keys = {}
        for node_id in chain(r.state.active, r.nodes):
            rec = r.node(node_id)
            if is_active(rec.phase) and rec.cache_status is CacheStatus.MISS:
                cache = rec.typed_detail.cache
                if cache is not None:
                    keys.setdefault(str(cache["key"]), node_id)
        _IN_FLIGHT[r] = keys
    return keys
