"""`map_task`: run one task over every element of a list, each element its own attempt.

    squares = map_task(square, concurrency=8)(x=numbers)
    scores = map_task(functools.partial(evaluate, model=model), min_success_ratio=0.9)(shard=shards)

Inputs fixed with `functools.partial` are passed to every element; every input given at the call
is mapped over and must be a list (all of the same length). When the workflow runs, the map node
expands into one child node per element (``<node>.0``, ``<node>.1``, …) with their own retries,
cache entries and logs. With ``min_success_ratio < 1`` the outputs are lists of ``Optional``
values (None where an element failed) and the node succeeds when enough elements did.
"""

from __future__ import annotations

import functools
from typing import Any

from setpoint.errors import SpecError
from setpoint.sdk.context import current_builder
from setpoint.sdk.task import Task


class MapTask:
    def __init__(self, task: Task, fixed: dict[str, Any], concurrency: int, min_success_ratio: float) -> None:
        self.task = task
        self.fixed = fixed
        self.concurrency = concurrency
        self.min_success_ratio = min_success_ratio

    def __call__(self, **mapped: Any) -> Any:
        if not mapped:
            raise SpecError(f"map over task '{self.task.name}': give at least one list input to map over")
        for name in mapped:
            if name in self.fixed:
                raise SpecError(f"map over task '{self.task.name}': input '{name}' is both fixed and mapped")
        builder = current_builder()
        if builder is not None:
            return builder.add_map_node(self, mapped)
        return self._run_locally(mapped)

    def _run_locally(self, mapped: dict[str, Any]) -> list[Any]:
        sizes = {len(v) for v in mapped.values()}
        if len(sizes) > 1:
            raise SpecError(f"map over task '{self.task.name}': the mapped lists have different lengths")
        size = sizes.pop()
        results: list[Any] = []
        failures = 0
        for i in range(size):
            try:
                results.append(self.task.function(**self.fixed, **{k: v[i] for k, v in mapped.items()}))
            except Exception:
                if self.min_success_ratio >= 1.0:
                    raise
                failures += 1
                results.append(None)
        if size and (size - failures) / size < self.min_success_ratio:
            raise RuntimeError(f"only {size - failures} of {size} elements succeeded")
        return results


def map_task(
    task: Task | functools.partial[Any], *, concurrency: int | None = None, min_success_ratio: float = 1.0
) -> MapTask:
    """Map a task (optionally with `functools.partial` fixed inputs) over list inputs."""
    fixed: dict[str, Any] = {}
    target: Any = task
    if isinstance(target, functools.partial):
        if target.args:
            raise SpecError("map_task: fix inputs by name in functools.partial (keyword arguments only)")
        fixed = dict(target.keywords)
        target = target.func
    if not isinstance(target, Task):
        raise SpecError(f"map_task takes a @task, got {type(target).__name__}")
    task = target
    if concurrency is not None and (not isinstance(concurrency, int) or concurrency < 1):
        raise SpecError(f"map over task '{task.name}': concurrency must be a positive integer, got {concurrency!r}")
    if not 0.0 < float(min_success_ratio) <= 1.0:
        raise SpecError(f"map over task '{task.name}': min_success_ratio must be in (0, 1], got {min_success_ratio!r}")
    return MapTask(task, fixed, concurrency or 0, float(min_success_ratio))
