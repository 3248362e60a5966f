"""Control-flow node kinds end to end on the embedded default."""

from __future__ import annotations

import pytest

from setpoint.client import Client
from setpoint.core.phases import ExecutionPhase
from tests.e2e import wf_control as wc

pytestmark = pytest.mark.timeout(120)


def test_nested_subworkflows_run_like_their_in_process_call(client: Client):
    rec = client.run(wc.outer, {"x": 3}, timeout=60)
    assert rec.phase is ExecutionPhase.SUCCEEDED
    assert client.outputs(rec.id) == {"o0": wc.outer(x=3)}
    names = [n.node_id for n in client.nodes(rec.id)]
    assert "nested.prep-1.inc" in names
