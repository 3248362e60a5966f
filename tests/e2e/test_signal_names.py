"""Signal names with hyphens (Flyte's spelling) compile, are waited on and released."""

from __future__ import annotations

import pytest

from setpoint.client.embedded import Client
from setpoint.core.phases import ExecutionPhase
from setpoint.errors import SpecError
from setpoint.spec.model import SIGNAL_NAME_RE, check_name
from tests.e2e import wf_signal_names as w
from tests.e2e.test_cache import wait_until

pytestmark = pytest.mark.timeout(120)


def test_hyphens_are_allowed_but_not_everything() -> None:
    assert check_name("approve-final-report", "signal", pattern=SIGNAL_NAME_RE) == "approve-final-report"
    for bad in ("-leading", "has space", "a/b", "x" * 200, "ünïcode"):
        with pytest.raises(SpecError, match="letters, digits, '_' and '-'"):
            check_name(bad, "signal", pattern=SIGNAL_NAME_RE)


def test_a_hyphenated_gate_is_waited_on_and_released(client: Client) -> None:
    spec = w.hyphenated.compile()
    names = {n.signal_gate.name for n in spec.nodes if n.signal_gate is not None}
    assert names == {"extra-amount", "approve-final-report"}
    client.start_controller()
    eid = client.create_execution(w.hyphenated, {"x": 1})
    wait_until(lambda: client.get(eid).phase is ExecutionPhase.RUNNING, "the execution did not start")
    client.signal(eid, "extra-amount", 21)
    client.signal(eid, "approve-final-report", True)
    rec = client.wait(eid, timeout=60)
    assert rec.phase is ExecutionPhase.SUCCEEDED
    assert client.outputs(eid) == {"o0": 42}
