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

In a workflow called directly in Python (no execution), ``sleep`` returns at once, ``approve``
passes its value through with a `GateWarning`, and ``wait_for_input`` raises: pass the value in
as an input instead.
"""

from __future__ import annotations

import warnings
from datetime import timedelta
from typing import Any

from setpoint.errors import SpecError
from setpoint.sdk.binding import to_binding
from setpoint.sdk.context import current_builder
from setpoint.sdk.promise import NodeHandle, Promise, type_of
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
    if builder.in_process:  # a workflow called directly whose body orders calls with >>
        from setpoint.sdk.compiler import LocalValue

        return LocalValue(None)  # type: ignore[return-value]
    node_id = builder.new_node_id("sleep")
    builder.nodes.append(
        NodeSpec(id=node_id, task="", kind=NodeKind.GATE, config=SleepGate(seconds), case_of=builder.scope())
    )
    return NodeHandle(node_id, builder)


class GateWarning(UserWarning):
    """A gate met outside a running execution (a workflow called directly in Python)."""


def approve(upstream: Any, name: str, timeout: timedelta | float | None = None) -> Any:
    """Let ``upstream`` through once someone approves signal ``name``; rejection fails the gate.

    In a workflow called directly in Python there is nobody to ask: the value passes through at
    once, and a `GateWarning` says so.
    """
    builder = current_builder()
    if builder is None or builder.in_process:
        warnings.warn(
            f"approve('{name}'): no execution to approve in when the workflow is called directly; "
            "the value passes through unapproved (run it with `setpoint run` to wait for approval)",
            GateWarning,
            2,
        )
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
    return Promise(node_id, "o0", type_of(upstream), builder)


def wait_for_input(
    name: str,
    *args: Any,
    timeout: timedelta | float | None = None,
    expected_type: type | None = None,
    type: type | None = None,  # setpoint's own keyword, kept beside flytekit's
) -> Any:
    """A value of ``expected_type`` sent from outside as signal ``name``.

    Both spellings work: flytekit's ``wait_for_input(name, timeout, expected_type)`` (positionally or
    by keyword) and setpoint's ``wait_for_input(name, type, timeout=...)``.
    """
    where = f"wait_for_input('{name}')"
    given_type = [t for t in (expected_type, type) if t is not None]
    for arg in args:
        if isinstance(arg, timedelta | int | float) and not isinstance(arg, bool):
            if timeout is not None:
                raise SpecError(f"{where}: the timeout is given twice")
            timeout = arg
        else:
            given_type.append(arg)
    if len(args) > 2 or len(given_type) > 1:
        raise SpecError(f"{where}: takes a name, a timeout and one type (expected_type=)")
    if not given_type:
        raise SpecError(f"{where}: say the type of the value, e.g. expected_type=int")
    value_type = given_type[0]
    builder = current_builder()
    if builder is None or builder.in_process:
        raise SpecError(
            f"{where} needs a running execution (a value sent with `setpoint signal`); when calling the "
            "workflow directly, pass the value in as an input instead, or run it with `setpoint run`"
        )
    from setpoint.types import type_ref  # lazily: start-up cost, see sdk/binding.py

    t = type_ref(value_type, where=where)
    node_id = builder.new_node_id(name)
    config = SignalGate(name, t, _timeout(timeout, f"{where} timeout"))
    builder.nodes.append(NodeSpec(id=node_id, task="", kind=NodeKind.GATE, config=config, case_of=builder.scope()))
    return Promise(node_id, "o0", t, builder)
