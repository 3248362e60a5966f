"""Task kinds declared as objects (ShellTask, SQLite3Task) run by the controller and by `setpoint run`."""

from __future__ import annotations

import json
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


def test_a_sqlite3_task_can_output_a_structured_dataset(client: Client, home: Path) -> None:
    rec = client.run(wk.dataset_wf, {"n": 2}, timeout=60)
    assert rec.phase is ExecutionPhase.SUCCEEDED, rec.error
    assert client.outputs(rec.id) == {"o0": "ada"}
    assert setpoint_json(home, "run", f"{WF}:dataset_wf")["execution"]["outputs"] == {"o0": "ada"}


@pytest.mark.remote
def test_shell_and_sqlite_tasks_through_setpoint_run(home: Path) -> None:
    out = setpoint_json(home, "run", f"{WF}:shout_wf", "--text", "via cli")
    assert out["execution"]["outputs"] == {"o0": "VIA CLI!\n"}
    out = setpoint_json(home, "run", f"{WF}:sqlite_wf", "--min-score", "8")
    assert out["execution"]["outputs"] == {"o0": ["ada"]}
    failed = setpoint(home, "run", f"{WF}:fail_wf")
    assert failed.returncode != 0
    assert "disk on fire" in failed.stdout + failed.stderr


@pytest.mark.remote
def test_setpoint_run_runs_a_single_task_as_a_one_node_workflow(home: Path) -> None:
    out = setpoint_json(home, "run", f"{WF}:double", "--x", "21")
    assert out["execution"]["outputs"] == {"o0": "x=42"}
    assert [n["node_id"] for n in out["nodes"]] == ["double"]
    shell = setpoint_json(home, "run", f"{WF}:count_rows", "--min-score", "9")
    assert shell["execution"]["phase"] == "SUCCEEDED"


# -- references to registered entities --------------------------------------------------------------

REF_SOURCE = """
from setpoint import LaunchPlan, task, workflow

@task
def double(x: int) -> int:
    return x * 2

@workflow
def quadruple(x: int, bonus: int = 0) -> int:
    return double(x=double(x=x))

plus = LaunchPlan.get_or_create(quadruple, "quad_plan", default_inputs={"bonus": 1})
"""

REF_USER = """
from setpoint import workflow
from setpoint.sdk.reference import reference_launch_plan, reference_task

@reference_task(project="refs", domain="development", name="refsrc.double", version="{version}")
def double(x: int) -> int: ...

@reference_launch_plan(project="refs", domain="development", name="quad_plan", version="v1")
def quad_plan(x: int, bonus: int) -> int: ...

@workflow
def uses_refs(x: int = 3) -> int:
    return quad_plan(x=double(x=x))
"""


def _ref_project(tmp_path: Path, version: str = "v1") -> Path:
    proj = tmp_path / "proj"
    proj.mkdir(exist_ok=True)
    (proj / "refsrc.py").write_text(REF_SOURCE)
    (proj / "refuser.py").write_text(REF_USER.format(version=version))
    return proj


def test_references_resolve_against_what_was_registered_through_the_cli(home: Path, tmp_path: Path) -> None:
    proj = _ref_project(tmp_path)
    setpoint(home, "register", str(proj / "refsrc.py"), "--project", "refs", "--version", "v1", check=True)
    proc = setpoint(home, "run", f"{proj / 'refuser.py'}:uses_refs", "--x", "5", "--output", "json", check=True)
    out = json.loads(proc.stdout)
    assert out["execution"]["outputs"] == {"o0": 40}  # double: 10, then the launch plan's child: 40
    assert "domain='development' is accepted but not used" in proc.stderr


def test_a_missing_reference_is_a_clear_error(home: Path, tmp_path: Path) -> None:
    proj = _ref_project(tmp_path, version="v9")
    setpoint(home, "register", str(proj / "refsrc.py"), "--project", "refs", "--version", "v1", check=True)
    proc = setpoint(home, "run", f"{proj / 'refuser.py'}:uses_refs")
    assert proc.returncode != 0
    said = " ".join((proc.stdout + proc.stderr).split())  # the error is wrapped to the terminal's width
    assert "no task 'refsrc.double' version 'v9' is registered in project 'refs'" in said


def test_a_launch_plan_made_with_create_runs_as_a_child_in_process_and_through_the_cli(
    client: Client, home: Path
) -> None:
    rec = client.run(wk.parent_wf, {"x": 5}, timeout=60)
    assert rec.phase is ExecutionPhase.SUCCEEDED, rec.error
    assert client.outputs(rec.id) == {"o0": "lp=10"}
    out = setpoint_json(home, "run", f"{WF}:parent_wf", "--x", "7")
    assert out["execution"]["outputs"] == {"o0": "lp=14"}


# -- a program written for flytekit, ported by changing its imports ---------------------------------

FLYTEKIT_PROGRAM = '''
import typing

from setpoint.flytekit import LaunchPlan, kwtypes, task, workflow
from setpoint.flytekit.core.notification import Email
from setpoint.flytekit.extras.tasks.shell import OutputLocation, ShellTask
from setpoint.flytekit.models.core.execution import WorkflowExecutionPhase
from setpoint.flytekit.types.file import FlyteFile

t1 = ShellTask(
    name="task_1",
    debug=True,
    script="""
    set -ex
    echo "Hello {inputs.name}" > {outputs.i}
    """,
    inputs=kwtypes(name=str),
    output_locs=[OutputLocation(var="i", var_type=FlyteFile, location="{ctx.working_directory}/hello.txt")],
)


@task
def read(f: FlyteFile) -> str:
    with open(f) as fh:
        return fh.read().strip()


@workflow
def wf(name: str = "flyte") -> str:
    return read(f=t1(name=name))


lp = LaunchPlan.get_or_create(
    wf,
    name="wf_lp",
    default_inputs={"name": "lp"},
    notifications=[Email(phases=[WorkflowExecutionPhase.FAILED], recipients_email=["me@example.org"])],
)


@workflow
def outer() -> str:
    return lp()
'''


def test_a_flytekit_program_ported_by_its_imports_runs_through_the_cli(home: Path, tmp_path: Path) -> None:
    proj = tmp_path / "ported"
    proj.mkdir()
    (proj / "hello.py").write_text(FLYTEKIT_PROGRAM)
    out = setpoint_json(home, "run", f"{proj / 'hello.py'}:wf", "--name", "setpoint")
    assert out["execution"]["outputs"] == {"o0": "Hello setpoint"}
    assert setpoint_json(home, "run", f"{proj / 'hello.py'}:outer")["execution"]["outputs"] == {"o0": "Hello lp"}
    single = setpoint_json(home, "run", f"{proj / 'hello.py'}:t1", "--name", "task")
    assert single["execution"]["phase"] == "SUCCEEDED"
    assert list(single["execution"]["outputs"]) == ["i"]
