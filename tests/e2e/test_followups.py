"""Follow-ups through `setpoint run`: a pandas output feeds a `StructuredDataset` input, and an
output with a `HashMethod` is reached into by attribute and index.

The workflows live in this module so the tests can name them as `setpoint run` targets.
"""

from __future__ import annotations

import json
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import pandas as pd
import pytest

from setpoint import NonRetryableError, Resources, Secret, current_context, task, workflow
from setpoint.client.embedded import Client
from setpoint.config.settings import Settings
from setpoint.core.phases import ExecutionPhase
from setpoint.types.hashing import HashMethod
from setpoint.types.structured import StructuredDataset
from tests.e2e.cli_util import setpoint, setpoint_json

pytestmark = pytest.mark.timeout(180)

HERE = "tests/e2e/test_followups.py"


@task
def pandas_table(n: int) -> pd.DataFrame:
    return pd.DataFrame({"a": list(range(n)), "b": [f"s{i}" for i in range(n)]})


@task
def structured_rows(sd: StructuredDataset) -> str:
    df = sd.open(pd.DataFrame).all()
    return f"{len(df)}:{','.join(map(str, df.columns))}:{int(df['a'].sum())}"


@workflow
def pandas_into_structured(n: int = 4) -> str:
    return structured_rows(sd=pandas_table(n=n))  # type: ignore[no-any-return]  # a promise, by design


@dataclass
class Report:
    name: str
    scores: list[int]


def _report_hash(r: Report) -> str:
    return r.name


@task
def hashed_report(name: str) -> Annotated[Report, HashMethod(_report_hash)]:
    return Report(name=name, scores=[3, 5, 8])


@task
def hashed_dict() -> Annotated[dict[str, int], HashMethod(lambda d: ",".join(sorted(d)))]:
    return {"k": 41, "$odd": 1}


@task
def shout(s: str) -> str:
    return s.upper()


@task
def plus_one(x: int) -> int:
    return x + 1


@workflow
def reach_into_hashed(name: str = "ada") -> tuple[str, int, int, dict[str, int]]:
    r = hashed_report(name=name)
    d = hashed_dict()
    return shout(s=r.name), plus_one(x=r.scores[2]), plus_one(x=d["k"]), d


@task(
    container_image="ghcr.io/acme/flags:1.2",
    limits=Resources(cpu=2, mem="1Gi"),
    enable_deck=True,
    secret_requests=[Secret(group="db", key="password"), Secret(group="token")],
)
def flags(n: int) -> list[bool]:
    return [i % 2 == 0 for i in range(n)]


@workflow
def flags_wf(n: int = 3) -> list[bool]:
    return flags(n=n)  # type: ignore[no-any-return]  # a promise, by design


@task
def needs_file(path: str) -> int:
    if not Path(path).exists():
        raise NonRetryableError(f"{path} is not there yet")
    return len(Path(path).read_text())


@workflow
def needs_file_wf(path: str) -> int:
    return plus_one(x=needs_file(path=path))  # type: ignore[no-any-return]  # a promise, by design


@task(secret_requests=[Secret(group="db", key="password")])
def where_am_i() -> str:
    ctx = current_context()
    return f"{ctx.execution_id.project}:{len(ctx.secrets.get('db', 'password'))}"


@workflow
def where_wf() -> str:
    return where_am_i()  # type: ignore[no-any-return]  # a promise, by design


@task(enable_deck=True)
def decked(label: str) -> int:
    current_context().default_deck.append(f"<p>label is {label}</p>")
    return len(label)


@workflow
def deck_wf(label: str = "abc") -> int:
    return decked(label=label)  # type: ignore[no-any-return]  # a promise, by design


def test_a_pandas_output_feeds_a_structured_dataset_input(home: Path) -> None:
    ex = setpoint_json(home, "run", f"{HERE}:pandas_into_structured", "--n", "5")["execution"]
    assert ex["phase"] == "SUCCEEDED" and ex["outputs"] == {"o0": "5:a,b:10"}


def test_attribute_and_index_access_on_a_hashed_output(home: Path) -> None:
    ex = setpoint_json(home, "run", f"{HERE}:reach_into_hashed")["execution"]
    assert ex["phase"] == "SUCCEEDED", ex
    # the hashed dict shows as itself, its "$odd" key as written
    assert ex["outputs"] == {"o0": "ADA", "o1": 9, "o2": 42, "o3": {"k": 41, "$odd": 1}}
    text = setpoint(home, "outputs", ex["id"], check=True).stdout
    assert "$hashed" not in text and "$$odd" not in text and "$odd" in text


def test_values_are_never_read_as_markup_and_describe_shows_task_settings(home: Path) -> None:
    secrets = {"SETPOINT_SECRET_DB_PASSWORD": "pw", "SETPOINT_SECRET_TOKEN": "t"}
    ran = setpoint(home, "run", f"{HERE}:flags_wf", env=secrets, check=True)
    warned = [line for line in ran.stderr.splitlines() if "container_image" in line]
    assert len(warned) == 1  # one line, not Python's "file:line: TaskOptionWarning" and the source line
    assert warned[0].startswith(
        "warning: task 'tests.e2e.test_followups.flags': container_image='ghcr.io/acme/flags:1.2' is recorded "
        "in the spec; the local executor runs the task in the current environment and does not use it ("
    )
    assert re.search(r" \(tests/e2e/test_followups\.py:\d+\)$", warned[0])  # where the workflow uses it
    assert "TaskOptionWarning" not in ran.stderr and "warnings.warn" not in ran.stderr
    assert "warning: task 'tests.e2e.test_followups.flags': limits= are recorded in the spec" in ran.stderr
    eid = ran.stdout.split("execution ", 1)[1].split()[0]
    shown = setpoint(home, "describe", eid, env={"COLUMNS": "250"}, check=True).stdout
    assert "o0=[true, false, true]" in shown  # the list is data, not a markup tag
    # the task settings table `describe` prints under the nodes (read from the execution's spec)
    settings = next(line for line in shown.splitlines() if "tests.e2e.test_followups.flags " in line)
    assert "image ghcr.io/acme/flags:1.2" in settings and "limits cpu=2 mem=1Gi" in settings
    assert "; deck;" in settings and "secrets db/password, token" in settings


def test_an_abort_reason_in_brackets_is_shown_as_written(home: Path) -> None:
    ex = setpoint_json(home, "run", f"{HERE}:pandas_into_structured", "--detach")["execution"]
    setpoint(home, "terminate", ex["id"], "--reason", "[x] stop [bold]now[/]", check=True)
    shown = setpoint(home, "describe", ex["id"], env={"COLUMNS": "250"}, check=True).stdout
    assert "[x] stop [bold]now[/]" in shown


def _queued_elsewhere(home: Path) -> str:
    """An execution created with --detach: no controller runs it until one is started."""
    eid: str = setpoint_json(home, "run", f"{HERE}:pandas_into_structured", "--detach")["execution"]["id"]
    return eid


def _still_queued(home: Path, eid: str) -> None:
    with Client(Settings.from_env(home)) as c:
        rec = c.get(eid)
    assert rec.phase is ExecutionPhase.QUEUED and rec.lease_owner is None, "a command adopted it and left it"


def test_recover_runs_only_its_own_execution(home: Path, tmp_path: Path) -> None:
    flag = tmp_path / "flag"
    failed = setpoint(home, "run", f"{HERE}:needs_file_wf", "--path", str(flag), "-o", "json")
    assert failed.returncode == 1
    other = _queued_elsewhere(home)
    flag.write_text("four")
    ex = setpoint_json(home, "recover", json.loads(failed.stdout)["execution"]["id"])["execution"]
    assert ex["phase"] == "SUCCEEDED" and ex["outputs"] == {"o0": 5}
    _still_queued(home, other)


def test_launch_follow_runs_and_follows_a_registered_workflow(home: Path) -> None:
    setpoint(home, "register", HERE, "--version", "v1", check=True)
    other = _queued_elsewhere(home)
    ex = setpoint_json(home, "launch", "pandas_into_structured", "--inputs", '{"n": 3}', "--follow")["execution"]
    assert ex["phase"] == "SUCCEEDED" and ex["outputs"] == {"o0": "3:a,b:3"}
    shown = setpoint(home, "launch", "pandas_into_structured", "-f", check=True)
    assert "succeeded" in shown.stdout and 'o0 = "4:a,b:6"' in shown.stdout
    _still_queued(home, other)
    failed = setpoint(home, "launch", "needs_file_wf", "--inputs", '{"path": "/nonexistent/x"}', "-f")
    assert failed.returncode == 1 and "failed" in failed.stdout


@pytest.mark.parametrize("command", ["server", "ui"])
def test_a_busy_port_is_one_line_and_exit_6_before_the_home_is_opened(command: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        proc = setpoint(home, command, "--port", str(port), timeout=60)
    assert proc.returncode == 6
    assert proc.stderr == (
        f"error: setpoint {command} cannot listen on 127.0.0.1:{port}: the port is in use "
        "(stop what holds it, or choose another --port)\n"
    )
    assert proc.stdout == "" and not home.exists()


def test_a_task_sees_its_project_and_the_deployments_secrets_folder(home: Path, tmp_path: Path) -> None:
    secrets = tmp_path / "elsewhere"  # not under the home: only the settings say where it is
    (secrets / "db").mkdir(parents=True)
    (secrets / "db" / "password").write_text("hunter2")
    env = {"SETPOINT_SECRETS_DIR": str(secrets)}
    ex = setpoint_json(home, "run", f"{HERE}:where_wf", "--project", "x", env=env)["execution"]
    assert ex["project"] == "x" and ex["outputs"] == {"o0": "x:7"}
    with Client(Settings(home=tmp_path / "inproc", secrets_dir=secrets)) as client:  # no env var: the payload
        rec = client.run(where_wf, {}, project="y", timeout=60)
        assert rec.phase is ExecutionPhase.SUCCEEDED, rec.error
        assert client.outputs(rec.id) == {"o0": "y:7"}


@pytest.mark.remote
def test_setpoint_deck_finds_the_page_here_and_through_a_server(home: Path) -> None:
    eid = setpoint_json(home, "run", f"{HERE}:deck_wf", "--label", "[b]x")["execution"]["id"]
    shown = Path(setpoint(home, "deck", eid, "decked", check=True).stdout.strip())
    assert "label is [b]x" in shown.read_text()
    as_json = setpoint_json(home, "deck", eid, "decked", "--attempt", "1")
    assert as_json["node_id"] == "decked" and Path(as_json["path"]).read_text() == shown.read_text()
    missing = setpoint(home, "deck", eid, "decked", "--attempt", "2")
    assert missing.returncode == 3 and "has no attempt 2" in missing.stderr
    unknown = setpoint(home, "deck", eid, "nope")
    assert unknown.returncode == 3 and "has no node 'nope'" in unknown.stderr
