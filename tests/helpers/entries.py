"""Task entrypoints for executor tests: each runs inside a real attempt process.

Every function has the worker's signature ``(payload, attempt_dir) -> {"outputs": {...}}``. Tests
steer long-running ones through files (``release`` in the attempt directory) rather than sleeps,
so no test depends on timing.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from setpoint.errors import NonRetryableError

_WAIT_LIMIT = 50.0  # seconds: a forgotten release must not leave a process behind for ever


def noop(payload: dict[str, Any], attempt_dir: Path) -> dict[str, Any]:
    return {"outputs": {}}


def echo(payload: dict[str, Any], attempt_dir: Path) -> dict[str, Any]:
    return {"outputs": {"echo": payload, "pid": os.getpid(), "cwd": os.getcwd()}}


def environment(payload: dict[str, Any], attempt_dir: Path) -> dict[str, Any]:
    names = payload["names"]
    return {"outputs": {name: os.environ.get(name) for name in names}}


def chatty(payload: dict[str, Any], attempt_dir: Path) -> dict[str, Any]:
    print("hello on stdout")
    print("hello on stderr", file=sys.stderr)
    subprocess.run(["echo", "from a child process"], check=True)
    return {"outputs": {}}


def raise_value_error(payload: dict[str, Any], attempt_dir: Path) -> dict[str, Any]:
    raise ValueError(f"bad value: {payload.get('x')}")


def raise_non_retryable(payload: dict[str, Any], attempt_dir: Path) -> dict[str, Any]:
    raise NonRetryableError("the input file is empty")


def exit_zero(payload: dict[str, Any], attempt_dir: Path) -> dict[str, Any]:
    os._exit(0)


def exit_three(payload: dict[str, Any], attempt_dir: Path) -> dict[str, Any]:
    os._exit(3)


def segfault(payload: dict[str, Any], attempt_dir: Path) -> dict[str, Any]:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core file in the attempt directory
    ctypes.string_at(0)
    return {"outputs": {}}


def wait_for_release(payload: dict[str, Any], attempt_dir: Path) -> dict[str, Any]:
    """Run until the test creates ``release`` in the attempt directory; record the interval run."""
    started = time.time()
    _wait_for(attempt_dir / "release")
    return {"outputs": {"started": started, "finished": time.time(), "pid": os.getpid()}}


def sleep_briefly(payload: dict[str, Any], attempt_dir: Path) -> dict[str, Any]:
    started = time.time()
    time.sleep(float(payload.get("seconds", 0.2)))
    return {"outputs": {"started": started, "finished": time.time()}}


def grandchild_then_wait(payload: dict[str, Any], attempt_dir: Path) -> dict[str, Any]:
    """Start a ``sleep`` grandchild, tell the test its pid, then wait to be aborted."""
    child = subprocess.Popen(["sleep", "60"])
    _publish(attempt_dir / "grandchild.pid", str(child.pid))
    _wait_for(attempt_dir / "release")
    child.kill()
    child.wait()
    return {"outputs": {}}


def daemon_then_wait(payload: dict[str, Any], attempt_dir: Path) -> dict[str, Any]:
    """Start a ``sleep`` in a session of its own (out of the attempt's process group), then wait."""
    daemon = subprocess.Popen(["sleep", "60"], start_new_session=True)
    _publish(attempt_dir / "daemon.pid", str(daemon.pid))
    _wait_for(attempt_dir / "release")
    daemon.kill()
    daemon.wait()
    return {"outputs": {}}


def ignore_sigterm(payload: dict[str, Any], attempt_dir: Path) -> dict[str, Any]:
    """Ignore SIGTERM, so only the SIGKILL escalation can stop it."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _publish(attempt_dir / "ready", "")
    _wait_for(attempt_dir / "release")
    return {"outputs": {}}


def _publish(path: Path, text: str) -> None:
    """Write a file the test polls for, so that it never sees it half-written."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _wait_for(path: Path) -> None:
    deadline = time.monotonic() + _WAIT_LIMIT
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} never appeared")
        time.sleep(0.01)
