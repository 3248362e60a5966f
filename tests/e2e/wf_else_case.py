"""Branches whose default case (else_) builds nodes: they must run only when that case is taken."""

from __future__ import annotations

from setpoint import conditional, dynamic, task, workflow
from tests.e2e.wf_basic import bump


@task
def small(n: int) -> str:
    return f"small {n}"


@task
def big(n: int, counter: str) -> str:
    bump(counter)
    return f"big {n}"


@dynamic
def shrink(n: int, limit: int, counter: str) -> str:
    bump(counter)
    return recursive(n=n - 5, limit=limit, counter=counter)


@workflow
def else_task(n: int, counter: str, limit: int = 10) -> str:
    return conditional("size").if_(n <= limit).then(small(n=n)).else_().then(big(n=n, counter=counter))


@workflow
def recursive(n: int, counter: str, limit: int = 10) -> str:
    """Recursion through a dynamic in the default case: it must stop once the first case is taken."""
    return conditional("size").if_(n <= limit).then(small(n=n)).else_().then(shrink(n=n, limit=limit, counter=counter))


@workflow
def else_fails(n: int) -> str:
    return conditional("size").if_(n <= 10).then(small(n=n)).else_().fail("n is too big")


@dynamic
def descend(n: int) -> int:
    return endless(n=n + 1)


@workflow
def endless(n: int) -> int:
    """Recursion with no base case: the execution must fail, naming why, and the controller live on."""
    return descend(n=n)
