"""Workflows the remote-mode tests drive: one that talks, waits for the test, and talks again."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from setpoint import approve, task, workflow


@task
def talk(gate: str, wait_s: float = 60.0) -> int:
    print("first line", flush=True)
    print("first error", file=sys.stderr, flush=True)
    deadline = time.monotonic() + wait_s
    while not Path(gate).exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    print("second line — ünïcode", flush=True)
    return 1


@workflow
def talker(gate: str, wait_s: float = 60.0) -> int:
    return talk(gate=gate, wait_s=wait_s)


@task
def plus_one(x: int) -> int:
    return x + 1


@workflow
def held(x: int = 1) -> int:
    return plus_one(x=approve(plus_one(x=x), "go"))
