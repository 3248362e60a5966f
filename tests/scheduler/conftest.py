"""Stores of every backend, a settable clock, and registration of scheduled launch plans for the scheduler tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from setpoint.ports import Store
from setpoint.sdk.launchplan import LaunchPlan
from setpoint.service import registry
from tests.contract.conftest import make_store
from tests.support import pg
from tests.support.pg import pg_session_fixture  # noqa: F401 (the pg_session_url fixture)

BACKENDS = ("sqlite", "memory", "postgres")
PROJECT = "proj"


class FakeClock:
    """A clock the test sets; the scheduler reads nothing else."""

    def __init__(self, t: float) -> None:
        self.t = t

    def now(self) -> float:
        return self.t


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


def register(store: Store, lp: LaunchPlan, version: str = "v1", project: str = PROJECT) -> None:
    """Register ``lp`` (and its workflow) under ``version``; no code bundle is needed to schedule it."""
    found = registry.Found(launchplans=[lp])
    planned = registry.plan(found, project, version, "c" * 64, 0.0)
    registry.register_entities(store, project, planned.entities, planned.specs, 0.0)


def full() -> bool:
    return os.environ.get("SETPOINT_FAULTS_FULL") == "1"
