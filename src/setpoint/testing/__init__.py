"""Test helpers shipped with setpoint, for its own tests and for users' tests of their pipelines.

They live in the package (not under ``tests/``) so users can import them; nothing here is imported
by setpoint itself at run time.
"""

from setpoint.testing.memory_store import InMemoryStore
from setpoint.testing.mocks import patch, task_mock
from setpoint.testing.secrets import fake_secrets

__all__ = ["InMemoryStore", "fake_secrets", "patch", "task_mock"]
