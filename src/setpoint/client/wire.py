"""Records as JSON on the wire between `setpoint server` and a remote CLI or client.

The server's public views (``server/models.py``) show inputs and outputs as plain JSON for people
and scripts. A remote `setpoint` CLI needs more: the same records the embedded client returns,
literals intact, so that one rendering code path serves both modes and a remote ``describe``
prints exactly what an embedded one does. These functions turn records into JSON objects and
back; both ends import them, so the two sides cannot drift.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from setpoint.core.model import (
    AttemptRecord,
    CatalogEntry,
    ErrorInfo,
    Event,
    ExecutionConfig,
    ExecutionRecord,
    NodeRecord,
)
from setpoint.core.phases import AttemptPhase, ExecutionPhase, NodePhase
from setpoint.core.recovery import PlanItem
from setpoint.service.lineage import Consumer, LineageNode, Source


def _error(err: ErrorInfo | None) -> dict[str, Any] | None:
    return err.to_json() if err is not None else None


def execution_to_wire(rec: ExecutionRecord) -> dict[str, Any]:
    return {
        "id": rec.id,
        "project": rec.project,
        "workflow": rec.workflow,
        "spec_digest": rec.spec_digest,
        "code_digest": rec.code_digest,
        "inputs": rec.inputs,
        "phase": rec.phase.value,
        "created_at": rec.created_at,
        "updated_at": rec.updated_at,
        "started_at": rec.started_at,
        "finished_at": rec.finished_at,
        "outputs": rec.outputs,
        "error": _error(rec.error),
        "abort_reason": rec.abort_reason,
        "source_id": rec.source_id,
        "mode": rec.mode,
        "config": rec.config.to_json(),
    }


def execution_from_wire(d: dict[str, Any]) -> ExecutionRecord:
    return ExecutionRecord(
        id=d["id"],
        project=d["project"],
        workflow=d["workflow"],
        spec_digest=d["spec_digest"],
        code_digest=d["code_digest"],
        inputs=d["inputs"],
        phase=ExecutionPhase(d["phase"]),
        created_at=d["created_at"],
        updated_at=d["updated_at"],
        started_at=d["started_at"],
        finished_at=d["finished_at"],
        outputs=d["outputs"],
        error=ErrorInfo.from_json(d["error"]),
        abort_reason=d["abort_reason"],
        source_id=d["source_id"],
        mode=d["mode"],
        config=ExecutionConfig.from_json(d["config"]),
    )


def node_to_wire(r: NodeRecord) -> dict[str, Any]:
    return {
        "execution_id": r.execution_id,
        "node_id": r.node_id,
        "phase": r.phase.value,
        "attempt": r.attempt,
        "user_failures": r.user_failures,
        "system_failures": r.system_failures,
        "inputs": r.inputs,
        "outputs": r.outputs,
        "error": _error(r.error),
        "started_at": r.started_at,
        "finished_at": r.finished_at,
        "retry_at": r.retry_at,
        "cache_status": r.cache_status,
        "detail": r.detail,
    }


def node_from_wire(d: dict[str, Any]) -> NodeRecord:
    return NodeRecord(
        execution_id=d["execution_id"],
        node_id=d["node_id"],
        phase=NodePhase(d["phase"]),
        attempt=d["attempt"],
        user_failures=d["user_failures"],
        system_failures=d["system_failures"],
        inputs=d["inputs"],
        outputs=d["outputs"],
        error=ErrorInfo.from_json(d["error"]),
        started_at=d["started_at"],
        finished_at=d["finished_at"],
        retry_at=d["retry_at"],
        cache_status=d["cache_status"],
        detail=d["detail"],
    )


def attempt_to_wire(a: AttemptRecord) -> dict[str, Any]:
    return {
        "execution_id": a.execution_id,
        "node_id": a.node_id,
        "number": a.number,
        "phase": a.phase.value,
        "executor": a.executor,
        "created_at": a.created_at,
        "started_at": a.started_at,
        "finished_at": a.finished_at,
        "error": _error(a.error),
        "abort_reason": a.abort_reason,
    }


def attempt_from_wire(d: dict[str, Any]) -> AttemptRecord:
    return AttemptRecord(
        execution_id=d["execution_id"],
        node_id=d["node_id"],
        number=d["number"],
        phase=AttemptPhase(d["phase"]),
        executor=d["executor"],
        created_at=d["created_at"],
        started_at=d["started_at"],
        finished_at=d["finished_at"],
        error=ErrorInfo.from_json(d["error"]),
        abort_reason=d["abort_reason"],
    )


def event_to_wire(e: Event) -> dict[str, Any]:
    return e.to_json()


def event_from_wire(execution_id: str, d: dict[str, Any]) -> Event:
    return Event(
        execution_id,
        d["ts"],
        d["kind"],
        d["phase"],
        d.get("node"),
        d.get("attempt"),
        d.get("message") or "",
        d["seq"],
    )


def catalog_entry_to_wire(e: CatalogEntry) -> dict[str, Any]:
    return {
        "project": e.project,
        "task": e.task,
        "key": e.key,
        "components": e.components,
        "source_execution": e.source_execution,
        "source_node": e.source_node,
        "source_attempt": e.source_attempt,
        "created_at": e.created_at,
    }


def catalog_entry_from_wire(d: dict[str, Any]) -> CatalogEntry:
    # Outputs stay on the server: listing and evicting never needs them.
    return CatalogEntry(
        d["project"],
        d["task"],
        d["key"],
        d["components"],
        {},
        d["source_execution"],
        d["source_node"],
        d["source_attempt"],
        d["created_at"],
    )


def lineage_from_wire(d: dict[str, Any]) -> LineageNode:
    """The inverse of `LineageNode.to_json`."""
    return LineageNode(
        execution=d["execution"],
        node=d["node"],
        task=d["task"],
        phase=d["phase"],
        attempt=d["attempt"],
        cache_status=d["cache_status"],
        produced_by=d["produced_by"],
        outputs=d["outputs"],
        repeated=d["repeated"],
        inputs=[
            Source(
                input=s["input"],
                value_hash=s["hash"],
                kind=s["kind"],
                node=s["node"],
                output=s["output"],
                workflow_input=s["workflow_input"],
                upstream=[lineage_from_wire(u) for u in s["upstream"]],
            )
            for s in d["inputs"]
        ],
    )


def consumer_from_wire(d: dict[str, Any]) -> Consumer:
    return Consumer(d["value_hash"], d["execution"], d["node"], d["input"], d["depth"])


def plan_item_from_wire(d: dict[str, Any]) -> PlanItem:
    return PlanItem(d["node_id"], d["action"], d["reason"])


def as_dict(obj: Any) -> dict[str, Any]:
    """A dataclass record (`Consumer`, `PlanItem`) as JSON."""
    return dataclasses.asdict(obj)
