"""Caching inside one execution: a second identical cached call takes the first one's entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from setpoint.client.embedded import Client
from setpoint.core.model import CacheStatus
from setpoint.core.phases import ExecutionPhase
from setpoint.sdk.workflow import Workflow
from tests.e2e import wf_cache_same as w

pytestmark = pytest.mark.timeout(120)


def runs(counter: Path) -> int:
    return len(counter.read_text().splitlines()) if counter.exists() else 0


def square_statuses(client: Client, eid: str) -> list[CacheStatus | None]:
    return sorted(
        (v.record.cache_status for v in client.nodes(eid) if v.record.node_id != "add"),
        key=str,
    )


@pytest.mark.parametrize("wf", [w.twice_in_sequence, w.twice_side_by_side, w.twice_serialized])
def test_the_second_identical_call_hits_the_first_ones_entry(client: Client, tmp_path: Path, wf: Workflow) -> None:
    counter = tmp_path / "c"
    eid = client.create_execution(wf, {"x": 4, "counter": str(counter)})
    record = client.wait(eid, timeout=60)
    assert record.phase == ExecutionPhase.SUCCEEDED
    assert client.outputs(eid)["o0"] == 32
    assert runs(counter) == 1, "the task body ran more than once in one execution"
    assert sorted(str(s) for s in square_statuses(client, eid)) == sorted([str(CacheStatus.HIT), str(CacheStatus.PUT)])
