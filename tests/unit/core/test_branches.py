"""Branches: the case a branch takes on its operands, the cases it skips, and ``fail`` when none matches."""

from __future__ import annotations

import pytest

from setpoint.core.phases import ExecutionPhase, NodePhase
from tests.unit.core import workflows as wf
from tests.unit.core.builders import Run, launched_nodes


@pytest.mark.parametrize(
    ("score", "case", "launched", "skipped", "error"),
    [
        (0.95, 0, ["deploy"], ["retrain"], None),
        (0.7, 1, ["retrain"], ["deploy"], None),
        # otherwise: fail; the cases are skipped because their branch did not succeed
        (0.2, None, [], ["deploy", "retrain"], "the score is too low to deploy or retrain"),
    ],
)
def test_a_branch_takes_one_case_in_the_round_its_operand_arrives(
    score: float, case: int | None, launched: list[str], skipped: list[str], error: str | None
) -> None:
    r = Run.of(wf.gatekeeper, {"x": 1})
    r.step()
    d = r.finish("score", {"o0": score})
    branch = r.node("quality")
    assert (branch.outputs or {}).get("case") == case
    assert launched_nodes(d) == launched
    assert [n for n in ("deploy", "retrain") if r.phase(n) is NodePhase.SKIPPED] == skipped
    if error is None:
        assert branch.phase is NodePhase.SUCCEEDED and branch.inputs is not None
    else:
        assert branch.phase is NodePhase.FAILED
        assert branch.error is not None and (branch.error.code, branch.error.message) == ("NoBranchMatched", error)
        assert r.execution.phase is ExecutionPhase.FAILED


def test_the_taken_cases_output_is_the_workflows() -> None:
    r = Run.of(wf.gatekeeper, {"x": 1})
    r.step()
    r.finish("score", {"o0": 0.95})
    r.finish("deploy", {"o0": "deployed 0.95"})
    assert r.execution.phase is ExecutionPhase.SUCCEEDED
    assert r.execution.outputs == {"o0": "deployed 0.95"}  # skipped cases count as done, not as failures
