"""The workflow `bench/api.py` registers and creates executions of: one no-op task."""

from __future__ import annotations

from setpoint import task, workflow


@task
def inc(x: int) -> int:
    return x + 1


@workflow
def one(x: int = 0) -> int:
    return inc(x=x)
