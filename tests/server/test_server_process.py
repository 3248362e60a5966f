"""`setpoint server` as users run it: a real process on a free localhost port, with tokens."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.cli_util import FAST_ENV, REPO, setpoint, setpoint_json

from .conftest import WF

pytestmark = pytest.mark.timeout(120)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path, subprocess.Popen[str]]]:
    home = tmp_path / "home"
    port = free_port()
    env = {**os.environ, **FAST_ENV}
    env.pop("SETPOINT_HOME", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "setpoint.cli.main", "--home", str(home), "server", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        while True:  # until it answers (pytest-timeout bounds the wait)
            assert proc.poll() is None, proc.communicate()[1]
            try:
                if httpx.get(f"{url}/openapi.json").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        yield url, home, proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_register_token_and_run_through_a_server_process(server: tuple[str, Path, subprocess.Popen[str]]) -> None:
    url, home, proc = server
    registered = setpoint_json(home, "register", WF, "--project", "team")
    token = setpoint(home, "token", "create", "--project", "team", "--role", "editor", check=True).stdout.strip()
    auth = {"Authorization": f"Bearer {token}"}
    base = f"{url}/api/v1/projects/team"
    assert httpx.get(f"{base}/workflows").status_code == 401
    made = httpx.post(f"{base}/executions", json={"workflow": "pipeline", "inputs": {"a": 20}}, headers=auth)
    assert made.status_code == 201, made.text
    eid = made.json()["id"]
    assert made.json()["code_digest"] == httpx.get(f"{base}/workflows/pipeline", headers=auth).json()["code_digest"]
    while True:  # the server's own controller runs it
        got = httpx.get(f"{base}/executions/{eid}", headers=auth).json()
        if got["phase"] not in ("QUEUED", "RUNNING"):
            break
        time.sleep(0.05)
    assert got["phase"] == "SUCCEEDED"
    assert got["outputs"] == {"o0": 44}
    versions = httpx.get(f"{base}/workflows/pipeline/versions", headers=auth).json()["entities"]
    assert [v["version"] for v in versions] == [registered["version"]]
    proc.terminate()
    _, err = proc.communicate(timeout=30)
    assert token not in err
    assert proc.returncode == 0, f"SIGTERM is a clean stop, got exit {proc.returncode}: {err}"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_ends_the_server_cleanly(server: tuple[str, Path, subprocess.Popen[str]], sig: int) -> None:
    url, _home, proc = server
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, f"exit {proc.returncode} after {signal.Signals(sig).name}: {err}"
    assert "Traceback" not in err and "Aborted" not in err
    # it is really gone: nothing answers on its port any more
    with httpx.Client() as c, pytest.raises(httpx.TransportError):
        c.get(f"{url}/openapi.json", timeout=2)
