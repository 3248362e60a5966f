"""The default case of a conditional: its nodes run only when it is taken (in-process and through the CLI)."""

from __future__ import annotations

from pathlib import Path

import pytest

from setpoint.client.embedded import Client
from setpoint.core.phases import ExecutionPhase, NodePhase
from tests.e2e import wf_else_case as w
from tests.e2e.cli_util import setpoint

pytestmark = pytest.mark.timeout(120)


def runs(counter: Path) -> int:
    return len(counter.read_text().splitlines()) if counter.exists() else 0


def test_else_case_nodes_are_scoped_to_the_case() -> None:
    spec = w.else_task.compile()
    assert spec.node_map["big"].case_of == ("size", 1)
    assert spec.node_map["small"].case_of == ("size", 0)
    failing = w.else_fails.compile()
    assert failing.node_map["small"].case_of == ("size", 0)


def test_an_untaken_else_case_does_not_run(client: Client, tmp_path: Path) -> None:
    counter = tmp_path / "c"
    rec = client.run(w.else_task, {"n": 4, "counter": str(counter)}, timeout=60)
    assert rec.phase == ExecutionPhase.SUCCEEDED
    assert client.outputs(rec.id) == {"o0": "small 4"}
    assert runs(counter) == 0
    (big,) = [v for v in client.nodes(rec.id) if v.record.node_id == "big"]
    assert big.record.phase == NodePhase.SKIPPED
    rec = client.run(w.else_task, {"n": 40, "counter": str(counter)}, timeout=60)
    assert client.outputs(rec.id) == {"o0": "big 40"}
    assert runs(counter) == 1


def test_recursion_through_the_else_case_stops(client: Client, tmp_path: Path) -> None:
    counter = tmp_path / "c"
    rec = client.run(w.recursive, {"n": 22, "counter": str(counter)}, timeout=90)
    assert rec.phase == ExecutionPhase.SUCCEEDED
    assert client.outputs(rec.id) == {"o0": "small 7"}  # 22 -> 17 -> 12 -> 7
    assert runs(counter) == 3


def test_else_fail_still_fails_when_no_case_matches(client: Client) -> None:
    assert client.outputs(client.run(w.else_fails, {"n": 3}, timeout=60).id) == {"o0": "small 3"}
    rec = client.run(w.else_fails, {"n": 30}, timeout=60)
    assert rec.phase == ExecutionPhase.FAILED
    assert rec.error is not None
    assert "n is too big" in rec.error.message


def test_untaken_else_through_the_cli(home: Path, tmp_path: Path) -> None:
    counter = tmp_path / "c"
    out = setpoint(home, "run", "tests/e2e/wf_else_case.py:recursive", "--n", "12", "--counter", str(counter))
    assert out.returncode == 0, out.stderr
    assert "small 7" in out.stdout
    assert runs(counter) == 1


def test_recursion_without_a_base_case_fails_the_execution_not_the_controller(client: Client) -> None:
    rec = client.run(w.endless, {"n": 0}, timeout=90)
    assert rec.phase == ExecutionPhase.FAILED
    assert rec.error is not None
    assert "nested" in rec.error.message, rec.error.message
    # the controller is still there: the next execution runs
    assert client.run(w.else_task, {"n": 1, "counter": ""}, timeout=60).phase == ExecutionPhase.SUCCEEDED
