"""Subworkflows: a reusable cleaning workflow called from a training workflow.

setpoint run examples/flyte/subworkflows.py:train_on_clean --raw '[1.0, -1.0, 2.0, 100.0, 3.0]'
"""

from __future__ import annotations

from setpoint.flytekit import task, workflow


@task
def drop_negative(values: list[float]) -> list[float]:
    return [v for v in values if v >= 0]


@task
def clip(values: list[float], upper: float) -> list[float]:
    return [min(v, upper) for v in values]


@workflow
def clean(values: list[float], upper: float = 10.0) -> list[float]:
    return clip(values=drop_negative(values=values), upper=upper)


@task
def mean(values: list[float]) -> float:
    return sum(values) / len(values)


@workflow
def train_on_clean(raw: list[float]) -> float:
    return mean(values=clean(values=raw))
