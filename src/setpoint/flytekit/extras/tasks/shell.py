"""flytekit.extras.tasks.shell: `ShellTask` and `OutputLocation` (bash; see setpoint.sdk.shell)."""

from __future__ import annotations

from setpoint.flytekit._lazy import exports

NAMES: dict[str, str] = {
    "ShellTask": "setpoint.sdk.shell:ShellTask",
    "OutputLocation": "setpoint.sdk.shell:OutputLocation",
}

__all__ = sorted(NAMES)  # noqa: PLE0605 - the table above is the list of names
__getattr__, __dir__ = exports(__name__, NAMES)
