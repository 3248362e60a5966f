"""flytekit.types.error: `FlyteError`, what an ``on_failure`` task receives (setpoint's `WorkflowError`)."""

from __future__ import annotations

from setpoint.flytekit._lazy import exports

NAMES: dict[str, str] = {
    "FlyteError": "setpoint.sdk.workflow:WorkflowError",
}

__all__ = sorted(NAMES)  # noqa: PLE0605 - the table above is the list of names
__getattr__, __dir__ = exports(__name__, NAMES)
