"""flytekit.core.reference: references to registered entities."""

from __future__ import annotations

from setpoint.flytekit._lazy import exports

NAMES: dict[str, str] = {
    "reference_task": "setpoint.sdk.reference:reference_task",
    "reference_launch_plan": "setpoint.sdk.reference:reference_launch_plan",
}

__all__ = sorted(NAMES)  # noqa: PLE0605 - the table above is the list of names
__getattr__, __dir__ = exports(__name__, NAMES)
