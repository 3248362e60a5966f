"""Intra-task checkpoints: a long loop saves its progress; a retried attempt resumes from it.

setpoint run examples/flyte/checkpoints.py:train_resumable --epochs 9 --crash-every 4
"""

from __future__ import annotations

from setpoint.flytekit import current_context, task, workflow
from setpoint.flytekit.exceptions.user import FlyteRecoverableException


@task(retries=3)
def train_epochs(epochs: int, crash_every: int) -> str:
    cp = current_context().checkpoint
    saved = cp.read()
    start = int(saved.decode()) if saved else 0
    for epoch in range(start, epochs):
        if epoch > start and epoch % crash_every == 0:
            # a preemption: progress up to here is in the checkpoint
            raise FlyteRecoverableException(f"preempted at epoch {epoch}")
        cp.write(str(epoch + 1).encode())
    return f"finished {epochs} epochs, this attempt started at epoch {start}"


@workflow
def train_resumable(epochs: int = 9, crash_every: int = 4) -> str:
    return train_epochs(epochs=epochs, crash_every=crash_every)
