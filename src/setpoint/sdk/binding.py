"""Turn what a workflow body passes to a call into a `Binding` of the spec.

A value passed to a task (or a gate, a branch, a launch plan, a workflow's return) is a promise,
a constant, or a list/dict mixing the two. The compiler, `conditional`, the gates and launch
plans all bind values the same way, so the rule lives here, below all of them: it knows the
placeholder values (`setpoint.sdk.promise`) and the spec, and nothing that builds nodes.

The SDK imports `setpoint.types` inside functions: it is what a workflow body needs once it is
compiled, and `import setpoint` (every CLI command, every worker) should not pay for the type
engine up front. These are the SDK's only function-level imports.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from setpoint.errors import SpecError, TypeMismatchError
from setpoint.sdk.promise import Condition, NodeGroup, NodeHandle, NoValue, Outputs, Promise, placeholder_in
from setpoint.spec.workflow import Binding

if TYPE_CHECKING:
    from setpoint.types import LiteralContext


def type_hints(fn: Any, where: str) -> dict[str, Any]:
    """A function's resolved annotations, or a `SpecError` naming ``where`` when one does not resolve."""
    from setpoint.types.engine import function_hints  # lazily: start-up cost, see above

    return function_hints(fn, where=where)  # also reads `-> (a, b)`, as flytekit does


def to_binding(value: Any, py_type: Any, where: str) -> Binding:
    """Turn what the user passed to a task call into a binding (constants become literals)."""
    if isinstance(value, Promise):
        return promise_binding(value)
    if isinstance(value, NoValue):
        value.no_value()
    if isinstance(value, Condition):
        raise TypeMismatchError(f"{where}: a condition cannot be passed as a value; use conditional()")
    if isinstance(value, NodeHandle | NodeGroup):
        raise TypeMismatchError(f"{where}: got the result of node '{value.node_id}', which has no outputs")
    if isinstance(value, Outputs):
        raise TypeMismatchError(
            f"{where}: got the result of node '{value._node_id}', which has several outputs "
            f"({', '.join(value._names)}); pick one by name"
        )
    if contains_promise(value):
        origin = typing.get_origin(py_type)
        args = typing.get_args(py_type)
        if isinstance(value, list | tuple):
            item_t = args[0] if origin is list and args else None
            return Binding(items=tuple(to_binding(v, item_t, f"{where}[{i}]") for i, v in enumerate(value)))
        if isinstance(value, Mapping):
            val_t = args[1] if origin is dict and len(args) == 2 else None
            return Binding(entries=tuple((str(k), to_binding(v, val_t, f"{where}.{k}")) for k, v in value.items()))
        raise TypeMismatchError(f"{where}: a {type(value).__name__} containing promises cannot be bound")
    described = placeholder_in(value)
    if described is not None:
        raise SpecError(
            f"{where}: this text was made from {described} by string formatting (an f-string, str.format, "
            f"str() or %) while the workflow was compiled, so it holds a placeholder, not the value: "
            f"{described} is only known when the workflow runs; pass it to a task and format it there"
        )
    if py_type is None:
        raise TypeMismatchError(f"{where}: cannot tell the type of constant {value!r}")
    from setpoint.types import LiteralContext, to_literal  # lazily: start-up cost, see sdk/binding.py

    return Binding.const(to_literal(value, py_type, LiteralContext(blobs=None, workdir=None), where=where))


def promise_binding(p: Promise) -> Binding:
    """Where a promise's value comes from, with its path into that value."""
    if isinstance(p._binding, Binding):
        base = p._binding
    elif p._node_id is None:
        base = Binding.from_input(p._name)
    else:
        base = Binding.from_node(p._node_id, p._name)
    return base.at(*p._path)


def contains_promise(value: Any) -> bool:
    if isinstance(value, Promise | NodeHandle | NodeGroup | Outputs):
        return True
    if isinstance(value, list | tuple):
        return any(contains_promise(v) for v in value)
    if isinstance(value, Mapping):
        return any(contains_promise(v) for v in value.values())
    return False


def dynamic_binding(value: Any, py_type: Any, where: str, ctx: LiteralContext) -> Binding:
    """Bind what a @dynamic body returns: promises wire as usual, real values become literals
    stored through the running task's context (they may be files or blobs)."""
    if contains_promise(value):
        return to_binding(value, py_type, where)
    from setpoint.types import to_literal  # lazily: start-up cost, see sdk/binding.py

    return Binding.const(to_literal(value, py_type, ctx, where=where))
