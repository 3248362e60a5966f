"""Conditionals: promote a model only when it beats the bar, with a second bar for a shadow deploy.

setpoint run examples/flyte/conditionals.py:promote --accuracy 0.93
"""

from __future__ import annotations

from setpoint.flytekit import conditional, task, workflow


@task
def deploy(accuracy: float) -> str:
    return f"deployed (accuracy {accuracy:.2f})"


@task
def shadow(accuracy: float) -> str:
    return f"shadow traffic only (accuracy {accuracy:.2f})"


@task
def passes_smoke_test(accuracy: float) -> bool:
    return accuracy > 0.0


@workflow
def promote(accuracy: float, bar: float = 0.9) -> str:
    return (
        conditional("promotion")
        .if_(accuracy >= bar)
        .then(deploy(accuracy=accuracy))
        .elif_((accuracy >= 0.7) & (accuracy < bar))
        .then(shadow(accuracy=accuracy))
        .else_()
        .fail("the model is below every bar; not deploying")
    )


@workflow
def smoke_then_deploy(accuracy: float) -> str:
    ok = passes_smoke_test(accuracy=accuracy)
    return conditional("smoke").if_(ok.is_true()).then(deploy(accuracy=accuracy)).else_().fail("smoke test failed")
