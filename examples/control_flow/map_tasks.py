"""Fan out over hyperparameters with a map task, each trial its own attempt, then pick the best.

    setpoint run examples/control_flow/map_tasks.py:sweep --trials 16
"""

import functools
import math

from setpoint import map_task, task, workflow


@task
def learning_rates(trials: int) -> list[float]:
    return [10 ** (-4 + 3 * i / max(trials - 1, 1)) for i in range(trials)]


@task(retries=1)
def trial(lr: float, epochs: int) -> float:
    """A stand-in for training: the loss is smallest near lr = 0.01."""
    return round(abs(math.log10(lr) + 2) + 1 / epochs, 4)


@task
def best(losses: list[float | None], rates: list[float]) -> float:
    scored = [(loss, lr) for loss, lr in zip(losses, rates, strict=True) if loss is not None]
    return min(scored)[1]


@workflow
def sweep(trials: int = 16, epochs: int = 10) -> float:
    rates = learning_rates(trials=trials)
    losses = map_task(functools.partial(trial, epochs=epochs), concurrency=4, min_success_ratio=0.75)(lr=rates)
    return best(losses=losses, rates=rates)
