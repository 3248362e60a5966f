# mypy: disable-error-code="no-any-return"
"""Workflows that write logs, for the `setpoint logs` and `run --logs` tests."""

from __future__ import annotations

import sys
import time

from setpoint import map_task, task, workflow


@task
def numbers(n: int) -> list[int]:
    return list(range(n))


@task
def talk(i: int) -> int:
    print(f"element {i} says [hi] on stdout")
    print(f"element {i} says hi on stderr", file=sys.stderr)
    return i


@workflow
def fanned(n: int = 3) -> list[int]:
    return map_task(talk)(i=numbers(n=n))


@task
def chatty(lines: int) -> int:
    """``lines`` numbered lines of 96 bytes on stdout (200,000 of them: 19.2 MB)."""
    out = sys.stdout
    pad = "x" * 85
    for i in range(lines):
        out.write(f"{i:>9} {pad}\n")
    out.flush()
    return lines


@workflow
def loud(lines: int = 10) -> int:
    return chatty(lines=lines)


@task(cache=True, cache_version="1")
def remembered(x: int) -> int:
    print(f"computing {x}")
    return x * 2


@workflow
def cached(x: int = 1) -> int:
    return remembered(x=x)


@task(retries=2)
def always_fails(x: int) -> int:
    print(f"try for {x}")
    raise RuntimeError(f"no luck with [x={x}]")


@workflow
def doomed(x: int = 1) -> int:
    return always_fails(x=x)


@task
def slow_talk(seconds: float) -> float:
    for i in range(3):
        print(f"tick {i}", flush=True)
        time.sleep(seconds / 3)
    return seconds


@workflow
def ticking(seconds: float = 1.5) -> float:
    return slow_talk(seconds=seconds)


@workflow
def two_steps(x: int = 1) -> int:
    return always_fails(x=talk(i=x))


@task
def checks(n: int) -> list[bool]:
    return [i % 2 == 0 for i in range(n)]


@workflow
def flags(n: int = 3) -> list[bool]:
    return checks(n=n)
