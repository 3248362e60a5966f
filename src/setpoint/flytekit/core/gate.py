"""flytekit.core.gate: gates."""

from __future__ import annotations

from setpoint.flytekit._lazy import exports

NAMES: dict[str, str] = {
    "approve": "setpoint.sdk.gates:approve",
    "sleep": "setpoint.sdk.gates:sleep",
    "wait_for_input": "setpoint.sdk.gates:wait_for_input",
}

__all__ = sorted(NAMES)  # noqa: PLE0605 - the table above is the list of names
__getattr__, __dir__ = exports(__name__, NAMES)
