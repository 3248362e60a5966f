"""flytekit.exceptions.user: the exception a task raises to be retried from its checkpoint."""

from __future__ import annotations

from setpoint.flytekit._lazy import exports

NAMES: dict[str, str] = {
    "FlyteRecoverableException": "setpoint.sdk.current:RecoverableException",
}

__all__ = sorted(NAMES)  # noqa: PLE0605 - the table above is the list of names
__getattr__, __dir__ = exports(__name__, NAMES)
