from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from setpoint.client.embedded import Client
from setpoint.config.settings import Settings
from setpoint.core.reconcile import ReconcileConfig
from tests.e2e.cli_util import RemoteHome
from tests.support.server_proc import ServerProcess, start_server


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


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # Tests marked `remote` run twice: embedded, and through a `setpoint server` process.
    if "home" in metafunc.fixturenames and metafunc.definition.get_closest_marker("remote"):
        metafunc.parametrize("home", ["embedded", "remote"], indirect=True)


@pytest.fixture(scope="session")
def cli_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One `setpoint server --no-auth` for the session's remote CLI tests (each has its own project)."""
    server = start_server(tmp_path_factory.mktemp("server") / "home", "--no-auth")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def home(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    if getattr(request, "param", "embedded") == "remote":
        remote = RemoteHome(tmp_path / "home")
        remote.server = request.getfixturevalue("cli_server").url
        remote.project = "t-" + re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[-60:].strip("-")
        return remote
    return tmp_path / "home"


@pytest.fixture
def client(home: Path) -> Iterator[Client]:
    c = Client(fast_settings(home))
    c.start_controller()
    try:
        yield c
    finally:
        c.close()
