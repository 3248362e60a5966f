"""SIGKILL the controller at every named crash point and at random points of a 50-node run.

After each crash a fresh `setpoint controller` finishes the execution. Checked: it succeeds, its
outputs equal a fault-free run's, and the executor's launch log shows no attempt id ran twice.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psutil
import pytest

from setpoint.adapters.executor.local import read_launch_log
from setpoint.controller.controller import CRASH_POINTS
from tests.e2e import wf_basic as wb
from tests.e2e.cli_util import REPO, setpoint, setpoint_json

pytestmark = [pytest.mark.timeout(240), pytest.mark.slow]

WF = "tests/e2e/wf_basic.py:wide"
EXPECTED = wb.wide()


def crash_then_recover(home: Path, crash_at: str) -> tuple[dict[str, Any], int]:
    crashed = setpoint(home, "run", WF, "-o", "json", env={"SETPOINT_CRASH_AT": crash_at})
    setpoint(home, "controller", "--exit-when-idle", check=True)
    (ex,) = setpoint_json(home, "get", "executions")["executions"]
    described = setpoint_json(home, "describe", ex["id"])
    return described, crashed.returncode


def assert_recovered(home: Path, described: dict[str, Any]) -> None:
    ex = described["execution"]
    assert ex["phase"] == "SUCCEEDED", ex
    assert ex["outputs"] == {"o0": EXPECTED}
    launched = [aid for aid, _ in read_launch_log(home / "attempts")]
    dupes = [aid for aid, n in Counter(launched).items() if n > 1]
    assert dupes == [], f"attempt ids launched twice: {dupes}"
    assert len(described["nodes"]) == 50
    assert all(n["phase"] == "SUCCEEDED" for n in described["nodes"])


@pytest.mark.parametrize("point", [p for p in CRASH_POINTS if p != "round.aborted"])
def test_crash_at_each_named_point(tmp_path: Path, point: str) -> None:
    home = tmp_path / "home"
    described, code = crash_then_recover(home, f"{point}:3")
    assert code == -9, "the controller should have been killed at the crash point"
    assert_recovered(home, described)


@pytest.mark.parametrize("seed", range(6))
def test_crash_at_random_points(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    point = rng.choice(CRASH_POINTS)
    nth = rng.randint(1, 40)
    home = tmp_path / "home"
    described, _ = crash_then_recover(home, f"{point}:{nth}")
    assert_recovered(home, described)


def test_crash_while_aborting_is_finished_by_the_next_controller(tmp_path: Path) -> None:
    """Crash right after the first kill request of a terminate; the next controller finishes it."""
    home, pidfile = tmp_path / "home", tmp_path / "pid"
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "setpoint.cli.main",
            "--home",
            str(home),
            "run",
            "tests/e2e/wf_basic.py:sleeper_wf",
            "--pidfile",
            str(pidfile),
            "-o",
            "json",
        ],
        cwd=REPO,
        env={**os.environ, "SETPOINT_CRASH_AT": "round.aborted:1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not (pidfile.exists() and pidfile.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    task_pid = int(pidfile.read_text())
    eid = setpoint_json(home, "get", "executions")["executions"][0]["id"]
    setpoint(home, "terminate", eid, check=True)
    run.communicate(timeout=60)
    assert run.returncode == -9
    setpoint(home, "controller", "--exit-when-idle", check=True)
    described = setpoint_json(home, "describe", eid)
    assert described["execution"]["phase"] == "ABORTED"
    assert described["nodes"][0]["phase"] == "ABORTED"
    assert not psutil.pid_exists(task_pid) or psutil.Process(task_pid).status() == psutil.STATUS_ZOMBIE


@pytest.mark.parametrize(
    ("target", "args", "expected", "crash_at"),
    [
        ("tests/e2e/wf_control.py:mapped", ["--n", "20"], sum(i * i for i in range(20)), "round.committed:4"),
        ("tests/e2e/wf_control.py:mapped", ["--n", "20"], sum(i * i for i in range(20)), "round.launched:7"),
        ("tests/e2e/wf_control.py:converging", [], None, "round.committed:5"),
        ("tests/e2e/wf_control.py:dynamic_fan", ["--n", "6"], sum(i * i for i in range(6)), "round.decided:4"),
        ("tests/e2e/wf_control.py:gatekeeper", ["--x", "70"], "retrained 0.70", "round.committed:2"),
    ],
)
def test_crash_during_control_flow_nodes(tmp_path: Path, target: str, args: list[str], expected: object, crash_at: str) -> None:
    """Expansions (maps, dynamic sub-workflows) and branch decisions survive a SIGKILL of the controller."""
    from tests.e2e import wf_control as wc

    home = tmp_path / "home"
    crashed = setpoint(home, "run", target, *args, "-o", "json", env={"SETPOINT_CRASH_AT": crash_at})
    assert crashed.returncode == -9
    setpoint(home, "controller", "--exit-when-idle", check=True)
    (ex,) = setpoint_json(home, "get", "executions")["executions"]
    out = setpoint_json(home, "describe", ex["id"])["execution"]
    assert out["phase"] == "SUCCEEDED", out
    want = expected if expected is not None else wc.converging(x=0.0, target=1.0)
    assert out["outputs"] == {"o0": want}
    launched = [aid for aid, _ in read_launch_log(home / "attempts")]
    assert [a for a, n in Counter(launched).items() if n > 1] == []
