"""Launch plans: one training workflow, two launch plans with different defaults and fixed inputs.

setpoint run examples/flyte/launch_plans.py:nightly
setpoint register examples/flyte/launch_plans.py   # then `setpoint launch quick_check`
"""

from __future__ import annotations

from setpoint.flytekit import LaunchPlan, task, workflow


@task
def train(dataset: str, epochs: int, lr: float) -> str:
    return f"{dataset}: {epochs} epochs at lr={lr}"


@workflow
def training(dataset: str, epochs: int = 1, lr: float = 0.1) -> str:
    return train(dataset=dataset, epochs=epochs, lr=lr)


quick_check = LaunchPlan.create("quick_check", training, default_inputs={"dataset": "sample", "epochs": 1})
full_run = LaunchPlan.get_or_create(
    name="full_run", workflow=training, default_inputs={"epochs": 20}, fixed_inputs={"dataset": "prod"}
)


@task
def join(a: str, b: str) -> str:
    return f"{a} | {b}"


@workflow
def nightly(lr: float = 0.05) -> str:
    return join(a=quick_check(), b=full_run(lr=lr))
