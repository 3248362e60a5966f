"""Cached tasks: the catalog lookup a round asks for, and what each answer decides."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from setpoint.core.model import CacheStatus, CatalogAnswer, CatalogEntry, ExecutionConfig
from setpoint.core.phases import ExecutionPhase, NodePhase
from setpoint.core.state import CacheLookup
from setpoint.sdk.workflow import Workflow
from tests.unit.core import workflows as wf
from tests.unit.core.builders import Run, launched_nodes, succeeded

OTHER = "exec0/somewhere"  # another execution holding a reservation


def entry(key: str) -> CatalogEntry:
    return CatalogEntry("p", "t", key, {}, {"o0": 16}, "exec0", "cached_square", 1, 1.0)


def looked_up(workflow: Workflow) -> tuple[Run, CacheLookup]:
    """A run whose cached node is ready and whose first round asked for its catalog entry."""
    r = Run.of(workflow)
    d = r.step()
    (lookup,) = d.lookups
    return r, lookup


@pytest.mark.parametrize(
    ("workflow", "node", "serialize"), [(wf.cached, "cached_square", False), (wf.serialized, "serialized_square", True)]
)
def test_a_cached_node_asks_for_its_catalog_entry_before_it_runs(
    workflow: Workflow, node: str, serialize: bool
) -> None:
    r = Run.of(workflow)
    d = r.step()
    (lookup,) = d.lookups
    assert (lookup.owner, lookup.serialize, lookup.outputs) == (f"exec1/{node}", serialize, ("o0",))
    assert launched_nodes(d) == [] and r.phase(node) is NodePhase.PENDING
    assert r.decide().lookups == d.lookups  # the same key, until the shell answers


Answer = Callable[[str, str], CatalogAnswer]  # (key, our owner id) -> the catalog's answer


@pytest.mark.parametrize(
    ("workflow", "answer", "phase", "status", "launched", "released", "requeue_after"),
    [
        # a hit: the stored outputs, no launch
        (wf.cached, lambda k, o: CatalogAnswer(entry(k)), NodePhase.SUCCEEDED, CacheStatus.HIT, False, False, None),
        # a miss, or an entry that cannot be used: run it
        (wf.cached, lambda k, o: CatalogAnswer(None), NodePhase.QUEUED, CacheStatus.MISS, True, False, None),
        (
            wf.cached,
            lambda k, o: CatalogAnswer(None, None, "artifact gone"),
            NodePhase.QUEUED,
            CacheStatus.MISS,
            True,
            False,
            None,
        ),
        # serialized: the reservation is ours, run it
        (wf.serialized, lambda k, o: CatalogAnswer(None, o), NodePhase.QUEUED, CacheStatus.MISS, True, False, None),
        # serialized: another execution computes this key; wait and look again
        (wf.serialized, lambda k, o: CatalogAnswer(None, OTHER), NodePhase.PENDING, None, False, False, 1.0),
        # serialized: the entry appeared just as we took the reservation: take the hit, drop the reservation
        (
            wf.serialized,
            lambda k, o: CatalogAnswer(entry(k), o),
            NodePhase.SUCCEEDED,
            CacheStatus.HIT,
            False,
            True,
            None,
        ),
    ],
    ids=["hit", "miss", "unusable-entry", "reserved-by-us", "reserved-by-another", "hit-while-reserving"],
)
def test_the_catalogs_answer_decides_hit_miss_or_wait(
    workflow: Workflow,
    answer: Answer,
    phase: NodePhase,
    status: str | None,
    launched: bool,
    released: bool,
    requeue_after: float | None,
) -> None:
    r, lookup = looked_up(workflow)
    d = r.step(catalog={lookup.key: answer(lookup.key, lookup.owner)})
    node = r.node(lookup.owner.split("/", 1)[1])
    assert node.phase is phase
    assert node.cache_status == status
    assert launched_nodes(d) == ([node.node_id] if launched else [])
    assert d.releases == ((("p", lookup.key, lookup.owner),) if released else ())
    assert d.requeue_after == requeue_after
    assert d.lookups == ()
    if status == CacheStatus.HIT:
        assert node.outputs == {"o0": 16} and node.inputs == {"x": 4}
        assert r.execution.phase is ExecutionPhase.SUCCEEDED and r.execution.outputs == {"o0": 16}


@pytest.mark.parametrize(("workflow", "released"), [(wf.cached, False), (wf.serialized, True)])
def test_a_miss_that_succeeds_puts_its_outputs_into_the_catalog(workflow: Workflow, released: bool) -> None:
    r, lookup = looked_up(workflow)
    node = lookup.owner.split("/", 1)[1]
    r.step(catalog={lookup.key: CatalogAnswer(None, lookup.owner if released else None)})
    d = r.step({r.attempt(node): succeeded({"o0": 16})})
    (put,) = d.catalog_puts
    assert (put.key, put.outputs, put.source_execution, put.source_node, put.source_attempt) == (
        lookup.key,
        {"o0": 16},
        "exec1",
        node,
        1,
    )
    assert r.node(node).cache_status == CacheStatus.PUT
    assert d.releases == ((("p", lookup.key, lookup.owner),) if released else ())


def test_overwrite_cache_runs_without_a_lookup_and_replaces_the_entry() -> None:
    r = Run.of(wf.cached, config=ExecutionConfig(overwrite_cache=True))
    d = r.step()
    assert d.lookups == () and launched_nodes(d) == ["cached_square"]
    assert r.node("cached_square").cache_status == CacheStatus.SKIPPED
    d = r.step({r.attempt("cached_square"): succeeded({"o0": 16})})
    assert [p.outputs for p in d.catalog_puts] == [{"o0": 16}]
