"""The graph view the console draws: one node per spec node, expansions counted, and paged on demand.

The large case is a 10,000-element map written straight into a real SQLite store (the rows a
controller would have written part-way through), so it needs no 10,000 processes; the small case
runs for real through a controller.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import tests.e2e.wf_control as wc
from setpoint.client.embedded import Client
from setpoint.core.model import CacheStatus, NodeRecord
from setpoint.core.phases import ExecutionPhase, NodePhase
from setpoint.errors import InputError, NotFoundError
from setpoint.server.app import create_app
from setpoint.service.graph import execution_graph, expansion_page
from setpoint.spec.canonical import canonical_json
from setpoint.spec.configs import NodeKind
from setpoint.spec.workflow import Binding, Interface, NodeSpec, WorkflowSpec
from tests.e2e.conftest import fast_settings

pytestmark = pytest.mark.timeout(240)

SIZE = 10_000
DONE, RUNNING, FAILED = 6_000, 1_500, 500  # the other 2,000 have no row yet: queued


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    c = Client(fast_settings(tmp_path / "home"))
    yield c
    c.close()


def wide_map_execution(client: Client) -> tuple[str, str]:
    """An execution of ``mapped_wide`` part-way through its 10,000 elements; (its id, the map node)."""
    created = client.create_execution(wc.mapped_wide, {"n": SIZE})
    rec = client.get(created)
    spec = client.spec(created)
    eid = f"{created}-wide"  # a copy of it, written with its nodes
    map_node = next(n for n in spec.nodes if n.kind is NodeKind.MAP)
    first = next(n for n in spec.nodes if n.id not in (map_node.id,) and not spec.upstream[n.id])
    child = WorkflowSpec(
        name=f"{spec.name}.{map_node.id}",
        interface=Interface(),
        nodes=tuple(NodeSpec(id=str(i), task=map_node.task, inputs=(("x", Binding.const(i)),)) for i in range(SIZE)),
        outputs=(),
        tasks={map_node.task: spec.tasks[map_node.task]},
    )
    client.store.put_spec(child.digest, canonical_json(child.to_json()))
    now = time.time()
    rows = [
        NodeRecord(eid, first.id, NodePhase.SUCCEEDED, attempt=1, started_at=now, finished_at=now),
        NodeRecord(
            eid,
            map_node.id,
            NodePhase.RUNNING,
            started_at=now,
            detail={"expanded": child.digest, "size": SIZE},
        ),
    ]
    for i in range(DONE + RUNNING + FAILED):
        phase = NodePhase.SUCCEEDED if i < DONE else NodePhase.RUNNING if i < DONE + RUNNING else NodePhase.FAILED
        cache = CacheStatus.HIT if i % 2 else None
        rows.append(NodeRecord(eid, f"{map_node.id}.{i}", phase, attempt=1, started_at=now, cache_status=cache))
    client.store.create_execution(dataclasses.replace(rec, id=eid, phase=ExecutionPhase.RUNNING, version=0), nodes=rows)
    return eid, map_node.id


def test_a_ten_thousand_element_map_is_one_node_with_counts(client: Client) -> None:
    eid, map_id = wide_map_execution(client)
    started = time.perf_counter()
    graph = execution_graph(client.store, eid)
    graph_s = time.perf_counter() - started
    started = time.perf_counter()
    listed = client.nodes(eid, children=True)
    list_s = time.perf_counter() - started

    assert len(listed) == len(client.spec(eid).nodes) + SIZE  # what the graph spares the console
    assert [n.id for n in graph.nodes] == [n.id for n in client.spec(eid).nodes]
    by_id = {n.id: n for n in graph.nodes}
    mapped = by_id[map_id]
    assert (mapped.kind, mapped.phase) == ("map", "RUNNING")
    assert mapped.children is not None
    counts = dataclasses.astuple(mapped.children)
    assert counts == (SIZE, DONE, RUNNING, FAILED, SIZE - DONE - RUNNING - FAILED, 0)
    assert all(n.children is None for n in graph.nodes if n.id != map_id)
    assert set(graph.edges) == {(up, n.id) for n in client.spec(eid).nodes for up in client.spec(eid).upstream[n.id]}
    assert any(a == map_id for a, _ in graph.edges) and any(b == map_id for _, b in graph.edges)
    # Cheaper than listing the nodes with their expansion, which is what the console would do otherwise.
    assert graph_s < list_s, (graph_s, list_s)


def test_an_expansion_pages_in_spec_order(client: Client) -> None:
    eid, map_id = wide_map_execution(client)
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = expansion_page(client.store, eid, map_id, cursor, limit=1000)
        seen += [n.id for n in page.items]
        pages += 1
        if page.next is None:
            break
        cursor = page.next
    assert pages == SIZE // 1000
    assert seen == [f"{map_id}.{i}" for i in range(SIZE)]
    first = expansion_page(client.store, eid, map_id, "5999", limit=3).items
    assert [(n.label, n.phase, n.cache, n.parent) for n in first] == [
        ("5999", "SUCCEEDED", "hit", map_id),
        ("6000", "RUNNING", None, map_id),
        ("6001", "RUNNING", "hit", map_id),
    ]
    last = expansion_page(client.store, eid, map_id, str(SIZE - 1), limit=5)
    assert [(n.label, n.phase) for n in last.items] == [(str(SIZE - 1), "PENDING")]
    assert last.next is None and last.edges == ()
    with pytest.raises(InputError, match="cursor"):
        expansion_page(client.store, eid, map_id, "-1")
    with pytest.raises(NotFoundError, match="no expanded"):
        expansion_page(client.store, eid, "summarize")


def test_the_graph_routes_of_a_finished_run(client: Client) -> None:
    client.start_controller()
    rec = client.run(wc.mapped, {"n": 3}, timeout=120)
    assert rec.phase is ExecutionPhase.SUCCEEDED
    with TestClient(create_app(client, auth=False)) as http:
        base = f"/api/v1/projects/{rec.project}/executions/{rec.id}"
        graph = http.get(f"{base}/graph").json()
        assert graph["execution"] == http.get(base).json()
        kinds = {n["id"]: n["kind"] for n in graph["nodes"]}
        map_id = next(i for i, k in kinds.items() if k == "map")
        node = next(n for n in graph["nodes"] if n["id"] == map_id)
        assert node["children"] == {"total": 3, "succeeded": 3, "running": 0, "failed": 0, "queued": 0, "skipped": 0}
        assert all(n["phase"] == "SUCCEEDED" and n["attempts"] <= 1 for n in graph["nodes"])
        assert all(n["ended_at"] >= n["started_at"] for n in graph["nodes"])
        assert graph["edges"] and all(len(e) == 2 and {*e} <= set(kinds) for e in graph["edges"])
        page = http.get(f"{base}/graph/children", params={"node": map_id, "limit": 2}).json()
        assert [n["id"] for n in page["items"]] == [f"{map_id}.0", f"{map_id}.1"]
        assert all(n["queued_at"] is not None and n["attempts"] == 1 for n in page["items"])
        rest = http.get(f"{base}/graph/children", params={"node": map_id, "cursor": page["next"]}).json()
        assert [n["id"] for n in rest["items"]] == [f"{map_id}.2"] and rest["next"] is None
        missing = http.get(f"{base}/graph/children", params={"node": "nope"})
        assert missing.status_code == 404


def test_branches_gates_and_their_cases(client: Client) -> None:
    client.start_controller()
    rec = client.run(wc.gatekeeper, {"x": 70}, timeout=120)  # the second case: retrain
    graph = {n.id: n for n in execution_graph(client.store, rec.id).nodes}
    branch = next(n for n in graph.values() if n.kind == "branch")
    assert (branch.id, branch.case) == ("quality", 1)
    assert (graph["deploy"].case_of, graph["retrain"].case_of) == (("quality", 0), ("quality", 1))
    under = [n for n in graph.values() if n.case_of is not None]
    assert {n.case_of[0] for n in under if n.case_of} == {branch.id}
    taken = [n for n in under if n.case_of == (branch.id, branch.case)]
    assert taken and all(n.phase == "SUCCEEDED" for n in taken)
    assert all(n.phase == "SKIPPED" for n in under if n not in taken)
    eid = client.create_execution(wc.release, {"x": 5})
    gates = [n for n in execution_graph(client.store, eid).nodes if n.kind == "gate"]
    assert [(g.gate, g.case, g.child) for g in gates] == [("approve", None, None)]
    client.terminate(eid, "not needed")
