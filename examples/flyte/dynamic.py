"""Dynamic workflows: the number of trials is only known at run time.

setpoint run examples/flyte/dynamic.py:sweep --learning-rates '[0.3, 0.1, 0.03]'
"""

from __future__ import annotations

from setpoint.flytekit import dynamic, task, workflow


@task
def train(learning_rate: float, steps: int) -> float:
    """Gradient descent on f(w) = (w - 3)^2 from w = 0; returns the final loss."""
    w = 0.0
    for _ in range(steps):
        w -= learning_rate * 2 * (w - 3.0)
    return round((w - 3.0) ** 2, 8)


@task
def best(losses: list[float], learning_rates: list[float]) -> float:
    return min(zip(losses, learning_rates, strict=True))[1]


@dynamic
def trials(learning_rates: list[float], steps: int) -> float:
    losses = [train(learning_rate=lr, steps=steps) for lr in learning_rates]
    return best(losses=losses, learning_rates=learning_rates)


@workflow
def sweep(learning_rates: list[float], steps: int = 20) -> float:
    return trials(learning_rates=learning_rates, steps=steps)
