"""Gates: pause, then wait for a person to approve the deployment and choose a traffic share.

    setpoint run examples/control_flow/gates.py:release --detach -o json   # prints the execution id
    setpoint signal <execution> approve_deploy          # approve (or --reject)
    setpoint signal <execution> traffic_share 0.25      # a typed value
    setpoint controller --exit-when-idle                # or keep any controller running
"""

from datetime import timedelta

from setpoint import approve, sleep, task, wait_for_input, workflow


@task
def build_model(version: int) -> str:
    return f"model-v{version}"


@task
def roll_out(model: str, share: float) -> str:
    return f"{model} serving {share:.0%} of traffic"


@workflow
def release(version: int = 7) -> str:
    model = build_model(version=version)
    cooldown = sleep(timedelta(seconds=1))
    approved = approve(model, "approve_deploy", timeout=timedelta(hours=24))
    cooldown >> approved
    share = wait_for_input("traffic_share", float, timeout=timedelta(hours=24))
    return roll_out(model=approved, share=share)
