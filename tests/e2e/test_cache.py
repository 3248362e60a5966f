"""The memoization catalog end to end: key completeness, integrity, serialization, overwrite."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import cast

import pytest

from setpoint.client.embedded import Client
from setpoint.core.model import CacheStatus
from setpoint.core.phases import ExecutionPhase
from setpoint.service.inspect import NodeView
from tests.e2e import wf_cache as wc
from tests.e2e.test_client import wait_for_file

pytestmark = pytest.mark.timeout(120)


def runs(counter: Path) -> int:
    return len(counter.read_text().splitlines()) if counter.exists() else 0


def wait_until(condition: Callable[[], bool], failure: str, timeout: float = 30.0) -> None:
    """Poll a condition (bounded): tests wait for what they need, never for a sleep to be long enough."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(failure)
        time.sleep(0.05)


def only_node(client: Client, eid: str) -> NodeView:
    (view,) = client.nodes(eid)
    return view


def test_identical_inputs_in_a_new_execution_hit(client: Client, tmp_path: Path) -> None:
    counter = tmp_path / "c"
    first = client.run(wc.one, {"x": 4, "counter": str(counter)}, timeout=60)
    second = client.run(wc.one, {"x": 4, "counter": str(counter)}, timeout=60)
    assert runs(counter) == 1
    assert client.outputs(second.id) == {"o0": 40}
    node = only_node(client, second.id)
    assert node.record.cache_status == CacheStatus.HIT
    assert node.attempts == ()
    assert node.record.detail is not None
    source = node.record.detail["cache"]["source"]
    assert source == {"execution": first.id, "node": "expensive", "attempt": 1}
    assert only_node(client, first.id).record.cache_status == CacheStatus.PUT
    hits = [e for e in client.events(second.id) if "cache hit" in e.message]
    assert hits and first.id in hits[0].message


def test_changed_input_value_misses_and_ignored_input_does_not(client: Client, tmp_path: Path) -> None:
    counter = tmp_path / "c"
    client.run(wc.one, {"x": 1, "counter": str(counter), "note": "a"}, timeout=60)
    client.run(wc.one, {"x": 1, "counter": str(counter), "note": "b"}, timeout=60)  # ignored input
    assert runs(counter) == 1
    third = client.run(wc.one, {"x": 2, "counter": str(counter)}, timeout=60)
    assert runs(counter) == 2
    explained = client.cache_explain(third.id, "expensive")
    assert explained["status"] == CacheStatus.PUT
    assert explained["differences"] == ["input 'x' (value changed)"]


def test_cache_version_is_part_of_the_key(client: Client, tmp_path: Path) -> None:
    counter = tmp_path / "c"
    client.run(wc.v1, {"x": 1, "counter": str(counter)}, timeout=60)
    second = client.run(wc.v2, {"x": 1, "counter": str(counter)}, timeout=60)
    assert runs(counter) == 2
    assert client.cache_explain(second.id, "_versioned")["differences"] == ["cache_version ('v1' -> 'v2')"]


def test_projects_never_share_entries(client: Client, tmp_path: Path) -> None:
    counter = tmp_path / "c"
    client.wait(client.create_execution(wc.one, {"x": 1, "counter": str(counter)}, project="a"), timeout=60)
    client.wait(client.create_execution(wc.one, {"x": 1, "counter": str(counter)}, project="b"), timeout=60)
    assert runs(counter) == 2
    assert {e.project for e in client.cache_entries()} == {"a", "b"}


def test_killed_attempt_leaves_no_entry(client: Client, tmp_path: Path) -> None:
    pidfile, counter = tmp_path / "pid", tmp_path / "c"
    eid = client.create_execution(wc.slow_cached_wf, {"x": 3, "pidfile": str(pidfile), "counter": str(counter)})
    os.kill(int(wait_for_file(pidfile)), signal.SIGKILL)
    rec = client.wait(eid, timeout=60)
    assert rec.phase is ExecutionPhase.SUCCEEDED
    (entry,) = client.cache_entries(task="tests.e2e.wf_cache.slow_cached")
    assert (entry.source_execution, entry.source_attempt) == (eid, 2)


@pytest.mark.parametrize("damage", ["corrupt", "missing"])
def test_entry_with_bad_artifacts_is_a_miss_and_is_replaced(client: Client, tmp_path: Path, damage: str) -> None:
    counter = tmp_path / "c"
    first = client.run(wc.big_wf, {"n": 20_000, "counter": str(counter)}, timeout=60)
    (entry,) = client.cache_entries()
    ref = entry.outputs["o0"]["$ref"]
    blob = client.settings.blob_root / "sha256" / ref["sha256"][:2] / ref["sha256"]
    if damage == "corrupt":
        data = bytearray(blob.read_bytes())
        data[100] ^= 0xFF
        blob.write_bytes(bytes(data))
    else:
        blob.unlink()
    second = client.run(wc.big_wf, {"n": 20_000, "counter": str(counter)}, timeout=60)
    assert second.phase is ExecutionPhase.SUCCEEDED
    assert runs(counter) == 2
    node = only_node(client, second.id)
    assert node.record.cache_status == CacheStatus.PUT
    assert node.record.detail is not None
    assert "replaced" in node.record.detail["cache"]
    (entry,) = client.cache_entries()
    assert entry.source_execution == second.id
    assert client.outputs(second.id, wc.big_wf)["o0"] == [float(i) for i in range(20_000)]
    third = client.run(wc.big_wf, {"n": 20_000, "counter": str(counter)}, timeout=60)
    assert only_node(client, third.id).record.cache_status == CacheStatus.HIT
    assert first.id != second.id


def test_twenty_concurrent_serialized_executions_run_the_body_once(client: Client, tmp_path: Path) -> None:
    counter = tmp_path / "c"
    ids = [client.create_execution(wc.serialized_wf, {"x": 7, "counter": str(counter)}) for _ in range(20)]
    records = [client.wait(eid, timeout=90) for eid in ids]
    assert {r.phase for r in records} == {ExecutionPhase.SUCCEEDED}
    assert {client.outputs(r.id)["o0"] for r in records} == {49}
    assert runs(counter) == 1
    # cast: every one of these nodes consulted the catalog, so none has a None status
    statuses = sorted(cast(CacheStatus, only_node(client, eid).record.cache_status) for eid in ids)
    assert statuses == [CacheStatus.HIT] * 19 + [CacheStatus.PUT]


def test_without_serialization_all_succeed_and_one_entry_remains(client: Client, tmp_path: Path) -> None:
    counter = tmp_path / "c"
    ids = [client.create_execution(wc.unserialized_wf, {"x": 5, "counter": str(counter)}) for _ in range(20)]
    records = [client.wait(eid, timeout=90) for eid in ids]
    assert {r.phase for r in records} == {ExecutionPhase.SUCCEEDED}
    assert runs(counter) >= 1
    (entry,) = client.cache_entries()
    assert entry.outputs == {"o0": 25}
    assert entry.source_execution in ids


def test_overwrite_cache_runs_and_replaces_the_entry(client: Client, tmp_path: Path) -> None:
    counter = tmp_path / "c"
    client.run(wc.one, {"x": 9, "counter": str(counter)}, timeout=60)
    again = client.run(wc.one, {"x": 9, "counter": str(counter)}, timeout=60, overwrite_cache=True)
    assert runs(counter) == 2
    node = only_node(client, again.id)
    assert node.record.cache_status == CacheStatus.PUT
    (entry,) = client.cache_entries()
    assert entry.source_execution == again.id


def test_evict_makes_the_next_run_compute_again(client: Client, tmp_path: Path) -> None:
    counter = tmp_path / "c"
    first = client.run(wc.one, {"x": 2, "counter": str(counter)}, timeout=60)
    assert client.cache_evict(execution=first.id) == 1
    client.run(wc.one, {"x": 2, "counter": str(counter)}, timeout=60)
    assert runs(counter) == 2


def test_a_waiting_execution_takes_over_when_the_reservation_owner_fails(client: Client, tmp_path: Path) -> None:
    """The owner is aborted mid-run; the waiter must not wait forever: it reserves and runs."""
    counter = tmp_path / "c"
    owner = client.create_execution(wc.held_wf, {"x": 3, "counter": str(counter)})
    wait_for_file(counter)  # the owner holds the reservation (and its body) until it is terminated
    waiter = client.create_execution(wc.held_wf, {"x": 3, "counter": str(counter)})
    wait_until(lambda: client.get(waiter).phase is not ExecutionPhase.QUEUED, "the waiter never started")
    client.terminate(owner)
    rec = client.wait(waiter, timeout=60)
    assert client.get(owner).phase is ExecutionPhase.ABORTED
    assert rec.phase is ExecutionPhase.SUCCEEDED
    assert runs(counter) == 2
