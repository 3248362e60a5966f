"""The store backends held to one contract.

Every test that takes the ``store`` fixture runs once per backend. To add PostgreSQL: add
``"postgres"`` to ``BACKENDS`` and a branch in `make_store` that creates a fresh database (skipping
when no server is configured); no test changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from setpoint.adapters.store.sqlite import SqliteStore
from setpoint.ports import Store
from setpoint.testing import InMemoryStore

BACKENDS = ("sqlite", "memory")

StoreFactory = Callable[[str, Path], Store]


def make_store(backend: str, directory: Path) -> Store:
    """A new, empty store of ``backend`` whose files (if any) live under ``directory``."""
    if backend == "sqlite":
        return SqliteStore(directory / "setpoint.db")
    if backend == "memory":
        return InMemoryStore()
    raise ValueError(f"unknown store backend {backend!r}")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store(backend: str, tmp_path: Path) -> Iterator[Store]:
    s = make_store(backend, tmp_path)
    yield s
    s.close()


@pytest.fixture
def store_factory() -> StoreFactory:
    """For tests that need several fresh stores (property tests build one per example)."""
    return make_store
