"""The layering and the public surface, checked so refactors cannot quietly break them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import setpoint

REPO = Path(__file__).resolve().parents[2]


def test_public_exports_are_pinned() -> None:
    assert sorted(setpoint.__all__) == [
        "Client",
        "Cron",
        "CronSchedule",
        "Directory",
        "File",
        "FixedRate",
        "LaunchPlan",
        "NonRetryableError",
        "Resources",
        "SetpointError",
        "Task",
        "TaskError",
        "Workflow",
        "approve",
        "conditional",
        "connect",
        "dynamic",
        "map_task",
        "sleep",
        "task",
        "wait_for_input",
        "workflow",
    ]
    for name in setpoint.__all__:
        assert getattr(setpoint, name) is not None


def test_import_has_no_side_effects_and_stays_light() -> None:
    code = "import sys, setpoint; print(','.join(sorted(m for m in ('rich','click','sqlite3','pandas','psutil','fastapi','uvicorn') if m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"importing setpoint pulled in: {out}"


@pytest.mark.timeout(120)
def test_layers_hold() -> None:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert exe, "import-linter is a dev dependency"
    proc = subprocess.run([exe], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout
