"""flytekit.image_spec: `ImageSpec` (recorded, not built; see setpoint.sdk.task)."""

from __future__ import annotations

from setpoint.flytekit._lazy import exports

NAMES: dict[str, str] = {
    "ImageSpec": "setpoint.sdk.task:ImageSpec",
}

__all__ = sorted(NAMES)  # noqa: PLE0605 - the table above is the list of names
__getattr__, __dir__ = exports(__name__, NAMES)
