"""Control-flow node kinds end to end on the embedded default."""

from __future__ import annotations

import time
from pathlib import Path
from typing import cast

import pytest

from setpoint.client.embedded import Client
from setpoint.core.phases import ExecutionPhase, NodePhase
from setpoint.errors import InputError, UserError
from tests.e2e import wf_control as wc

pytestmark = pytest.mark.timeout(120)


def test_nested_subworkflows_run_like_their_in_process_call(client: Client) -> None:
    rec = client.run(wc.outer, {"x": 3}, timeout=60)
    assert rec.phase is ExecutionPhase.SUCCEEDED
    assert client.outputs(rec.id) == {"o0": wc.outer(x=3)}
    names = [n.node_id for n in client.nodes(rec.id)]
    assert "nested.prep-1.inc" in names


@pytest.mark.parametrize(("x", "taken", "skipped", "out"), [
    (95, "deploy", "retrain", "deployed 0.95"),
    (70, "retrain", "deploy", "retrained 0.70"),
])
def test_branch_on_an_upstream_output_runs_one_case(client: Client, x: int, taken: str, skipped: str, out: str) -> None:
    rec = client.run(wc.gatekeeper, {"x": x}, timeout=60)
    assert rec.phase is ExecutionPhase.SUCCEEDED
    assert client.outputs(rec.id) == {"o0": out}
    nodes = {n.node_id: n for n in client.nodes(rec.id)}
    assert nodes[taken].phase is NodePhase.SUCCEEDED and len(nodes[taken].attempts) == 1
    assert nodes[skipped].phase is NodePhase.SKIPPED and nodes[skipped].attempts == ()
    assert nodes["quality"].record.outputs == {"case": 0 if taken == "deploy" else 1}
    msgs = [e.message for e in client.events(rec.id) if e.node_id == "quality"]
    assert any(m.startswith("took case") for m in msgs)


def test_branch_else_fail_fails_with_its_message(client: Client) -> None:
    rec = client.run(wc.gatekeeper, {"x": 10}, timeout=60)
    assert rec.phase is ExecutionPhase.FAILED
    assert rec.error is not None and rec.error.code == "NoBranchMatched" and rec.error.node == "quality"
    assert rec.error.message == "the score is too low to deploy or retrain"
    nodes = {n.node_id: n.phase for n in client.nodes(rec.id)}
    assert nodes["deploy"] in (NodePhase.PENDING, NodePhase.SKIPPED)


@pytest.mark.parametrize(("x", "strict", "out"), [(99, True, "deployed 0.99"), (50, True, "retrained 0.50"),
                                                  (50, False, "deployed 0.50")])
def test_nested_branches(client: Client, x: int, strict: bool, out: str) -> None:
    rec = client.run(wc.nested_branch, {"x": x, "strict": strict}, timeout=60)
    assert client.outputs(rec.id) == {"o0": out}
    assert wc.nested_branch.compile().digest  # compiles once, reused


@pytest.mark.parametrize(("x", "out"), [(-5, 1), (4, 5)])
def test_is_none_condition(client: Client, x: int, out: int) -> None:
    rec = client.run(wc.none_check, {"x": x}, timeout=60)
    assert client.outputs(rec.id) == {"o0": out}


def test_branch_inside_a_subworkflow(client: Client) -> None:
    rec = client.run(wc.branch_in_sub, {"x": 95}, timeout=60)
    assert client.outputs(rec.id) == {"o0": "deployed 0.95"}
    phases = {n.node_id: n.phase for n in client.nodes(rec.id)}
    assert phases["gatekeeper.retrain"] is NodePhase.SKIPPED


def element_ids(client: Client, eid: str, parent: str) -> list[str]:
    return [a.node_id for a in client.store.load_attempts(eid) if a.node_id.startswith(parent + ".")]


def test_map_runs_each_element_as_its_own_attempt(client: Client) -> None:
    rec = client.run(wc.mapped, {"n": 10}, timeout=60)
    assert rec.phase is ExecutionPhase.SUCCEEDED
    assert client.outputs(rec.id) == {"o0": sum(i * i for i in range(10))}
    ids = element_ids(client, rec.id, "square_it-map")
    assert sorted(ids, key=lambda s: int(s.rsplit(".", 1)[1])) == [f"square_it-map.{i}" for i in range(10)]
    parent = {n.node_id: n for n in client.nodes(rec.id)}["square_it-map"]
    assert parent.record.outputs == {"o0": [i * i for i in range(10)]}
    assert parent.record.detail is not None
    assert parent.record.detail["size"] == 10
    # the parent has no attempts of its own: its logs are its elements'
    logs = client.logs(rec.id, "square_it-map")
    assert sorted({a for a, _, _ in logs}) == sorted(f"{rec.id}/square_it-map.{i}/1" for i in range(10))


def test_map_with_fixed_inputs_from_partial(client: Client) -> None:
    rec = client.run(wc.mapped_fixed, {"n": 5, "y": 100}, timeout=60)
    assert client.outputs(rec.id) == {"o0": sum(range(5)) + 500}


def test_map_succeeds_when_enough_elements_do(client: Client) -> None:
    rec = client.run(wc.mapped_partial, {"n": 8}, timeout=60)
    assert rec.phase is ExecutionPhase.SUCCEEDED
    assert client.outputs(rec.id) == {"o0": 6}  # elements 3 and 7 failed: None in their place
    parent = {n.node_id: n for n in client.nodes(rec.id)}["fragile-map"]
    assert parent.record.outputs == {"o0": [0, 1, 2, None, 4, 5, 6, None]}


def test_map_fails_when_too_many_elements_fail(client: Client) -> None:
    rec = client.run(wc.mapped_strict, {"n": 8}, timeout=60)
    assert rec.phase is ExecutionPhase.FAILED
    assert rec.error is not None and rec.error.code == "MapFailed" and rec.error.node == "fragile-map"
    assert "at least 8 had to succeed" in rec.error.message


def test_map_concurrency_caps_elements_in_flight(client: Client) -> None:
    rec = client.run(wc.mapped_throttled, {"n": 6, "seconds": 0.3}, timeout=60)
    assert rec.phase is ExecutionPhase.SUCCEEDED
    # cast: the attempts of a succeeded map have both times (a None would fail the comparisons below)
    spans = cast("list[tuple[float, float]]", [(a.started_at, a.finished_at) for a in client.store.load_attempts(rec.id)
                                               if a.node_id.startswith("nap-map.")])
    assert len(spans) == 6
    for start, _ in spans:
        overlapping = sum(1 for s, f in spans if s <= start < f)
        assert overlapping <= 2


def test_recover_reruns_only_the_failed_elements(client: Client, tmp_path: Path) -> None:
    marker = tmp_path / "outage"
    marker.write_text("down")
    failed = client.run(wc.mapped_outage, {"marker": str(marker), "n": 8}, timeout=60)
    assert failed.phase is ExecutionPhase.FAILED
    plan = {p.node_id: p.action for p in client.recover_plan(failed.id)}
    assert plan["fragile_until_fixed-map"] == "run" and plan["numbers"] == "reuse"
    marker.unlink()  # the outage is over
    rec = client.wait(client.recover(failed.id), timeout=60)
    assert rec.phase is ExecutionPhase.SUCCEEDED
    ran = sorted(a.node_id for a in client.store.load_attempts(rec.id))
    # the six elements that succeeded were reused; only the two that failed (and the sum) ran again
    assert ran == ["count_present", "fragile_until_fixed-map.3", "fragile_until_fixed-map.7"]
    assert client.outputs(rec.id) == {"o0": 8}


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_map_of_ten_thousand_no_op_elements(client: Client) -> None:
    rec = client.run(wc.mapped_wide, {"n": 10_000}, timeout=280)
    assert rec.phase is ExecutionPhase.SUCCEEDED
    assert client.outputs(rec.id) == {"o0": sum(range(10_000))}


def wait_for_phase(client: Client, eid: str, node: str, phase: NodePhase, timeout: float = 30.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if {n.node_id: n.phase for n in client.nodes(eid)}[node] is phase:
            return
        time.sleep(0.05)
    raise AssertionError(f"node {node} never reached {phase}")


def test_sleep_gate_orders_what_follows(client: Client) -> None:
    rec = client.run(wc.nap_then, {"x": 1}, timeout=60)
    assert client.outputs(rec.id) == {"o0": 2}
    nodes = {n.node_id: n.record for n in client.nodes(rec.id)}
    sleep_started, sleep_finished, inc_started = nodes["sleep"].started_at, nodes["sleep"].finished_at, nodes["inc"].started_at
    assert sleep_started is not None and sleep_finished is not None and inc_started is not None
    assert sleep_finished - sleep_started >= 1.0
    assert inc_started >= sleep_finished


def test_approve_lets_the_value_through(client: Client) -> None:
    eid = client.create_execution(wc.release, {"x": 5})
    wait_for_phase(client, eid, "ship_it", NodePhase.RUNNING)
    assert client.get(eid).phase is ExecutionPhase.RUNNING
    client.signal(eid, "ship_it", True)
    rec = client.wait(eid, timeout=30)
    assert client.outputs(rec.id) == {"o0": 11}
    with pytest.raises(UserError, match="already ended SUCCEEDED"):
        client.signal(eid, "ship_it", True)


def test_rejection_fails_the_gate(client: Client) -> None:
    eid = client.create_execution(wc.release, {"x": 5})
    wait_for_phase(client, eid, "ship_it", NodePhase.RUNNING)
    client.signal(eid, "ship_it", False)
    rec = client.wait(eid, timeout=30)
    assert rec.phase is ExecutionPhase.FAILED
    assert rec.error is not None and rec.error.code == "Rejected" and "approval 'ship_it' was rejected" in rec.error.message


def test_wait_for_input_takes_a_typed_value(client: Client) -> None:
    eid = client.create_execution(wc.ask, {"x": 2})
    with pytest.raises(InputError, match=r"signal 'factor' of execution '.*'"):
        client.signal(eid, "factor", "three")
    with pytest.raises(InputError, match=r"has no gate waiting for a signal 'fctor' \(signals: factor\)"):
        client.signal(eid, "fctor", 3)
    client.signal(eid, "factor", 21)
    with pytest.raises(UserError, match="already sent"):
        client.signal(eid, "factor", 22)
    rec = client.wait(eid, timeout=30)
    assert client.outputs(rec.id) == {"o0": 42}


def test_a_gate_inside_a_dynamic_sub_workflow_takes_its_signal(client: Client) -> None:
    eid = client.create_execution(wc.dynamic_gate, {"n": 3})
    with pytest.raises(InputError, match=r"has no gate waiting for a signal 'release_dynamic' \(signals: none\)"):
        client.signal(eid, "release_dynamic", True)  # not built yet: the dynamic node has not run
    deadline = time.monotonic() + 30
    while "release_dynamic" not in str([n.node_id for n in client.nodes(eid, children=True)]):
        assert time.monotonic() < deadline, "the dynamic node never built its sub-workflow"
        time.sleep(0.05)
    client.signal(eid, "release_dynamic", True)
    rec = client.wait(eid, timeout=30)
    assert rec.phase is ExecutionPhase.SUCCEEDED, rec.error
    assert client.outputs(rec.id) == {"o0": 10}


def test_gate_timeout_fails_with_a_reason(client: Client) -> None:
    rec = client.run(wc.impatient, timeout=60)
    assert rec.phase is ExecutionPhase.FAILED
    assert rec.error is not None and rec.error.code == "GateTimeout"
    assert rec.error.message == "no signal 'never' arrived within 3s"


def test_dynamic_recursion_until_convergence(client: Client) -> None:
    rec = client.run(wc.converging, {"x": 0.0, "target": 1.0}, timeout=90)
    assert rec.phase is ExecutionPhase.SUCCEEDED
    expected = wc.converging(x=0.0, target=1.0)  # the same code, called in-process
    assert client.outputs(rec.id) == {"o0": expected}
    ids = [n.node_id for n in client.nodes(rec.id)]
    assert ids == ["converge"]  # static view; children are recorded rows
    rows = {n.node_id for n in client.store.load_nodes(rec.id)}
    assert "converge.halve_distance" in rows and "converge.converge.converge.halve_distance" in rows


def test_dynamic_loop_over_a_runtime_list(client: Client) -> None:
    rec = client.run(wc.dynamic_fan, {"n": 5}, timeout=60)
    assert client.outputs(rec.id) == {"o0": sum(i * i for i in range(5))}


def test_dynamic_task_that_builds_an_ill_typed_dag_fails_clearly(client: Client) -> None:
    rec = client.run(wc.broken_dynamic, {"n": 1}, timeout=60)
    assert rec.phase is ExecutionPhase.FAILED
    assert rec.error is not None and rec.error.node == "ill_typed"
    assert "built an invalid workflow" in rec.error.message
    assert "input 'x'" in rec.error.message and "expected int" in rec.error.message


def test_unbounded_recursion_hits_the_depth_limit(home: Path) -> None:
    from tests.e2e.conftest import fast_settings

    with Client(fast_settings(home, max_dynamic_depth=4)) as c:
        c.start_controller()
        rec = c.run(wc.runaway, {"n": 0}, timeout=90)
    assert rec.phase is ExecutionPhase.FAILED
    assert rec.error is not None and "nested 5 levels deep; the limit is 4" in rec.error.message


def test_launch_plans_start_child_executions(client: Client) -> None:
    rec = client.run(wc.orchestrate, {"epochs": 5}, timeout=60)
    assert rec.phase is ExecutionPhase.SUCCEEDED
    assert client.outputs(rec.id) == {"o0": "3 epochs on prod | 5 epochs on prod"}
    children = [e for e in client.executions() if e.source_id == rec.id]
    assert len(children) == 2 and {c.mode for c in children} == {"child"}
    assert {c.phase for c in children} == {ExecutionPhase.SUCCEEDED}
    nodes = {n.node_id: n.record for n in client.nodes(rec.id)}
    assert nodes["nightly"].detail is not None and nodes["nightly-1"].detail is not None
    assert {nodes["nightly"].detail["child"], nodes["nightly-1"].detail["child"]} == {c.id for c in children}


def test_aborting_the_parent_aborts_its_child_executions(client: Client) -> None:
    eid = client.create_execution(wc.parent_of_long, {})
    wait_for_phase(client, eid, "long_hold", NodePhase.RUNNING)
    detail = {n.node_id: n.record for n in client.nodes(eid)}["long_hold"].detail
    assert detail is not None
    child_id = detail["child"]
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and client.get(child_id).phase is not ExecutionPhase.RUNNING:
        time.sleep(0.05)
    client.terminate(eid, "stop everything")
    assert client.wait(eid, timeout=30).phase is ExecutionPhase.ABORTED
    child = client.wait(child_id, timeout=30)
    assert child.phase is ExecutionPhase.ABORTED
    assert child.abort_reason is not None and "stop everything" in child.abort_reason


def test_node_deadline_covers_all_attempts(home: Path) -> None:
    from setpoint.core.reconcile import ReconcileConfig
    from tests.e2e.conftest import fast_settings

    with Client(fast_settings(home, reconcile=ReconcileConfig(backoff_base_s=0.0))) as c:
        c.start_controller()
        # The 2 s deadline counts from the first attempt, so wait until this module's fork server is
        # warm (a run of its tasks has finished) rather than let a cold start eat the window. 0.3 s
        # per attempt leaves room for two attempts under load, and eleven can never fit in 2 s.
        assert c.run(wc.prep, {"x": 1}, timeout=60).phase is ExecutionPhase.SUCCEEDED
        rec = c.run(wc.node_deadline, {"seconds": 0.3}, timeout=60)
        (view,) = c.nodes(rec.id)
    assert rec.phase is ExecutionPhase.FAILED
    assert rec.error is not None and rec.error.code == "Deadline"
    assert "within its deadline of 2s" in rec.error.message
    assert 2 <= len(view.attempts) < 11  # stopped by the deadline, long before the retries ran out


def test_execution_deadline_stops_everything(client: Client) -> None:
    rec = client.run(wc.execution_deadline, {"seconds": 60.0}, timeout=60)
    assert rec.phase is ExecutionPhase.FAILED
    assert rec.error is not None and rec.error.code == "DeadlineExceeded"
    assert rec.finished_at is not None and rec.started_at is not None
    assert rec.finished_at - rec.started_at < 10
    (view,) = client.nodes(rec.id)
    assert view.phase is NodePhase.ABORTED


def test_on_failure_handler_runs_once_with_the_error(client: Client, tmp_path: Path) -> None:
    report = tmp_path / "report.txt"
    rec = client.run(wc.guarded, {"x": 7, "report": str(report)}, timeout=60)
    assert rec.phase is ExecutionPhase.FAILED
    assert rec.error is not None and rec.error.node == "explode" and "bad value 7" in rec.error.message
    lines = report.read_text().splitlines()
    assert len(lines) == 1 and "ValueError: bad value 7" in lines[0]
    handler = [a for a in client.store.load_attempts(rec.id) if a.node_id == "_on_failure"]
    assert len(handler) == 1 and handler[0].phase.value == "SUCCEEDED"
