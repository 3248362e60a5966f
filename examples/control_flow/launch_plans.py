"""Launch plans: run a workflow as its own child execution, with default and fixed inputs.

    setpoint run examples/control_flow/launch_plans.py:nightly_suite
"""

from setpoint import LaunchPlan, task, workflow


@task
def train(dataset: str, epochs: int) -> str:
    return f"trained on {dataset} for {epochs} epochs"


@task
def join(a: str, b: str) -> str:
    return f"{a}; {b}"


@workflow
def training(dataset: str = "dev", epochs: int = 1) -> str:
    return train(dataset=dataset, epochs=epochs)


prod_training = LaunchPlan.get_or_create(
    training, name="prod_training", default_inputs={"epochs": 3}, fixed_inputs={"dataset": "prod"}
)


@workflow
def nightly_suite(long_epochs: int = 10) -> str:
    return join(a=prod_training(), b=prod_training(epochs=long_epochs))
