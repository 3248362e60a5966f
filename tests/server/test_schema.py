"""Schemathesis against the OpenAPI schema, in process: whatever it sends, no 5xx and the answers conform.

The app is built at import (schemathesis parametrizes from the schema at collection time) on a
temporary home that the module fixture removes afterwards.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from setpoint.client.embedded import Client
from setpoint.server.app import create_app
from tests.e2e.conftest import fast_settings

from .conftest import WF

_HOME = Path(tempfile.mkdtemp(prefix="setpoint-schemathesis-"))
_CLIENT = Client(fast_settings(_HOME / "home"))
_CLIENT.register([WF], project="team")
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(_CLIENT, auth=False))


@pytest.fixture(scope="module", autouse=True)
def _cleanup() -> Iterator[None]:
    yield
    _CLIENT.close()
    shutil.rmtree(_HOME, ignore_errors=True)


@schema.parametrize()
@hypothesis.settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck),
    derandomize=True,
    database=None,
)
@pytest.mark.timeout(120)
def test_api_conforms_to_its_schema(case: schemathesis.Case[Any]) -> None:
    case.call_and_validate(
        checks=[
            schemathesis.checks.not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ]
    )
