"""A task's resource requests as Ray task options, and whether any node of a cluster can meet them.

Pure functions of the request and the cluster's node sizes, kept apart from the executor so they
are tested without a cluster and read in one place: ``cpu`` → ``num_cpus``, ``mem`` → ``memory``
in bytes (``512Mi``, ``2Gi``, ``1G``), ``gpu`` → ``num_gpus``.
"""

from __future__ import annotations

import re
from typing import Any

from setpoint.errors import SetpointError

_UNITS = {
    "": 1,
    "k": 1000,
    "m": 1000**2,
    "g": 1000**3,
    "t": 1000**4,
    "ki": 1024,
    "mi": 1024**2,
    "gi": 1024**3,
    "ti": 1024**4,
}
_QUANTITY = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([kmgt]i?)?b?\s*", re.IGNORECASE)


def parse_memory(text: str, where: str) -> int:
    """Bytes from a quantity such as ``512Mi``, ``2Gi``, ``1.5G`` or ``1000000``."""
    m = _QUANTITY.fullmatch(str(text))
    if m is None:
        raise SetpointError(f"{where}: mem={text!r} is not a quantity like '512Mi', '2Gi' or '1G'")
    return int(float(m.group(1)) * _UNITS[(m.group(2) or "").lower()])


def ray_options(resources: dict[str, Any], where: str, default_cpus: float) -> dict[str, Any]:
    """Ray task options for a task's resource requests."""
    opts: dict[str, Any] = {"num_cpus": default_cpus}
    for key, value in resources.items():
        if key == "cpu":
            try:
                opts["num_cpus"] = float(value)
            except ValueError:
                raise SetpointError(f"{where}: cpu={value!r} is not a number of cores") from None
        elif key == "mem":
            opts["memory"] = parse_memory(str(value), where)
        elif key == "gpu":
            try:
                opts["num_gpus"] = float(value)
            except ValueError:
                raise SetpointError(f"{where}: gpu={value!r} is not a number of GPUs") from None
        else:
            raise SetpointError(f"{where}: unknown resource request {key!r} (known: cpu, mem, gpu)")
    return opts


def infeasible(opts: dict[str, Any], nodes: list[dict[str, float]]) -> str | None:
    """Why no node in ``nodes`` (their total resources) can ever run a task with ``opts``, or None."""
    wanted = {"CPU": opts.get("num_cpus", 0), "memory": opts.get("memory", 0), "GPU": opts.get("num_gpus", 0)}
    wanted = {k: v for k, v in wanted.items() if v}
    for node in nodes:
        if all(node.get(k, 0.0) >= v for k, v in wanted.items()):
            return None
    asked = ", ".join(f"{k}={_show(k, v)}" for k, v in wanted.items())
    if not nodes:
        return f"the Ray cluster has no alive node (asked for {asked})"
    best = max(nodes, key=lambda n: (n.get("GPU", 0), n.get("CPU", 0), n.get("memory", 0)))
    have = ", ".join(f"{k}={_show(k, best.get(k, 0))}" for k in wanted)
    return (
        f"no node of the Ray cluster can satisfy the request ({asked}); "
        f"the largest of its {len(nodes)} alive nodes has {have}"
    )


def _show(key: str, value: float) -> str:
    if key == "memory":
        return f"{value / 1024**3:.2f}Gi"
    return f"{value:g}"
