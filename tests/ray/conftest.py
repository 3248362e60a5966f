"""The session's Ray cluster for the Ray executor tests (see `tests.ray.cluster`).

Where Ray is not installed the tests skip with the reason, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from setpoint.settings import Settings
from tests.ray import cluster
from tests.ray.cluster import RayCluster


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"Ray is required in CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[RayCluster]:
    try:
        import ray
    except ImportError:
        _skip_or_fail("Ray is not installed (pip install -e '.[ray]')")
    try:
        running = cluster.start()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield running
    finally:
        with contextlib.suppress(Exception):
            import ray

            if ray.is_initialized():
                ray.shutdown()
        cluster.stop(running)


@pytest.fixture
def ray_settings(ray_cluster: RayCluster, tmp_path: Path) -> Settings:
    """Settings of a fresh home whose Ray executor points at the session's cluster."""
    env = {"SETPOINT_RETRY_BACKOFF_S": "0.2", "SETPOINT_RAY_ADDRESS": ray_cluster.address}
    return Settings.from_env(tmp_path / "home", env=env)
