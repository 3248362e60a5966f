"""Spec digests are content addresses stored in databases: the JSON form of a compiled workflow
must not change by a byte when the spec's Python types change.

The digests below were computed before node kinds and their configs became typed (and before
`spec/workflow.py` was split); the workflow uses every node kind and every config key. The task
names include this module's dotted name, so the file must not move (or the pins be recomputed
at a commit where the spec code is known to be unchanged).
"""

from __future__ import annotations

import functools
from datetime import timedelta
from typing import NamedTuple

from setpoint import LaunchPlan, approve, conditional, dynamic, map_task, sleep, task, wait_for_input, workflow
from setpoint.spec.canonical import canonical_json
from setpoint.spec.workflow import WorkflowSpec


class Stats(NamedTuple):
    lo: float
    hi: float


class Result(NamedTuple):
    text: str
    low: float
    scaled: list[float | None]


@task(retries=2, timeout=timedelta(seconds=30), cache=True, cache_version="1", deadline=120.0)
def load(n: int) -> list[float]:
    return [float(i) for i in range(n)]


@task
def scale(x: float, factor: float = 2.0) -> float:
    return x * factor


@task
def stats(xs: list[float]) -> Stats:
    return Stats(min(xs), max(xs))


@task
def label(x: float) -> str:
    return str(x)


@task
def notify(error: str) -> None:
    print(error)


@dynamic
def grow(n: int) -> list[float]:
    return [scale(x=float(i)) for i in range(n)]


@workflow
def child(x: float, factor: float = 3.0) -> float:
    out: float = scale(x=x, factor=factor)
    return out


child_plan = LaunchPlan.get_or_create(child, "digest_pin_child", default_inputs={"factor": 4.0})


@workflow(max_parallelism=4, failure_policy="finish_runnable", deadline=3600.0, on_failure=notify)
def pipeline(n: int = 3) -> Result:
    xs = load(n=n)
    scaled = map_task(functools.partial(scale, factor=1.5), concurrency=2, min_success_ratio=0.5)(x=xs)
    s = stats(xs=xs)
    pause = sleep(timedelta(seconds=5))
    pause >> s
    threshold = wait_for_input("threshold", float, timeout=timedelta(minutes=10))
    approved = approve(s.hi, "hi_ok", timeout=60.0)
    picked = (
        conditional("pick")
        .if_((s.hi > threshold) & (s.lo >= 0.0))
        .then(scale(x=approved))
        .elif_(s.lo.is_none() | (s.hi == 1))
        .then(child(x=s.lo))
        .else_()
        .fail("no case")
    )
    stats(xs=grow(n=n))
    sub = child_plan(x=picked)
    return Result(label(x=sub), scale(x=s.lo), scaled)


def test_the_compiled_json_is_byte_identical() -> None:
    spec = pipeline.compile()
    assert spec.digest == PIPELINE_DIGEST
    # Loading the JSON and writing it again gives the same bytes (the digest is of the JSON form).
    again = WorkflowSpec.from_json(spec.to_json())
    assert canonical_json(again.to_json()) == canonical_json(spec.to_json())
    assert again.digest == PIPELINE_DIGEST


PIPELINE_DIGEST = "b87b9a9474eece5682b0e3e0d7b926bbd3277236be191a863261e046e52ac314"
