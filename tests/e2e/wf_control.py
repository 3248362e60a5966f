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
