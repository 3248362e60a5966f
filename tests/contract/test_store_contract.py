"""The Store contract: what every backend (SQLite, in-memory, PostgreSQL) must do.

Each test runs once per backend (see conftest.py). The last section is a stateful property test
that drives the in-memory reference and every other backend through the same random operations and
requires identical answers, errors and stored state, so the fake cannot drift from the real store.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from setpoint.core.model import (
    AbortReason,
    AttemptRecord,
    CacheStatus,
    CatalogEntry,
    ErrorInfo,
    Event,
    EventKind,
    ExecutionConfig,
    ExecutionMode,
    ExecutionRecord,
    LineageDirection,
    LineageRow,
    NodeRecord,
)
from setpoint.core.phases import AttemptPhase, ErrorKind, ExecutionPhase, NodePhase
from setpoint.errors import (
    AlreadyExistsError,
    ConflictError,
    LeaseLostError,
    NotFoundError,
    SetpointError,
    StoreError,
)
from setpoint.ports import ExecutionFilter, RoundWrite, Store

from .conftest import BACKENDS, StoreFactory

# -- builders -------------------------------------------------------------------------------------


def execution(eid: str = "ex-1", **changes: Any) -> ExecutionRecord:
    base = ExecutionRecord(
        id=eid,
        project="proj",
        workflow="wf.train",
        spec_digest="spec-1",
        code_digest="code-1",
        inputs={"x": {"int": 1}},
        created_at=100.0,
        updated_at=100.0,
    )
    return base.evolve(**changes)


def node(eid: str, nid: str, **changes: Any) -> NodeRecord:
    return NodeRecord(eid, nid, NodePhase.QUEUED, attempt=1).evolve(**changes)


def attempt(eid: str, nid: str, number: int = 1, **changes: Any) -> AttemptRecord:
    return AttemptRecord(eid, nid, number, AttemptPhase.LAUNCHING, "local", 101.0).evolve(**changes)


def event(eid: str, phase: str = "RUNNING", **changes: Any) -> Event:
    fields: dict[str, Any] = {
        "execution_id": eid,
        "ts": 101.0,
        "kind": "execution",
        "phase": phase,
        **changes,
    }
    return Event(**fields)


def state(store: Store, eid: str) -> tuple[Any, ...]:
    """Everything stored about one execution, to show a failed operation changed nothing."""
    return (store.get_execution(eid), store.load_nodes(eid), store.load_attempts(eid), store.events(eid))


def full_execution(eid: str = "ex-full") -> ExecutionRecord:
    """Every field away from its default, with awkward values."""
    return ExecutionRecord(
        id=eid,
        project="ünïcødé project ☃",
        workflow="pkg.mod:wf",
        spec_digest="a" * 64,
        code_digest="b" * 64,
        inputs={
            "n": {"int": 2**62},
            "f": {"float": 0.1 + 0.2},
            "deep": {"list": [None, True, {"k": ["v", 1.5e-300]}]},
        },
        phase=ExecutionPhase.FAILED,
        created_at=1_700_000_000.123456,
        updated_at=1_700_000_001.5,
        started_at=1_700_000_000.75,
        finished_at=1_700_000_002.0,
        outputs={"o": {"str": "line1\nline2\t\u2028 \"quoted\" 'single' 中文 🚀"}},
        error=ErrorInfo(
            ErrorKind.USER, "TaskRaised", "ValueError: bad\nTraceback ...", retryable=False, node="n-1"
        ),
        abort_reason="user said stop",
        source_id="ex-source",
        mode=ExecutionMode.RECOVER,
        config=ExecutionConfig(max_parallelism=7, executor="ray", overwrite_cache=True),
        version=1,
        lease_owner="controller-a",
        lease_expires_at=1_700_000_030.25,
    )


# -- specs ----------------------------------------------------------------------------------------


def test_spec_round_trip_and_idempotent(store: Store) -> None:
    body = '{"workflow": "wf", "nodes": ["ü"]}'
    store.put_spec("d1", body)
    store.put_spec("d1", body)
    assert store.get_spec("d1") == body


def test_spec_missing_is_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError, match="spec 'nope' not found"):
        store.get_spec("nope")


def test_spec_digest_with_another_body_is_refused(store: Store) -> None:
    store.put_spec("d1", "one")
    with pytest.raises(AlreadyExistsError, match="d1"):
        store.put_spec("d1", "two")
    assert store.get_spec("d1") == "one"


# -- executions -----------------------------------------------------------------------------------


def test_create_returns_version_one_and_round_trips_every_field(store: Store) -> None:
    record = full_execution()
    created = store.create_execution(record.evolve(version=42))
    assert created == record
    assert store.get_execution(record.id) == record


def test_create_with_defaults_round_trips(store: Store) -> None:
    record = ExecutionRecord("ex-min", "p", "w", "s", "c", {})
    assert store.get_execution(store.create_execution(record).id) == record.evolve(version=1)


def test_create_records_its_events_in_the_same_write(store: Store) -> None:
    store.create_execution(execution(), [event("ex-1", "QUEUED", message="created")])
    [ev] = store.events("ex-1")
    assert (ev.phase, ev.message, ev.seq > 0) == ("QUEUED", "created", True)


def test_create_taken_id_is_already_exists_and_changes_nothing(store: Store) -> None:
    store.create_execution(execution(), [event("ex-1", "QUEUED")])
    before = state(store, "ex-1")
    with pytest.raises(AlreadyExistsError, match="execution 'ex-1' already exists"):
        store.create_execution(execution(project="other"), [event("ex-1", "SECOND")])
    assert state(store, "ex-1") == before


def test_get_missing_execution_is_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError) as info:
        store.get_execution("x")
    assert str(info.value) == "execution 'x' not found"


def test_returned_records_cannot_change_stored_state(store: Store) -> None:
    created = store.create_execution(execution(inputs={"x": {"list": [1]}}))
    created.inputs["x"]["list"].append(2)
    got = store.get_execution("ex-1")
    got.inputs["y"] = 1
    assert store.get_execution("ex-1").inputs == {"x": {"list": [1]}}


def _seed_listing(store: Store) -> None:
    rows = [
        ("ex-a", 1.0, "p1", "wf1", ExecutionPhase.SUCCEEDED),
        ("ex-b", 2.0, "p1", "wf2", ExecutionPhase.RUNNING),
        ("ex-c", 2.0, "p2", "wf1", ExecutionPhase.QUEUED),  # same created_at as ex-b: id breaks the tie
        ("ex-d", 3.0, "p2", "wf1", ExecutionPhase.FAILED),
        ("ex-e", 4.0, "p1", "wf1", ExecutionPhase.RUNNING),
    ]
    for eid, created, project, wf, phase in rows:
        store.create_execution(execution(eid, created_at=created, project=project, workflow=wf, phase=phase))


def _ids(records: list[ExecutionRecord]) -> list[str]:
    return [r.id for r in records]


def test_list_is_newest_first_with_id_tiebreak(store: Store) -> None:
    _seed_listing(store)
    assert _ids(store.list_executions(ExecutionFilter())) == ["ex-e", "ex-d", "ex-c", "ex-b", "ex-a"]


def test_list_filters(store: Store) -> None:
    _seed_listing(store)
    running = ExecutionFilter(phases=(ExecutionPhase.RUNNING,))
    assert _ids(store.list_executions(running)) == ["ex-e", "ex-b"]
    unfinished = ExecutionFilter(
        phases=(ExecutionPhase.RUNNING, ExecutionPhase.QUEUED, ExecutionPhase.RUNNING)
    )
    assert _ids(store.list_executions(unfinished)) == ["ex-e", "ex-c", "ex-b"]
    assert _ids(store.list_executions(ExecutionFilter(project="p2"))) == ["ex-d", "ex-c"]
    assert _ids(store.list_executions(ExecutionFilter(workflow="wf1", project="p1"))) == ["ex-e", "ex-a"]
    assert _ids(store.list_executions(ExecutionFilter(project="none"))) == []
    assert _ids(store.list_executions(ExecutionFilter(limit=2))) == ["ex-e", "ex-d"]
    assert store.list_executions(ExecutionFilter(limit=0)) == []


def test_list_search_matches_part_of_the_id_or_workflow_in_any_case(store: Store) -> None:
    _seed_listing(store)
    store.create_execution(execution("ex-f", created_at=5.0, project="p1", workflow="Train_50%"))
    assert _ids(store.list_executions(ExecutionFilter(search="WF2"))) == ["ex-b"]
    assert _ids(store.list_executions(ExecutionFilter(search="x-d"))) == ["ex-d"]
    assert _ids(store.list_executions(ExecutionFilter(search="train"))) == ["ex-f"]
    # LIKE's wildcards are taken literally
    assert _ids(store.list_executions(ExecutionFilter(search="50%"))) == ["ex-f"]
    assert _ids(store.list_executions(ExecutionFilter(search="%"))) == ["ex-f"]
    assert _ids(store.list_executions(ExecutionFilter(search="n_5"))) == ["ex-f"]
    assert _ids(store.list_executions(ExecutionFilter(search="_"))) == ["ex-f"]
    assert _ids(store.list_executions(ExecutionFilter(search="wf1", project="p2"))) == ["ex-d", "ex-c"]


def test_list_cursor_pages_through_everything_once(store: Store) -> None:
    _seed_listing(store)
    seen: list[str] = []
    before = None
    while True:
        page = store.list_executions(ExecutionFilter(limit=2, before=before))
        if not page:
            break
        seen += _ids(page)
        before = page[-1].id
    assert seen == ["ex-e", "ex-d", "ex-c", "ex-b", "ex-a"]
    assert _ids(store.list_executions(ExecutionFilter(before="ex-c"))) == ["ex-b", "ex-a"]
    assert _ids(store.list_executions(ExecutionFilter(before="ex-c", project="p1"))) == ["ex-b", "ex-a"]


def test_list_unknown_cursor_is_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError, match="execution 'ghost' not found"):
        store.list_executions(ExecutionFilter(before="ghost"))


def test_list_negative_limit_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="limit"):
        store.list_executions(ExecutionFilter(limit=-1))


def test_unfinished_executions_oldest_first(store: Store) -> None:
    _seed_listing(store)
    assert store.unfinished_executions() == ["ex-b", "ex-c", "ex-e"]


# -- abort ----------------------------------------------------------------------------------------


def test_request_abort_sets_reason_once_and_records_it(store: Store) -> None:
    store.create_execution(execution())
    first = store.request_abort("ex-1", "stop please", now=200.0)
    assert (first.abort_reason, first.version, first.updated_at) == ("stop please", 2, 200.0)
    again = store.request_abort("ex-1", "another reason", now=300.0)
    assert again == first
    [ev] = store.events("ex-1")
    assert (ev.kind, ev.phase, ev.message, ev.ts) == ("execution", "ABORT_REQUESTED", "stop please", 200.0)


def test_request_abort_on_terminal_execution_changes_nothing(store: Store) -> None:
    store.create_execution(execution(phase=ExecutionPhase.SUCCEEDED))
    before = state(store, "ex-1")
    assert store.request_abort("ex-1", "too late", now=200.0) == before[0]
    assert state(store, "ex-1") == before


def test_request_abort_missing_is_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError, match="execution 'x' not found"):
        store.request_abort("x", "why", now=1.0)


# -- commit_round ---------------------------------------------------------------------------------


def test_commit_round_writes_everything_and_bumps_versions(store: Store) -> None:
    loaded = store.create_execution(execution())
    write = RoundWrite(
        loaded.evolve(phase=ExecutionPhase.RUNNING, started_at=110.0, updated_at=110.0),
        nodes=[node("ex-1", "b", inputs={"x": {"int": 1}}), node("ex-1", "a")],
        attempts=[attempt("ex-1", "b"), attempt("ex-1", "a")],
        events=[event("ex-1", "RUNNING"), event("ex-1", "QUEUED", kind="node", node_id="a", attempt=1)],
    )
    committed = store.commit_round(write, owner=None)
    assert committed == write.execution.evolve(version=2)
    assert store.get_execution("ex-1") == committed
    assert store.load_nodes("ex-1") == [
        node("ex-1", "a", version=1),
        node("ex-1", "b", inputs={"x": {"int": 1}}, version=1),
    ]
    assert store.load_attempts("ex-1") == [attempt("ex-1", "a", version=1), attempt("ex-1", "b", version=1)]
    assert [e.phase for e in store.events("ex-1")] == ["RUNNING", "QUEUED"]

    [a, b] = store.load_nodes("ex-1")
    [att_a, _] = store.load_attempts("ex-1")
    second = RoundWrite(
        committed.evolve(updated_at=120.0),
        nodes=[a.evolve(phase=NodePhase.RUNNING, started_at=120.0)],
        attempts=[att_a.evolve(phase=AttemptPhase.RUNNING, started_at=120.0)],
    )
    again = store.commit_round(second, owner=None)
    assert again.version == 3
    assert store.load_nodes("ex-1") == [a.evolve(phase=NodePhase.RUNNING, started_at=120.0, version=2), b]
    assert store.load_attempts("ex-1", node_id="a") == [
        att_a.evolve(phase=AttemptPhase.RUNNING, started_at=120.0, version=2)
    ]


def test_commit_round_round_trips_node_and_attempt_fields(store: Store) -> None:
    loaded = store.create_execution(execution())
    err = ErrorInfo(ErrorKind.SYSTEM, "ProcessLost", "worker vanished ☠", retryable=True)
    n = NodeRecord(
        "ex-1", "train/fold-3", NodePhase.RETRYING, attempt=2, user_failures=1, system_failures=3,
        inputs={"df": {"blob": {"uri": "file:///x", "sha256": "0" * 64}}}, outputs={},
        error=err, started_at=1.5, finished_at=None, retry_at=9.25, cache_status=CacheStatus.MISS,
        detail={"cache_source": None, "nested": [[1], {"a": 2.5}]},
    )  # fmt: skip
    att = AttemptRecord(
        "ex-1", "train/fold-3", 2, AttemptPhase.ABORTING, "ray", 3.0,
        started_at=3.5, finished_at=4.0, error=err, abort_reason=AbortReason.TIMEOUT,
    )  # fmt: skip
    store.commit_round(RoundWrite(loaded, nodes=[n], attempts=[att]), owner=None)
    assert store.load_nodes("ex-1") == [n.evolve(version=1)]
    assert store.load_attempts("ex-1", node_id="train/fold-3") == [att.evolve(version=1)]


def test_commit_round_keeps_immutable_fields_and_abort_reason(store: Store) -> None:
    loaded = store.create_execution(execution())
    aborted = store.request_abort("ex-1", "stop", now=150.0)
    write = aborted.evolve(
        inputs={"changed": True}, project="other", abort_reason=None, phase=ExecutionPhase.ABORTED
    )
    committed = store.commit_round(RoundWrite(write), owner=None)
    assert committed.inputs == loaded.inputs
    assert committed.project == loaded.project
    assert committed.abort_reason == "stop"
    assert committed.phase is ExecutionPhase.ABORTED


def test_stale_execution_version_is_conflict_and_writes_nothing(store: Store) -> None:
    loaded = store.create_execution(execution())
    store.commit_round(RoundWrite(loaded.evolve(updated_at=101.0)), owner=None)
    before = state(store, "ex-1")
    stale = RoundWrite(
        loaded.evolve(phase=ExecutionPhase.FAILED),
        nodes=[node("ex-1", "a")],
        attempts=[attempt("ex-1", "a")],
        events=[event("ex-1", "FAILED")],
    )
    with pytest.raises(ConflictError, match="expected version 1, found 2") as info:
        store.commit_round(stale, owner=None)
    assert not isinstance(info.value, LeaseLostError)
    assert state(store, "ex-1") == before


def test_node_conflict_rolls_back_the_whole_round(store: Store) -> None:
    loaded = store.create_execution(execution())
    v2 = store.commit_round(RoundWrite(loaded, nodes=[node("ex-1", "a")]), owner=None)
    [a] = store.load_nodes("ex-1")
    v3 = store.commit_round(RoundWrite(v2, nodes=[a.evolve(phase=NodePhase.RUNNING)]), owner=None)
    before = state(store, "ex-1")
    bad = RoundWrite(
        v3.evolve(phase=ExecutionPhase.RUNNING),
        nodes=[node("ex-1", "b"), a.evolve(phase=NodePhase.FAILED)],  # a: stale version 1
        attempts=[attempt("ex-1", "b")],
        events=[event("ex-1", "RUNNING")],
    )
    with pytest.raises(ConflictError, match="node 'a' of execution 'ex-1' changed"):
        store.commit_round(bad, owner=None)
    assert state(store, "ex-1") == before


def test_inserting_an_existing_node_is_conflict(store: Store) -> None:
    loaded = store.create_execution(execution())
    v2 = store.commit_round(RoundWrite(loaded, nodes=[node("ex-1", "a")]), owner=None)
    before = state(store, "ex-1")
    with pytest.raises(ConflictError, match="node 'a' of execution 'ex-1' already exists"):
        store.commit_round(RoundWrite(v2, nodes=[node("ex-1", "a", phase=NodePhase.FAILED)]), owner=None)
    assert state(store, "ex-1") == before


def test_updating_a_missing_node_is_conflict(store: Store) -> None:
    loaded = store.create_execution(execution())
    with pytest.raises(ConflictError, match="does not exist"):
        store.commit_round(RoundWrite(loaded, nodes=[node("ex-1", "a", version=3)]), owner=None)
    assert store.get_execution("ex-1") == loaded


def test_attempt_conflict_rolls_back_the_whole_round(store: Store) -> None:
    loaded = store.create_execution(execution())
    v2 = store.commit_round(
        RoundWrite(loaded, nodes=[node("ex-1", "a")], attempts=[attempt("ex-1", "a")]), owner=None
    )
    before = state(store, "ex-1")
    bad = RoundWrite(
        v2,
        nodes=[node("ex-1", "b")],
        attempts=[attempt("ex-1", "b"), attempt("ex-1", "a")],
        events=[event("ex-1")],
    )
    with pytest.raises(ConflictError, match="attempt 'ex-1/a/1' already exists"):
        store.commit_round(bad, owner=None)
    assert state(store, "ex-1") == before


def test_commit_round_on_missing_execution_is_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError, match="execution 'ex-1' not found"):
        store.commit_round(RoundWrite(execution(version=1)), owner=None)


def test_commit_round_refuses_rows_of_another_execution(store: Store) -> None:
    loaded = store.create_execution(execution())
    with pytest.raises(ValueError, match="ex-2"):
        store.commit_round(RoundWrite(loaded, nodes=[node("ex-2", "a")]), owner=None)
    with pytest.raises(ValueError, match="twice"):
        store.commit_round(RoundWrite(loaded, nodes=[node("ex-1", "a"), node("ex-1", "a")]), owner=None)
    with pytest.raises(ValueError, match="not JSON"):
        store.commit_round(
            RoundWrite(loaded, nodes=[node("ex-1", "a", outputs={"x": float("nan")})]), owner=None
        )
    assert state(store, "ex-1") == (loaded, [], [], [])


def test_versions_strictly_increase(store: Store) -> None:
    current = store.create_execution(execution())
    seen = [current.version]
    for i in range(5):
        current = store.commit_round(RoundWrite(current.evolve(updated_at=200.0 + i)), owner=None)
        seen.append(current.version)
    current = store.request_abort("ex-1", "stop", now=300.0)
    seen.append(current.version)
    assert seen == sorted(set(seen)) == list(range(1, 8))


def test_concurrent_commits_from_threads_never_lose_an_update(store: Store) -> None:
    store.create_execution(execution(outputs={"n": 0}))
    errors: list[BaseException] = []

    def bump(times: int) -> None:
        try:
            done = 0
            while done < times:
                cur = store.get_execution("ex-1")
                assert cur.outputs is not None
                try:
                    store.commit_round(
                        RoundWrite(cur.evolve(outputs={"n": cur.outputs["n"] + 1})), owner=None
                    )
                except ConflictError:
                    continue
                done += 1
        except BaseException as exc:  # surfaced to the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=bump, args=(50,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    final = store.get_execution("ex-1")
    assert (final.outputs, final.version) == ({"n": 200}, 201)


# -- leases ---------------------------------------------------------------------------------------


def test_lease_free_is_taken_and_does_not_bump_version(store: Store) -> None:
    store.create_execution(execution())
    got = store.acquire_lease("ex-1", "c1", ttl=10.0, now=100.0)
    assert got is not None
    assert (got.lease_owner, got.lease_expires_at, got.version) == ("c1", 110.0, 1)
    assert store.get_execution("ex-1") == got


def test_lease_held_by_another_is_refused_until_it_expires(store: Store) -> None:
    store.create_execution(execution())
    assert store.acquire_lease("ex-1", "c1", ttl=10.0, now=100.0) is not None
    assert store.acquire_lease("ex-1", "c2", ttl=10.0, now=105.0) is None
    assert store.acquire_lease("ex-1", "c2", ttl=10.0, now=110.0) is None  # expires_at == now: still held
    taken = store.acquire_lease("ex-1", "c2", ttl=10.0, now=110.5)
    assert taken is not None
    assert (taken.lease_owner, taken.lease_expires_at) == ("c2", 120.5)


def test_lease_reacquired_by_owner_extends_it(store: Store) -> None:
    store.create_execution(execution())
    store.acquire_lease("ex-1", "c1", ttl=10.0, now=100.0)
    again = store.acquire_lease("ex-1", "c1", ttl=10.0, now=105.0)
    assert again is not None
    assert again.lease_expires_at == 115.0


def test_renew_extends_only_own_unexpired_unfinished_leases(store: Store) -> None:
    for eid in ("ex-a", "ex-b", "ex-c", "ex-d"):
        store.create_execution(execution(eid))
    store.acquire_lease("ex-a", "c1", ttl=5.0, now=100.0)  # until 105: expires_at == now is still held
    store.acquire_lease("ex-b", "c1", ttl=1.0, now=100.0)  # until 101: expired at 105
    store.acquire_lease("ex-c", "c2", ttl=10.0, now=100.0)  # someone else's
    store.acquire_lease("ex-d", "c1", ttl=10.0, now=100.0)
    finished = store.get_execution("ex-d")
    store.commit_round(RoundWrite(finished.evolve(phase=ExecutionPhase.SUCCEEDED)), owner="c1")
    assert store.renew_leases("c1", ttl=30.0, now=105.0) == ["ex-a"]
    assert store.get_execution("ex-a").lease_expires_at == 135.0
    assert store.get_execution("ex-b").lease_expires_at == 101.0
    assert store.get_execution("ex-c").lease_expires_at == 110.0
    assert store.get_execution("ex-d").lease_expires_at == 110.0
    assert store.renew_leases("nobody", ttl=30.0, now=105.0) == []


def test_release_frees_the_lease_only_for_its_owner(store: Store) -> None:
    store.create_execution(execution())
    store.acquire_lease("ex-1", "c1", ttl=10.0, now=100.0)
    store.release_lease("ex-1", "c2")
    assert store.get_execution("ex-1").lease_owner == "c1"
    store.release_lease("ex-1", "c1")
    released = store.get_execution("ex-1")
    assert (released.lease_owner, released.lease_expires_at, released.version) == (None, None, 1)
    assert store.acquire_lease("ex-1", "c2", ttl=10.0, now=101.0) is not None
    store.release_lease("ghost", "c1")  # releasing what does not exist is a no-op


def test_terminal_execution_is_not_leasable(store: Store) -> None:
    store.create_execution(execution(phase=ExecutionPhase.ABORTED))
    assert store.acquire_lease("ex-1", "c1", ttl=10.0, now=100.0) is None
    assert store.get_execution("ex-1").lease_owner is None


def test_lease_on_missing_execution_is_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError, match="execution 'x' not found"):
        store.acquire_lease("x", "c1", ttl=10.0, now=100.0)


def test_lease_arguments_are_checked(store: Store) -> None:
    store.create_execution(execution())
    with pytest.raises(ValueError, match="ttl"):
        store.acquire_lease("ex-1", "c1", ttl=0.0, now=100.0)
    with pytest.raises(ValueError, match="owner"):
        store.renew_leases("", ttl=1.0, now=100.0)


def test_commit_by_a_non_owner_is_lease_lost_and_writes_nothing(store: Store) -> None:
    loaded = store.create_execution(execution())
    store.acquire_lease("ex-1", "c1", ttl=10.0, now=100.0)
    taken = store.acquire_lease("ex-1", "c2", ttl=10.0, now=111.0)  # c1's lease expired
    assert taken is not None
    before = state(store, "ex-1")
    write = RoundWrite(
        loaded.evolve(phase=ExecutionPhase.RUNNING), nodes=[node("ex-1", "a")], events=[event("ex-1")]
    )
    with pytest.raises(LeaseLostError, match="'c1' no longer holds the lease on execution 'ex-1'"):
        store.commit_round(write, owner="c1")
    assert state(store, "ex-1") == before
    committed = store.commit_round(write, owner="c2")
    assert (committed.version, committed.lease_owner) == (2, "c2")


def test_commit_with_owner_needs_a_lease(store: Store) -> None:
    loaded = store.create_execution(execution())
    with pytest.raises(LeaseLostError, match="nobody holds it"):
        store.commit_round(RoundWrite(loaded), owner="c1")
    assert store.commit_round(RoundWrite(loaded), owner=None).version == 2  # owner=None: no lease check


# -- reads of rows and history --------------------------------------------------------------------


def test_load_attempts_ordered_by_node_then_number(store: Store) -> None:
    loaded = store.create_execution(execution())
    attempts = [attempt("ex-1", nid, n) for nid, n in [("b", 2), ("a", 10), ("b", 1), ("a", 2), ("a", 1)]]
    store.commit_round(
        RoundWrite(loaded, nodes=[node("ex-1", "a"), node("ex-1", "b")], attempts=attempts), owner=None
    )
    assert [(a.node_id, a.number) for a in store.load_attempts("ex-1")] == [
        ("a", 1), ("a", 2), ("a", 10), ("b", 1), ("b", 2),
    ]  # fmt: skip
    assert [a.number for a in store.load_attempts("ex-1", node_id="b")] == [1, 2]
    assert store.load_attempts("ex-1", node_id="zzz") == []


def test_reads_of_an_unknown_execution_are_empty(store: Store) -> None:
    assert store.load_nodes("ghost") == []
    assert store.load_attempts("ghost") == []
    assert store.events("ghost") == []


def test_events_ordered_with_after_seq_and_limit(store: Store) -> None:
    loaded = store.create_execution(execution(), [event("ex-1", "E0")])
    store.create_execution(execution("ex-2"), [event("ex-2", "OTHER")])
    store.commit_round(RoundWrite(loaded, events=[event("ex-1", f"E{i}") for i in range(1, 6)]), owner=None)
    evs = store.events("ex-1")
    assert [e.phase for e in evs] == [f"E{i}" for i in range(6)]
    seqs = [e.seq for e in evs]
    assert seqs == sorted(set(seqs))
    assert seqs[0] > 0
    assert [e.phase for e in store.events("ex-1", after_seq=seqs[2])] == ["E3", "E4", "E5"]
    assert [e.phase for e in store.events("ex-1", after_seq=seqs[2], limit=2)] == ["E3", "E4"]
    assert store.events("ex-1", after_seq=seqs[-1]) == []
    assert [e.phase for e in store.events("ex-2")] == ["OTHER"]
    assert evs[1] == event("ex-1", "E1", seq=seqs[1])


def test_event_fields_round_trip(store: Store) -> None:
    ev = Event("ex-1", 123.456, EventKind.ATTEMPT, "FAILED", node_id="n/ü", attempt=3, message="exit 137\n☠")
    store.create_execution(execution(), [ev, event("ex-1", "X", node_id=None, attempt=None, message="")])
    first, second = store.events("ex-1")
    assert (first.ts, first.kind, first.phase, first.node_id, first.attempt, first.message) == (
        123.456, "attempt", "FAILED", "n/ü", 3, "exit 137\n☠",
    )  # fmt: skip
    assert (second.node_id, second.attempt, second.message) == (None, None, "")


# -- signals --------------------------------------------------------------------------------------


def test_the_first_signal_value_stands_and_bumps_the_version(store: Store) -> None:
    created = store.create_execution(execution())
    assert store.send_signal("ex-1", "approve", {"bool": True}, 5.0) is True
    after = store.get_execution("ex-1")
    assert (after.version, after.updated_at) == (created.version + 1, 5.0)
    assert store.send_signal("ex-1", "approve", {"bool": False}, 6.0) is False  # changes nothing
    assert store.get_execution("ex-1") == after
    assert store.send_signal("ex-1", "null ☃\x00", None, 7.0) is True  # a value may be JSON null
    assert store.signals("ex-1") == {"approve": {"bool": True}, "null ☃\x00": None}
    evs = store.events("ex-1")
    assert [(e.phase, e.message, e.ts) for e in evs] == [
        ("SIGNAL", "signal 'approve' received", 5.0),
        ("SIGNAL", "signal 'null ☃\x00' received", 7.0),
    ]


def test_signals_of_unknown_executions(store: Store) -> None:
    with pytest.raises(NotFoundError):
        store.send_signal("nope", "approve", {"bool": True}, 1.0)
    assert store.signals("nope") == {}
    store.create_execution(execution())
    with pytest.raises(ValueError, match="not JSON"):
        store.send_signal("ex-1", "x", float("nan"), 1.0)
    assert store.signals("ex-1") == {}


def test_closed_store_refuses_work(store: Store) -> None:
    store.create_execution(execution())
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.get_execution("ex-1")
    store.close()  # idempotent


# -- the fake and the real backends agree ---------------------------------------------------------

EIDS = ("ex-a", "ex-b", "ex-c")
NIDS = ("n1", "n2")
OWNERS = ("c1", "c2")
TIMES = st.sampled_from([0.0, 1.0, 2.0, 3.0])
TTLS = st.sampled_from([0.5, 1.0, 2.0])
# Mostly unfinished, so leases and rounds have something to work on.
PHASES = st.sampled_from([*[ExecutionPhase.QUEUED, ExecutionPhase.RUNNING] * 3, *ExecutionPhase])
# How a round's row version is chosen: mostly right, sometimes a forced insert or a stale version.
ROW_VERSION = st.sampled_from(["current", "current", "current", "current", "new", "stale"])
NODE_WRITES = st.tuples(st.sampled_from(NIDS), ROW_VERSION, st.sampled_from(NodePhase))
ATTEMPT_WRITES = st.tuples(st.sampled_from(NIDS), st.integers(1, 2), ROW_VERSION)
# The catalog: few projects, keys, tasks and hashes, so puts collide, evictions hit and lineage dedupes.
PROJECTS = st.sampled_from(["p", "q"])
CACHE_KEYS = ("k1", "k2", "k3")
TASKS = st.sampled_from(["t1", "t2"])
HASHES = ("h1", "h2")
HOLDERS = st.sampled_from(["ex-a/n1", "ex-a/n2", "ex-b/n1"])
PUTS = st.tuples(PROJECTS, st.sampled_from(CACHE_KEYS), TASKS, st.sampled_from(EIDS), st.integers(1, 2))
RELEASES = st.tuples(PROJECTS, st.sampled_from(CACHE_KEYS), HOLDERS)
LINEAGE = st.tuples(st.sampled_from(NIDS), st.sampled_from(["in", "out"]), st.just("x"), st.sampled_from(HASHES))


class BackendsAgree(RuleBasedStateMachine):
    """Random operations applied to the in-memory reference and to every other backend alike."""

    factory: StoreFactory
    backends: tuple[str, ...] = BACKENDS

    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="setpoint-contract-"))
        self.now = 0.0  # a clock that only moves forward, in steps that often land on a lease expiry
        self.stores = [
            self.factory(name, self.tmp / name)
            for name in ("memory", *[b for b in self.backends if b != "memory"])
        ]

    def teardown(self) -> None:
        for s in self.stores:
            s.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    @property
    def reference(self) -> Store:
        return self.stores[0]

    def same(self, op: Any) -> Any:
        """Run ``op`` on every store; the results, or the errors' types and words, must be equal."""
        outcomes = []
        for s in self.stores:
            try:
                outcomes.append(("ok", _normalise(op(s))))
            except (SetpointError, ValueError) as exc:
                outcomes.append((type(exc).__name__, str(exc)))
        assert all(o == outcomes[0] for o in outcomes[1:]), outcomes
        return outcomes[0]

    @initialize(phases=st.lists(PHASES, min_size=len(EIDS) - 1, max_size=len(EIDS) - 1))
    def seed(self, phases: list[ExecutionPhase]) -> None:
        """Most examples should exercise rounds, not "not found": start with all but one execution."""
        for eid, phase in zip(EIDS, phases, strict=False):
            self.create(eid, created=1.0, phase=phase, project="p", recovered=[])

    @rule(
        eid=st.sampled_from(EIDS),
        created=TIMES,
        phase=PHASES,
        project=st.sampled_from(["p", "q"]),
        recovered=st.lists(st.sampled_from(NIDS), max_size=2, unique=True),
    )
    def create(self, eid: str, created: float, phase: ExecutionPhase, project: str, recovered: list[str]) -> None:
        rec = execution(eid, created_at=created, phase=phase, project=project)
        nodes = [node(eid, nid, phase=NodePhase.RECOVERED, outputs={"o": 1}) for nid in recovered]
        self.same(lambda s: s.create_execution(rec, [event(eid, "CREATED", ts=created)], nodes))

    @rule(
        eid=st.sampled_from(EIDS),
        exec_version=st.sampled_from(["current"] * 6 + ["stale", "ahead"]),
        phase=PHASES,
        nodes=st.lists(NODE_WRITES, max_size=2, unique_by=lambda t: t[0]),
        attempts=st.lists(ATTEMPT_WRITES, max_size=2, unique_by=lambda t: t[:2]),
        n_events=st.integers(0, 2),
        owner=st.sampled_from([None, None, None, *OWNERS]),
        abort=st.none() | st.just("from-round"),
        puts=st.lists(PUTS, max_size=2),
        releases=st.lists(RELEASES, max_size=2),
        lineage=st.lists(LINEAGE, max_size=3),
    )
    def commit(
        self,
        *,
        eid: str,
        exec_version: str,
        phase: ExecutionPhase,
        nodes: list[tuple[str, str, NodePhase]],
        attempts: list[tuple[str, int, str]],
        n_events: int,
        owner: str | None,
        abort: str | None,
        puts: list[tuple[str, str, str, str, int]],
        releases: list[tuple[str, str, str]],
        lineage: list[tuple[str, str, str, str]],
    ) -> None:
        ref, now = self.reference, self.now
        try:
            current = ref.get_execution(eid)
        except NotFoundError:
            current = execution(eid, version=1)
        delta = {"current": 0, "stale": -1, "ahead": 1}[exec_version]
        stored_nodes = {n.node_id: n.version for n in ref.load_nodes(eid)}
        stored_attempts = {(a.node_id, a.number): a.version for a in ref.load_attempts(eid)}

        def version(mode: str, stored: int | None) -> int:
            if mode == "new":
                return 0
            if mode == "current":
                return stored or 0
            return (stored or 2) - 1

        write = RoundWrite(
            current.evolve(
                version=current.version + delta,
                phase=phase,
                updated_at=now,
                outputs={"now": now},
                abort_reason=abort,
                inputs={"ignored": True},
            ),
            nodes=[
                node(eid, nid, phase=p, retry_at=now, version=version(m, stored_nodes.get(nid)))
                for nid, m, p in nodes
            ],
            attempts=[
                attempt(eid, nid, num, finished_at=now, version=version(m, stored_attempts.get((nid, num))))
                for nid, num, m in attempts
            ],
            events=[event(eid, f"R{i}", ts=now) for i in range(n_events)],
            catalog_puts=[
                CatalogEntry(project, task, key, {"task": task}, {"o": now}, source, "n1", number, now)
                for project, key, task, source, number in puts
            ],
            releases=releases,
            lineage=[LineageRow(eid, nid, cast(LineageDirection, d), name, h) for nid, d, name, h in lineage],  # as drawn
        )
        self.same(lambda s: s.commit_round(write, owner=owner))

    @rule(project=PROJECTS, key=st.sampled_from(CACHE_KEYS), holder=HOLDERS, ttl=TTLS)
    def reserve(self, project: str, key: str, holder: str, ttl: float) -> None:
        self.same(lambda s: s.reserve(project, key, holder, ttl, self.now))

    @rule(eids=st.lists(st.sampled_from(EIDS), max_size=2), ttl=TTLS)
    def renew_reservations(self, eids: list[str], ttl: float) -> None:
        self.same(lambda s: s.renew_reservations(eids, ttl, self.now))

    @rule(
        project=PROJECTS,
        keys=st.lists(st.sampled_from(CACHE_KEYS), max_size=2),
        task=st.none() | TASKS,
        source=st.none() | st.sampled_from(EIDS),
    )
    def evict(self, project: str, keys: list[str], task: str | None, source: str | None) -> None:
        self.same(lambda s: s.catalog_evict(project, keys=keys, task=task, source_execution=source))

    @rule(project=PROJECTS, keys=st.lists(st.sampled_from(CACHE_KEYS), max_size=3))
    def catalog_get(self, project: str, keys: list[str]) -> None:
        self.same(lambda s: s.catalog_get_many(project, keys))

    @rule(project=st.none() | PROJECTS, task=st.none() | TASKS, limit=st.integers(0, 4))
    def catalog_list(self, project: str | None, task: str | None, limit: int) -> None:
        self.same(lambda s: s.catalog_list(project, task, limit))

    @rule(dt=st.sampled_from([0.5, 1.0]))
    def tick(self, dt: float) -> None:
        self.now += dt

    @rule(eid=st.sampled_from(EIDS), reason=st.sampled_from(["r1", "r2"]))
    def request_abort(self, eid: str, reason: str) -> None:
        self.same(lambda s: s.request_abort(eid, reason, self.now))

    @rule(eid=st.sampled_from(EIDS), owner=st.sampled_from(OWNERS), ttl=TTLS)
    def acquire(self, eid: str, owner: str, ttl: float) -> None:
        self.same(lambda s: s.acquire_lease(eid, owner, ttl, self.now))

    @rule(owner=st.sampled_from(OWNERS), ttl=TTLS)
    def renew(self, owner: str, ttl: float) -> None:
        self.same(lambda s: s.renew_leases(owner, ttl, self.now))

    @rule(eid=st.sampled_from(EIDS), owner=st.sampled_from(OWNERS))
    def release(self, eid: str, owner: str) -> None:
        self.same(lambda s: s.release_lease(eid, owner))

    @rule(
        phases=st.lists(st.sampled_from(ExecutionPhase), max_size=3).map(tuple),
        project=st.none() | st.sampled_from(["p", "q"]),
        limit=st.integers(0, 4),
        before=st.none() | st.sampled_from(EIDS),
    )
    def list_executions(
        self, phases: tuple[ExecutionPhase, ...], project: str | None, limit: int, before: str | None
    ) -> None:
        flt = ExecutionFilter(phases=phases, project=project, limit=limit, before=before)
        self.same(lambda s: s.list_executions(flt))

    @rule(digest=st.sampled_from(["d1", "d2"]), body=st.sampled_from(["b1", "b2"]))
    def specs(self, digest: str, body: str) -> None:
        self.same(lambda s: s.put_spec(digest, body))
        self.same(lambda s: s.get_spec(digest))

    @rule(eid=st.sampled_from(EIDS), name=st.sampled_from(["go", "input"]), value=st.sampled_from([None, 1, "v"]))
    def signal(self, eid: str, name: str, value: Any) -> None:
        self.same(lambda s: s.send_signal(eid, name, value, self.now))

    @rule(eid=st.sampled_from(EIDS), skip=st.integers(0, 3), limit=st.integers(0, 3))
    def read_events(self, eid: str, skip: int, limit: int) -> None:
        def op(s: Store) -> Any:
            evs = s.events(eid)
            after = evs[skip - 1].seq if 0 < skip <= len(evs) else 0
            return s.events(eid, after_seq=after, limit=limit)

        self.same(op)

    @invariant()
    def stored_state_agrees(self) -> None:
        self.same(lambda s: s.unfinished_executions())
        for eid in EIDS:
            self.same(
                lambda s, eid=eid: (
                    s.get_execution(eid),
                    s.load_nodes(eid),
                    s.load_attempts(eid),
                    s.events(eid),
                    s.lineage_of(eid),
                    s.signals(eid),
                )
            )
        self.same(lambda s: s.catalog_list(limit=100))
        self.same(lambda s: [s.lineage_by_hash(h, d) for h in HASHES for d in ("in", "out")])


def _normalise(value: Any) -> Any:
    """Event seqs are compared by order only: PostgreSQL sequences may leave gaps SQLite does not."""
    if isinstance(value, tuple):
        return tuple(_normalise(v) for v in value)
    if isinstance(value, list) and value and isinstance(value[0], Event):
        seqs = [e.seq for e in value]
        assert seqs == sorted(set(seqs))
        return [Event(e.execution_id, e.ts, e.kind, e.phase, e.node_id, e.attempt, e.message) for e in value]
    return value


def test_backends_agree_on_random_operations(
    store_factory: StoreFactory, available_backends: tuple[str, ...]
) -> None:
    machine = type(
        "Machine", (BackendsAgree,), {"factory": staticmethod(store_factory), "backends": available_backends}
    )
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=60,
            stateful_step_count=40,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
