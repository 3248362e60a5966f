"""The store backends held to one contract.

Every test that takes the ``store`` fixture runs once per backend: SQLite, the in-memory fake and
PostgreSQL. PostgreSQL stores share one database per test session, emptied before each store is made
(see tests/support/pg.py for why and for what happens when no server is reachable).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from setpoint.adapters.store.sqlite import SqliteStore
from setpoint.ports import Store
from setpoint.testing import InMemoryStore
from tests.support import pg
from tests.support.pg import pg_session_fixture  # noqa: F401 (the pg_session_url fixture)

BACKENDS = ("sqlite", "memory", "postgres")

StoreFactory = Callable[[str, Path], Store]


def make_store(backend: str, directory: Path, pg_url: str | None = None) -> Store:
    """A new, empty store of ``backend`` whose files (if any) live under ``directory``.

    ``pg_url`` names the migrated PostgreSQL database to empty and use; only one PostgreSQL store
    made this way may be in use at a time.
    """
    if backend == "sqlite":
        return SqliteStore(directory / "setpoint.db")
    if backend == "memory":
        return InMemoryStore()
    if backend == "postgres":
        if pg_url is None:
            raise ValueError("a PostgreSQL store needs the URL of a test database")
        from setpoint.adapters.store.postgres import PostgresStore

        pg.empty_database(pg_url)
        return PostgresStore(pg_url)
    raise ValueError(f"unknown store backend {backend!r}")


@pytest.fixture
def available_backends(pg_session_url: str | None) -> tuple[str, ...]:
    """Every backend this machine can run; without a server PostgreSQL is left out (a failure in CI)."""
    if pg_session_url is None:
        problem = pg.server_problem() or "no PostgreSQL test database"
        if os.environ.get("CI") == "true":
            pg.skip_or_fail(problem)
        return tuple(b for b in BACKENDS if b != "postgres")
    return BACKENDS


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store(backend: str, tmp_path: Path, pg_session_url: str | None) -> Iterator[Store]:
    if backend == "postgres" and pg_session_url is None:
        pg.skip_or_fail(pg.server_problem() or "no PostgreSQL test database")
    s = make_store(backend, tmp_path, pg_session_url)
    yield s
    s.close()


@pytest.fixture
def store_factory(pg_session_url: str | None) -> StoreFactory:
    """For tests that need several fresh stores (property tests build one per example)."""
    return lambda backend, directory: make_store(backend, directory, pg_session_url)
