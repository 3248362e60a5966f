"""Executions are born in one place (`setpoint.service.executions`), at the injected clock's time.

Over the in-memory store, with a fixed clock: a run, a relaunch (inputs overridden), a recovery
(succeeded nodes carried over as RECOVERED, each with its event), and the refusal to recover an
execution that did not fail.
"""

from __future__ import annotations

import pytest

from setpoint.core.model import ExecutionConfig, ExecutionMode, ExecutionRecord, NodeRecord
from setpoint.core.phases import ExecutionPhase, NodePhase
from setpoint.errors import UserError
from setpoint.ports import RoundWrite
from setpoint.service import executions
from setpoint.testing.memory_store import InMemoryStore
from tests.e2e import wf_basic


class FixedClock:
    def __init__(self, now: float) -> None:
        self.t = now

    def now(self) -> float:
        return self.t


def test_run_relaunch_and_recover_are_born_at_the_clocks_time() -> None:
    store, clock = InMemoryStore(), FixedClock(1000.0)
    spec = wf_basic.chain.compile()
    first = executions.create(
        store, clock, spec, "c" * 64, {"n": 2}, project="p", config=ExecutionConfig(max_parallelism=2)
    )
    assert (first.created_at, first.updated_at, first.mode, first.phase) == (
        1000.0,
        1000.0,
        ExecutionMode.RUN,
        ExecutionPhase.QUEUED,
    )
    assert store.get_execution(first.id) == first.evolve(version=1), "stored as born (the store numbers versions)"
    assert [(e.phase, e.message) for e in store.events(first.id)] == [("QUEUED", "created")]

    clock.t = 2000.0
    again = executions.relaunch(store, clock, first.id, {"n": 5})
    assert (again.created_at, again.source_id, again.mode, again.inputs) == (
        2000.0,
        first.id,
        ExecutionMode.RELAUNCH,
        {"n": 5},
    )
    assert again.config == first.config and again.spec_digest == first.spec_digest

    with pytest.raises(UserError, match="only FAILED or ABORTED"):
        executions.recover(store, clock, first.id)


def test_recover_carries_succeeded_nodes_with_their_events() -> None:
    store, clock = InMemoryStore(), FixedClock(10.0)
    spec = wf_basic.chain.compile()
    src = executions.create(store, clock, spec, "c" * 64, {"n": 2}, project="p", config=ExecutionConfig())
    done = NodeRecord(src.id, spec.nodes[0].id, NodePhase.SUCCEEDED, attempt=1, outputs={"o0": 1}, finished_at=11.0)
    _finish(store, src.evolve(phase=ExecutionPhase.FAILED, finished_at=12.0), [done])
    clock.t = 20.0
    rec = executions.recover(store, clock, src.id)
    assert (rec.created_at, rec.mode, rec.source_id) == (20.0, ExecutionMode.RECOVER, src.id)
    nodes = {n.node_id: n.phase for n in store.load_nodes(rec.id)}
    assert nodes == {done.node_id: NodePhase.RECOVERED}
    assert ("RECOVERED", done.node_id, f"outputs of {src.id}") in {
        (e.phase, e.node_id, e.message) for e in store.events(rec.id)
    }


def _finish(store: InMemoryStore, execution: ExecutionRecord, nodes: list[NodeRecord]) -> None:
    """Write a finished source execution and its nodes into the fake, as a controller's round would."""
    current = store.get_execution(execution.id)
    store.commit_round(RoundWrite(execution=execution.evolve(version=current.version), nodes=nodes), owner=None)
