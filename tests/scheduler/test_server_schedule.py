"""`setpoint server` as users run it fires an activated fixed-rate schedule, and the executions complete."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from setpoint.scheduler import tick_execution_id
from tests.e2e.cli_util import FAST_ENV, REPO, setpoint, setpoint_json
from tests.server.test_server_process import free_port

pytestmark = pytest.mark.timeout(180)

WF = "tests/scheduler/wf_scheduled.py"


def test_a_server_process_fires_a_schedule_every_second(tmp_path: Path) -> None:
    home = tmp_path / "home"
    setpoint(home, "register", WF, "--project", "team", check=True)
    token = setpoint(home, "token", "create", "--project", "team", "--role", "editor", check=True).stdout.strip()
    assert setpoint_json(home, "launchplan", "activate", "every_second", "--project", "team")["active_version"]
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SETPOINT_")} | FAST_ENV
    proc = subprocess.Popen(
        [sys.executable, "-m", "setpoint.cli.main", "--home", str(home), "server", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}/api/v1/projects/team"
    auth = {"Authorization": f"Bearer {token}"}
    try:
        done: list[dict[str, object]] = []
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
