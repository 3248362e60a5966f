"""Gates: nodes that wait — for time (`sleep`), for a person's approval (`approve`), or for a
typed value sent from outside (`wait_for_input`).

    trained = train(data=data)
    approved = approve(trained, "deploy_ok", timeout=timedelta(hours=24))
    deploy(model=approved)
    threshold = wait_for_input("threshold", float, timeout=timedelta(hours=1))

A waiting execution costs nothing: the controller sets a timer for the gate's deadline and is
woken when a signal is recorded (`setpoint signal <execution> <name> [value]`, or
`Client.signal`). Signals are type-checked against the gate; a timeout fails the gate with a clear
reason; the deadline is counted from when the gate started, as recorded, so a controller
restart does not reset it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from setpoint.errors import SpecError
from setpoint.sdk.binding import to_binding
from setpoint.sdk.context import current_builder
from setpoint.sdk.promise import NodeHandle, Promise
from setpoint.spec.workflow import ApproveGate, NodeKind, NodeSpec, SignalGate, SleepGate


def _seconds(value: timedelta | float, what: str) -> float:
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds < 0:
        raise SpecError(f"{what} must not be negative, got {seconds}")
    return seconds


def _timeout(value: timedelta | float | None, what: str) -> float | None:
    return None if value is None else _seconds(value, what)


def sleep(duration: timedelta | float) -> NodeHandle | None:
    """Wait this long (order it with ``>>``); outside a workflow it returns at once."""
    builder = current_builder()
    seconds = _seconds(duration, "sleep duration")
    if builder is None:
        return None
    node_id = builder.new_node_id("sleep")
    builder.nodes.append(
        NodeSpec(id=node_id, task="", kind=NodeKind.GATE, config=SleepGate(seconds), case_of=builder.scope())
    )
    return NodeHandle(node_id, builder)


def approve(upstream: Any, name: str, timeout: timedelta | float | None = None) -> Any:
    """Let ``upstream`` through once someone approves signal ``name``; rejection fails the gate."""
    builder = current_builder()
    if builder is None:
        return upstream
    if not isinstance(upstream, Promise):
        raise SpecError(f"approve('{name}'): the value to approve must be a task output or a workflow input")
    node_id = builder.new_node_id(name)
    builder.nodes.append(
        NodeSpec(
            id=node_id,
            task="",
            kind=NodeKind.GATE,
            inputs=(("value", to_binding(upstream, None, f"approve('{name}')")),),
            config=ApproveGate(name, _timeout(timeout, f"approve('{name}') timeout")),
            case_of=builder.scope(),
        )
    )
    return Promise(node_id, "o0", upstream.type, builder)


def wait_for_input(name: str, type: type, timeout: timedelta | float | None = None) -> Any:
    """A value of ``type`` sent from outside as signal ``name``."""
    builder = current_builder()
    if builder is None:
        raise SpecError(
            f"wait_for_input('{name}') needs a running execution; when calling the workflow directly, "
            "pass the value in as an input instead"
        )
    from setpoint.types import type_ref  # lazily: start-up cost, see sdk/binding.py

    t = type_ref(type, where=f"wait_for_input('{name}')")
    node_id = builder.new_node_id(name)
    config = SignalGate(name, t, _timeout(timeout, f"wait_for_input('{name}') timeout"))
    builder.nodes.append(NodeSpec(id=node_id, task="", kind=NodeKind.GATE, config=config, case_of=builder.scope()))
    return Promise(node_id, "o0", t, builder)
