"""Workflows for the control-flow tests: subworkflows (more node kinds join as they land)."""

from __future__ import annotations

from typing import NamedTuple

from setpoint import task, workflow


@task
def inc(x: int) -> int:
    return x + 1


@task
def double(x: int) -> int:
    return x * 2


class Pair(NamedTuple):
    lo: int
    hi: int


@workflow
def prep(x: int, step: int = 1) -> int:
    return inc(x=double(x=x))


@workflow
def spread(x: int) -> Pair:
    return Pair(lo=inc(x=x), hi=double(x=x))


@workflow
def nested(x: int) -> int:
    return prep(x=prep(x=x))


@workflow
def outer(x: int = 3) -> int:
    a = prep(x=x)
    p = spread(x=a)
    return inc(x=nested(x=p.hi))


# -- branches ------------------------------------------------------------------------------------

from setpoint import conditional  # noqa: E402


@task
def score(x: int) -> float:
    return x / 100


@task
def deploy(m: float) -> str:
    return f"deployed {m:.2f}"


@task
def retrain(m: float) -> str:
    return f"retrained {m:.2f}"


@task
def label(v: float) -> int:
    return int(v * 100)


@task
def maybe(x: int) -> int | None:
    return None if x < 0 else x


@workflow
def gatekeeper(x: int) -> str:
    s = score(x=x)
    return (
        conditional("quality")
        .if_(s >= 0.9)
        .then(deploy(m=s))
        .elif_((s > 0.5) & (s < 0.9))
        .then(retrain(m=s))
        .else_()
        .fail("the score is too low to deploy or retrain")
    )


@workflow
def nested_branch(x: int, strict: bool = False) -> str:
    s = score(x=x)
    return (
        conditional("outer")
        .if_(strict)
        .then(
            conditional("inner")
            .if_(s >= 0.99)
            .then(deploy(m=s))
            .else_()
            .then(retrain(m=s))
        )
        .else_()
        .then(deploy(m=s))
    )


@workflow
def none_check(x: int) -> int:
    v = maybe(x=x)
    return conditional("has_value").if_(v.is_none()).then(inc(x=0)).else_().then(inc(x=x))


@workflow
def branch_in_sub(x: int) -> str:
    return gatekeeper(x=x)


# -- map tasks -----------------------------------------------------------------------------------

import functools  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from setpoint import map_task  # noqa: E402


@task
def numbers(n: int) -> list[int]:
    return list(range(n))


@task
def square_it(x: int) -> int:
    return x * x


@task
def add_to(x: int, y: int) -> int:
    return x + y


@task
def fragile(x: int) -> int:
    if x % 4 == 3:
        raise ValueError(f"element {x} is cursed")
    return x


@task
def summarize(xs: list[int]) -> int:
    return sum(xs)


@task
def count_present(xs: list[int | None]) -> int:
    return sum(1 for x in xs if x is not None)


@task
def nap(x: int, seconds: float) -> int:
    time.sleep(seconds)
    return x


@task
def noop_element(x: int) -> int:
    return x


@workflow
def mapped(n: int = 10) -> int:
    return summarize(xs=map_task(square_it)(x=numbers(n=n)))


@workflow
def mapped_fixed(n: int = 5, y: int = 100) -> int:
    return summarize(xs=map_task(functools.partial(add_to, y=y))(x=numbers(n=n)))


@workflow
def mapped_partial(n: int = 8, ratio: float = 0.5) -> int:
    return count_present(xs=map_task(fragile, min_success_ratio=0.5)(x=numbers(n=n)))


@workflow
def mapped_strict(n: int = 8) -> int:
    return count_present(xs=map_task(fragile, min_success_ratio=0.9)(x=numbers(n=n)))


@workflow
def mapped_throttled(n: int = 6, seconds: float = 0.3) -> int:
    return summarize(xs=map_task(functools.partial(nap, seconds=seconds), concurrency=2)(x=numbers(n=n)))


@workflow
def mapped_wide(n: int = 10_000) -> int:
    return summarize(xs=map_task(noop_element)(x=numbers(n=n)))


@task
def fragile_until_fixed(x: int, marker: str) -> int:
    if x % 4 == 3 and Path(marker).exists():
        raise ValueError(f"element {x} hit a transient outage")
    return x


@workflow(failure_policy="finish_runnable")  # every element runs, whatever the others do
def mapped_outage(marker: str, n: int = 8) -> int:
    return count_present(xs=map_task(functools.partial(fragile_until_fixed, marker=marker))(x=numbers(n=n)))


# -- gates ---------------------------------------------------------------------------------------

from datetime import timedelta  # noqa: E402

from setpoint import approve, sleep, wait_for_input  # noqa: E402


@task
def multiply(x: int, y: int) -> int:
    return x * y


@workflow
def nap_then(x: int = 1) -> int:
    pause = sleep(timedelta(seconds=1))
    y = inc(x=x)
    pause >> y
    return y


@workflow
def release(x: int = 5, timeout_s: float = 60.0) -> int:
    model = double(x=x)
    approved = approve(model, "ship_it", timeout=timedelta(seconds=60))
    return inc(x=approved)


@workflow
def ask(x: int = 2) -> int:
    factor = wait_for_input("factor", int, timeout=timedelta(seconds=60))
    return multiply(x=x, y=factor)


@workflow
def impatient() -> int:
    return inc(x=wait_for_input("never", int, timeout=timedelta(seconds=3)))


# -- dynamic workflows -----------------------------------------------------------------------------

from setpoint import dynamic  # noqa: E402


@task
def halve_distance(x: float, target: float) -> float:
    return x + (target - x) / 2


@dynamic
def converge(x: float, target: float, tolerance: float = 0.01) -> float:
    """Recursion with a base case: halve the distance until close enough."""
    if abs(x - target) <= tolerance:
        return x
    return converge(x=halve_distance(x=x, target=target), target=target, tolerance=tolerance)


@workflow
def converging(x: float = 0.0, target: float = 1.0) -> float:
    return converge(x=x, target=target)


@dynamic
def fan_over(values: list[int]) -> int:
    """A loop over a runtime value (the list an upstream task produced)."""
    return summarize(xs=[square_it(x=v) for v in values])


@workflow
def dynamic_fan(n: int = 5) -> int:
    return fan_over(values=numbers(n=n))


@dynamic
def ill_typed(n: int) -> int:
    return square_it(x=str(n))  # a str into an int input: caught when the sub-workflow is built


@workflow
def broken_dynamic(n: int = 1) -> int:
    return ill_typed(n=n)


@dynamic
def forever(n: int) -> int:
    return forever(n=inc(x=n))  # no base case


@workflow
def runaway(n: int = 0) -> int:
    return forever(n=n)


# -- launch plans --------------------------------------------------------------------------------

from setpoint import LaunchPlan  # noqa: E402


@task
def train_run(epochs: int, dataset: str) -> str:
    return f"{epochs} epochs on {dataset}"


@task
def hold(seconds: float) -> int:
    time.sleep(seconds)
    return 1


@workflow
def training(epochs: int = 1, dataset: str = "dev") -> str:
    return train_run(epochs=epochs, dataset=dataset)


@workflow
def holding(seconds: float = 60.0) -> int:
    return hold(seconds=seconds)


nightly = LaunchPlan.get_or_create(training, name="nightly", default_inputs={"epochs": 3},
                                   fixed_inputs={"dataset": "prod"})
long_hold = LaunchPlan.get_or_create(holding, name="long_hold")


@workflow
def orchestrate(epochs: int = 5) -> str:
    first = nightly()
    second = nightly(epochs=epochs)
    return summarize_runs(a=first, b=second)


@task
def summarize_runs(a: str, b: str) -> str:
    return f"{a} | {b}"


@workflow
def parent_of_long() -> int:
    return long_hold(seconds=60.0)


# -- deadlines and failure handlers ----------------------------------------------------------------


@task(retries=10, deadline=timedelta(seconds=2))
def keeps_failing(seconds: float) -> int:
    time.sleep(seconds)
    raise RuntimeError("still broken")


@workflow
def node_deadline(seconds: float = 0.5) -> int:
    return keeps_failing(seconds=seconds)


@workflow(deadline=timedelta(seconds=2))
def execution_deadline(seconds: float = 60.0) -> int:
    return hold(seconds=seconds)


@task
def report_failure(error: str, report: str) -> None:
    with open(report, "a") as fh:
        fh.write(error + "\n")


@task
def explode(x: int) -> int:
    raise ValueError(f"bad value {x}")


@workflow(on_failure=report_failure)
def guarded(x: int, report: str) -> int:
    return explode(x=x)


@dynamic
def gated_steps(n: int) -> int:
    """A gate built at run time: the approval exists only once this dynamic node has run."""
    total = square_it(x=n)
    return inc(x=approve(total, "release_dynamic", timeout=timedelta(seconds=60)))


@workflow
def dynamic_gate(n: int = 3) -> int:
    return gated_steps(n=n)
