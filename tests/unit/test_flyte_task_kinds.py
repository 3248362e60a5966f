"""ShellTask and SQLite3Task declared and called in-process: interfaces, templating, errors."""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
import sqlite3
import zipfile
from pathlib import Path
from unittest.mock import MagicMock

import pandas as pd
import pytest

from setpoint import LaunchPlan, task, workflow
from setpoint.adapters.executor.runtime import resolve_task_function
from setpoint.errors import NotFoundError, SpecError, TaskError
from setpoint.notify.rules import Email, Slack, WorkflowExecutionPhase
from setpoint.ports import RegisteredEntity
from setpoint.scheduling.ticks import Cron, CronSchedule
from setpoint.sdk.current import SecretNotFoundError, current_context
from setpoint.sdk.reference import reference_task, references_from
from setpoint.sdk.shell import OutputLocation, ShellTask, kwtypes
from setpoint.sdk.sqlite_task import SQLite3Config, SQLite3Task, interpolate_query
from setpoint.service.registry import task_entity
from setpoint.testing.mocks import patch, task_mock
from setpoint.testing.secrets import fake_secrets
from setpoint.types.files import Directory, File
from setpoint.types.structured import StructuredDataset
from tests.e2e import wf_flyte_task_kinds as wk

EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def test_kwtypes_keeps_the_order_given() -> None:
    assert list(kwtypes(b=int, a=str, c=File)) == ["b", "a", "c"]


def test_a_shell_task_has_the_interface_of_its_inputs_and_output_locations() -> None:
    spec = wk.shout.spec()
    assert spec.name == "tests.e2e.wf_flyte_task_kinds.shout"
    assert (spec.module, spec.qualname) == ("tests.e2e.wf_flyte_task_kinds", "shout")
    assert [n for n, _ in spec.interface.inputs] == ["src", "suffix"]
    assert [n for n, _ in spec.interface.outputs] == ["out"]


def test_a_shell_task_runs_in_process_with_files_templated_as_paths(tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_text("abc")
    out = wk.shout(src=File(src), suffix="!")
    assert isinstance(out, File)
    assert Path(out.path) == tmp_path / "in.txt.upper"
    assert Path(out.path).read_text() == "ABC!\n"


def test_a_directory_output_and_several_outputs(tmp_path: Path) -> None:
    both = ShellTask(
        name="both",
        script="mkdir -p {outputs.d} && echo {inputs.n} > {outputs.d}/n && echo hi > {outputs.f}",
        inputs=kwtypes(n=int, base=str),
        output_locs=[
            OutputLocation(var="d", var_type=Directory, location="{inputs.base}/dir"),
            OutputLocation(var="f", var_type=File, location="{inputs.base}/f.txt"),
        ],
    )
    d, f = both(n=7, base=str(tmp_path))
    assert (Path(d.path) / "n").read_text() == "7\n"
    assert Path(f.path).read_text() == "hi\n"
    assert [n for n, _ in both.spec().interface.outputs] == ["d", "f"]


def test_a_script_file_and_datetime_inputs(tmp_path: Path) -> None:
    script = tmp_path / "stamp.sh"
    script.write_text("echo '{inputs.when}' > {outputs.f}\n")
    stamp = ShellTask(
        name="stamp",
        script_file=str(script),
        inputs=kwtypes(when=dt.datetime, base=str),
        output_locs=[OutputLocation(var="f", var_type=File, location="{inputs.base}/stamp.txt")],
    )
    out = stamp(when=dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC), base=str(tmp_path))
    assert Path(out.path).read_text() == "2026-01-02T03:04:00+00:00\n"


def test_a_failing_script_raises_with_the_exit_code_and_stderr_tail() -> None:
    with pytest.raises(TaskError, match=r"(?s)exited with code 3.*disk on fire"):
        wk.fail_loudly(x=1)


def test_a_missing_output_file_is_an_error(tmp_path: Path) -> None:
    lazy = ShellTask(
        name="lazy",
        script="true",
        inputs=kwtypes(base=str),
        output_locs=[OutputLocation(var="f", var_type=File, location="{inputs.base}/never.txt")],
    )
    with pytest.raises(TaskError, match="wrote no file"):
        lazy(base=str(tmp_path))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"script": "true", "script_file": "x.sh"}, "either script= or script_file="),
        ({}, "either script= or script_file="),
        ({"script_file": "/nonexistent/x.sh"}, "does not exist"),
        ({"script": "true", "output_locs": [OutputLocation("x", int, "/tmp/x")]}, "must be a File or Directory"),
        ({"script": "echo {inputs.nope}"}, None),
    ],
)
def test_bad_shell_task_declarations_are_spec_errors(kwargs: dict[str, object], message: str | None) -> None:
    if message is None:  # an unknown placeholder is found when the script is filled in
        t = ShellTask(name="unknown_placeholder", **kwargs)  # type: ignore[arg-type]
        with pytest.raises(SpecError, match="nope"):
            t()
        return
    with pytest.raises(SpecError, match=message):
        ShellTask(name="bad", **kwargs)  # type: ignore[arg-type]


def test_a_task_config_is_accepted_with_a_warning_that_it_is_not_used() -> None:
    with pytest.warns(UserWarning, match="task_config is accepted but not used"):
        ShellTask(name="configured", script="true", task_config=object())


def test_the_worker_finds_an_instance_task_by_its_name_not_its_variable() -> None:
    fn = resolve_task_function("tests.e2e.wf_flyte_task_kinds", "count_rows")
    assert fn is wk.count_rows.function
    with pytest.raises(SpecError, match="has no attribute 'missing'"):
        resolve_task_function("tests.e2e.wf_flyte_task_kinds", "missing")


def test_sqlite_query_template_placeholders() -> None:
    assert interpolate_query("SELECT {{ .inputs.a }}, {{.inputs.b}}", {"a": 1, "b": "x"}) == "SELECT 1, x"


def test_sqlite_task_runs_a_real_query_in_process() -> None:
    df = wk.count_rows(min_score=7)
    assert isinstance(df, pd.DataFrame)
    assert list(df["name"]) == ["cy", "ada"]


def test_sqlite_task_output_as_a_structured_dataset() -> None:
    t = SQLite3Task(
        name="as_dataset",
        query_template="SELECT name FROM players ORDER BY name",
        task_config=SQLite3Config(uri=str(wk.PLAYERS_DB)),
        output_schema_type=StructuredDataset,
    )
    out = t()
    assert isinstance(out, StructuredDataset)
    assert list(out.open(pd.DataFrame).all()["name"]) == ["ada", "bob", "cy"]
    assert [n for n, _ in t.spec().interface.outputs] == ["results"]


def test_sqlite_task_reads_a_compressed_database(tmp_path: Path) -> None:
    db = tmp_path / "players.db"
    shutil.copyfile(wk.PLAYERS_DB, db)
    archive = tmp_path / "players.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(db, "players.db")
    t = SQLite3Task(
        name="zipped",
        query_template="SELECT COUNT(*) AS n FROM players",
        task_config=SQLite3Config(uri=archive.as_uri(), compressed=True),
    )
    assert int(t()["n"][0]) == 3


def test_sqlite_task_query_errors_fail_the_task(tmp_path: Path) -> None:
    db = tmp_path / "empty.db"
    with contextlib.closing(sqlite3.connect(db)):
        pass
    t = SQLite3Task(name="broken", query_template="SELECT * FROM nowhere", task_config=SQLite3Config(uri=str(db)))
    with pytest.raises(TaskError, match="no such table: nowhere"):
        t()


@pytest.mark.parametrize(
    ("template", "inputs", "message"),
    [
        ("SELECT {{ .inputs.x }}", {}, "uses x but inputs declares no such input"),
        ("SELECT 1", {"x": int}, "do not appear in the query"),
    ],
)
def test_sqlite_templates_and_inputs_must_match(template: str, inputs: dict[str, type], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        SQLite3Task(name="mismatch", query_template=template, inputs=inputs, task_config=SQLite3Config(uri="x.db"))


def test_sqlite_task_needs_a_config() -> None:
    with pytest.raises(SpecError, match="SQLite3Config"):
        SQLite3Task(name="nowhere", query_template="SELECT 1")


# -- references -------------------------------------------------------------------------------------


class FakeRegistry:
    """Registered entities in a dict (the real store is exercised by the e2e tests)."""

    def __init__(self, *entities: RegisteredEntity, specs: dict[str, str] | None = None) -> None:
        self.entities = {(e.kind, e.project, e.name, e.version): e for e in entities}
        self.specs = specs or {}

    def get_entity(self, kind: str, project: str, name: str, version: str | None = None) -> RegisteredEntity:
        try:
            return self.entities[(kind, project, name, version or "")]
        except KeyError:
            raise NotFoundError(name) from None

    def get_spec(self, digest: str) -> str:
        return self.specs[digest]


@reference_task(project="p", domain="", name="tests.e2e.wf_flyte_task_kinds.double", version="v1")
def double_ref(x: int, label: str) -> str: ...  # type: ignore[empty-body]


@reference_task(project="p", domain="", name="tests.e2e.wf_flyte_task_kinds.double", version="v1")
def double_ref_wrong(x: str) -> str: ...  # type: ignore[empty-body]


@workflow
def calls_ref(x: int = 2) -> str:
    return double_ref(x=x, label="y")


@workflow
def calls_wrong(x: str = "2") -> str:
    return double_ref_wrong(x=x)


def _registry() -> FakeRegistry:
    return FakeRegistry(task_entity("p", "v1", wk.double.spec(), "code", 0.0))


def test_a_reference_compiles_to_the_registered_task() -> None:
    with references_from(_registry()):
        spec = calls_ref.compile()
    assert spec.tasks["tests.e2e.wf_flyte_task_kinds.double"] == wk.double.spec()
    assert [n.task for n in spec.nodes] == ["tests.e2e.wf_flyte_task_kinds.double"]


def test_reference_errors_say_what_is_wrong() -> None:
    with pytest.raises(SpecError, match="no registry to look it up in"):
        double_ref.spec()
    with (
        references_from(FakeRegistry()),
        pytest.raises(SpecError, match=r"no task '.*double' version 'v1' is registered"),
    ):
        double_ref.spec()
    with references_from(_registry()), pytest.raises(SpecError, match="input 'x' is int when registered, str in the"):
        calls_wrong.compile()
    with pytest.raises(SpecError, match="cannot run locally"):
        double_ref(x=1, label="z")


def test_a_domain_is_accepted_with_a_warning_when_resolved() -> None:
    ref = reference_task(project="p", domain="production", name="tests.e2e.wf_flyte_task_kinds.double", version="v1")(
        wk.double.function
    )
    with references_from(_registry()), pytest.warns(UserWarning, match="domain='production' is accepted but not used"):
        assert ref.spec().name == "tests.e2e.wf_flyte_task_kinds.double"


# -- launch plans -----------------------------------------------------------------------------------


@workflow
def greet(name: str, greeting: str = "hi", when: dt.datetime = EPOCH) -> str:
    return wk.double(x=1, label=greeting)


def test_launch_plan_create_takes_flytekits_argument_order_and_notifications() -> None:
    mail = Email(phases=[WorkflowExecutionPhase.FAILED], recipients_email=["team@x.org"])
    lp = LaunchPlan.create("greet_nightly", greet, default_inputs={"greeting": "yo"}, notifications=[mail])
    assert (lp.name, lp.workflow, lp.default_inputs, lp.notifications) == (
        "greet_nightly",
        greet,
        {"greeting": "yo"},
        (mail,),
    )
    assert lp(name="ada") == greet(name="ada", greeting="yo")


def test_get_or_create_returns_the_same_plan_and_refuses_a_different_one() -> None:
    a = LaunchPlan.get_or_create(greet, "greet_fixed", fixed_inputs={"greeting": "hey"})
    assert LaunchPlan.get_or_create(greet, "greet_fixed", fixed_inputs={"greeting": "hey"}) is a
    with pytest.raises(SpecError, match="already exists with other inputs"):
        LaunchPlan.get_or_create(
            greet,
            "greet_fixed",
            fixed_inputs={"greeting": "hey"},
            notifications=Slack(phases=["FAILED"], recipients_email=["c@x.org"]),
        )


def test_the_default_launch_plan_is_named_like_the_workflow_with_or_without_a_context() -> None:
    plain = LaunchPlan.get_default_launch_plan(greet)
    assert plain.name == "greet" and plain.default_inputs == {} and plain.fixed_inputs == {}
    assert LaunchPlan.get_default_launch_plan(object(), greet) is plain
    with pytest.raises(SpecError, match="takes a @workflow"):
        LaunchPlan.get_default_launch_plan("greet")
    with pytest.raises(SpecError, match="only a named launch plan has default or fixed inputs"):
        LaunchPlan.get_or_create(greet, default_inputs={"greeting": "yo"})


def test_options_setpoint_does_not_use_are_accepted_with_a_warning_and_typos_refused() -> None:
    with pytest.warns(UserWarning, match="labels, max_parallelism accepted but not used"):
        LaunchPlan.create("greet_labelled", greet, labels={"team": "ml"}, max_parallelism=3)
    with pytest.raises(SpecError, match="unknown option fixed_input"):
        LaunchPlan.create("greet_typo", greet, fixed_input={"greeting": "x"})


def test_cron_schedule_takes_flytekits_arguments() -> None:
    s = CronSchedule(schedule="0 3 * * *", kickoff_time_input_arg="when")
    assert s == Cron("0 3 * * *", kickoff_time_input_arg="when")
    assert CronSchedule(cron_expression="@daily").expression == "@daily"
    lp = LaunchPlan.create("greet_cron", greet, default_inputs={"name": "n"}, schedule=s)
    assert lp.schedule == s
    with pytest.raises(SpecError, match="offset"):
        CronSchedule(schedule="0 3 * * *", offset="PT1H")
    with pytest.raises(SpecError, match="not both"):
        CronSchedule(schedule="0 3 * * *", cron_expression="0 4 * * *")
    with pytest.raises(SpecError, match="needs a value for every input"):
        LaunchPlan.create("greet_cron_bad", greet, schedule=CronSchedule(schedule="@daily"))


# -- testing helpers --------------------------------------------------------------------------------


@workflow
def shout_then_count(min_score: int = 0) -> list[str]:
    return wk.names(df=wk.count_rows(min_score=min_score))


def test_task_mock_replaces_a_task_called_by_a_workflow_in_process() -> None:
    with task_mock(wk.count_rows) as m:
        m.return_value = pd.DataFrame({"name": ["zed"], "score": [1]})
        assert shout_then_count(min_score=4) == ["zed"]
    m.assert_called_once_with(min_score=4)
    assert shout_then_count(min_score=8) == ["ada"]  # restored: the real query again


def test_task_mock_works_for_decorated_tasks_and_references() -> None:
    with task_mock(wk.double) as m:
        m.side_effect = lambda x, label: f"mocked {label}{x}"
        assert wk.double(3, label="n") == "mocked n3"
    assert wk.double(3) == "x=6"
    with task_mock(double_ref) as ref:
        ref.return_value = "from the mock"
        assert double_ref(x=1, label="q") == "from the mock"
    ref.assert_called_once_with(x=1, label="q")
    with pytest.raises(SpecError, match="cannot run locally"):
        double_ref(x=1, label="q")


@patch(wk.double)
def test_patch_hands_the_mock_first_and_fixtures_after(m: MagicMock, tmp_path: Path) -> None:
    m.return_value = "patched"
    assert wk.double(x=1) == "patched"
    assert tmp_path.is_dir()


def test_task_mock_refuses_what_is_not_a_task() -> None:
    with pytest.raises(TypeError, match="take a @task"), task_mock(object()):
        pass


@task
def read_secret(group: str, key: str) -> str:
    return str(current_context().secrets.get(group, key))


def test_fake_secrets_are_the_only_secrets_found(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SETPOINT_SECRET_DB_USER", "from-the-environment")
    with fake_secrets({("db", "password"): "s3cret", ("api", ""): "whole-group"}):
        assert read_secret(group="db", key="password") == "s3cret"
        assert current_context().secrets.db.password == "s3cret"
        assert current_context().secrets.get("api") == "whole-group"
        with pytest.raises(SecretNotFoundError, match="'db/user' not found"):
            read_secret(group="db", key="user")
    assert current_context().secrets.get("db", "user") == "from-the-environment"
