"""Workflows used by the end-to-end tests. Side effects go to files named by inputs, so a test can
count how often a task body really ran, independently of the store."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from setpoint import NonRetryableError, task, workflow


def bump(counter: str) -> int:
    """Append one line to a counter file and return how many lines it has now."""
    if not counter:
        return 0
    with open(counter, "a") as fh:
        fh.write(f"{os.getpid()}\n")
    return len(Path(counter).read_text().splitlines())


@task
def add(x: int, y: int = 0) -> int:
    return x + y


@task
def square(x: int) -> int:
    return x * x


@task
def total(xs: list[int]) -> int:
    return sum(xs)


@task
def noop(i: int) -> int:
    return i


@workflow
def chain(n: int = 3) -> int:
    v = add(x=n)
    for i in range(4):
        v = add(x=v, y=i)
    return v


FANOUT = 30


@workflow
def fanout(offset: int = 0) -> int:
    """A 30-way fan-out (the width is fixed when the workflow is compiled) and a sum."""
    return add(x=total(xs=[square(x=i) for i in range(FANOUT)]), y=offset)


@workflow
def wide() -> int:
    """50 nodes: 25 independent squares, then 24 pairwise adds, then a sum."""
    sq = [square(x=i) for i in range(25)]
    pairs = [add(x=sq[i], y=sq[i + 1]) for i in range(24)]
    return total(xs=pairs)


@dataclass
class Stats:
    count: int
    mean: float
    label: str


@task
def stats(values: list[float], label: str = "x") -> Stats:
    return Stats(len(values), sum(values) / len(values), label)


@workflow
def typed(values: list[float], label: str = "run") -> Stats:
    return stats(values=values, label=label)


@task(retries=2)
def flaky(counter: str, fail_times: int) -> int:
    n = bump(counter)
    if n <= fail_times:
        raise RuntimeError(f"flaky failure {n}")
    return n


@workflow
def flaky_wf(counter: str, fail_times: int = 2) -> int:
    return flaky(counter=counter, fail_times=fail_times)


@task
def fatal(counter: str) -> int:
    bump(counter)
    raise NonRetryableError("the input data is malformed")


@workflow
def fatal_wf(counter: str) -> int:
    return fatal(counter=counter)


@task(timeout=timedelta(seconds=1))
def slow(pidfile: str, seconds: float = 30.0) -> int:
    Path(pidfile).write_text(str(os.getpid()))
    time.sleep(seconds)
    return 1


@workflow
def slow_wf(pidfile: str, seconds: float = 30.0) -> int:
    return slow(pidfile=pidfile, seconds=seconds)


@task
def sleeper(pidfile: str, seconds: float = 60.0) -> int:
    Path(pidfile).write_text(str(os.getpid()))
    time.sleep(seconds)
    return 1


@workflow
def sleeper_wf(pidfile: str, seconds: float = 60.0) -> int:
    return sleeper(pidfile=pidfile, seconds=seconds)


@task
def wait_to_be_killed(pidfile: str, counter: str) -> int:
    """First attempt: publish the pid and wait (the test kills it with SIGKILL). Later: succeed."""
    n = bump(counter)
    if n == 1:
        Path(pidfile).write_text(str(os.getpid()))
        time.sleep(60)
    return n


@workflow
def killed_wf(pidfile: str, counter: str) -> int:
    return wait_to_be_killed(pidfile=pidfile, counter=counter)


@task
def vanish(x: int) -> int:
    os._exit(0)


@workflow
def vanish_wf(x: int = 1) -> int:
    return vanish(x=x)


@task
def suicide(x: int) -> int:
    os.kill(os.getpid(), signal.SIGKILL)
    return x


@workflow
def suicide_wf(x: int = 1) -> int:
    return suicide(x=x)


@task
def shout(msg: str) -> str:
    print(f"stdout says {msg}")
    import sys

    print(f"stderr says {msg}", file=sys.stderr)
    return msg.upper()


@workflow
def shout_wf(msg: str = "hello") -> str:
    return shout(msg=msg)
