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
