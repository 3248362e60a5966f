"""Workflows as flytekit writes them, run for real: in-process (Client) and through `setpoint run`."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from setpoint.client.embedded import Client
from setpoint.core.phases import ExecutionPhase, NodePhase
from setpoint.spec.workflow import ON_FAILURE_NODE
from tests.e2e import wf_flyte_workflows as fw
from tests.e2e.cli_util import REPO, cli_argv, cli_env, setpoint, setpoint_json

pytestmark = pytest.mark.timeout(120)

WF = "tests/e2e/wf_flyte_workflows.py"


# -- failure policies by flytekit's names -------------------------------------------------------------


def test_fail_after_executable_nodes_complete_runs_the_independent_node(client: Client, tmp_path: Path) -> None:
    mark = tmp_path / "mark"
    rec = client.run(fw.keep_going, {"x": 1, "path": str(mark)}, timeout=60)
    assert rec.phase is ExecutionPhase.FAILED
    assert rec.error is not None and rec.error.node == "boom"
    phases = {n.node_id: n.phase for n in client.nodes(rec.id)}
    assert phases == {"boom": NodePhase.FAILED, "slow_mark": NodePhase.SUCCEEDED}
    assert mark.read_text() == "finished"


def test_fail_immediately_stops_the_independent_node(client: Client, tmp_path: Path) -> None:
    mark = tmp_path / "mark"
    rec = client.run(fw.stop_at_once, {"x": 1, "path": str(mark)}, timeout=60)
    assert rec.phase is ExecutionPhase.FAILED
    phases = {n.node_id: n.phase for n in client.nodes(rec.id)}
    assert phases["slow_mark"] is NodePhase.ABORTED
    assert not mark.exists()


def test_cli_fail_after_executable_nodes_complete(home: Path, tmp_path: Path) -> None:
    mark = tmp_path / "mark"
    proc = setpoint(home, "run", f"{WF}:keep_going", "--x", "2", "--path", str(mark))
    assert proc.returncode != 0
    assert "boom 2" in proc.stdout + proc.stderr
    assert mark.read_text() == "finished"


# -- on_failure with flytekit's err ---------------------------------------------------------------------


def test_on_failure_task_gets_err_with_message_and_failed_node(client: Client, tmp_path: Path) -> None:
    report = tmp_path / "report.txt"
    rec = client.run(fw.guarded, {"x": 7, "report": str(report)}, timeout=60)
    assert rec.phase is ExecutionPhase.FAILED
    node, message = report.read_text().split("|", 1)
    assert node == "boom" and "ValueError: boom 7" in message
    handler = [a for a in client.store.load_attempts(rec.id) if a.node_id == ON_FAILURE_NODE]
    assert len(handler) == 1 and handler[0].phase.value == "SUCCEEDED"


def test_cli_on_failure_handler_runs_with_err(home: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.txt"
    proc = setpoint(home, "run", f"{WF}:guarded", "--x", "4", "--report", str(report))
    assert proc.returncode != 0
    assert "ValueError: boom 4" in proc.stdout + proc.stderr
    node, message = report.read_text().split("|", 1)
    assert node == "boom" and "ValueError: boom 4" in message


def test_on_failure_workflow_runs_its_steps_in_the_handler_attempt(client: Client, tmp_path: Path) -> None:
    report = tmp_path / "report.txt"
    rec = client.run(fw.guarded_by_flow, {"x": 2, "report": str(report)}, timeout=60)
    assert rec.phase is ExecutionPhase.FAILED
    assert rec.error is not None and rec.error.node == "boom"
    assert report.read_text() == "failed at boom"


def test_cli_on_failure_workflow(home: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.txt"
    proc = setpoint(home, "run", f"{WF}:guarded_by_flow", "--x", "1", "--report", str(report))
    assert proc.returncode != 0
    assert report.read_text() == "failed at boom"


def test_a_subworkflows_own_on_failure_runs_when_it_fails(client: Client, tmp_path: Path) -> None:
    report = tmp_path / "report.txt"
    rec = client.run(fw.outer_of_guarded, {"x": 3, "report": str(report)}, timeout=60)
    assert rec.phase is ExecutionPhase.FAILED
    assert rec.error is not None and rec.error.node == "inner_guarded"
    assert "ValueError: boom 9" in report.read_text()  # written by the subworkflow's handler


def test_cli_subworkflow_on_failure(home: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.txt"
    proc = setpoint(home, "run", f"{WF}:outer_of_guarded", "--x", "2", "--report", str(report))
    assert proc.returncode != 0
    assert "ValueError: boom 4" in report.read_text()


def test_on_failure_task_gets_err_as_text(client: Client, tmp_path: Path) -> None:
    report = tmp_path / "report.txt"
    rec = client.run(fw.guarded_text, {"x": 3, "report": str(report)}, timeout=60)
    assert rec.phase is ExecutionPhase.FAILED
    assert "ValueError: boom 3" in report.read_text()


def test_cli_on_failure_shown_in_describe_and_logs(home: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.txt"
    proc = setpoint(home, "run", f"{WF}:guarded", "--x", "5", "--report", str(report), "--output", "json")
    assert proc.returncode != 0
    assert report.read_text().startswith("boom|")
    eid = json.loads(proc.stdout)["execution"]["id"]
    nodes = {n["id"]: n for n in setpoint_json(home, "describe", eid)["nodes"]}
    assert nodes[ON_FAILURE_NODE]["phase"] == "SUCCEEDED"
    logs = setpoint(home, "logs", eid, ON_FAILURE_NODE, check=True)
    assert "cleaning up after boom" in logs.stdout


# -- gates with flytekit's keywords ---------------------------------------------------------------------


def test_cli_approve_a_dataclass_with_a_field_named_type_and_wait_for_input(home: Path) -> None:
    eid = setpoint_json(home, "run", f"{WF}:reviewed", "--size", "4", "--detach")["execution"]["id"]
    setpoint(home, "signal", eid, "model_ok", check=True)
    setpoint(home, "signal", eid, "factor", "3", check=True)
    setpoint(home, "controller", "--exit-when-idle", check=True)
    out = setpoint_json(home, "describe", eid)
    assert out["execution"]["phase"] == "SUCCEEDED"
    assert out["execution"]["outputs"] == {"o0": "linear:12"}


# -- the imperative builder -------------------------------------------------------------------------------


def test_imperative_workflow_runs_through_the_client(client: Client) -> None:
    rec = client.run(fw.built, {"in1": "hello", "in2": "there"}, timeout=60)
    assert rec.phase is ExecutionPhase.SUCCEEDED, rec.error
    assert client.outputs(rec.id) == {
        "output_from_t1": "hello world",
        "output_list": ["hello world", "hello,there"],
    }
    nodes = {n.node_id: n for n in client.nodes(rec.id)}
    assert set(nodes) == {"greet", "side_effect", "join"}


def test_cli_runs_an_imperative_workflow(home: Path) -> None:
    out = setpoint_json(home, "run", f"{WF}:built", "--in1", "hi", "--in2", "you")
    assert out["execution"]["phase"] == "SUCCEEDED"
    assert out["execution"]["outputs"] == {"output_from_t1": "hi world", "output_list": ["hi world", "hi,you"]}
    single = setpoint_json(home, "run", f"{WF}:single")
    assert single["execution"]["outputs"] == {"o0": "hi world"}


# -- the conditional, orchestrated (the in-process call is in the unit tests) ------------------------------


@pytest.mark.parametrize(("n", "expected"), [(3, "small 9"), (11, "big 121")])
def test_cli_conditional_picks_the_same_case_as_an_in_process_call(home: Path, n: int, expected: str) -> None:
    out = setpoint_json(home, "run", f"{WF}:sized", "--n", str(n))
    assert out["execution"]["outputs"] == {"o0": expected}
    assert fw.sized(n=n) == expected


def test_cli_ordered_body_with_overrides_gate_and_conditional(home: Path, tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    eid = setpoint_json(home, "run", f"{WF}:ordered", "--path", str(log), "--flag", "true", "--detach")["execution"][
        "id"
    ]
    setpoint(home, "signal", eid, "go", check=True)
    setpoint(home, "controller", "--exit-when-idle", check=True)
    out = setpoint_json(home, "describe", eid)
    assert out["execution"]["outputs"] == {"o0": "big 9"}
    assert log.read_text() == "first\nsecond\n"


# -- @eager: a killed attempt replays nothing that finished -------------------------------------------------


def test_cli_eager_attempt_killed_mid_way_replays_nothing_that_finished(home: Path, tmp_path: Path) -> None:
    steps, marker = tmp_path / "steps.txt", tmp_path / "marker"
    proc = setpoint(home, "run", f"{WF}:durable", "--path", str(steps), "--marker", str(marker), "--output", "json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["execution"]["outputs"] == {"o0": 40}  # 1 -> 2 -> 3 -> 4, then 4 * 10
    assert marker.read_text() == "died"  # the first attempt was killed inside the fourth call
    assert steps.read_text().splitlines() == ["step 1", "step 2", "step 3"]  # each ran once
    nodes = {n["id"]: n for n in setpoint_json(home, "describe", out["execution"]["id"])["nodes"]}
    assert nodes["durable"]["attempt"] == 2


def test_eager_inside_a_workflow_through_the_client(client: Client, tmp_path: Path) -> None:
    steps, marker = tmp_path / "steps.txt", tmp_path / "marker"
    rec = client.run(fw.calls_durable, {"path": str(steps), "marker": str(marker)}, timeout=60)
    assert rec.phase is ExecutionPhase.SUCCEEDED, rec.error
    assert client.outputs(rec.id) == {"o0": 40}
    assert steps.read_text().splitlines() == ["step 1", "step 2", "step 3"]
    (node,) = client.nodes(rec.id)
    assert len(node.attempts) == 2


def test_cli_eager_survives_a_controller_killed_mid_way(tmp_path: Path) -> None:
    """The next controller adopts or retries the eager node; either way no finished call runs again
    (the journal's replay after a killed attempt is the test above)."""
    home = tmp_path / "home"
    steps, gate = tmp_path / "steps.txt", tmp_path / "gate"
    eid = setpoint_json(home, "run", f"{WF}:durable_slow", "--path", str(steps), "--gate", str(gate), "--detach")[
        "execution"
    ]["id"]
    ctl = subprocess.Popen(
        cli_argv(home, "controller"), cwd=REPO, env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (steps.exists() and len(steps.read_text().splitlines()) == 2):
            time.sleep(0.05)
        assert steps.read_text().splitlines() == ["step 1", "step 2"]
    finally:
        ctl.send_signal(signal.SIGKILL)  # the controller dies while the eager node waits in its third call
        ctl.wait(timeout=10)
    gate.write_text("open")
    setpoint(home, "controller", "--exit-when-idle", check=True)
    out = setpoint_json(home, "describe", eid)
    assert out["execution"]["phase"] == "SUCCEEDED"
    assert out["execution"]["outputs"] == {"o0": 300}
    assert steps.read_text().splitlines() == ["step 1", "step 2"]  # nothing that finished ran again


def test_an_eager_body_catches_a_failed_call_as_eager_exception(home: Path) -> None:
    assert fw.catches(x=3) == 3  # in-process
    assert fw.catches(x=0) == -1
    out = setpoint_json(home, "run", "tests/e2e/wf_flyte_workflows.py:catches", "--x", "0")
    assert out["execution"]["phase"] == "SUCCEEDED"
    assert out["execution"]["outputs"] == {"o0": -1}


def test_an_eager_body_called_where_an_event_loop_already_runs() -> None:
    import asyncio

    async def notebook_cell() -> int:  # a notebook, or a framework's sync API, keeps a loop running here
        result: int = fw.catches(x=3)
        return result

    assert asyncio.run(notebook_cell()) == 3
