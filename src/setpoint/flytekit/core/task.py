"""flytekit.core.task: the task decorators and their options."""

from __future__ import annotations

from setpoint.flytekit._lazy import exports

NAMES: dict[str, str] = {
    "task": "setpoint.sdk.task:task",
    "eager": "setpoint.sdk.eager:eager",
    "Resources": "setpoint.sdk.task:Resources",
    "TaskMetadata": "setpoint.sdk.task:TaskMetadata",
    "kwtypes": "setpoint.sdk.shell:kwtypes",
    "reference_task": "setpoint.sdk.reference:reference_task",
    "Echo": "setpoint.sdk.echo:Echo",
}

__all__ = sorted(NAMES)  # noqa: PLE0605 - the table above is the list of names
__getattr__, __dir__ = exports(__name__, NAMES)
