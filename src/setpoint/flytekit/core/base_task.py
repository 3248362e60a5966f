"""flytekit.core.base_task: `kwtypes` and `TaskMetadata`."""

from __future__ import annotations

from setpoint.flytekit._lazy import exports

NAMES: dict[str, str] = {
    "kwtypes": "setpoint.sdk.shell:kwtypes",
    "TaskMetadata": "setpoint.sdk.task:TaskMetadata",
}

__all__ = sorted(NAMES)  # noqa: PLE0605 - the table above is the list of names
__getattr__, __dir__ = exports(__name__, NAMES)
