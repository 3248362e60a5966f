"""Test helpers shipped with setpoint, for its own tests and for users' tests of their pipelines.

They live in the package (not under ``tests/``) so users can import them; nothing here is imported
by setpoint itself at run time.
"""

from setpoint.testing.memory_store import InMemoryStore

__all__ = ["InMemoryStore"]
