"""Recover a failed execution without redoing what succeeded; trace lineage on a diamond."""

from __future__ import annotations

from pathlib import Path

import pytest

from setpoint.client.embedded import Client
from setpoint.core.phases import ExecutionPhase, NodePhase
from setpoint.errors import UserError
from tests.e2e import wf_cache as wc

pytestmark = pytest.mark.timeout(120)


def counts(d: Path) -> dict[str, int]:
    return {p.name: len(p.read_text().splitlines()) for p in sorted(d.iterdir())}


def test_recover_reuses_succeeded_nodes_and_runs_only_the_rest(client: Client, tmp_path: Path) -> None:
    counters, marker = tmp_path / "counts", tmp_path / "fail"
    counters.mkdir()
    marker.write_text("fail right")
    failed = client.run(wc.diamond, {"x": 1, "counters": str(counters), "fail_marker": str(marker)}, timeout=60)
    assert failed.phase is ExecutionPhase.FAILED
    assert failed.error is not None and failed.error.node == "right"
    assert counts(counters) == {"left": 1, "right": 1, "source": 1}

    plan = {p.node_id: (p.action, p.reason) for p in client.recover_plan(failed.id)}
    assert plan["source"][0] == "reuse" and plan["left"][0] == "reuse"
    assert plan["right"] == ("run", f"failed in {failed.id}: RuntimeError: injected failure")
    assert plan["join"] == ("run", f"was skipped in {failed.id} (an upstream node failed)")

    marker.unlink()  # the cause is fixed
    before_source_rows = {n.node_id: n.record for n in client.nodes(failed.id)}
    recovered = client.wait(client.recover(failed.id), timeout=60)
    assert recovered.phase is ExecutionPhase.SUCCEEDED
    assert counts(counters) == {"join": 1, "left": 1, "right": 2, "source": 1}
    fault_free = client.run(wc.diamond, {"x": 1, "counters": str(tmp_path)}, timeout=60)
    assert client.outputs(recovered.id) == client.outputs(fault_free.id) == {"o0": 2 * 2 + 2 * 3}
    phases = {n.node_id: n.phase for n in client.nodes(recovered.id)}
    assert phases == {"source": NodePhase.RECOVERED, "left": NodePhase.RECOVERED,
                      "right": NodePhase.SUCCEEDED, "join": NodePhase.SUCCEEDED}
    assert recovered.source_id == failed.id and recovered.mode == "recover"
    # the history names each recovered node and where its outputs came from
    recovered_events = {(e.node_id, e.message) for e in client.events(recovered.id)
                        if e.kind == "node" and e.phase == "RECOVERED"}
    assert recovered_events == {("source", f"outputs of {failed.id}"), ("left", f"outputs of {failed.id}")}
    # the source execution is untouched
    assert client.get(failed.id).phase is ExecutionPhase.FAILED
    assert {n.node_id: n.record for n in client.nodes(failed.id)} == before_source_rows


def test_only_failed_or_aborted_executions_can_be_recovered(client: Client, tmp_path: Path) -> None:
    ok = client.run(wc.diamond, {"x": 1, "counters": str(tmp_path)}, timeout=60)
    with pytest.raises(UserError, match="only FAILED or ABORTED executions can be recovered"):
        client.recover_plan(ok.id)


def test_lineage_on_a_diamond(client: Client, tmp_path: Path) -> None:
    rec = client.run(wc.diamond, {"x": 5, "counters": str(tmp_path)}, timeout=60)
    (root,) = client.lineage(rec.id)
    assert root.produced_by is not None
    assert root.node == "join" and root.produced_by["attempt"] == 1
    by_input = {s.input: s for s in root.inputs}
    assert by_input["a"].node == "left" and by_input["b"].node == "right"
    left = by_input["a"].upstream[0]
    right = by_input["b"].upstream[0]
    left_v = {s.input: s for s in left.inputs}["v"]
    right_v = {s.input: s for s in right.inputs}["v"]
    assert left_v.upstream[0].node == "source"
    assert right_v.upstream[0].repeated, "the shared upstream is shown once"
    src = left_v.upstream[0]
    x_source = {s.input: s for s in src.inputs}["x"]
    assert x_source.kind == "workflow_input" and x_source.workflow_input == "x"
    assert left.outputs["o0"] == by_input["a"].value_hash  # what left produced is what join consumed

    found = client.consumers(rec.id, "source")
    direct = {(c.node, c.input) for c in found if c.depth == 1 and c.execution == rec.id}
    assert direct == {("left", "v"), ("right", "v")}
    assert {(c.node, c.input) for c in found if c.depth == 2 and c.execution == rec.id} == {("join", "a"), ("join", "b")}


def test_consumers_cross_executions_by_content_hash(client: Client, tmp_path: Path) -> None:
    first = client.run(wc.diamond, {"x": 2, "counters": str(tmp_path)}, timeout=60)
    second = client.run(wc.diamond, {"x": 2, "counters": str(tmp_path)}, timeout=60)
    found = client.consumers(first.id, "source", "o0")
    assert {c.execution for c in found if c.node == "left"} == {first.id, second.id}


def test_cache_hits_keep_pointing_at_the_original_producer(client: Client, tmp_path: Path) -> None:
    counter = tmp_path / "c"
    first = client.run(wc.one, {"x": 1, "counter": str(counter)}, timeout=60)
    second = client.run(wc.one, {"x": 1, "counter": str(counter)}, timeout=60)
    (root,) = client.lineage(second.id)
    assert root.cache_status == "HIT"
    assert root.produced_by is not None
    assert (root.produced_by["execution"], root.produced_by["node"]) == (first.id, "expensive")
