"""Secrets for tests: ``with fake_secrets({("db", "password"): "s3cret"}):`` and tasks read them.

Inside the block, `current_context().secrets.get("db", "password")` (and flytekit's
``secrets.db.password``) in code called in-process returns the given values, and nothing else is
found: the environment and secret files are not consulted, so a test cannot pick up a developer's
real secrets by accident. A group-only secret is keyed ``(group, "")``.

Tasks that the controller runs in worker processes get secrets from the configured provider;
point ``SETPOINT_SECRETS_PROVIDER`` at a factory returning `DictSecrets` to give them test values
(docs/secrets.md).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from setpoint.sdk.current import Secrets, TaskContext, activated, current_context, environment_lookup


class DictSecrets:
    """A secrets provider over a mapping of (group, key) to value."""

    def __init__(self, values: Mapping[tuple[str, str], str]) -> None:
        self._values = {(g, k or ""): v for (g, k), v in values.items()}

    def get(self, group: str, key: str) -> str | None:
        return self._values.get((group, key or ""))


@contextmanager
def fake_secrets(values: Mapping[tuple[str, str], str]) -> Iterator[TaskContext]:
    """Make ``values`` the only secrets `current_context()` finds while the block runs."""
    provider = DictSecrets(values)
    base = current_context()
    ctx = TaskContext(
        working_directory=Path(base.working_directory),
        execution_id=base.execution_id,
        logger=base.logging,
        checkpoint=base.checkpoint,
        secrets=Secrets(provider.get),
        task_name=base.task_name,
        node_id=base.node_id,
        attempt=base.attempt,
        enable_deck=base.enable_deck,
    )
    with activated(ctx):
        yield ctx


class SecretsManager(Secrets):
    """flytekit's ``SecretsManager()`` for tests: any secret, from the environment variables
    `get_secrets_env_var` names (set them in a test, then run the task in-process)."""

    def __init__(self) -> None:
        super().__init__(environment_lookup)
