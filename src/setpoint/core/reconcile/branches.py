"""Branches: a node that evaluates its conditions and records the case it takes.

The chosen case is the branch node's output (``case``); nodes under a case that was not taken are
skipped as "not taken", which counts as success for what comes after. No case matching is either
a skip of every case or, with ``otherwise=fail``, the branch's failure.
"""

from __future__ import annotations

from setpoint.core.model import ErrorInfo, NodeRecord
from setpoint.core.phases import ErrorKind, NodePhase
from setpoint.core.reconcile.overlay import Round, resolve_binding
from setpoint.spec.branch import Otherwise, choose, describe
from setpoint.spec.workflow import BranchConfig, NodeSpec


def not_taken(r: Round, case_of: tuple[str, int]) -> bool:
    decided = r.node(case_of[0])
    if decided.phase is NodePhase.SKIPPED:
        return decided.typed_detail.not_taken
    return decided.phase.is_success and (decided.outputs or {}).get("case") != case_of[1]


def decide(r: Round, node: NodeRecord, spec_node: NodeSpec) -> None:
    """Evaluate a branch's conditions on its operands and record the case it takes."""
    operands = {name: resolve_binding(b, r.state, r) for name, b in spec_node.inputs}
    config = spec_node.config
    if not isinstance(config, BranchConfig):  # validate() rules this out
        raise TypeError(f"node '{spec_node.id}' is not a branch")
    conditions = list(config.conditions)
    chosen = choose(conditions, operands)
    if chosen < 0 and config.otherwise is Otherwise.FAIL:
        shown = "; ".join(describe(c) for c in conditions)
        message = config.message or f"no case of branch '{spec_node.id}' matched ({shown})"
        error = ErrorInfo(ErrorKind.USER, "NoBranchMatched", str(message), False, spec_node.id)
        r.set_node(node.evolve(phase=NodePhase.FAILED, inputs=operands, error=error, finished_at=r.now), error.message)
        if r.execution.error is None:
            r.set_execution(r.execution.evolve(error=error))
        return
    taken = f"took case {chosen}: {describe(conditions[chosen])}" if chosen >= 0 else "no case matched"
    r.set_node(
        node.evolve(
            phase=NodePhase.SUCCEEDED,
            inputs=operands,
            outputs={"case": chosen},
            started_at=r.now,
            finished_at=r.now,
        ),
        taken,
    )
