"""The birth of an execution record: one pure function every creator calls.

A client's run, a registered workflow or launch plan, a relaunch, a recovery, a schedule's tick
(`setpoint.service.executions`, `setpoint.service.scheduler`) and a launch-plan node's child
(`setpoint.controller.children`) all build their immutable record and the QUEUED event that opens
its history here, at a time their caller read from its injected clock. It lives in the core, below
both the services and the controller, so that there is exactly one place a record is born.
"""

from __future__ import annotations

from typing import Any

from setpoint.core.model import Event, EventKind, ExecutionConfig, ExecutionMode, ExecutionRecord
from setpoint.core.phases import ExecutionPhase
from setpoint.spec.workflow import WorkflowSpec


def new_execution(
    execution_id: str,
    spec: WorkflowSpec | None,
    *,
    project: str,
    code_digest: str,
    inputs: dict[str, Any],
    now: float,
    config: ExecutionConfig | None = None,
    source_id: str | None = None,
    mode: ExecutionMode = ExecutionMode.RUN,
    message: str | None = None,
    workflow: str | None = None,
    spec_digest: str | None = None,
) -> tuple[ExecutionRecord, Event]:
    """The record of a new execution and the QUEUED event that opens its history.

    ``spec`` names the workflow and its digest; a caller holding only those (a registered launch
    plan) gives ``workflow`` and ``spec_digest`` instead.
    """
    record = ExecutionRecord(
        id=execution_id,
        project=project,
        workflow=workflow or (spec.name if spec is not None else ""),
        spec_digest=spec_digest or (spec.digest if spec is not None else ""),
        code_digest=code_digest,
        inputs=inputs,
        created_at=now,
        updated_at=now,
        source_id=source_id,
        mode=mode,
        config=config or ExecutionConfig(),
    )
    if not record.workflow or not record.spec_digest:
        raise ValueError("a new execution needs its workflow's name and spec digest")
    why = message or (f"{mode} of {source_id}" if source_id else "created")
    return record, Event(execution_id, now, EventKind.EXECUTION, ExecutionPhase.QUEUED.value, message=why)
