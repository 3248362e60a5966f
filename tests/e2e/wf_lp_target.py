"""Launch plans run from a file, as `pyflyte run file.py:my_lp` does."""

from __future__ import annotations

from setpoint import LaunchPlan, task, workflow


@task
def combine(x: int, y: int, z: int) -> int:
    return x * 100 + y * 10 + z


@workflow
def numbers(x: int, y: int, z: int = 1) -> int:
    return combine(x=x, y=y, z=z)


defaults = LaunchPlan.create("numbers_defaults", numbers, default_inputs={"x": 7, "y": 8})
fixed = LaunchPlan.create("numbers_fixed", numbers, default_inputs={"y": 5}, fixed_inputs={"x": 3})
