"""`setpoint ui` as users run it: a real process serving the console and the API on 127.0.0.1, no tokens."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from setpoint.server.console import CSP
from tests.e2e.cli_util import FAST_ENV, REPO, setpoint_json

from .conftest import WF
from .test_server_process import free_port

pytestmark = pytest.mark.timeout(120)


def test_ui_serves_the_console_and_the_api_and_stops_on_sigterm(tmp_path: Path) -> None:
    home = tmp_path / "home"
    setpoint_json(home, "register", WF, "--project", "team")
    port = free_port()
    env = {**os.environ, **FAST_ENV}
    env.pop("SETPOINT_HOME", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "setpoint.cli.main", "--home", str(home), "ui", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()  # printed before it serves
        assert url == f"http://127.0.0.1:{port}/", proc.stderr.read() if proc.stderr else url
        while True:  # until it answers (pytest-timeout bounds the wait)
            assert proc.poll() is None
            try:
                index = httpx.get(url)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        assert index.status_code == 200
        assert index.headers["content-type"].startswith("text/html")
        assert index.headers["content-security-policy"] == CSP
        session = httpx.get(f"{url}console/session").json()
        assert session == {"auth": False, "project": None, "role": "admin", "csrf": None}
        base = f"{url}api/v1/projects/team/executions"
        made = httpx.post(base, json={"workflow": "pipeline", "inputs": {"a": 20}})
        assert made.status_code == 201, made.text
        eid = made.json()["id"]
        while True:  # its own controller runs it
            got = httpx.get(f"{base}/{eid}").json()
            if got["phase"] not in ("QUEUED", "RUNNING"):
                break
            time.sleep(0.05)
        assert (got["phase"], got["outputs"]) == ("SUCCEEDED", {"o0": 44})
        assert [e["id"] for e in httpx.get(base).json()["executions"]] == [eid]
        rebound = httpx.get(base, headers={"Host": f"attacker.example:{port}"})
        assert rebound.status_code == 403
        cross = httpx.post(
            base, json={"workflow": "pipeline", "inputs": {"a": 1}}, headers={"Origin": "http://x.example"}
        )
        assert cross.status_code == 403
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, f"exit {proc.returncode} after SIGTERM: {err}"
        assert "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
