"""Subworkflows: a workflow called inside another is inlined under its own node namespace.

    setpoint run examples/control_flow/subworkflows.py:pipeline --n 20
"""

from setpoint import task, workflow


@task
def generate(n: int) -> list[float]:
    return [float(i) for i in range(n)]


@task
def normalize(xs: list[float]) -> list[float]:
    top = max(xs) or 1.0
    return [x / top for x in xs]


@task
def mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


@workflow
def preprocess(n: int) -> list[float]:
    return normalize(xs=generate(n=n))


@workflow
def pipeline(n: int = 20) -> float:
    return mean(xs=preprocess(n=n))
