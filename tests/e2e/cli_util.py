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


def setpoint(
    home: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120, check: bool = False
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **FAST_ENV, **(env or {})}
    full_env.pop("SETPOINT_HOME", None)
    proc = subprocess.run(
        [sys.executable, "-m", "setpoint.cli.main", "--home", str(home), *args],
        cwd=REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"setpoint {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def setpoint_json(home: Path, *args: str, **kw: Any) -> Any:
    proc = setpoint(home, *args, "--output", "json", check=True, **kw)
    return json.loads(proc.stdout)
