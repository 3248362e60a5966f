"""Gates: nodes that run no task but wait — for a sleep timer, a signal or an approval.

A gate takes no parallelism slot. A sleep asks to be woken when it is due; a signal or approval
wakes the controller itself, so only its optional timeout needs a timer. A rejected approval or a
timeout fails the gate.
"""

from __future__ import annotations

from setpoint.core.model import ErrorInfo, NodeDetail, NodeRecord
from setpoint.core.phases import ErrorKind, NodePhase
from setpoint.core.reconcile.nodes import node_failed
from setpoint.core.reconcile.overlay import ReconcileConfig, Round, resolve_binding
from setpoint.spec.workflow import ApproveGate, NodeSpec, SignalGate, SleepGate


def _gate(spec_node: NodeSpec) -> SleepGate | ApproveGate | SignalGate:
    config = spec_node.config
    if not isinstance(config, SleepGate | ApproveGate | SignalGate):  # validate() rules this out
        raise TypeError(f"node '{spec_node.id}' is not a gate")
    return config


def start_gate(r: Round, node: NodeRecord, spec_node: NodeSpec) -> None:
    config = _gate(spec_node)
    signal = None if isinstance(config, SleepGate) else config.name
    inputs = {name: resolve_binding(b, r.state, r) for name, b in spec_node.inputs}
    started = node.evolve(
        phase=NodePhase.RUNNING,
        inputs=inputs,
        started_at=r.now,
        detail=NodeDetail(gate=config.gate, signal=signal).to_json(),
    )
    what = f"sleeping {config.seconds}s" if isinstance(config, SleepGate) else f"waiting for signal '{signal}'"
    r.set_node(started, what)
    _evaluate_gate(r, started, spec_node)


def check_gates(r: Round, cfg: ReconcileConfig) -> None:
    for node_id in list(r.state.gates):
        node = r.node(node_id)
        if node.phase is NodePhase.RUNNING:
            _evaluate_gate(r, node, r.state.graph.node_map[node_id])


def _evaluate_gate(r: Round, node: NodeRecord, spec_node: NodeSpec) -> None:
    config = _gate(spec_node)
    started = node.started_at if node.started_at is not None else r.now
    if isinstance(config, SleepGate):
        due = started + config.seconds
        if r.now >= due:
            r.set_node(node.evolve(phase=NodePhase.SUCCEEDED, outputs={}, finished_at=r.now), "slept")
        else:
            r.wake_in(due - r.now)
        return
    name = config.name
    if name in r.state.signals:
        value = r.state.signals[name]
        if isinstance(config, ApproveGate):
            if value is True:
                outputs = {"o0": (node.inputs or {}).get("value")}
                r.set_node(node.evolve(phase=NodePhase.SUCCEEDED, outputs=outputs, finished_at=r.now), "approved")
            else:
                error = ErrorInfo(ErrorKind.USER, "Rejected", f"approval '{name}' was rejected", False, node.node_id)
                node_failed(r, node, error)
            return
        r.set_node(node.evolve(phase=NodePhase.SUCCEEDED, outputs={"o0": value}, finished_at=r.now), "received")
        return
    timeout = config.timeout_s
    if timeout is None:
        return  # a signal wakes the controller; no timer needed
    due = started + float(timeout)
    if r.now >= due:
        error = ErrorInfo(
            ErrorKind.USER, "GateTimeout", f"no signal '{name}' arrived within {float(timeout):g}s", False, node.node_id
        )
        node_failed(r, node, error)
    else:
        r.wake_in(due - r.now)
