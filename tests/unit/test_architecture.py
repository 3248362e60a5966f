"""The layering and the public surface, checked so refactors cannot quietly break them."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import setpoint

REPO = Path(__file__).resolve().parents[2]


def test_public_exports_are_pinned() -> None:
    assert sorted(setpoint.__all__) == sorted(
        [
            *("Client", "Cron", "CronSchedule", "Directory", "File", "FixedRate", "LaunchPlan", "NonRetryableError"),
            *("Resources", "SetpointError", "Task", "TaskError", "Workflow", "approve", "conditional", "connect"),
            *("dynamic", "map_task", "sleep", "task", "wait_for_input", "workflow"),
            # the flytekit authoring surface, under setpoint's own names (docs/migrating-from-flyte.md)
            *("Checkpoint", "Deck", "ImageSpec", "OutputLocation", "RecoverableException", "SQLite3Config"),
            *("SQLite3Task", "Secret", "ShellTask", "TaskContext", "TaskMetadata", "create_node"),
            *("current_context", "kwtypes", "reference_launch_plan", "reference_task"),
            *("BatchSize", "HashMethod", "StructuredDataset"),
            *("ImperativeWorkflow", "WorkflowError", "WorkflowFailurePolicy", "eager"),
        ]
    )
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


def test_an_execution_record_is_born_in_one_place() -> None:
    # Every creator calls core.executions.new_execution; decoding a stored or received record
    # (core.wire) builds it from its fields by type, without naming the class in a call.
    src = REPO / "src" / "setpoint"
    born = [
        f"{path.relative_to(src)}:{node.lineno}"
        for path in sorted(src.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", getattr(node.func, "attr", None)) == "ExecutionRecord"
    ]
    assert len(born) == 1, born
    assert born[0].startswith("core/executions.py:"), born
