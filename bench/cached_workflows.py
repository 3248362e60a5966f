"""The cached fan-out used by bench/cached_fanout.py (module-level tasks for the workers)."""

from __future__ import annotations

from setpoint import task, workflow
from setpoint.sdk.workflow import Workflow


@task(cache=True, cache_version="1")
def csq(i: int) -> int:
    return i * i


@task
def ctotal(xs: list[int]) -> int:
    return sum(xs)


def make_cached_fanout(n: int) -> Workflow:
    def cached_fanout() -> int:
        return ctotal(xs=[csq(i=i) for i in range(n)])

    cached_fanout.__name__ = cached_fanout.__qualname__ = f"cached_fanout{n}"
    return workflow(cached_fanout)
