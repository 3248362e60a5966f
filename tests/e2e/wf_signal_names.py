"""Gates named as Flyte allows, with hyphens."""

from __future__ import annotations

from setpoint import approve, task, wait_for_input, workflow


@task
def report(x: int) -> int:
    return x * 2


@workflow
def hyphenated(x: int) -> int:
    value = wait_for_input("extra-amount", timeout=60, expected_type=int)
    return approve(report(x=value), "approve-final-report", timeout=60)
