"""`setpoint run file.py:LAUNCH_PLAN`: the plan's defaults apply, its fixed inputs cannot be changed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.cli_util import setpoint, setpoint_json

pytestmark = pytest.mark.timeout(120)
WF = "tests/e2e/wf_lp_target.py"


def test_a_launch_plan_runs_with_its_default_inputs(home: Path) -> None:
    out = setpoint_json(home, "run", f"{WF}:defaults")
    assert out["execution"]["outputs"] == {"o0": 781}
    out = setpoint_json(home, "run", f"{WF}:defaults", "--y", "2")  # a default can be overridden
    assert out["execution"]["outputs"] == {"o0": 721}


def test_a_launch_plans_fixed_inputs_are_bound_and_cannot_be_given(home: Path) -> None:
    out = setpoint_json(home, "run", f"{WF}:fixed", "--z", "9")
    assert out["execution"]["outputs"] == {"o0": 359}
    refused = setpoint(home, "run", f"{WF}:fixed", "--x", "4")
    assert refused.returncode == 2
    assert "x" in refused.stderr
