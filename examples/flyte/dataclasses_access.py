"""Dataclasses and attribute access: a training config in, a report out, fields read in the workflow.

    setpoint run examples/flyte/dataclasses_access.py:evaluate \
        --config '{"name": "ridge", "alpha": 0.5, "features": ["x1", "x2"]}'
"""

from __future__ import annotations

from dataclasses import dataclass, field

from setpoint.flytekit import task, workflow


@dataclass
class Config:
    name: str
    alpha: float
    features: list[str] = field(default_factory=list)


@dataclass
class Metrics:
    rmse: float
    r2: float


@dataclass
class Report:
    name: str
    metrics: Metrics
    per_feature: dict[str, float]


@task
def fit(config: Config) -> Report:
    weights = {f: round(1.0 / (i + 1 + config.alpha), 4) for i, f in enumerate(config.features)}
    rmse = round(0.1 + config.alpha / 10, 4)
    return Report(name=config.name, metrics=Metrics(rmse=rmse, r2=round(1 - rmse, 4)), per_feature=weights)


@task
def describe(name: str, r2: float, top_weight: float) -> str:
    return f"{name}: r2={r2} top weight={top_weight}"


@workflow
def evaluate(config: Config) -> str:
    report = fit(config=config)
    return describe(name=report.name, r2=report.metrics.r2, top_weight=report.per_feature["x1"])
