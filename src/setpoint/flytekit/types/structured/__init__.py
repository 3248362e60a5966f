"""flytekit.types.structured: `StructuredDataset` (setpoint.types.structured; docs/flyte-data.md)."""

from __future__ import annotations

from setpoint.flytekit._lazy import exports

NAMES: dict[str, str] = {
    "StructuredDataset": "setpoint.types.structured:StructuredDataset",
}

__all__ = sorted(NAMES)  # noqa: PLE0605 - the table above is the list of names
__getattr__, __dir__ = exports(__name__, NAMES)
