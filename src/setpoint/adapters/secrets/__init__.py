"""Where secret values come from: pluggable providers, resolved at the start of an attempt.

A provider is any object with ``get(group, key) -> str | None`` (``key`` is "" for a secret that
is a whole group). The default chain reads the environment first (``SETPOINT_SECRET_<GROUP>_<KEY>``,
or flytekit's ``_FSEC_<GROUP>_<KEY>``), then files (``<secrets dir>/<group>/<key>``, or
``<secrets dir>/<group>`` for a group-only secret). ``SETPOINT_SECRETS_PROVIDER=module:factory``
replaces the chain with ``factory()``'s provider (a vault client, a test double).

`resolve` fetches exactly the secrets a task requested; `hidden_environment` takes every secret
variable out of the attempt's environment while the task runs, so a task sees only what it asked
for. Nothing here logs or raises a value: errors name the group and key.
"""

from __future__ import annotations

import contextlib
import importlib
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from setpoint.errors import SpecError
from setpoint.sdk.current import SECRET_ENV_PREFIXES, SecretNotFoundError, secret_env_names

PROVIDER_ENV = "SETPOINT_SECRETS_PROVIDER"
DIR_ENV = "SETPOINT_SECRETS_DIR"


class SecretProvider(Protocol):
    def get(self, group: str, key: str) -> str | None: ...


class EnvironmentSecrets:
    """Secrets from environment variables (read from ``env``, a snapshot taken at attempt start)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = dict(env)

    def get(self, group: str, key: str) -> str | None:
        for name in secret_env_names(group, key):
            if name in self._env:
                return self._env[name]
        return None


class FileSecrets:
    """Secrets from files: ``root/<group>/<key>`` (``root/<group>`` for a whole-group secret)."""

    def __init__(self, root: Path) -> None:
        self._root = root

    def get(self, group: str, key: str) -> str | None:
        # group and key passed the spec's name check (no '/', no leading '.'): the path stays under root
        path = self._root / group / key if key else self._root / group
        try:
            return path.read_text() if path.is_file() else None
        except OSError:
            return None


class ChainSecrets:
    """The first provider that has the secret wins."""

    def __init__(self, providers: Sequence[SecretProvider]) -> None:
        self._providers = tuple(providers)

    def get(self, group: str, key: str) -> str | None:
        for provider in self._providers:
            value = provider.get(group, key)
            if value is not None:
                return value
        return None


def load_provider(factory: str) -> SecretProvider:
    """``module:callable`` -> the provider that calling it returns."""
    module, sep, attr = factory.partition(":")
    if not sep or not module or not attr:
        raise SpecError(f"{PROVIDER_ENV} must look like 'module:factory', got {factory[:80]!r}")
    obj: object = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    if not callable(obj):
        raise SpecError(f"{PROVIDER_ENV}: {factory} is not callable")
    provider = obj()
    if not callable(getattr(provider, "get", None)):
        raise SpecError(f"{PROVIDER_ENV}: {factory}() returned no provider (it needs a get(group, key) method)")
    return provider  # type: ignore[no-any-return]


def default_provider(secrets_dir: Path, env: Mapping[str, str]) -> SecretProvider:
    factory = env.get(PROVIDER_ENV)
    if factory:
        return load_provider(factory)
    return ChainSecrets([EnvironmentSecrets(env), FileSecrets(secrets_dir)])


def resolve(requests: Sequence[tuple[str, str]], provider: SecretProvider, where: str) -> dict[tuple[str, str], str]:
    """The value of every requested secret; SecretNotFoundError (names only) for the first missing one."""
    values: dict[tuple[str, str], str] = {}
    for group, key in requests:
        value = provider.get(group, key)
        if value is None:
            shown = f"{group}/{key}" if key else group
            raise SecretNotFoundError(
                f"{where}: secret '{shown}' not found: set {secret_env_names(group, key)[0]} or write the "
                f"file {group}/{key} under the secrets folder (docs/secrets.md)"
            )
        values[(group, key)] = value
    return values


@contextlib.contextmanager
def hidden_environment() -> Iterator[None]:
    """Remove every secret variable from ``os.environ`` for the block (and put them back after)."""
    saved = {k: v for k, v in os.environ.items() if k.startswith(SECRET_ENV_PREFIXES)}
    for name in saved:
        del os.environ[name]
    try:
        yield
    finally:
        os.environ.update(saved)
