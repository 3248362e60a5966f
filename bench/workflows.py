"""Workflows used by the benchmarks.

Tasks are module-level so that worker processes can import them from the code bundle. Workflow
shapes are fixed when a workflow is compiled, so each size is built by a small factory; the
factories return a fresh `Workflow` (compiled once, on first use).
"""

from __future__ import annotations

from setpoint import task, workflow
from setpoint.sdk.workflow import Workflow


@task
def add(x: int, y: int = 0) -> int:
    return x + y


@task
def sq(i: int) -> int:
    return i * i


@task
def noop(i: int) -> int:
    return i


@task
def total(xs: list[int]) -> int:
    return sum(xs)


def make_chain(n: int) -> Workflow:
    """``n`` dependent steps: ``v = add(x=v, y=1)``."""

    def chain(x: int = 0) -> int:
        v = add(x=x, y=1)
        for _ in range(n - 1):
            v = add(x=v, y=1)
        return v

    chain.__name__ = chain.__qualname__ = f"chain{n}"
    return workflow(chain)


def make_fanout(n: int) -> Workflow:
    """``total(xs=[sq(i=i) for i in range(n)])``: ``n`` independent nodes and one fan-in."""

    def fanout() -> int:
        return total(xs=[sq(i=i) for i in range(n)])

    fanout.__name__ = fanout.__qualname__ = f"fanout{n}"
    return workflow(fanout)


def make_wide(n: int, sums: int = 10) -> Workflow:
    """``n`` no-op tasks feeding ``sums`` partial sums, then a final sum (``n + sums + 1`` nodes)."""

    def wide() -> int:
        xs = [noop(i=i) for i in range(n)]
        size = -(-n // sums)
        parts = [total(xs=xs[j : j + size]) for j in range(0, n, size)]
        return total(xs=parts)

    wide.__name__ = wide.__qualname__ = f"wide{n}"
    return workflow(wide)


def direct_chain(n: int) -> int:
    """The floor: the same functions called directly, in this process."""
    v = add.function(x=0, y=1)
    for _ in range(n - 1):
        v = add.function(x=v, y=1)
    return v


def direct_fanout(n: int) -> int:
    return total.function(xs=[sq.function(i=i) for i in range(n)])


def direct_wide(n: int, sums: int = 10) -> int:
    xs = [noop.function(i=i) for i in range(n)]
    size = -(-n // sums)
    return total.function(xs=[total.function(xs=xs[j : j + size]) for j in range(0, n, size)])
