"""flytekit.types: the type packages live in the submodules (file, directory, structured, error)."""

from __future__ import annotations

from setpoint.flytekit._lazy import exports

NAMES: dict[str, str] = {}

__all__ = sorted(NAMES)  # noqa: PLE0605 - the table above is the list of names
__getattr__, __dir__ = exports(__name__, NAMES)
