"""Answering the core's cache lookups: fetch catalog entries, verify them, reserve serialized keys.

The core asks for the catalog's answer about a key (`CacheLookup`) and decides hit, miss or wait
from it; fetching is the controller's part, and so is distrust: an entry whose outputs differ from
what the task declares, or whose artifacts are missing or fail their checksum, is a miss (with the
reason kept, so the node's record says why it ran). For a serialized task that misses, the key is
reserved so that only one execution computes it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

from setpoint.core.model import CatalogAnswer, CatalogEntry
from setpoint.core.state import CacheLookup
from setpoint.errors import SetpointError
from setpoint.ports import BlobRef, BlobStore, Store

log = logging.getLogger("setpoint.controller")


def blob_refs(lit: Any) -> Iterator[BlobRef]:
    """Every blob a literal references (offloaded values, files, directories, dataframes)."""
    if isinstance(lit, dict):
        if len(lit) == 1:
            ((tag, body),) = lit.items()
            if tag in ("$ref", "$file", "$dir") and isinstance(body, dict) and "sha256" in body:
                yield BlobRef(str(body["uri"]), str(body["sha256"]), int(body.get("size", -1)))
                return
        for v in lit.values():
            yield from blob_refs(v)
    elif isinstance(lit, list):
        for v in lit:
            yield from blob_refs(v)


def entry_problem(blobs: BlobStore, entry: CatalogEntry, outputs: Sequence[str]) -> str | None:
    """Why an entry cannot be used: other outputs than the task declares, or bad artifacts."""
    if set(entry.outputs) != set(outputs):
        return f"its outputs ({', '.join(sorted(entry.outputs))}) differ from the task's"
    for ref in blob_refs(entry.outputs):
        try:
            ok = blobs.verify(ref)
        except SetpointError as e:
            return str(e)
        if not ok:
            return f"artifact {ref.uri} is missing or fails its checksum"
    return None


def consult(
    store: Store, blobs: BlobStore, project: str, lookups: Sequence[CacheLookup], reservation_ttl: float, now: float
) -> dict[str, CatalogAnswer]:
    """Fetch and verify catalog entries; reserve keys of serialized tasks that missed."""
    entries = store.catalog_get_many(project, [lk.key for lk in lookups])
    answers: dict[str, CatalogAnswer] = {}
    for lk in lookups:
        entry = entries.get(lk.key)
        problem = None
        if entry is not None:
            problem = entry_problem(blobs, entry, lk.outputs)
            if problem is not None:
                log.warning("catalog entry %s is not usable (%s); treating it as a miss", lk.key[:12], problem)
                entry = None
        holder = None
        if entry is None and lk.serialize:
            holder = store.reserve(project, lk.key, lk.owner, reservation_ttl, now)
            if holder == lk.owner and problem is None:
                # The previous owner may have written the entry and released the reservation
                # between our lookup and our reserve: look again before running the body twice.
                late = store.catalog_get_many(project, [lk.key]).get(lk.key)
                if late is not None and entry_problem(blobs, late, lk.outputs) is None:
                    entry = late
        answers[lk.key] = CatalogAnswer(entry, holder, problem)
    return answers
