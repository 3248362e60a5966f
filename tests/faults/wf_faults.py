"""Workflows the fault-injection scenarios run. Deterministic outputs, so a run under faults can be
compared node by node with a fault-free run; side effects only where a scenario needs them."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from setpoint import task, workflow

FULL = os.environ.get("SETPOINT_FAULTS_FULL") == "1"
HALF = 250 if FULL else 100  # the big DAG has 2 * HALF nodes: 500 with the flag, 200 without


@task(retries=1)
def square(x: int) -> int:
    time.sleep((x % 5) * 0.01)  # 0-40 ms, so crashes land while attempts are in flight
    return x * x


@task
def add(x: int, y: int = 0) -> int:
    return x + y


@task
def total(xs: list[int]) -> int:
    return sum(xs)


@task(cache=True, cache_version="1")
def ballast(n: int) -> list[int]:
    """A cached output over 64 KiB: stored as a blob, so the catalog entry has an artifact to verify."""
    return list(range(n))


@task
def measure(xs: list[int]) -> int:
    return len(xs)


@workflow
def big() -> int:
    """2 * HALF nodes: HALF squares (fan-out), HALF - 3 pairwise adds (fan-in of two), a cached
    blob-sized output and its length, one sum."""
    sq = [square(x=i) for i in range(HALF)]
    pairs = [add(x=sq[i], y=sq[i + 1]) for i in range(HALF - 3)]
    return total(xs=[*pairs, measure(xs=ballast(n=20_000))])


@workflow
def small(n: int = 1) -> int:
    """Seven nodes: three squares, four adds."""
    a, b, c = square(x=n), square(x=add(x=n, y=1)), square(x=add(x=n, y=2))
    return add(x=add(x=a, y=b), y=c)


@task
def nap(x: int, i: int, seconds: float = 1.0) -> int:
    time.sleep(seconds)
    return x + i


@workflow
def naps(n: int = 0, seconds: float = 1.0) -> int:
    """Ten sleeping tasks and their sum."""
    return total(xs=[nap(x=n, i=i, seconds=seconds) for i in range(10)])


@task
def quick(x: int) -> int:
    return x + 1


@workflow
def quick_wf(x: int = 0) -> int:
    return quick(x=x)


@task
def exit_zero(x: int) -> int:
    os._exit(0)  # exits "successfully" without writing outputs


@workflow
def exit_zero_wf(x: int = 1) -> int:
    return exit_zero(x=x)


@task
def daemonise(pidfile: str) -> int:
    """Start a double-forked daemon in a session of its own (it escapes the process group), then wait."""
    tmp = pidfile + ".tmp"
    subprocess.run(["setsid", "sh", "-c", f"sleep 300 & echo $! > {tmp}"], check=True)
    Path(tmp).replace(pidfile)
    time.sleep(300)
    return 1


@workflow
def daemon_wf(pidfile: str) -> int:
    return daemonise(pidfile=pidfile)


@task
def bulky(x: int, n: int) -> list[int]:
    return [x] * n


@workflow
def disk_wf(seconds: float = 1.0, n: int = 10) -> list[int]:
    """A sleeping task, then one whose output is ``2 n`` bytes of JSON (a blob from 64 KiB on)."""
    return bulky(x=nap(x=1, i=0, seconds=seconds), n=n)
