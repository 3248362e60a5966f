"""The session's Ray cluster for the Ray executor tests (see `tests.ray.cluster`).

Where Ray is not installed the tests skip with the reason, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from setpoint.config.settings import Settings
from tests.ray import cluster
from tests.ray.cluster import RayCluster
from tests.support.s3 import s3_server as s3_server  # noqa: PLC0414 (the session fixture)


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"Ray is required in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def _s3_available() -> bool:
    try:
        import moto.server
        import s3fs
    except ImportError:
        return False
    return moto.server is not None and s3fs is not None


@pytest.fixture(scope="package")  # stopped once tests/ray is done, not at the end of the whole suite
def ray_cluster(request: pytest.FixtureRequest) -> Iterator[RayCluster]:
    try:
        import ray
    except ImportError:
        _skip_or_fail("Ray is not installed (pip install -e '.[ray]')")
    # The nodes get the S3 test server's credentials and endpoint in their environment, as a real
    # cluster's nodes get theirs, for the test that keeps blobs in s3:// (where moto is installed).
    env = request.getfixturevalue("s3_server").env() if _s3_available() else None
    try:
        running = cluster.start(env=env)
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
