"""An in-process API server on a fresh home, with the test workflows registered in project "team"."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from setpoint.client.embedded import Client
from setpoint.server.app import create_app
from tests.e2e.conftest import fast_settings

WF = "tests/server/wf_registry.py"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    c = Client(fast_settings(tmp_path / "home"))
    yield c
    c.close()


@pytest.fixture
def version(client: Client) -> str:
    used, _ = client.register([WF], project="team")
    return used


@pytest.fixture
def api(client: Client, version: str) -> Iterator[TestClient]:
    """No auth: every route open, as with `setpoint server --no-auth`."""
    with TestClient(create_app(client, auth=False)) as t:
        yield t


@pytest.fixture
def secured(client: Client, version: str) -> Iterator[TestClient]:
    with TestClient(create_app(client, auth=True)) as t:
        yield t
