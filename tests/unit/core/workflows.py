"""Workflows for the core's table tests, declared through the SDK and compiled like a user's.

Building specs through `@task` / `@workflow` (rather than spelling `NodeSpec` by hand) keeps the
tables about behaviour: how a node kind is represented in the spec may change without them
changing. The tasks never run; the tests tell the core what each attempt did.
"""

from __future__ import annotations

from datetime import timedelta

from setpoint import LaunchPlan, approve, dynamic, map_task, sleep, task, wait_for_input, workflow

# -- plain tasks ---------------------------------------------------------------------------------


@task
def numbers(n: int) -> list[int]:
    return list(range(n))


@task
def square(x: int) -> int:
    return x * x


@task
def inc(x: int) -> int:
    return x + 1


@task
def total(xs: list[int | None]) -> int:
    return sum(x for x in xs if x is not None)


# -- map nodes -----------------------------------------------------------------------------------


@workflow
def mapped(n: int = 3) -> int:
    return total(xs=map_task(square)(x=numbers(n=n)))


@workflow
def mapped_two_at_a_time(n: int = 5) -> int:
    return total(xs=map_task(square, concurrency=2)(x=numbers(n=n)))


@workflow
def mapped_half(n: int = 4) -> int:
    return total(xs=map_task(square, min_success_ratio=0.5)(x=numbers(n=n)))


# -- dynamic nodes -------------------------------------------------------------------------------


@dynamic
def fan(values: list[int]) -> int:
    """A loop over a runtime value: one node per element, then their total."""
    return total(xs=[square(x=v) for v in values])


@workflow
def fanned(values: list[int]) -> int:
    return fan(values=values)


@dynamic
def settle(x: int, limit: int) -> int:
    """A base case when ``x`` reached ``limit``: the body returns a value and builds no node."""
    if x >= limit:
        return x
    return settle(x=inc(x=x), limit=limit)


@workflow
def settling(x: int, limit: int) -> int:
    return settle(x=x, limit=limit)


# -- gates ---------------------------------------------------------------------------------------


@workflow
def napping(x: int = 1) -> int:
    pause = sleep(timedelta(seconds=30))
    y = inc(x=x)
    pause >> y
    return y


@workflow
def released(x: int = 5) -> int:
    return inc(x=approve(square(x=x), "ship_it", timeout=timedelta(seconds=60)))


@workflow
def asking(x: int = 2) -> int:
    return inc(x=wait_for_input("factor", int, timeout=timedelta(seconds=60)))


@workflow
def waiting_forever() -> int:
    return inc(x=wait_for_input("someday", int))


# -- launch-plan children ------------------------------------------------------------------------


@task
def train(epochs: int, dataset: str) -> str:
    return f"{epochs} epochs on {dataset}"


@workflow
def training(epochs: int = 1, dataset: str = "dev") -> str:
    return train(epochs=epochs, dataset=dataset)


core_nightly = LaunchPlan.get_or_create(
    training, name="core_tables_nightly", default_inputs={"epochs": 3}, fixed_inputs={"dataset": "prod"}
)


@workflow
def orchestrate(epochs: int = 5) -> str:
    return core_nightly(epochs=epochs)


@workflow
def orchestrate_defaults() -> str:
    return core_nightly()


# -- cache ---------------------------------------------------------------------------------------


@task(cache=True)
def cached_square(x: int) -> int:
    return x * x


@task(cache=True, cache_serialize=True)
def serialized_square(x: int) -> int:
    return x * x


@workflow
def cached(x: int = 4) -> int:
    return cached_square(x=x)


@workflow
def serialized(x: int = 4) -> int:
    return serialized_square(x=x)


# -- deadlines -----------------------------------------------------------------------------------


@task(timeout=timedelta(seconds=10))
def bounded(x: int) -> int:
    return x


@task(retries=10, deadline=timedelta(seconds=20))
def stubborn(x: int) -> int:
    raise RuntimeError(f"still broken: {x}")


@workflow
def timed(x: int = 1) -> int:
    return bounded(x=x)


@workflow
def node_deadline(x: int = 1) -> int:
    return stubborn(x=x)


@workflow(deadline=timedelta(seconds=60))
def execution_deadline(x: int = 1) -> int:
    return inc(x=x)


# -- on_failure ----------------------------------------------------------------------------------


@task
def report(error: str, x: int) -> None:
    print(error, x)


@workflow(on_failure=report)
def guarded(x: int = 1) -> int:
    return inc(x=x)


@workflow
def unguarded(x: int = 1) -> int:
    return inc(x=x)


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
