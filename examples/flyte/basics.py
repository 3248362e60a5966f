"""Tasks, a workflow and named outputs: fit a least-squares line to a small series and forecast.

setpoint run examples/flyte/basics.py:forecast --xs '[1, 2, 3, 4]' --ys '[2.0, 4.1, 5.9, 8.2]' --at 6
"""

from __future__ import annotations

from typing import NamedTuple

from setpoint.flytekit import task, workflow


class Line(NamedTuple):
    slope: float
    intercept: float


class Prediction(NamedTuple):
    value: float
    slope: float


@task
def fit_line(xs: list[float], ys: list[float]) -> Line:
    """Ordinary least squares on one feature."""
    n = len(xs)
    mean_x, mean_y = sum(xs) / n, sum(ys) / n
    cov = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    var = sum((x - mean_x) ** 2 for x in xs)
    slope = cov / var
    return Line(slope=slope, intercept=mean_y - slope * mean_x)


@task
def predict(slope: float, intercept: float, at: float) -> float:
    return round(slope * at + intercept, 4)


@workflow
def forecast(xs: list[float], ys: list[float], at: float = 5.0) -> Prediction:
    line = fit_line(xs=xs, ys=ys)
    value = predict(slope=line.slope, intercept=line.intercept, at=at)
    return Prediction(value=value, slope=line.slope)


if __name__ == "__main__":
    print(forecast(xs=[1, 2, 3, 4], ys=[2.0, 4.1, 5.9, 8.2], at=6))
