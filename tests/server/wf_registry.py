"""Tasks, a workflow and a launch plan that the server tests register."""

from __future__ import annotations

from setpoint import LaunchPlan, approve, task, workflow


@task
def add(a: int, b: int) -> int:
    return a + b


@task
def double(x: int) -> int:
    return x * 2


@workflow
def pipeline(a: int, b: int = 2) -> int:
    return double(x=add(a=a, b=b))


@workflow
def gated(a: int) -> int:
    return approve(add(a=a, b=1), "go")


nightly = LaunchPlan.get_or_create(pipeline, name="nightly", default_inputs={"b": 5}, fixed_inputs={"a": 1})
