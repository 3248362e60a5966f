from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from setpoint.client import Client
from setpoint.core.reconcile import ReconcileConfig
from setpoint.settings import Settings


def fast_settings(home: Path, **kw: object) -> Settings:
    """Short backoff, poll and lease times so failure paths finish quickly in tests."""
    base = Settings(
        home=home,
        poll_interval_s=0.2,
        resync_interval_s=2.0,
        lease_ttl_s=5.0,
        reconcile=ReconcileConfig(backoff_base_s=0.05, backoff_max_s=0.2, max_system_retries=3),
    )
    return base.evolve(**kw)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def client(home: Path) -> Iterator[Client]:
    c = Client(fast_settings(home))
    c.start_controller()
    try:
        yield c
    finally:
        c.close()
