"""flytekit.types.directory: `FlyteDirectory` is setpoint's `Directory`."""

from __future__ import annotations

from setpoint.flytekit._lazy import exports

NAMES: dict[str, str] = {
    "FlyteDirectory": "setpoint.types.files:Directory",
}

__all__ = sorted(NAMES)  # noqa: PLE0605 - the table above is the list of names
__getattr__, __dir__ = exports(__name__, NAMES)
