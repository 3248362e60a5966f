"""End-to-end runs through the Python client on the embedded default (SQLite + local processes)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from setpoint.adapters.executor.local import read_launch_log
from setpoint.client.embedded import Client
from setpoint.core.phases import AttemptPhase, ExecutionPhase, NodePhase
from setpoint.errors import InputError, TypeMismatchError
from tests.e2e import wf_basic as wb

pytestmark = pytest.mark.timeout(90)


def wait_for_file(path: Path, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        time.sleep(0.02)
    raise AssertionError(f"{path} never appeared")


def gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def test_chain_runs_and_returns_outputs(client: Client) -> None:
    rec = client.run(wb.chain, {"n": 3}, timeout=60)
    assert rec.phase is ExecutionPhase.SUCCEEDED
    assert client.outputs(rec.id, wb.chain) == {"o0": wb.chain(n=3)}
    assert client.outputs(rec.id) == {"o0": 9}
    views = client.nodes(rec.id)
    assert [v.phase for v in views] == [NodePhase.SUCCEEDED] * 5
    assert all(len(v.attempts) == 1 and v.attempts[0].phase is AttemptPhase.SUCCEEDED for v in views)


def test_fan_out_binds_a_list_of_upstream_outputs(client: Client) -> None:
    rec = client.run(wb.fanout, {"offset": 1}, timeout=60)
    assert rec.phase is ExecutionPhase.SUCCEEDED
    assert client.outputs(rec.id) == {"o0": sum(i * i for i in range(30)) + 1}
    assert len(client.nodes(rec.id)) == 32


def test_dataclass_outputs_round_trip(client: Client) -> None:
    rec = client.run(wb.typed, {"values": [1.0, 2.0, 4.5]}, timeout=60)
    out = client.outputs(rec.id, wb.typed)["o0"]
    assert out == wb.Stats(3, 2.5, "run")


def test_direct_call_runs_in_process() -> None:
    assert wb.fanout(offset=2) == sum(i * i for i in range(30)) + 2
    assert wb.typed(values=[2.0]) == wb.Stats(1, 2.0, "run")


def test_retries_use_new_attempt_ids_until_success(client: Client, tmp_path: Path) -> None:
    counter = tmp_path / "count"
    rec = client.run(wb.flaky_wf, {"counter": str(counter), "fail_times": 2}, timeout=60)
    assert rec.phase is ExecutionPhase.SUCCEEDED
    assert client.outputs(rec.id) == {"o0": 3}
    (view,) = client.nodes(rec.id)
    assert [a.number for a in view.attempts] == [1, 2, 3]
    assert [a.phase for a in view.attempts] == [AttemptPhase.FAILED, AttemptPhase.FAILED, AttemptPhase.SUCCEEDED]
    assert view.record.user_failures == 2
    assert len(counter.read_text().splitlines()) == 3


def test_retries_exhausted_fail_with_the_task_error(client: Client, tmp_path: Path) -> None:
    rec = client.run(wb.flaky_wf, {"counter": str(tmp_path / "c"), "fail_times": 10}, timeout=60)
    assert rec.phase is ExecutionPhase.FAILED
    assert rec.error is not None
    assert rec.error.node == "flaky"
    assert "RuntimeError: flaky failure 3" in rec.error.message
    assert "retries exhausted: 2" in rec.error.message


def test_non_retryable_error_runs_once(client: Client, tmp_path: Path) -> None:
    counter = tmp_path / "c"
    rec = client.run(wb.fatal_wf, {"counter": str(counter)}, timeout=60)
    assert rec.phase is ExecutionPhase.FAILED
    assert rec.error is not None and "the input data is malformed" in rec.error.message
    assert len(counter.read_text().splitlines()) == 1


def test_timeout_kills_the_attempt(client: Client, tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    rec = client.run(wb.slow_wf, {"pidfile": str(pidfile)}, timeout=60)
    assert rec.phase is ExecutionPhase.FAILED
    assert rec.error is not None and rec.error.code == "Timeout"
    assert gone(int(pidfile.read_text()))


def test_terminate_aborts_and_kills_running_attempts(client: Client, tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    eid = client.create_execution(wb.sleeper_wf, {"pidfile": str(pidfile)})
    pid = int(wait_for_file(pidfile))
    client.terminate(eid, "no longer needed")
    rec = client.wait(eid, timeout=30)
    assert rec.phase is ExecutionPhase.ABORTED
    assert rec.abort_reason == "no longer needed"
    assert gone(pid)
    (view,) = client.nodes(eid)
    assert view.phase is NodePhase.ABORTED
    assert view.attempts[0].phase is AttemptPhase.ABORTED


def test_task_killed_with_sigkill_is_retried_under_a_new_attempt_id(client: Client, tmp_path: Path) -> None:
    pidfile, counter = tmp_path / "pid", tmp_path / "count"
    eid = client.create_execution(wb.killed_wf, {"pidfile": str(pidfile), "counter": str(counter)})
    os.kill(int(wait_for_file(pidfile)), signal.SIGKILL)
    rec = client.wait(eid, timeout=60)
    assert rec.phase is ExecutionPhase.SUCCEEDED
    (view,) = client.nodes(eid)
    assert [a.number for a in view.attempts] == [1, 2]
    first = view.attempts[0]
    assert first.error is not None and first.error.code == "ProcessLost"
    assert view.record.system_failures == 1 and view.record.user_failures == 0
    ids = [aid for aid, _ in read_launch_log(client.settings.attempts_root)]
    assert sorted(ids) == [f"{eid}/wait_to_be_killed/1", f"{eid}/wait_to_be_killed/2"]


def test_exit_zero_without_outputs_is_a_failure(client: Client) -> None:
    rec = client.run(wb.vanish_wf, timeout=60)
    assert rec.phase is ExecutionPhase.FAILED
    assert rec.error is not None and rec.error.code == "NoOutputs"


def test_task_that_kills_itself_exhausts_system_retries(client: Client) -> None:
    rec = client.run(wb.suicide_wf, timeout=60)
    assert rec.phase is ExecutionPhase.FAILED
    assert rec.error is not None and rec.error.code == "ProcessLost"
    (view,) = client.nodes(rec.id)
    assert len(view.attempts) == 4  # 1 + max_system_retries (3)


def test_logs_are_captured_per_attempt(client: Client) -> None:
    rec = client.run(wb.shout_wf, {"msg": "hi"}, timeout=60)
    logs = {(aid, stream): text for aid, stream, text in client.logs(rec.id)}
    assert "stdout says hi" in logs[(f"{rec.id}/shout/1", "stdout")]
    assert "stderr says hi" in logs[(f"{rec.id}/shout/1", "stderr")]


def test_bad_inputs_are_rejected_before_anything_runs(client: Client) -> None:
    before = len(client.executions())
    with pytest.raises(InputError, match=r"workflow 'chain': unknown input 'm'"):
        client.create_execution(wb.chain, {"m": 1})
    with pytest.raises(InputError, match=r"missing input 'values' \(list\[float\]\)"):
        client.create_execution(wb.typed, {})
    with pytest.raises(TypeMismatchError, match=r"input 'n'"):
        client.create_execution(wb.chain, {"n": "three"})
    assert len(client.executions()) == before


def test_relaunch_pins_spec_code_and_inputs(client: Client) -> None:
    first = client.run(wb.chain, {"n": 5}, timeout=60)
    second_id = client.relaunch(first.id)
    second = client.wait(second_id, timeout=60)
    assert second.phase is ExecutionPhase.SUCCEEDED
    assert (second.spec_digest, second.code_digest, second.inputs) == (
        first.spec_digest,
        first.code_digest,
        first.inputs,
    )
    assert second.source_id == first.id and second.mode == "relaunch"
    third = client.wait(client.relaunch(first.id, {"n": 1}), timeout=60)
    assert client.outputs(third.id) == {"o0": wb.chain(n=1)}


def test_events_record_every_transition_in_order(client: Client) -> None:
    rec = client.run(wb.chain, {"n": 1}, timeout=60)
    evs = client.events(rec.id)
    seqs = [e.seq for e in evs]
    assert seqs == sorted(seqs)
    phases = [(e.kind, e.phase) for e in evs if e.kind == "execution"]
    assert phases == [("execution", "QUEUED"), ("execution", "RUNNING"), ("execution", "SUCCEEDED")]
    add_node = [e.phase for e in evs if e.kind == "node" and e.node_id == "add"]
    assert add_node in (["QUEUED", "RUNNING", "SUCCEEDED"], ["QUEUED", "SUCCEEDED"])


def test_huge_values_live_in_the_blob_store_not_in_state_rows(client: Client) -> None:
    values = [float(i) for i in range(200_000)]
    eid = client.create_execution(wb.typed, {"values": values})
    rec = client.wait(eid, timeout=60)
    assert rec.phase is ExecutionPhase.SUCCEEDED
    assert set(rec.inputs["values"]) == {"$ref"}
    assert rec.inputs["values"]["$ref"]["size"] > 1_000_000
    (view,) = client.nodes(eid)
    assert view.record.inputs is not None
    assert set(view.record.inputs["values"]) == {"$ref"}
    assert client.outputs(eid, wb.typed)["o0"] == wb.Stats(200_000, sum(values) / 200_000, "run")


def test_an_execution_the_controller_cannot_advance_is_aborted_not_left_running(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    """A core bug that decides an illegal transition must end the execution, with the reason."""
    import dataclasses

    import setpoint.controller.controller as controller_module
    from setpoint.core.reconcile import reconcile as real  # the function the controller module calls

    def buggy(state: Any, *args: Any, **kwargs: Any) -> Any:
        decision = real(state, *args, **kwargs)
        if decision.nodes and decision.nodes[0].phase is NodePhase.QUEUED:
            bad = decision.nodes[0].evolve(phase=NodePhase.RETRYING)  # PENDING -> RETRYING is illegal
            return dataclasses.replace(decision, nodes=(bad, *decision.nodes[1:]))
        return decision

    monkeypatch.setattr(controller_module, "reconcile", buggy)
    rec = client.run(wb.chain, {"n": 1}, timeout=60)
    assert rec.phase is ExecutionPhase.ABORTED
    assert rec.abort_reason is not None
    assert "internal error" in rec.abort_reason and "illegal node transition add: PENDING -> RETRYING" in rec.abort_reason
