"""Task kinds declared as objects (shell scripts, SQLite queries) for the task-kind tests."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from pathlib import Path

import pandas as pd

from setpoint import LaunchPlan, task, workflow
from setpoint.notify.rules import Email, WorkflowExecutionPhase
from setpoint.sdk.shell import OutputLocation, ShellTask, kwtypes
from setpoint.sdk.sqlite_task import SQLite3Config, SQLite3Task
from setpoint.types.files import File
from setpoint.types.structured import StructuredDataset

shout = ShellTask(
    name="shout",
    script="""
    set -euo pipefail
    tr '[:lower:]' '[:upper:]' < {inputs.src} > {outputs.out}
    echo "{inputs.suffix}" >> {outputs.out}
    """,
    inputs=kwtypes(src=File, suffix=str),
    output_locs=[OutputLocation(var="out", var_type=File, location="{inputs.src}.upper")],
)

fail_loudly = ShellTask(
    name="fail_loudly",
    script="echo 'disk on fire' >&2; exit 3",
    inputs=kwtypes(x=int),
)


def make_players_db(path: Path) -> Path:
    """A small real SQLite database (written beside, then renamed: workers may import this at once)."""
    if not path.exists():
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.unlink(missing_ok=True)
        with contextlib.closing(sqlite3.connect(partial)) as con, con:
            con.execute("CREATE TABLE players (name TEXT, score INTEGER)")
            con.executemany("INSERT INTO players VALUES (?, ?)", [("ada", 9), ("bob", 3), ("cy", 7)])
        os.replace(partial, path)
    return path


PLAYERS_DB = make_players_db(Path(tempfile.gettempdir()) / "setpoint-test-players.db")

# the variable's name differs from the task's: the worker finds the instance by its name
count_rows = SQLite3Task(
    name="count_rows",
    query_template="SELECT name, score FROM players WHERE score >= {{ .inputs.min_score }} ORDER BY score",
    inputs=kwtypes(min_score=int),
    task_config=SQLite3Config(uri=str(PLAYERS_DB)),
)


@task
def write_text(text: str) -> File:
    path = Path("note.txt").resolve()
    path.write_text(text)
    return File(path)


@task
def read_text(f: File) -> str:
    with f.open() as fh:
        return str(fh.read())


@task
def names(df: pd.DataFrame) -> list[str]:
    return [str(n) for n in df["name"]]


@workflow
def shout_wf(text: str = "hello", suffix: str = "!") -> str:
    return read_text(f=shout(src=write_text(text=text), suffix=suffix))


@workflow
def fail_wf(x: int = 1) -> None:
    fail_loudly(x=x)


@workflow
def sqlite_wf(min_score: int = 5) -> list[str]:
    return names(df=count_rows(min_score=min_score))


@task
def double(x: int, label: str = "x") -> str:
    return f"{label}={x * 2}"


@workflow
def double_wf(x: int, label: str = "x") -> str:
    return double(x=x, label=label)


double_plan = LaunchPlan.create(
    "double_plan",
    double_wf,
    default_inputs={"label": "lp"},
    notifications=[Email(phases=[WorkflowExecutionPhase.FAILED], recipients_email=["team@example.org"])],
)


@workflow
def parent_wf(x: int = 4) -> str:
    return double_plan(x=x)


top_players = SQLite3Task(
    name="top_players",
    query_template="SELECT name, score FROM players ORDER BY score DESC LIMIT {{ .inputs.n }}",
    inputs=kwtypes(n=int),
    task_config=SQLite3Config(uri=str(PLAYERS_DB)),
    output_schema_type=StructuredDataset,
)


@task
def first_name(sd: StructuredDataset) -> str:
    return str(sd.open(pd.DataFrame).all()["name"][0])


@workflow
def dataset_wf(n: int = 2) -> str:
    return first_name(sd=top_players(n=n))
