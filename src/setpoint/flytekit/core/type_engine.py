"""flytekit.core.type_engine: only `BatchSize` is mirrored (setpoint.types.pickling)."""

from __future__ import annotations

from setpoint.flytekit._lazy import exports

NAMES: dict[str, str] = {
    "BatchSize": "setpoint.types.pickling:BatchSize",
}

__all__ = sorted(NAMES)  # noqa: PLE0605 - the table above is the list of names
__getattr__, __dir__ = exports(__name__, NAMES)
