"""Workflows the browser tests drive: a slow chain that logs, a failure, a gate, a map, a cached step."""

from __future__ import annotations

import sys
import time
from datetime import timedelta

from setpoint import Cron, Deck, LaunchPlan, approve, conditional, dynamic, map_task, task, wait_for_input, workflow


@task
def step(x: int, seconds: float = 0.0) -> int:
    for i in range(5):
        print(f"step {x} line {i}", flush=True)
        time.sleep(seconds / 5)
    return x + 1


@task
def chatty(lines: int, seconds: float) -> int:
    """Prints a line at a steady pace, so a log can be watched while it grows."""
    for i in range(lines):
        print(f"chatty line {i}", flush=True)
        time.sleep(seconds / lines)
    return lines


@task
def broken(x: int) -> int:
    print("about to fail", file=sys.stderr, flush=True)
    raise ValueError(f"broken on purpose with x={x}")


@task(cache=True, cache_version="1")
def cached_square(x: int) -> int:
    return x * x


@task
def numbers(n: int) -> list[int]:
    return list(range(n))


@task
def total(xs: list[int]) -> int:
    return sum(xs)


@workflow
def chain(x: int = 1, seconds: float = 1.0) -> int:
    return step(x=step(x=cached_square(x=x), seconds=seconds), seconds=seconds)


@workflow
def talk(lines: int = 40, seconds: float = 8.0) -> int:
    return chatty(lines=lines, seconds=seconds)


@workflow
def failing(x: int = 3) -> int:
    return broken(x=step(x=x))


@workflow
def gated(x: int = 5) -> int:
    return step(x=approve(step(x=x), "ship_it", timeout=timedelta(seconds=120)))


@task
def times(x: int, y: int) -> int:
    return x * y


@workflow
def asking(x: int = 2) -> int:
    return times(x=x, y=wait_for_input("factor", int, timeout=timedelta(seconds=120)))


@workflow
def mapped(n: int = 20) -> int:
    return total(xs=map_task(cached_square)(x=numbers(n=n)))


nightly = LaunchPlan(chain, name="nightly_chain", fixed_inputs={"seconds": 0.1}, default_inputs={"x": 2})
# Fires once a year (1 January), so activating it in a test starts nothing.
yearly = LaunchPlan(chain, name="yearly_chain", fixed_inputs={"seconds": 0.0}, schedule=Cron("0 0 1 1 *"))


@task(enable_deck=True)
def report(x: int) -> int:
    Deck("summary", f"<h2>Report for {x}</h2><p>all good</p>")
    return x


@workflow
def reported(x: int = 4) -> int:
    return report(x=x)


@dynamic
def fan(n: int) -> int:
    """A chain whose length is known only when it runs."""
    y = step(x=0)
    for _ in range(n - 1):
        y = step(x=y)
    return y


@workflow
def grows(n: int = 3) -> int:
    return fan(n=n)


@task
def rows(n: int) -> list[dict[str, int]]:
    return [{"i": i, "square": i * i} for i in range(n)]


@workflow
def tabular(n: int = 4) -> list[dict[str, int]]:
    return rows(n=n)


@workflow
def decide(x: int = 5) -> int:
    return conditional("big").if_(x > 3).then(step(x=x)).else_().then(broken(x=x))
