"""Run the real `setpoint` command in a subprocess, as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]

FAST_ENV = {"SETPOINT_RETRY_BACKOFF_S": "0.05"}


class RemoteHome(type(Path())):  # type: ignore[misc]
    """A home for a CLI that talks to a `setpoint server` (``--server``) in a project of its own.

    The e2e tests marked ``remote`` get one of these as ``home`` in their second run: the helpers
    below then add the server and project, so the same test body checks both modes.
    """

    server: str
    project: str


def cli_argv(home: Path, *args: str) -> list[str]:
    """The command line of ``setpoint`` on ``home`` (and its server and project, when remote)."""
    argv = [sys.executable, "-m", "setpoint.cli.main", "--home", str(home)]
    if isinstance(home, RemoteHome):
        argv += ["--server", home.server, "--project", home.project]
    return [*argv, *args]


def cli_env(env: dict[str, str] | None = None) -> dict[str, str]:
    full_env = {**os.environ, **FAST_ENV, **(env or {})}
    for name in ("SETPOINT_HOME", "SETPOINT_SERVER", "SETPOINT_TOKEN", "SETPOINT_PROJECT"):
        full_env.pop(name, None)
    return full_env


def setpoint(
    home: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120, check: bool = False
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        cli_argv(home, *args),
        cwd=REPO,
        env=cli_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"setpoint {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def setpoint_json(home: Path, *args: str, **kw: Any) -> dict[str, Any]:  # every JSON output is an object
    proc = setpoint(home, *args, "--output", "json", check=True, **kw)
    out: dict[str, Any] = json.loads(proc.stdout)
    return out
