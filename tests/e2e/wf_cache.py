"""Cached workflows for the catalog tests; task bodies count their runs in files named by inputs."""

from __future__ import annotations

import os
import time
from pathlib import Path

from setpoint import task, workflow
from tests.e2e.wf_basic import bump


@task(cache=True, cache_version="1", cache_ignore_inputs=("counter", "note"))
def expensive(x: int, counter: str, note: str = "") -> int:
    bump(counter)
    return x * 10


def _versioned(x: int, counter: str) -> int:
    bump(counter)
    return x + 1


versioned_v1 = task(cache=True, cache_version="v1", cache_ignore_inputs=("counter",))(_versioned)
versioned_v2 = task(cache=True, cache_version="v2", cache_ignore_inputs=("counter",))(_versioned)


@task(cache=True, cache_ignore_inputs=("counter",))
def big(n: int, counter: str) -> list[float]:
    bump(counter)
    return [float(i) for i in range(n)]


@task(cache=True, cache_serialize=True, cache_ignore_inputs=("counter",))
def serialized(x: int, counter: str, seconds: float = 0.5) -> int:
    bump(counter)
    time.sleep(seconds)
    return x * x


@task(cache=True, cache_serialize=True, cache_ignore_inputs=("counter",))
def held(x: int, counter: str) -> int:
    """The first run holds the key's reservation until it is terminated; later runs finish at once.

    The hold is the condition the takeover test needs (an owner still running when it is
    aborted), so no sleep has to be long enough; 60 s only bounds a leaked process.
    """
    if bump(counter) == 1:
        time.sleep(60)
    return x * x


@task(cache=True, cache_ignore_inputs=("counter",))
def unserialized(x: int, counter: str, seconds: float = 0.2) -> int:
    bump(counter)
    time.sleep(seconds)
    return x * x


@task(cache=True, cache_ignore_inputs=("pidfile", "counter"))
def slow_cached(x: int, pidfile: str, counter: str) -> int:
    n = bump(counter)
    if n == 1:
        Path(pidfile).write_text(str(os.getpid()))
        time.sleep(60)
    return x


@workflow
def one(x: int, counter: str, note: str = "") -> int:
    return expensive(x=x, counter=counter, note=note)


@workflow
def v1(x: int, counter: str) -> int:
    return versioned_v1(x=x, counter=counter)


@workflow
def v2(x: int, counter: str) -> int:
    return versioned_v2(x=x, counter=counter)


@workflow
def big_wf(n: int, counter: str) -> list[float]:
    return big(n=n, counter=counter)


@workflow
def serialized_wf(x: int, counter: str) -> int:
    return serialized(x=x, counter=counter)


@workflow
def held_wf(x: int, counter: str) -> int:
    return held(x=x, counter=counter)


@workflow
def unserialized_wf(x: int, counter: str) -> int:
    return unserialized(x=x, counter=counter)


@workflow
def slow_cached_wf(x: int, pidfile: str, counter: str) -> int:
    return slow_cached(x=x, pidfile=pidfile, counter=counter)


# -- a diamond for recovery and lineage --------------------------------------------------------


@task
def source(x: int, counters: str) -> int:
    bump(f"{counters}/source")
    return x + 1


@task
def left(v: int, counters: str) -> int:
    bump(f"{counters}/left")
    return v * 2


@task
def right(v: int, counters: str, fail_marker: str) -> int:
    bump(f"{counters}/right")
    if fail_marker and Path(fail_marker).exists():
        raise RuntimeError("injected failure")
    return v * 3


@task
def join(a: int, b: int, counters: str) -> int:
    bump(f"{counters}/join")
    return a + b


@workflow(failure_policy="finish_runnable")  # `left` always finishes, whatever `right` does
def diamond(x: int, counters: str, fail_marker: str = "") -> int:
    s = source(x=x, counters=counters)
    a = left(v=s, counters=counters)
    b = right(v=s, counters=counters, fail_marker=fail_marker)
    return join(a=a, b=b, counters=counters)
