"""Ctrl-C during `setpoint run` in a terminal: the user chooses abort or leave running."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.cli_util import FAST_ENV, REPO, setpoint_json

pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]


def read_until(fd: int, needle: bytes, timeout: float = 30.0) -> bytes:
    buf = b""
    deadline = time.monotonic() + timeout
    while needle not in buf and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
    return buf


def run_in_terminal(home: Path, pidfile: Path, seconds: float) -> tuple[subprocess.Popen[bytes], int]:
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "setpoint.cli.main", "--home", str(home), "run", "tests/e2e/wf_basic.py:sleeper_wf",
         "--pidfile", str(pidfile), "--seconds", str(seconds)],
        cwd=REPO, env={**os.environ, **FAST_ENV, "COLUMNS": "120"},
        stdin=secondary, stdout=secondary, stderr=secondary, start_new_session=True,
    )
    os.close(secondary)
    deadline = time.monotonic() + 30
    while not (pidfile.exists() and pidfile.read_text()) and time.monotonic() < deadline:
        read_until(primary, b"\0", timeout=0.1)  # keep draining the terminal
    return proc, primary


def test_ctrl_c_then_background_leaves_it_running(tmp_path: Path) -> None:
    home, pidfile = tmp_path / "home", tmp_path / "pid"
    proc, fd = run_in_terminal(home, pidfile, seconds=3.0)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does in a terminal
    assert b"leave it running in the background?" in read_until(fd, b"background?")
    os.write(fd, b"background\n")
    out = read_until(fd, b"continues in the background")
    assert b"continues in the background" in out
    assert proc.wait(timeout=30) == 0
    eid = setpoint_json(home, "get", "executions")["executions"][0]["id"]
    deadline = time.monotonic() + 60
    phase = ""
    while time.monotonic() < deadline:
        phase = setpoint_json(home, "describe", eid)["execution"]["phase"]
        if phase == "SUCCEEDED":
            break
        time.sleep(0.2)
    assert phase == "SUCCEEDED", "the background controller should have finished the execution"


def test_ctrl_c_then_abort(tmp_path: Path) -> None:
    home, pidfile = tmp_path / "home", tmp_path / "pid"
    proc, fd = run_in_terminal(home, pidfile, seconds=60.0)
    os.killpg(proc.pid, signal.SIGINT)
    assert b"background?" in read_until(fd, b"background?")
    os.write(fd, b"abort\n")
    assert proc.wait(timeout=60) == 130
    eid = setpoint_json(home, "get", "executions")["executions"][0]["id"]
    assert setpoint_json(home, "describe", eid)["execution"]["phase"] == "ABORTED"
