"""Recovering a failed execution: which nodes' outputs can be reused, and which must run again.

A recovery is a new execution with the source's pinned spec, code and inputs, whose nodes that
succeeded in the source start out RECOVERED with the source's outputs. The source is never
touched. The plan is pure: it reads the source's node rows and says, per node, what will happen
and why, so `recover --plan` can show it before anything is created.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from setpoint.core.model import CacheStatus, NodeRecord
from setpoint.core.phases import NodePhase
from setpoint.spec.workflow import WorkflowSpec


@dataclass(frozen=True, slots=True)
class PlanItem:
    node_id: str
    action: str  # "reuse" | "run"
    reason: str


def recovery_plan(spec: WorkflowSpec, source_id: str, source_nodes: Mapping[str, NodeRecord]) -> list[PlanItem]:
    plan = []
    for n in spec.nodes:
        rec = source_nodes.get(n.id)
        phase = rec.phase if rec is not None else NodePhase.PENDING
        if rec is not None and phase.is_success:
            how = "recovered" if phase is NodePhase.RECOVERED else "succeeded"
            if rec.cache_status == CacheStatus.HIT:
                how = "was a cache hit"
            plan.append(PlanItem(n.id, "reuse", f"{how} in {source_id} (attempt {rec.attempt})"))
        elif phase is NodePhase.FAILED:
            err = rec.error.message if rec is not None and rec.error else "failed"
            plan.append(PlanItem(n.id, "run", f"failed in {source_id}: {err}"))
        elif phase is NodePhase.ABORTED:
            plan.append(PlanItem(n.id, "run", f"was aborted in {source_id}"))
        elif phase is NodePhase.SKIPPED:
            plan.append(PlanItem(n.id, "run", f"was skipped in {source_id} (an upstream node failed)"))
        else:
            plan.append(PlanItem(n.id, "run", f"never finished in {source_id} ({phase.value.lower()})"))
    return plan


def recovered_nodes(
    execution_id: str, source_id: str, source_nodes: Mapping[str, NodeRecord], now: float
) -> list[NodeRecord]:
    """The RECOVERED rows a recovery execution starts with (one per node that succeeded)."""
    out = []
    for rec in source_nodes.values():
        if not rec.phase.is_success:
            continue
        recovered_from = {"execution": source_id, "node": rec.node_id, "attempt": rec.attempt}
        detail = rec.typed_detail.evolve(recovered_from=recovered_from).to_json()
        out.append(
            NodeRecord(
                execution_id=execution_id,
                node_id=rec.node_id,
                phase=NodePhase.RECOVERED,
                attempt=0,
                inputs=rec.inputs,
                outputs=rec.outputs,
                started_at=now,
                finished_at=now,
                cache_status=rec.cache_status,
                detail=detail,
            )
        )
    return out
