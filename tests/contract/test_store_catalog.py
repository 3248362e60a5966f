"""The Store contract for the memoization catalog, cache reservations, lineage and recovered nodes.

Each test runs once per backend (see conftest.py); the random-operation comparison of the backends,
these operations included, is in test_store_contract.py.
"""

from __future__ import annotations

import threading
import time
from typing import Any, cast

import pytest

from setpoint.core.model import CatalogEntry, ExecutionRecord, LineageDirection, LineageRow
from setpoint.core.phases import ExecutionPhase, NodePhase
from setpoint.errors import AlreadyExistsError, ConflictError, LeaseLostError
from setpoint.ports import RoundWrite, Store

from .test_store_contract import attempt, event, execution, node, state

HOSTILE = (
    "'); DROP TABLE catalog_entries; --",
    '"]}',
    "a\x00b",  # SQLite's JSON functions would cut this at the NUL
    "a",
    ":project",
    "%(key)s",
    "?",
    "\\",
    "ünïcødé ☃ 中文 🚀",
    "",
    "*",
)


def entry(key: str, project: str = "proj", **changes: Any) -> CatalogEntry:
    fields: dict[str, Any] = {
        "project": project,
        "task": "pkg.train",
        "key": key,
        "components": {"task": "pkg.train", "cache_version": "1", "inputs": {"x": "ab" * 32}},
        "outputs": {"model": {"blob": {"uri": f"file:///b/{key}", "sha256": "0" * 64}}},
        "source_execution": "ex-1",
        "source_node": "train",
        "source_attempt": 1,
        "created_at": 100.0,
        **changes,
    }
    return CatalogEntry(**fields)


def lin(eid: str, nid: str, direction: str, name: str, value_hash: str) -> LineageRow:
    # cast, not a conversion: a direction that is not one reaches the store, which must refuse it
    return LineageRow(eid, nid, cast(LineageDirection, direction), name, value_hash)


def commit(store: Store, eid: str = "ex-1", **parts: Any) -> ExecutionRecord:
    """One round on ``eid`` (created if missing) carrying ``parts`` (catalog_puts=..., ...)."""
    try:
        current = store.get_execution(eid)
    except Exception:
        current = store.create_execution(execution(eid))
    return store.commit_round(RoundWrite(current, **parts), owner=None)


def keys_of(entries: list[CatalogEntry]) -> list[tuple[str, str]]:
    return [(e.project, e.key) for e in entries]


def everything(store: Store, eids: tuple[str, ...] = ("ex-1",)) -> tuple[Any, ...]:
    """All catalog and lineage state visible through the port (reservations are probed by reserve)."""
    return (
        store.catalog_list(limit=10_000),
        [store.lineage_of(eid) for eid in eids],
        [state(store, eid) for eid in eids],
    )


# -- puts and gets --------------------------------------------------------------------------------


def test_put_in_a_round_then_get_round_trips_every_field(store: Store) -> None:
    full = entry(
        "k1",
        project="ünïcødé ☃",
        task="pkg.mod:task",
        components={"inputs": {"n": 2**62, "f": 0.1 + 0.2, "deep": [None, True, {"k": [1.5e-300]}]}},
        outputs={"o": {"str": "line1\nline2\t\u2028 \"q\" 'single' 中文 🚀"}},
        source_execution="ex-src",
        source_node="train/fold-3",
        source_attempt=7,
        created_at=1_700_000_000.123456,
    )
    commit(store, catalog_puts=[full, entry("k2")])
    assert store.catalog_get_many("ünïcødé ☃", ["k1", "k2", "missing"]) == {"k1": full}
    assert store.catalog_get_many("proj", ["k2", "k2"]) == {"k2": entry("k2")}
    assert store.catalog_get_many("proj", []) == {}


def test_a_put_replaces_the_entry_with_the_same_key(store: Store) -> None:
    commit(store, catalog_puts=[entry("k1"), entry("k2")])
    newer = entry("k1", outputs={"model": {"int": 2}}, source_execution="ex-2", source_attempt=3, created_at=200.0)
    commit(store, catalog_puts=[newer])
    assert store.catalog_get_many("proj", ["k1", "k2"]) == {"k1": newer, "k2": entry("k2")}
    assert keys_of(store.catalog_list()) == [("proj", "k1"), ("proj", "k2")]


def test_the_last_put_of_a_key_in_one_round_wins(store: Store) -> None:
    commit(store, catalog_puts=[entry("k1", source_attempt=1), entry("k1", source_attempt=2)])
    assert store.catalog_get_many("proj", ["k1"])["k1"].source_attempt == 2
    assert len(store.catalog_list()) == 1


def test_projects_are_isolated(store: Store) -> None:
    commit(store, catalog_puts=[entry("k1", project="p1"), entry("k1", project="p2", task="other")])
    assert store.catalog_get_many("p1", ["k1"]) == {"k1": entry("k1", project="p1")}
    assert store.catalog_get_many("p2", ["k1"]) == {"k1": entry("k1", project="p2", task="other")}
    assert store.catalog_get_many("p3", ["k1"]) == {}
    assert store.catalog_get_many("P1", ["k1"]) == {}  # no case folding
    assert store.catalog_evict("p1", keys=["k1"]) == 1
    assert store.catalog_get_many("p2", ["k1"]) != {}
    assert store.catalog_evict("p1", task="other") == 0
    assert store.reserve("p1", "k", "ex-a/n", 10.0, 0.0) == "ex-a/n"
    assert store.reserve("p2", "k", "ex-b/n", 10.0, 0.0) == "ex-b/n"  # another project's key is free


def test_get_many_of_thousands_of_keys(store: Store) -> None:
    keys = [f"{i:064x}" for i in range(2_500)]
    commit(store, catalog_puts=[entry(k) for k in keys[::2]])
    started = time.perf_counter()
    found = store.catalog_get_many("proj", keys)
    elapsed = time.perf_counter() - started
    assert sorted(found) == keys[::2]
    assert all(e.key == k for k, e in found.items())
    assert elapsed < 1.0  # about 15 ms on a laptop; this only catches a quadratic or per-key query


def test_hostile_strings_are_just_data(store: Store) -> None:
    puts = [entry(k, project=k, task=k, source_execution=k, source_node=k) for k in HOSTILE]
    commit(store, catalog_puts=puts, lineage=[lin("ex-1", k, "in", k, k) for k in HOSTILE])
    for put in puts:
        assert store.catalog_get_many(put.project, list(HOSTILE)) == {put.key: put}
    assert store.lineage_of("ex-1") == [lin("ex-1", k, "in", k, k) for k in sorted(HOSTILE)]
    for k in HOSTILE:
        assert store.lineage_by_hash(k, "in") == [lin("ex-1", k, "in", k, k)]
        assert store.reserve(k, k, f"ex-2/{k}", 10.0, 0.0) == f"ex-2/{k}"
    assert store.catalog_evict("a\x00b", keys=["a"]) == 0  # "a\0b" is not "a"
    assert store.catalog_evict("a", keys=["a\x00b"]) == 0
    assert store.catalog_evict("a\x00b", keys=["a\x00b"]) == 1
    assert len(store.catalog_list(limit=100)) == len(HOSTILE) - 1


def test_returned_entries_cannot_change_stored_state(store: Store) -> None:
    commit(store, catalog_puts=[entry("k1")])
    got = store.catalog_get_many("proj", ["k1"])["k1"]
    got.outputs["model"]["blob"]["uri"] = "changed"
    got.components.clear()
    assert store.catalog_get_many("proj", ["k1"])["k1"] == entry("k1")


def test_bad_entries_and_arguments_are_refused_before_writing(store: Store) -> None:
    loaded = store.create_execution(execution())
    with pytest.raises(ValueError, match="not JSON"):
        store.commit_round(RoundWrite(loaded, catalog_puts=[entry("k", outputs={"x": float("inf")})]), owner=None)
    with pytest.raises(ValueError, match="JSON object"):
        store.commit_round(RoundWrite(loaded, catalog_puts=[entry("k", components=None)]), owner=None)
    with pytest.raises(ValueError, match="one string"):
        store.catalog_get_many("proj", "k1")
    with pytest.raises(ValueError, match="limit"):
        store.catalog_list(limit=-1)
    assert everything(store) == ([], [[]], [(loaded, [], [], [])])


# -- a round that fails writes none of it ---------------------------------------------------------


def _round_with_catalog_work(loaded: ExecutionRecord, **changes: Any) -> RoundWrite:
    return RoundWrite(
        loaded.evolve(phase=ExecutionPhase.RUNNING, **changes),
        nodes=[node(loaded.id, "b")],
        attempts=[attempt(loaded.id, "b")],
        events=[event(loaded.id)],
        catalog_puts=[entry("k-new"), entry("k-old", source_attempt=9)],
        releases=[("proj", "k-held", "ex-1/a")],
        lineage=[lin(loaded.id, "b", "out", "o", "h-new")],
    )


def _seed_for_conflicts(store: Store) -> ExecutionRecord:
    loaded = store.create_execution(execution())
    v2 = store.commit_round(
        RoundWrite(
            loaded,
            nodes=[node("ex-1", "a")],
            catalog_puts=[entry("k-old")],
            lineage=[lin("ex-1", "a", "in", "x", "h-old")],
        ),
        owner=None,
    )
    assert store.reserve("proj", "k-held", "ex-1/a", 10.0, 100.0) == "ex-1/a"
    return v2


def _assert_untouched(store: Store, before: tuple[Any, ...]) -> None:
    assert everything(store) == before
    assert store.catalog_get_many("proj", ["k-new"]) == {}
    assert store.lineage_by_hash("h-new", "out") == []
    assert store.reserve("proj", "k-held", "ex-9/z", 10.0, 105.0) == "ex-1/a"  # still held


def test_a_stale_round_writes_no_catalog_entry_no_lineage_and_releases_nothing(store: Store) -> None:
    v2 = _seed_for_conflicts(store)
    store.commit_round(RoundWrite(v2.evolve(updated_at=150.0)), owner=None)
    before = everything(store)
    with pytest.raises(ConflictError, match="expected version 2, found 3"):
        store.commit_round(_round_with_catalog_work(v2), owner=None)
    _assert_untouched(store, before)


def test_a_node_conflict_writes_no_catalog_entry_no_lineage_and_releases_nothing(store: Store) -> None:
    v2 = _seed_for_conflicts(store)
    before = everything(store)
    bad = _round_with_catalog_work(v2)
    bad = RoundWrite(
        bad.execution,
        nodes=[*bad.nodes, node("ex-1", "a")],  # "a" exists: inserting it again conflicts
        catalog_puts=bad.catalog_puts,
        releases=bad.releases,
        lineage=bad.lineage,
    )
    with pytest.raises(ConflictError, match="node 'a' of execution 'ex-1' already exists"):
        store.commit_round(bad, owner=None)
    _assert_untouched(store, before)


def test_a_lost_lease_writes_no_catalog_entry_no_lineage_and_releases_nothing(store: Store) -> None:
    v2 = _seed_for_conflicts(store)
    store.acquire_lease("ex-1", "c2", ttl=10.0, now=100.0)
    before = everything(store)
    with pytest.raises(LeaseLostError):
        store.commit_round(_round_with_catalog_work(v2), owner="c1")
    _assert_untouched(store, before)


def test_rows_of_another_execution_or_direction_are_refused(store: Store) -> None:
    loaded = store.create_execution(execution())
    with pytest.raises(ValueError, match="lineage row of execution 'ex-2'"):
        store.commit_round(RoundWrite(loaded, lineage=[lin("ex-2", "a", "in", "x", "h")]), owner=None)
    with pytest.raises(ValueError, match="direction"):
        store.commit_round(RoundWrite(loaded, lineage=[lin("ex-1", "a", "sideways", "x", "h")]), owner=None)
    assert everything(store) == ([], [[]], [(loaded, [], [], [])])


# -- listing and eviction -------------------------------------------------------------------------


def _seed_catalog(store: Store) -> None:
    commit(
        store,
        catalog_puts=[
            entry("k-a", created_at=1.0, task="t1", source_execution="ex-x"),
            entry("k-b", created_at=3.0, task="t2", source_execution="ex-y"),
            entry("k-c", created_at=2.0, task="t1", source_execution="ex-y"),
            entry("k-d", created_at=2.0, task="t1", source_execution="ex-x"),  # tie with k-c: key decides
            entry("k-a", project="other", created_at=3.0, task="t1", source_execution="ex-x"),
            entry("k-z", project="aaa", created_at=3.0, task="t2", source_execution="ex-y"),
        ],
    )


def test_list_is_newest_first_with_project_then_key_tiebreak(store: Store) -> None:
    _seed_catalog(store)
    assert keys_of(store.catalog_list()) == [
        ("aaa", "k-z"), ("other", "k-a"), ("proj", "k-b"), ("proj", "k-c"), ("proj", "k-d"), ("proj", "k-a"),
    ]  # fmt: skip


def test_list_filters_and_limit(store: Store) -> None:
    _seed_catalog(store)
    assert keys_of(store.catalog_list(project="proj", task="t1")) == [("proj", "k-c"), ("proj", "k-d"), ("proj", "k-a")]
    assert keys_of(store.catalog_list(task="t2")) == [("aaa", "k-z"), ("proj", "k-b")]
    assert keys_of(store.catalog_list(project="other")) == [("other", "k-a")]
    assert keys_of(store.catalog_list(project="proj", limit=2)) == [("proj", "k-b"), ("proj", "k-c")]
    assert store.catalog_list(limit=0) == []
    assert store.catalog_list(project="nobody") == []
    assert store.catalog_list(project="proj", task="t1")[0] == entry(
        "k-c", created_at=2.0, task="t1", source_execution="ex-y"
    )


def test_evict_by_keys(store: Store) -> None:
    _seed_catalog(store)
    assert store.catalog_evict("proj", keys=["k-a", "k-b", "k-a", "missing"]) == 2
    assert keys_of(store.catalog_list(project="proj")) == [("proj", "k-c"), ("proj", "k-d")]
    assert store.catalog_get_many("other", ["k-a"]) != {}  # the same key in another project stays
    assert store.catalog_evict("proj", keys=["k-a"]) == 0


def test_evict_by_task(store: Store) -> None:
    _seed_catalog(store)
    assert store.catalog_evict("proj", task="t1") == 3
    assert keys_of(store.catalog_list()) == [("aaa", "k-z"), ("other", "k-a"), ("proj", "k-b")]


def test_evict_by_source_execution(store: Store) -> None:
    _seed_catalog(store)
    assert store.catalog_evict("proj", source_execution="ex-y") == 2
    assert keys_of(store.catalog_list(project="proj")) == [("proj", "k-d"), ("proj", "k-a")]


def test_evict_deletes_what_matches_any_filter_counting_each_entry_once(store: Store) -> None:
    _seed_catalog(store)
    # k-a (key, task t1, ex-x), k-c (t1), k-d (t1, ex-x): each counted once; k-b matches nothing.
    assert store.catalog_evict("proj", keys=["k-a"], task="t1", source_execution="ex-x") == 3
    assert keys_of(store.catalog_list(project="proj")) == [("proj", "k-b")]


def test_evict_needs_a_filter(store: Store) -> None:
    _seed_catalog(store)
    with pytest.raises(ValueError, match="at least one filter"):
        store.catalog_evict("proj")
    with pytest.raises(ValueError, match="at least one filter"):
        store.catalog_evict("proj", keys=[])
    with pytest.raises(ValueError, match="one string"):
        store.catalog_evict("proj", keys="k-a")
    assert len(store.catalog_list()) == 6


def test_evict_drops_the_reservations_of_deleted_keys_only(store: Store) -> None:
    _seed_catalog(store)
    assert store.reserve("proj", "k-a", "ex-1/n", 10.0, 0.0) == "ex-1/n"
    assert store.reserve("proj", "k-b", "ex-1/n", 10.0, 0.0) == "ex-1/n"
    assert store.reserve("other", "k-a", "ex-1/n", 10.0, 0.0) == "ex-1/n"
    assert store.reserve("proj", "k-none", "ex-1/n", 10.0, 0.0) == "ex-1/n"  # no entry behind it
    assert store.catalog_evict("proj", keys=["k-a", "k-none"]) == 1
    assert store.reserve("proj", "k-a", "ex-2/n", 10.0, 1.0) == "ex-2/n"  # dropped with its entry
    assert store.reserve("proj", "k-b", "ex-2/n", 10.0, 1.0) == "ex-1/n"
    assert store.reserve("other", "k-a", "ex-2/n", 10.0, 1.0) == "ex-1/n"
    assert store.reserve("proj", "k-none", "ex-2/n", 10.0, 1.0) == "ex-1/n"  # nothing was deleted


# -- reservations ---------------------------------------------------------------------------------


def test_reserve_free_key_is_ours(store: Store) -> None:
    assert store.reserve("proj", "k", "ex-1/n", ttl=10.0, now=100.0) == "ex-1/n"


def test_reserve_held_by_another_names_the_holder_until_it_expires(store: Store) -> None:
    store.reserve("proj", "k", "ex-1/n", ttl=10.0, now=100.0)
    assert store.reserve("proj", "k", "ex-2/m", ttl=10.0, now=105.0) == "ex-1/n"
    assert store.reserve("proj", "k", "ex-2/m", ttl=10.0, now=110.0) == "ex-1/n"  # expires_at == now: held
    assert store.reserve("proj", "k", "ex-2/m", ttl=10.0, now=110.5) == "ex-2/m"  # expired: taken over
    assert store.reserve("proj", "k", "ex-1/n", ttl=10.0, now=111.0) == "ex-2/m"  # the old owner lost it


def test_reserve_again_by_its_owner_extends_it(store: Store) -> None:
    store.reserve("proj", "k", "ex-1/n", ttl=10.0, now=100.0)
    assert store.reserve("proj", "k", "ex-1/n", ttl=10.0, now=108.0) == "ex-1/n"  # until 118
    assert store.reserve("proj", "k", "ex-2/m", ttl=10.0, now=115.0) == "ex-1/n"
    assert store.reserve("proj", "k", "ex-1/n", ttl=10.0, now=130.0) == "ex-1/n"  # expired, still free for us
    assert store.reserve("proj", "k", "ex-2/m", ttl=10.0, now=140.5) == "ex-2/m"


def test_owner_names_are_exact(store: Store) -> None:
    store.reserve("proj", "k", "ex-1/n", ttl=10.0, now=100.0)
    assert store.reserve("proj", "k", "ex-1/n/1", ttl=10.0, now=100.0) == "ex-1/n"
    assert store.reserve("proj", "k", "ex-1", ttl=10.0, now=100.0) == "ex-1/n"


def test_release_in_a_round_needs_the_owner(store: Store) -> None:
    store.reserve("proj", "k", "ex-1/n", ttl=10.0, now=100.0)
    store.reserve("proj", "k2", "ex-1/n", ttl=10.0, now=100.0)
    commit(store, releases=[("proj", "k", "ex-2/n"), ("other", "k", "ex-1/n"), ("proj", "ghost", "ex-1/n")])
    assert store.reserve("proj", "k", "ex-3/z", ttl=10.0, now=101.0) == "ex-1/n"
    commit(store, releases=[("proj", "k", "ex-1/n")])
    assert store.reserve("proj", "k", "ex-3/z", ttl=10.0, now=101.0) == "ex-3/z"
    assert store.reserve("proj", "k2", "ex-3/z", ttl=10.0, now=101.0) == "ex-1/n"


def test_renew_extends_the_unexpired_reservations_of_the_given_executions(store: Store) -> None:
    store.reserve("proj", "a", "ex-1/n", ttl=5.0, now=100.0)  # until 105: expires_at == now is renewed
    store.reserve("proj", "b", "ex-1/m", ttl=1.0, now=100.0)  # until 101: expired at 105
    store.reserve("other", "a", "ex-1/n", ttl=10.0, now=100.0)  # other project, same execution
    store.reserve("proj", "c", "ex-2/n", ttl=10.0, now=100.0)  # until 110
    store.reserve("proj", "d", "ex-10/n", ttl=10.0, now=100.0)  # "ex-1" is not a prefix match
    assert store.renew_reservations(["ex-1", "ex-3", "ex-1"], ttl=30.0, now=105.0) == 2
    assert store.reserve("proj", "a", "ex-9/z", ttl=1.0, now=134.0) == "ex-1/n"
    assert store.reserve("other", "a", "ex-9/z", ttl=1.0, now=134.0) == "ex-1/n"
    assert store.reserve("proj", "b", "ex-9/z", ttl=1.0, now=106.0) == "ex-9/z"  # was not renewed
    assert store.reserve("proj", "c", "ex-9/z", ttl=1.0, now=110.5) == "ex-9/z"
    assert store.reserve("proj", "d", "ex-9/z", ttl=1.0, now=110.5) == "ex-9/z"
    assert store.renew_reservations([], ttl=30.0, now=105.0) == 0
    assert store.renew_reservations(["nobody"], ttl=30.0, now=105.0) == 0


def test_renew_handles_many_executions(store: Store) -> None:
    eids = [f"ex-{i}" for i in range(1_200)]
    for eid in eids[::3]:
        store.reserve("proj", eid, f"{eid}/n", ttl=10.0, now=0.0)
    assert store.renew_reservations(eids, ttl=10.0, now=5.0) == 400


def test_reservation_arguments_are_checked(store: Store) -> None:
    with pytest.raises(ValueError, match="owner"):
        store.reserve("proj", "k", "", ttl=1.0, now=0.0)
    with pytest.raises(ValueError, match="ttl"):
        store.reserve("proj", "k", "ex-1/n", ttl=0.0, now=0.0)
    with pytest.raises(ValueError, match="ttl"):
        store.renew_reservations(["ex-1"], ttl=-1.0, now=0.0)
    with pytest.raises(ValueError, match="one string"):
        store.renew_reservations("ex-1", ttl=1.0, now=0.0)
    assert store.reserve("proj", "k", "ex-2/n", ttl=1.0, now=0.0) == "ex-2/n"


# -- create_execution with nodes (recover) --------------------------------------------------------


def test_create_with_nodes_stores_them_at_version_one(store: Store) -> None:
    recovered = [
        node("ex-1", "b", phase=NodePhase.RECOVERED, outputs={"o": {"int": 1}}, detail={"from": "ex-0"}),
        node("ex-1", "a", phase=NodePhase.RECOVERED, attempt=2, version=7),  # the given version is ignored
    ]
    created = store.create_execution(execution(mode="recover", source_id="ex-0"), nodes=recovered)
    assert created.version == 1
    assert store.load_nodes("ex-1") == [recovered[1].evolve(version=1), recovered[0].evolve(version=1)]
    [a, _] = store.load_nodes("ex-1")
    store.commit_round(RoundWrite(created, nodes=[a.evolve(detail={"seen": True})]), owner=None)
    assert store.load_nodes("ex-1")[0].version == 2


def test_create_with_bad_nodes_creates_nothing(store: Store) -> None:
    with pytest.raises(ValueError, match="ex-2"):
        store.create_execution(execution(), nodes=[node("ex-2", "a")])
    with pytest.raises(ValueError, match="twice"):
        store.create_execution(execution(), nodes=[node("ex-1", "a"), node("ex-1", "a")])
    with pytest.raises(ValueError, match="not JSON"):
        store.create_execution(execution(), nodes=[node("ex-1", "a", outputs={"x": float("nan")})])
    assert store.list_executions() == []
    assert store.load_nodes("ex-1") == []


def test_create_of_a_taken_id_adds_no_nodes(store: Store) -> None:
    store.create_execution(execution(), nodes=[node("ex-1", "a")])
    before = state(store, "ex-1")
    with pytest.raises(AlreadyExistsError):
        store.create_execution(execution(), nodes=[node("ex-1", "b")], events=[event("ex-1")])
    assert state(store, "ex-1") == before


# -- lineage --------------------------------------------------------------------------------------


def test_lineage_is_recorded_and_read_by_execution(store: Store) -> None:
    rows = [
        lin("ex-1", "b", "out", "o", "h2"),
        lin("ex-1", "a", "out", "o", "h1"),
        lin("ex-1", "b", "in", "x", "h1"),
        lin("ex-1", "a", "in", "x", "h0"),
        lin("ex-1", "a", "in", "w", "h0"),
    ]
    commit(store, lineage=rows)
    assert store.lineage_of("ex-1") == [
        lin("ex-1", "a", "in", "w", "h0"),
        lin("ex-1", "a", "in", "x", "h0"),
        lin("ex-1", "a", "out", "o", "h1"),
        lin("ex-1", "b", "in", "x", "h1"),
        lin("ex-1", "b", "out", "o", "h2"),
    ]
    assert store.lineage_of("ghost") == []


def test_lineage_duplicates_do_not_accumulate_and_the_first_value_stands(store: Store) -> None:
    row = lin("ex-1", "a", "out", "o", "h1")
    commit(store, lineage=[row, row])
    commit(store, lineage=[row, lin("ex-1", "a", "out", "o", "h-later")])
    assert store.lineage_of("ex-1") == [row]
    assert store.lineage_by_hash("h1", "out") == [row]
    assert store.lineage_by_hash("h-later", "out") == []


def test_lineage_by_hash_follows_execution_creation_order(store: Store) -> None:
    # ex-b was created first although its id sorts last
    store.create_execution(execution("ex-b", created_at=1.0))
    store.create_execution(execution("ex-a", created_at=2.0))
    store.create_execution(execution("ex-c", created_at=2.0))  # tie with ex-a: id decides
    commit(store, "ex-c", lineage=[lin("ex-c", "z", "in", "x", "h")])
    commit(store, "ex-a", lineage=[lin("ex-a", "n2", "in", "x", "h"), lin("ex-a", "n1", "in", "y", "h")])
    commit(store, "ex-b", lineage=[lin("ex-b", "m", "in", "x", "h"), lin("ex-b", "m", "out", "o", "h")])
    assert store.lineage_by_hash("h", "in") == [
        lin("ex-b", "m", "in", "x", "h"),
        lin("ex-a", "n1", "in", "y", "h"),
        lin("ex-a", "n2", "in", "x", "h"),
        lin("ex-c", "z", "in", "x", "h"),
    ]
    assert store.lineage_by_hash("h", "out") == [lin("ex-b", "m", "out", "o", "h")]
    assert store.lineage_by_hash("h", "in", limit=2) == store.lineage_by_hash("h", "in")[:2]
    assert store.lineage_by_hash("h", "in", limit=0) == []
    assert store.lineage_by_hash("nothing", "in") == []


def test_lineage_query_arguments_are_checked(store: Store) -> None:
    with pytest.raises(ValueError, match="direction"):
        store.lineage_by_hash("h", "both")
    with pytest.raises(ValueError, match="limit"):
        store.lineage_by_hash("h", "in", limit=-1)


def test_one_round_carries_everything_at_once(store: Store) -> None:
    store.reserve("proj", "k", "ex-1/a", ttl=10.0, now=0.0)
    loaded = store.create_execution(execution())
    done = node("ex-1", "a", phase=NodePhase.SUCCEEDED, outputs={"model": {"int": 1}}, cache_status="PUT")
    committed = store.commit_round(
        RoundWrite(
            loaded.evolve(phase=ExecutionPhase.SUCCEEDED),
            nodes=[done],
            catalog_puts=[entry("k")],
            releases=[("proj", "k", "ex-1/a")],
            lineage=[lin("ex-1", "a", "out", "model", "h")],
        ),
        owner=None,
    )
    assert committed.version == 2
    assert store.load_nodes("ex-1") == [done.evolve(version=1)]
    assert store.catalog_get_many("proj", ["k"]) == {"k": entry("k")}
    assert store.reserve("proj", "k", "ex-2/a", ttl=10.0, now=1.0) == "ex-2/a"
    assert store.lineage_of("ex-1") == [lin("ex-1", "a", "out", "model", "h")]


def test_an_entry_may_name_a_source_the_store_does_not_have(store: Store) -> None:
    """Entries are not tied to executions by a foreign key: provenance is recorded, not enforced."""
    commit(store, catalog_puts=[entry("k", source_execution="never-stored")])
    assert store.catalog_get_many("proj", ["k"])["k"].source_execution == "never-stored"
    assert store.catalog_evict("proj", source_execution="never-stored") == 1


def test_performance_of_a_large_round(store: Store) -> None:
    loaded = store.create_execution(execution())
    puts = [entry(f"{i:064x}", source_node=f"n{i}") for i in range(1_000)]
    nodes = [node("ex-1", f"n{i}", phase=NodePhase.SUCCEEDED, outputs={"o": {"int": i}}) for i in range(1_000)]
    lineage = [lin("ex-1", f"n{i}", d, "v", f"{i:064x}") for i in range(1_000) for d in ("in", "out")]
    started = time.perf_counter()
    store.commit_round(RoundWrite(loaded, nodes=nodes, catalog_puts=puts, lineage=lineage), owner=None)
    elapsed = time.perf_counter() - started
    assert len(store.lineage_of("ex-1")) == 2_000
    assert len(store.catalog_list(limit=2_000)) == 1_000
    assert elapsed < 2.0  # about 50 ms on a laptop; this only catches a per-row round trip or worse


def test_concurrent_reservations_of_one_key_have_one_winner(store: Store) -> None:
    owners = [f"ex-{i}/n" for i in range(8)]
    answers: dict[str, str] = {}
    barrier = threading.Barrier(len(owners))

    def race(owner: str) -> None:
        barrier.wait()
        answers[owner] = store.reserve("proj", "k", owner, ttl=10.0, now=0.0)

    threads = [threading.Thread(target=race, args=(o,)) for o in owners]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = {o for o, got in answers.items() if got == o}
    assert len(winners) == 1
    assert set(answers.values()) == winners
