"""@eager: an async workflow whose awaited tasks are durable nodes; plain Python decides what runs next.

    setpoint run examples/flyte/eager.py:early_stopping --max-rounds 10 --target 0.05

Each awaited call is recorded as it finishes, so a restarted controller replays none of them.
"""

from __future__ import annotations

import asyncio

from setpoint.flytekit import task
from setpoint.flytekit.experimental import eager


@task
def train_round(step: int) -> float:
    """The validation loss after `step` rounds of training (it halves every round)."""
    return 1.0 / 2**step


@task
def evaluate(loss: float, seed: int) -> float:
    return loss * (1 + seed / 100)


@eager
async def early_stopping(max_rounds: int = 10, target: float = 0.05) -> str:
    for r in range(1, max_rounds + 1):
        loss = await train_round(step=r)
        if loss <= target:
            scores = await asyncio.gather(*(evaluate(loss=loss, seed=s) for s in range(3)))
            return f"stopped after {r} rounds, loss {loss:.4f}, worst check {max(scores):.4f}"
    return f"no convergence in {max_rounds} rounds"
