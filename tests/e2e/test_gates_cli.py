"""Gates across controller restarts, driven through the CLI as an operator would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.cli_util import FAST_ENV, REPO, setpoint, setpoint_json

pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]

WF = "tests/e2e/wf_control.py"


def start_controller(home: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "setpoint.cli.main", "--home", str(home), "controller"],
        cwd=REPO, env={**os.environ, **FAST_ENV}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
    )


def node(home: Path, eid: str, node_id: str) -> dict[str, Any]:
    return next(n for n in setpoint_json(home, "describe", eid)["nodes"] if n["id"] == node_id)


def wait_node(home: Path, eid: str, node_id: str, phase: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        n = node(home, eid, node_id)
        if n["phase"] == phase:
            return n
        time.sleep(0.1)
    raise AssertionError(f"{node_id} never reached {phase}")


def test_gate_approved_through_the_cli_while_the_controller_restarts(tmp_path: Path) -> None:
    home = tmp_path / "home"
    eid = setpoint_json(home, "run", f"{WF}:release", "--x", "5", "--detach")["execution"]["id"]
    ctl = start_controller(home)
    try:
        wait_node(home, eid, "ship_it", "RUNNING")
    finally:
        ctl.send_signal(signal.SIGKILL)
        ctl.wait(timeout=10)
    sent = setpoint(home, "signal", eid, "ship_it", check=True)
    assert f"signal 'ship_it' sent to {eid}" in sent.stdout
    setpoint(home, "controller", "--exit-when-idle", check=True)
    out = setpoint_json(home, "describe", eid)
    assert out["execution"]["phase"] == "SUCCEEDED"
    assert out["execution"]["outputs"] == {"o0": 11}


def test_wrong_signal_type_is_rejected_by_the_cli(tmp_path: Path) -> None:
    home = tmp_path / "home"
    eid = setpoint_json(home, "run", f"{WF}:ask", "--detach")["execution"]["id"]
    bad = setpoint(home, "signal", eid, "factor", "lots")
    assert bad.returncode == 2
    assert "signal 'factor'" in bad.stderr and "int" in bad.stderr
    setpoint(home, "signal", eid, "factor", "4", check=True)
    setpoint(home, "controller", "--exit-when-idle", check=True)
    assert setpoint_json(home, "describe", eid)["execution"]["outputs"] == {"o0": 8}


def test_a_restart_does_not_reset_a_gate_timer(tmp_path: Path) -> None:
    home = tmp_path / "home"
    eid = setpoint_json(home, "run", f"{WF}:impatient", "--detach")["execution"]["id"]
    ctl = start_controller(home)
    try:
        started = wait_node(home, eid, "never", "RUNNING")
    finally:
        ctl.send_signal(signal.SIGKILL)
        ctl.wait(timeout=10)
    # The 3 s deadline passes while no controller runs: wait until the wall clock (the clock that
    # stamped started_at) is past it, however long the kill and the polling above took.
    due = started["started_at"] + 3.0
    while time.time() < due + 0.1:
        time.sleep(0.05)
    restarted = time.time() - started["started_at"]
    setpoint(home, "controller", "--exit-when-idle", check=True)
    gate = node(home, eid, "never")
    assert gate["phase"] == "FAILED" and gate["error"]["code"] == "GateTimeout"
    waited = gate["finished_at"] - started["started_at"]
    # A timer restarted by the new controller would fire 3 s after its start, so no earlier than
    # restarted + 3.0; the kept timer fires at the new controller's first round.
    assert waited < restarted + 3.0, f"the timer restarted with the controller (waited {waited:.1f}s)"
