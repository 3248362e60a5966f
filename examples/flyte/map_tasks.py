"""map_task: score every shard of a dataset with the same task, then reduce.

setpoint run examples/flyte/map_tasks.py:score_shards --shards '[[1, 2, 3], [4, 5], [6]]'
"""

from __future__ import annotations

import functools

from setpoint.flytekit import map_task, task, workflow


@task
def shard_mean(values: list[int], scale: float) -> float:
    return scale * sum(values) / len(values)


@task
def total(means: list[float]) -> float:
    return round(sum(means), 6)


@workflow
def score_shards(shards: list[list[int]], scale: float = 1.0) -> float:
    per_shard = map_task(functools.partial(shard_mean, scale=scale))(values=shards)
    return total(means=per_shard)
