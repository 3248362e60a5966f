"""The `setpoint` CLI end to end, in subprocesses: on the embedded default, and (tests marked
`remote`) again through a `setpoint server` process with ``--server``."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.e2e.cli_util import REPO, cli_argv, cli_env, setpoint, setpoint_json

pytestmark = pytest.mark.timeout(120)

WF = "tests/e2e/wf_basic.py"


@pytest.mark.remote
def test_run_prints_outputs_and_execution_id_as_json(home: Path) -> None:
    out = setpoint_json(home, "run", f"{WF}:chain", "--n", "10")
    ex = out["execution"]
    assert ex["phase"] == "SUCCEEDED"
    assert ex["outputs"] == {"o0": 16}
    assert len(ex["id"]) == 12
    assert [n["phase"] for n in out["nodes"]] == ["SUCCEEDED"] * 5
    assert all(n["attempts"] == 1 for n in out["nodes"])


@pytest.mark.remote
def test_run_table_output_and_exit_code_on_failure(home: Path, tmp_path: Path) -> None:
    ok = setpoint(home, "run", f"{WF}:chain", "--n", "1")
    assert ok.returncode == 0, ok.stderr
    assert "succeeded" in ok.stdout and "o0 = 7" in ok.stdout
    bad = setpoint(home, "run", f"{WF}:flaky_wf", "--counter", str(tmp_path / "c"), "--fail_times", "9")
    assert bad.returncode == 1
    assert "failed" in bad.stdout and "flaky failure" in bad.stdout
    assert re.search(r"logs: setpoint .*logs \w+ flaky", bad.stdout), bad.stdout  # the hint keeps --home


@pytest.mark.remote
def test_collections_and_dataclasses_from_json_and_inputs_file(home: Path, tmp_path: Path) -> None:
    out = setpoint_json(home, "run", f"{WF}:typed", "--values", "[1, 2, 3.5]", "--label", "cli")
    assert out["execution"]["outputs"] == {"o0": {"count": 3, "mean": 6.5 / 3, "label": "cli"}}
    f = tmp_path / "inputs.json"
    f.write_text(json.dumps({"values": [4, 6]}))
    out = setpoint_json(home, "run", f"{WF}:typed", "--inputs", str(f))
    assert out["execution"]["outputs"]["o0"]["mean"] == 5.0


@pytest.mark.remote
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--n", "ten"], "workflow 'chain', input 'n'"),
        (["--m", "1"], "workflow 'chain' has no input 'm' (inputs: --n)"),
        (["--n"], "--n needs a value"),
    ],
)
def test_bad_cli_inputs_exit_2_with_a_clear_message(home: Path, args: list[str], message: str) -> None:
    proc = setpoint(home, "run", f"{WF}:chain", *args)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.remote
@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("tests/e2e/nope.py:wf", "no such file: tests/e2e/nope.py"),
        (f"{WF}:nope", "has no workflow named 'nope'"),
        ("chain", "expected FILE.py:WORKFLOW"),
    ],
)
def test_bad_targets_exit_2(home: Path, target: str, message: str) -> None:
    proc = setpoint(home, "run", target)
    assert proc.returncode == 2
    assert message in proc.stderr


@pytest.mark.remote
def test_a_task_target_runs_as_a_one_node_workflow(home: Path) -> None:
    ran = setpoint_json(home, "run", f"{WF}:add", "--x", "2", "--y", "3")
    assert ran["execution"]["phase"] == "SUCCEEDED" and ran["execution"]["outputs"] == {"o0": 5}
    assert [n["id"] for n in ran["nodes"]] == ["add"]
    defaulted = setpoint_json(home, "run", f"{WF}:add", "--x", "7")  # y has a default
    assert defaulted["execution"]["outputs"] == {"o0": 7}
    missing = setpoint(home, "run", f"{WF}:add", "--y", "3")
    assert missing.returncode == 2
    assert "missing input 'x' (int)" in missing.stderr and "Traceback" not in missing.stderr


@pytest.mark.remote
def test_read_commands(home: Path) -> None:
    ran = setpoint_json(home, "run", f"{WF}:shout_wf", "--msg", "yo")
    eid = ran["execution"]["id"]
    listed = setpoint_json(home, "get", "executions")
    assert [e["id"] for e in listed["executions"]] == [eid]
    described = setpoint_json(home, "describe", eid)
    assert described["execution"]["outputs"] == {"o0": "YO"}
    assert described["nodes"][0]["attempt_ids"] == [f"{eid}/shout/1"]
    table = setpoint(home, "describe", eid, check=True).stdout
    assert eid in table and "SUCCEEDED" in table and "shout" in table
    logs = setpoint(home, "logs", eid, "shout", check=True).stdout
    assert "stdout says yo" in logs and "stderr says yo" in logs
    rows = setpoint_json(home, "logs", eid, "shout", "--stream", "stderr")["logs"]
    assert [(r["attempt_id"], r["stream"]) for r in rows] == [(f"{eid}/shout/1", "stderr")]
    assert "stderr says yo" in rows[0]["text"]
    evs = setpoint_json(home, "events", eid)["events"]
    assert evs[0]["phase"] == "QUEUED" and evs[-1]["phase"] == "SUCCEEDED"


@pytest.mark.remote
def test_not_found_exits_3(home: Path) -> None:
    proc = setpoint(home, "describe", "nosuchexec")
    assert proc.returncode == 3
    assert "execution 'nosuchexec' not found" in proc.stderr


@pytest.mark.remote
def test_relaunch_and_terminate_of_a_finished_execution(home: Path) -> None:
    eid = setpoint_json(home, "run", f"{WF}:chain", "--n", "2")["execution"]["id"]
    again = setpoint_json(home, "relaunch", eid, "--n", "4")
    assert again["execution"]["source_id"] == eid
    assert again["execution"]["outputs"] == {"o0": 10}
    term = setpoint(home, "terminate", eid, check=True)
    assert "already ended SUCCEEDED" in term.stdout


def test_detached_run_is_finished_by_a_separate_controller(home: Path) -> None:
    created = setpoint_json(home, "run", f"{WF}:fanout", "--offset", "5", "--detach")
    eid = created["execution"]["id"]
    assert setpoint_json(home, "describe", eid)["execution"]["phase"] == "QUEUED"
    ctl = setpoint(home, "controller", "--exit-when-idle", check=True)
    assert "no unfinished executions" in ctl.stderr
    assert setpoint_json(home, "describe", eid)["execution"]["outputs"] == {"o0": sum(i * i for i in range(30)) + 5}


@pytest.mark.remote
def test_terminate_from_another_process_aborts_a_running_execution(home: Path, tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    run = subprocess.Popen(
        cli_argv(home, "run", f"{WF}:sleeper_wf", "--pidfile", str(pidfile), "-o", "json"),
        cwd=REPO,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not pidfile.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    eid = setpoint_json(home, "get", "executions")["executions"][0]["id"]
    setpoint(home, "terminate", eid, "--reason", "test says stop", check=True)
    out, err = run.communicate(timeout=60)
    assert run.returncode == 1, err
    assert json.loads(out)["execution"]["phase"] == "ABORTED"
    assert json.loads(out)["execution"]["abort_reason"] == "test says stop"


@pytest.mark.remote
def test_sigint_in_a_non_interactive_run_aborts(home: Path, tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    run = subprocess.Popen(
        cli_argv(home, "run", f"{WF}:sleeper_wf", "--pidfile", str(pidfile)),
        cwd=REPO,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not pidfile.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 130, err
    eid = setpoint_json(home, "get", "executions")["executions"][0]["id"]
    assert setpoint_json(home, "describe", eid)["execution"]["phase"] == "ABORTED"


def test_help_everywhere(home: Path) -> None:
    for args in (
        [],
        ["run"],
        ["get", "executions"],
        ["describe"],
        ["logs"],
        ["terminate"],
        ["relaunch"],
        ["controller"],
    ):
        proc = setpoint(home, *args, "--help", check=True)
        assert "Usage:" in proc.stdout


def test_broken_store_exits_4_naming_the_file(home: Path) -> None:
    setpoint(home, "run", f"{WF}:chain", "--n", "1", check=True)
    db = home / "setpoint.db"
    for extra in ("setpoint.db-wal", "setpoint.db-shm"):
        (home / extra).unlink(missing_ok=True)
    db.write_bytes(b"this is not a database" * 100)
    proc = setpoint(home, "get", "executions")
    assert proc.returncode == 4
    assert str(db) in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.remote
def test_hostile_execution_ids_are_just_not_found(home: Path) -> None:
    setpoint(home, "run", f"{WF}:chain", "--n", "1", check=True)
    for hostile in ("../../etc/passwd", "x' OR '1'='1", "a/b/c"):
        proc = setpoint(home, "describe", hostile)
        assert proc.returncode == 3, proc.stderr
        assert "not found" in proc.stderr
