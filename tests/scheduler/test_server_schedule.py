"""`setpoint server` as users run it fires an activated fixed-rate schedule, and the executions complete."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from setpoint.service.scheduler import tick_execution_id
from tests.e2e.cli_util import FAST_ENV, REPO, setpoint, setpoint_json
from tests.server.test_server_process import free_port

pytestmark = pytest.mark.timeout(180)

WF = "tests/scheduler/wf_scheduled.py"


ENV = {k: v for k, v in os.environ.items() if not k.startswith("SETPOINT_")} | FAST_ENV


def start(home: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "setpoint.cli.main", "--home", str(home), *args],
        cwd=REPO,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_server_process_fires_a_schedule_every_second(tmp_path: Path) -> None:
    home = tmp_path / "home"
    setpoint(home, "register", WF, "--project", "team", check=True)
    token = setpoint(home, "token", "create", "--project", "team", "--role", "editor", check=True).stdout.strip()
    assert setpoint_json(home, "launchplan", "activate", "every_second", "--project", "team")["active_version"]
    port = free_port()
    proc = start(home, "server", "--port", str(port))
    base = f"http://127.0.0.1:{port}/api/v1/projects/team"
    auth = {"Authorization": f"Bearer {token}"}
    try:
        done: list[dict[str, Any]] = []  # JSON rows
        while len(done) < 3:  # until three scheduled executions succeeded (pytest-timeout bounds the wait)
            assert proc.poll() is None, proc.communicate()[1]
            try:
                page = httpx.get(f"{base}/executions", params={"limit": 100}, headers=auth)
            except httpx.TransportError:
                time.sleep(0.1)
                continue
            done = [e for e in page.json()["executions"] if e["phase"] == "SUCCEEDED"]
            failed = [e for e in page.json()["executions"] if e["phase"] in ("FAILED", "ABORTED")]
            assert not failed, failed
            time.sleep(0.1)
        status = httpx.get(f"{base}/launchplans/every_second/schedule", headers=auth).json()
        fired = {t["execution_id"]: t["tick"] for t in status["recent_ticks"]}
        assert all(e["mode"] == "scheduled" for e in done)
        recent = [e for e in done if e["id"] in fired]  # the ten ticks listed are the newest
        assert recent
        for e in recent:
            tick = fired[str(e["id"])]
            when = dt.datetime.fromisoformat(tick)
            assert e["id"] == tick_execution_id("team", "every_second", int(when.timestamp()))
            assert e["inputs"]["when"] == when.isoformat()
            assert e["outputs"] == {"o0": f"tick@{when.isoformat()}"}
        assert len(set(fired.values())) == len(fired)
        off = httpx.post(f"{base}/launchplans/every_second/deactivate", headers=auth)
        assert off.status_code == 200 and off.json()["active_version"] is None
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert "scheduler running" in err
    assert token not in err


def test_remote_registration_keeps_the_schedule_and_the_cli_activates_through_the_server(tmp_path: Path) -> None:
    home = tmp_path / "home"
    token = setpoint(home, "token", "create", "--project", "team", "--role", "editor", check=True).stdout.strip()
    port = free_port()
    proc = start(home, "server", "--port", str(port), "--no-controller", "--no-scheduler")
    url = f"http://127.0.0.1:{port}"
    remote = ("--server", url, "--token", token, "--project", "team")
    try:
        while True:  # until it answers (pytest-timeout bounds the wait)
            assert proc.poll() is None, proc.communicate()[1]
            try:
                if httpx.get(f"{url}/openapi.json").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        client_home = tmp_path / "client"
        setpoint(client_home, *remote, "register", WF, "--version", "v1", check=True)
        on = setpoint_json(client_home, *remote, "launchplan", "activate", "nightly")
        assert on["active_version"] == "v1"
        assert on["schedule"]["cron"] == "0 3 * * *" and len(on["next_ticks"]) == 5
        listed = setpoint_json(client_home, *remote, "launchplan", "ls")["launchplans"]
        assert [(x["name"], x["active_version"]) for x in listed] == [("every_second", None), ("nightly", "v1")]
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    # What the server registered is what an embedded registration of the same files would be.
    setpoint(tmp_path / "embedded", "register", WF, "--project", "team", "--version", "v1", check=True)
    embedded = setpoint_json(tmp_path / "embedded", "launchplan", "get", "nightly", "--project", "team")
    served = setpoint_json(home, "launchplan", "get", "nightly", "--project", "team")
    assert served["schedule"] == embedded["schedule"] is not None


def test_setpoint_scheduler_alone_fires_ticks(tmp_path: Path) -> None:
    from setpoint.client.embedded import Client
    from tests.e2e.conftest import fast_settings

    home = tmp_path / "home"
    setpoint(home, "register", WF, "--project", "team", check=True)
    setpoint(home, "launchplan", "activate", "every_second", "--project", "team", check=True)
    proc = start(home, "scheduler", "--interval", "0.2")
    try:
        with Client(fast_settings(home)) as client:
            while len(client.store.list_ticks("team", "every_second")) < 2:
                assert proc.poll() is None, proc.communicate()[1]
                time.sleep(0.1)
            ticks = client.store.list_ticks("team", "every_second")
            for t in ticks:  # created, QUEUED: no controller runs here
                assert client.get(t.execution_id).phase.value == "QUEUED"
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert "scheduler running" in err
