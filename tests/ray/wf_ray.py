"""Workflows for the Ray executor tests: where each task ran, data across executors, faults."""

from __future__ import annotations

import functools
import os
import time
from pathlib import Path
from typing import Any

from setpoint import File, Resources, map_task, task, workflow


@task(executor="ray")
def square(i: int) -> int:
    return i * i


@task
def total(xs: list[int]) -> int:
    return sum(xs)


@task
def numbers(n: int) -> list[int]:
    return list(range(n))


@workflow
def fan(n: int = 500) -> int:
    squares = map_task(square)(i=numbers(n=n))
    return total(xs=squares)


@task(executor="ray")
def make_rows(n: int) -> list[float]:
    print(f"making {n} rows on ray")
    return [float(i) * 0.5 for i in range(n)]


@task
def write_file(rows: list[float]) -> File:
    path = Path("rows.txt")
    path.write_text("\n".join(str(r) for r in rows))
    return File(path)


@task(executor="ray")
def count_lines(f: File) -> int:
    return len(Path(f.path).read_text().splitlines())


@task
def combine(rows: list[float], lines: int) -> float:
    return sum(rows) + lines


@workflow
def mixed(n: int = 20_000) -> float:
    rows = make_rows(n=n)
    f = write_file(rows=rows)
    lines = count_lines(f=f)
    return combine(rows=rows, lines=lines)


@task(executor="ray", requests=Resources(cpu=64))
def too_big() -> int:
    return 1


@workflow
def unschedulable() -> int:
    return too_big()


@task(executor="ray")
def slow(seconds: float, marker: str) -> str:
    """Sleep on the first attempt (so a test can kill or abort it); write ``marker`` when done."""
    first = os.environ.get("SETPOINT_ATTEMPT_ID", "").endswith("/1")
    if first:
        time.sleep(seconds)
    Path(marker).write_text(os.environ.get("SETPOINT_ATTEMPT_ID", ""))
    return os.environ.get("SETPOINT_ATTEMPT_ID", "")


@workflow
def one_slow(seconds: float = 60.0, marker: str = "") -> str:
    return slow(seconds=seconds, marker=marker)


@task(executor="ray")
def nap(i: int, seconds: float) -> int:
    time.sleep(seconds)
    return i


@workflow
def naps(n: int = 6, seconds: float = 3.0) -> int:
    done = map_task(functools.partial(nap, seconds=seconds))(i=numbers(n=n))
    return total(xs=done)


def echo_entry(payload: dict[str, Any], attempt_dir: Path) -> dict[str, Any]:
    """A bare entrypoint for executor-level tests: who ran, and where."""
    return {"outputs": {"attempt": os.environ["SETPOINT_ATTEMPT_ID"], "pid": os.getpid()}}
