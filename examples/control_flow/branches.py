"""Branch on a metric: deploy a good model, retrain a mediocre one, fail loudly otherwise.

    setpoint run examples/control_flow/branches.py:quality_gate --accuracy 0.93
"""

from setpoint import conditional, task, workflow


@task
def evaluate(accuracy: float) -> float:
    return round(accuracy, 3)


@task
def deploy(score: float) -> str:
    return f"deployed a model scoring {score}"


@task
def retrain(score: float) -> str:
    return f"scheduled retraining (score {score})"


@workflow
def quality_gate(accuracy: float = 0.93) -> str:
    score = evaluate(accuracy=accuracy)
    return (
        conditional("decide")
        .if_(score >= 0.9)
        .then(deploy(score=score))
        .elif_((score >= 0.6) & (score < 0.9))
        .then(retrain(score=score))
        .else_()
        .fail("the model is too weak to deploy or retrain")
    )
