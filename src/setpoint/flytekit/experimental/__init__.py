"""flytekit.experimental: `eager` and `EagerException` (older flytekit releases kept them here)."""

from __future__ import annotations

from setpoint.flytekit._lazy import exports

NAMES: dict[str, str] = {
    "eager": "setpoint.sdk.eager:eager",
    "EagerException": "setpoint.sdk.eager:EagerException",
}

__all__ = sorted(NAMES)  # noqa: PLE0605 - the table above is the list of names
__getattr__, __dir__ = exports(__name__, NAMES)
