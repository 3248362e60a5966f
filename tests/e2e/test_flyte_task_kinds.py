"""Task kinds declared as objects (ShellTask, SQLite3Task) run by the controller and by `setpoint run`."""

from __future__ import annotations

from pathlib import Path

import pytest

from setpoint.client.embedded import Client
from setpoint.core.phases import ExecutionPhase
from tests.e2e import wf_flyte_task_kinds as wk
from tests.e2e.cli_util import setpoint, setpoint_json

pytestmark = pytest.mark.timeout(180)

WF = str(Path(wk.__file__))


def test_shell_task_templates_inputs_and_outputs_in_a_workflow(client: Client) -> None:
    rec = client.run(wk.shout_wf, {"text": "quiet words", "suffix": "?!"}, timeout=60)
    assert rec.phase is ExecutionPhase.SUCCEEDED, rec.error
    assert client.outputs(rec.id) == {"o0": "QUIET WORDS?!\n"}
    assert {n.node_id for n in client.nodes(rec.id)} == {"write_text", "shout", "read_text"}


def test_shell_task_failure_fails_the_node_with_the_exit_code_and_stderr(client: Client) -> None:
    rec = client.run(wk.fail_wf, {}, timeout=60)
    assert rec.phase is ExecutionPhase.FAILED
    assert rec.error is not None and rec.error.node == "fail_loudly"
    assert "exited with code 3" in rec.error.message
    assert "disk on fire" in rec.error.message


def test_sqlite3_task_queries_a_real_database(client: Client) -> None:
    rec = client.run(wk.sqlite_wf, {"min_score": 5}, timeout=60)
    assert rec.phase is ExecutionPhase.SUCCEEDED, rec.error
    assert client.outputs(rec.id) == {"o0": ["cy", "ada"]}


def test_shell_and_sqlite_tasks_through_setpoint_run(home: Path) -> None:
    out = setpoint_json(home, "run", f"{WF}:shout_wf", "--text", "via cli")
    assert out["execution"]["outputs"] == {"o0": "VIA CLI!\n"}
    out = setpoint_json(home, "run", f"{WF}:sqlite_wf", "--min-score", "8")
    assert out["execution"]["outputs"] == {"o0": ["ada"]}
    failed = setpoint(home, "run", f"{WF}:fail_wf")
    assert failed.returncode != 0
    assert "disk on fire" in failed.stdout + failed.stderr
