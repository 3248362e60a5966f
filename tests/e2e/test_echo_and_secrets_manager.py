# mypy: disable-error-code="no-any-return"
"""flytekit's Echo task and testing.SecretsManager under their flytekit paths."""

from __future__ import annotations

import pytest

import setpoint.flytekit.core.task
import setpoint.flytekit.testing
from setpoint import conditional, task, workflow
from setpoint.client.embedded import Client
from setpoint.core.phases import ExecutionPhase
from setpoint.sdk.current import current_context
from setpoint.sdk.echo import Echo
from setpoint.testing.secrets import SecretsManager

echo = Echo(name="echo", inputs={"radius": float})


@task
def double(radius: float) -> float:
    return 2 * radius


@workflow
def maybe_echo(radius: float) -> float:
    return conditional("shape").if_(radius < 0.0).then(echo(radius=radius)).else_().then(double(radius=radius))


def test_the_flytekit_paths_name_these_objects() -> None:
    assert setpoint.flytekit.core.task.Echo is Echo
    assert setpoint.flytekit.testing.SecretsManager is SecretsManager


def test_echo_returns_its_inputs_in_process_and_in_a_workflow() -> None:
    assert echo(radius=2.5) == 2.5
    assert maybe_echo(radius=-1.5) == -1.5
    assert maybe_echo(radius=1.5) == 3.0
    spec = maybe_echo.compile()
    assert {n.id for n in spec.nodes} == {"shape", "echo", "double"}


@pytest.mark.timeout(120)
def test_echo_runs_as_an_attempt(client: Client) -> None:
    rec = client.run(maybe_echo, {"radius": -4.0}, timeout=60)
    assert rec.phase is ExecutionPhase.SUCCEEDED
    assert client.outputs(rec.id) == {"o0": -4.0}


def test_secrets_manager_names_the_variable_setpoint_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    sec = SecretsManager()
    name = sec.get_secrets_env_var("db", "password")
    assert name == "SETPOINT_SECRET_DB_PASSWORD"
    monkeypatch.setenv(name, "hunter2")
    assert sec.get("db", "password") == "hunter2"
    assert current_context().secrets.get("db", "password") == "hunter2"  # outside a task: the environment
