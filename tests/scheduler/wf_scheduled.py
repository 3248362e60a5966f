"""A workflow that receives its tick time, and scheduled launch plans of it, for the scheduler tests."""

from __future__ import annotations

from datetime import datetime

from setpoint import Cron, FixedRate, LaunchPlan, task, workflow


@task
def stamp(when: datetime, label: str) -> str:
    return f"{label}@{when.isoformat()}"


@workflow
def report(when: datetime, label: str = "tick") -> str:
    return stamp(when=when, label=label)


every_second = LaunchPlan.get_or_create(
    report, "every_second", schedule=FixedRate(seconds=1, catch_up="none", kickoff_time_input_arg="when")
)
nightly = LaunchPlan.get_or_create(
    report,
    "nightly",
    fixed_inputs={"label": "nightly"},
    schedule=Cron("0 3 * * *", tz="Europe/Berlin", kickoff_time_input_arg="when"),
)
