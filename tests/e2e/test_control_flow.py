"""Control-flow node kinds end to end on the embedded default."""

from __future__ import annotations

import pytest

from setpoint.client import Client
from setpoint.core.phases import ExecutionPhase, NodePhase
from tests.e2e import wf_control as wc

pytestmark = pytest.mark.timeout(120)


def test_nested_subworkflows_run_like_their_in_process_call(client: Client):
    rec = client.run(wc.outer, {"x": 3}, timeout=60)
    assert rec.phase is ExecutionPhase.SUCCEEDED
    assert client.outputs(rec.id) == {"o0": wc.outer(x=3)}
    names = [n.node_id for n in client.nodes(rec.id)]
    assert "nested.prep-1.inc" in names


@pytest.mark.parametrize(("x", "taken", "skipped", "out"), [
    (95, "deploy", "retrain", "deployed 0.95"),
    (70, "retrain", "deploy", "retrained 0.70"),
])
def test_branch_on_an_upstream_output_runs_one_case(client: Client, x, taken, skipped, out):
    rec = client.run(wc.gatekeeper, {"x": x}, timeout=60)
    assert rec.phase is ExecutionPhase.SUCCEEDED
    assert client.outputs(rec.id) == {"o0": out}
    nodes = {n.node_id: n for n in client.nodes(rec.id)}
    assert nodes[taken].phase is NodePhase.SUCCEEDED and len(nodes[taken].attempts) == 1
    assert nodes[skipped].phase is NodePhase.SKIPPED and nodes[skipped].attempts == ()
    assert nodes["quality"].record.outputs == {"case": 0 if taken == "deploy" else 1}
    msgs = [e.message for e in client.events(rec.id) if e.node_id == "quality"]
    assert any(m.startswith("took case") for m in msgs)


def test_branch_else_fail_fails_with_its_message(client: Client):
    rec = client.run(wc.gatekeeper, {"x": 10}, timeout=60)
    assert rec.phase is ExecutionPhase.FAILED
    assert rec.error is not None and rec.error.code == "NoBranchMatched" and rec.error.node == "quality"
    assert rec.error.message == "the score is too low to deploy or retrain"
    nodes = {n.node_id: n.phase for n in client.nodes(rec.id)}
    assert nodes["deploy"] in (NodePhase.PENDING, NodePhase.SKIPPED)


@pytest.mark.parametrize(("x", "strict", "out"), [(99, True, "deployed 0.99"), (50, True, "retrained 0.50"),
                                                  (50, False, "deployed 0.50")])
def test_nested_branches(client: Client, x, strict, out):
    rec = client.run(wc.nested_branch, {"x": x, "strict": strict}, timeout=60)
    assert client.outputs(rec.id) == {"o0": out}
    assert wc.nested_branch.compile().digest  # compiles once, reused


@pytest.mark.parametrize(("x", "out"), [(-5, 1), (4, 5)])
def test_is_none_condition(client: Client, x, out):
    rec = client.run(wc.none_check, {"x": x}, timeout=60)
    assert client.outputs(rec.id) == {"o0": out}


def test_branch_inside_a_subworkflow(client: Client):
    rec = client.run(wc.branch_in_sub, {"x": 95}, timeout=60)
    assert client.outputs(rec.id) == {"o0": "deployed 0.95"}
    phases = {n.node_id: n.phase for n in client.nodes(rec.id)}
    assert phases["gatekeeper.retrain"] is NodePhase.SKIPPED
