"""Workflows that call one cached task twice with the same inputs inside a single execution."""

from __future__ import annotations

import time

from setpoint import task, workflow
from tests.e2e.wf_basic import bump


@task(cache=True, cache_ignore_inputs=("counter",))
def square(x: int, counter: str) -> int:
    bump(counter)
    time.sleep(0.3)
    return x * x


@task(cache=True, cache_serialize=True, cache_ignore_inputs=("counter",))
def square_serialized(x: int, counter: str) -> int:
    bump(counter)
    time.sleep(0.3)
    return x * x


@task
def add(a: int, b: int) -> int:
    return a + b


@workflow
def twice_in_sequence(x: int, counter: str) -> int:
    first = square(x=x, counter=counter)
    second = square(x=x, counter=counter)
    first >> second
    return add(a=first, b=second)


@workflow
def twice_side_by_side(x: int, counter: str) -> int:
    return add(a=square(x=x, counter=counter), b=square(x=x, counter=counter))


@workflow
def twice_serialized(x: int, counter: str) -> int:
    return add(a=square_serialized(x=x, counter=counter), b=square_serialized(x=x, counter=counter))
