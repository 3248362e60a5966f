"""The controller a `setpoint run` hosts runs its own execution tree only, releases what it holds
when it exits, and the CLI says when no controller will run an execution."""

from __future__ import annotations

import json
import time
from pathlib import Path

from setpoint.client.embedded import Client
from setpoint.config.settings import Settings
from setpoint.core.phases import ExecutionPhase
from tests.e2e import wf_logs
from tests.e2e.cli_util import setpoint, setpoint_json

WF = "tests/e2e/wf_logs.py"


def test_an_unrelated_run_does_not_adopt_and_strand_a_detached_execution(home: Path) -> None:
    detached = setpoint(home, "run", f"{WF}:ticking", "--seconds", "3", "--detach", "-o", "json", check=True)
    eid = json.loads(detached.stdout)["execution"]["id"]
    assert "no controller is running" in detached.stderr and "controller" in detached.stderr
    other = setpoint(home, "run", f"{WF}:fanned", "--n", "2", check=True)
    newest = setpoint_json(home, "get", "executions")["executions"][0]["id"]
    assert f"this run runs execution {newest} only" in other.stderr
    assert "1 other unfinished execution waits for a controller" in other.stderr
    with Client(Settings.from_env(home)) as c:
        rec = c.get(eid)
        assert rec.phase is ExecutionPhase.QUEUED, "the run's controller took the detached execution"
        assert rec.lease_owner is None
    started = time.monotonic()
    setpoint(home, "controller", "--exit-when-idle", check=True, timeout=60)
    assert time.monotonic() - started < 20  # no lease left to wait out
    assert setpoint_json(home, "describe", eid)["execution"]["phase"] == "SUCCEEDED"


def test_wait_says_when_no_controller_runs_the_execution(home: Path) -> None:
    out = setpoint_json(home, "run", f"{WF}:fanned", "--detach")
    eid = out["execution"]["id"]
    waited = setpoint(home, "wait", eid, "--timeout", "0.5")
    assert waited.returncode == 1
    assert "no controller is running" in waited.stderr
    assert f"setpoint --home {home} controller" in waited.stderr


def test_stopping_a_controller_releases_every_lease_it_holds(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", lease_ttl_s=30.0)
    with Client(settings) as owner:
        ctl = owner.start_controller()
        eid = owner.create_execution(wf_logs.ticking, {"seconds": 3.0})
        deadline = time.monotonic() + 30
        while owner.get(eid).lease_owner != ctl.owner:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        ctl._forget(eid)  # as after a conflict: the lease is still held, the state is not
        ctl.stop()
        assert owner.get(eid).lease_owner is None
        owner.terminate(eid)


def test_detach_says_nothing_while_a_controller_runs(home: Path) -> None:
    import subprocess

    from tests.e2e.cli_util import REPO, cli_argv, cli_env

    ctl = subprocess.Popen(
        cli_argv(home, "controller"), cwd=REPO, env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 30
        while not list((home / "controllers").glob("*.json")):
            assert time.monotonic() < deadline, "the controller wrote no beacon"
            time.sleep(0.1)
        detached = setpoint(home, "run", f"{WF}:fanned", "--detach", check=True)
        assert "no controller is running" not in detached.stderr
        eid = detached.stdout.split()[2].rstrip(";")
        assert setpoint(home, "wait", eid, "--timeout", "60").returncode == 0
    finally:
        ctl.terminate()
        ctl.wait(timeout=30)
    assert not list((home / "controllers").glob("*.json")), "a stopped controller left its beacon"
