"""Creating executions: run, relaunch, recover.

Every way an execution comes to be (a client's run, a registered workflow or launch plan, a
relaunch, a recovery, a schedule's tick, and a launch-plan node's child in the controller) ends in
the core's pure `new_execution` (`setpoint.core.executions`), which builds the immutable record and
the history line that says why it exists — the one place a record is born — and here in `create`,
which stores the pinned spec, the record, its first event and any nodes it starts with in one
write. The time comes from the injected `Clock`, never from a global. The embedded client calls
these (and so does the server, through it).
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from setpoint.core.executions import new_execution
from setpoint.core.model import Event, EventKind, ExecutionConfig, ExecutionMode, ExecutionRecord, NodeRecord
from setpoint.core.phases import ExecutionPhase
from setpoint.core.recovery import PlanItem, recovered_nodes, recovery_plan
from setpoint.errors import InputError, UserError
from setpoint.ports import Clock, ExecutionStore, NodeReader
from setpoint.spec.canonical import canonical_json
from setpoint.spec.workflow import WorkflowSpec

_ALPHABET = string.ascii_lowercase + string.digits


class SourceStore(ExecutionStore, NodeReader, Protocol):
    """What relaunch and recover read: the source execution and its nodes; and where they write."""


def new_execution_id() -> str:
    return secrets.choice(string.ascii_lowercase) + "".join(secrets.choice(_ALPHABET) for _ in range(11))


def create(
    store: ExecutionStore,
    clock: Clock,
    spec: WorkflowSpec,
    code_digest: str,
    inputs: dict[str, Any],
    *,
    project: str,
    config: ExecutionConfig,
    source_id: str | None = None,
    mode: ExecutionMode = ExecutionMode.RUN,
    nodes: Callable[[str, float], list[NodeRecord]] | None = None,
    message: str | None = None,
    execution_id: str | None = None,
) -> ExecutionRecord:
    """Store the pinned spec and a new execution (with the nodes it starts with) in one write."""
    now = clock.now()
    store.put_spec(spec.digest, canonical_json(spec.to_json()))
    eid = execution_id or new_execution_id()
    record, queued = new_execution(
        eid,
        spec,
        project=project,
        code_digest=code_digest,
        inputs=inputs,
        now=now,
        config=config,
        source_id=source_id,
        mode=mode,
        message=message,
    )
    initial = nodes(eid, now) if nodes is not None else []
    # Nodes an execution starts with (RECOVERED ones) get their event too: the history tells
    # every node's phase, and `setpoint events` shows where each recovered value came from.
    events = [queued] + [
        Event(eid, now, EventKind.NODE, n.phase.value, node_id=n.node_id, message=f"outputs of {source_id}")
        for n in initial
    ]
    store.create_execution(record, events, initial)
    return record


def pinned_spec(store: ExecutionStore, rec: ExecutionRecord) -> WorkflowSpec:
    return WorkflowSpec.from_json(json.loads(store.get_spec(rec.spec_digest)))


def relaunch(
    store: SourceStore, clock: Clock, execution_id: str, inputs: Mapping[str, Any] | None = None
) -> ExecutionRecord:
    """A new execution with the same pinned spec, code and inputs (optionally some inputs changed)."""
    from setpoint.types import literal_from_json_value

    src = store.get_execution(execution_id)
    spec = pinned_spec(store, src)
    merged = dict(src.inputs)
    for name, value in (inputs or {}).items():
        var = spec.interface.input_map.get(name)
        if var is None:
            raise InputError(f"workflow '{spec.name}': unknown input '{name}'")
        merged[name] = literal_from_json_value(value, var.type, where=f"workflow '{spec.name}', input '{name}'")
    return create(
        store,
        clock,
        spec,
        src.code_digest,
        merged,
        project=src.project,
        config=src.config,
        source_id=src.id,
        mode=ExecutionMode.RELAUNCH,
    )


def recover_plan(store: SourceStore, execution_id: str) -> list[PlanItem]:
    """What `recover` would reuse and what it would run again, and why (nothing is created)."""
    src = store.get_execution(execution_id)
    if src.phase not in (ExecutionPhase.FAILED, ExecutionPhase.ABORTED):
        raise UserError(
            f"execution '{execution_id}' is {src.phase.value}; only FAILED or ABORTED executions can be "
            "recovered (use relaunch to run it again)"
        )
    records = {n.node_id: n for n in store.load_nodes(execution_id)}
    return recovery_plan(pinned_spec(store, src), execution_id, records)


def recover(store: SourceStore, clock: Clock, execution_id: str) -> ExecutionRecord:
    """A new execution that reuses every node that succeeded in a failed one and runs the rest."""
    recover_plan(store, execution_id)  # validates the source's phase
    src = store.get_execution(execution_id)
    records = {n.node_id: n for n in store.load_nodes(execution_id)}
    return create(
        store,
        clock,
        pinned_spec(store, src),
        src.code_digest,
        dict(src.inputs),
        project=src.project,
        config=src.config,
        source_id=src.id,
        mode=ExecutionMode.RECOVER,
        nodes=lambda eid, now: recovered_nodes(eid, execution_id, records, now),
    )
