"""flytekit.core.checkpointer: the checkpoint a task reads and writes."""

from __future__ import annotations

from setpoint.flytekit._lazy import exports

NAMES: dict[str, str] = {
    "Checkpoint": "setpoint.sdk.current:Checkpoint",
}

__all__ = sorted(NAMES)  # noqa: PLE0605 - the table above is the list of names
__getattr__, __dir__ = exports(__name__, NAMES)
