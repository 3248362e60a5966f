"""Gates: wait for a human to name the release and approve it.

setpoint run examples/flyte/gates.py:release --detach --score 0.91
setpoint signal <execution> release_name v2.1
setpoint signal <execution> ship_it           # approves
"""

from __future__ import annotations

from datetime import timedelta

from setpoint.flytekit import approve, task, wait_for_input, workflow


@task
def evaluate(score: float) -> str:
    return f"score {score:.2f}"


@task
def publish(summary: str, name: str) -> str:
    return f"released {name} ({summary})"


@workflow
def release(score: float) -> str:
    summary = evaluate(score=score)
    name = wait_for_input("release_name", timeout=timedelta(hours=1), expected_type=str)
    approved = approve(summary, "ship_it", timeout=timedelta(hours=2))
    return publish(summary=approved, name=name)
