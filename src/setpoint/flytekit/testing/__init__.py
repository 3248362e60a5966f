"""flytekit.testing: `task_mock` and `patch` (setpoint.testing.mocks), and `fake_secrets` for tests."""

from __future__ import annotations

from setpoint.flytekit._lazy import exports

NAMES: dict[str, str] = {
    "task_mock": "setpoint.testing.mocks:task_mock",
    "patch": "setpoint.testing.mocks:patch",
    "fake_secrets": "setpoint.testing.secrets:fake_secrets",
    "SecretsManager": "setpoint.testing.secrets:SecretsManager",
}

__all__ = sorted(NAMES)  # noqa: PLE0605 - the table above is the list of names
__getattr__, __dir__ = exports(__name__, NAMES)
