"""Branch conditions: a tiny, typed expression language, validated at compile time, evaluated purely.

A branch node compares workflow inputs and upstream outputs (its operands, bound like any node
input and named ``c0``, ``c1``, …) with each other or with constants, combines comparisons with
``and``/``or``, and picks the first case whose condition holds. Expressions are plain JSON:

    {"op": "gt", "left": {"ref": "c0"}, "right": {"const": 100}}
    {"op": "and", "args": [<expr>, <expr>]}
    {"op": "is_none", "arg": {"ref": "c1"}}      {"op": "truthy", "arg": {"ref": "c2"}}
    {"op": "true"}                                 (the else case)
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from setpoint.errors import SpecError, TypeMismatchError
from setpoint.spec.bindings import PathError
from setpoint.spec.types import TypeKind, TypeRef

COMPARISONS = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
ORDERED = frozenset({TypeKind.INT, TypeKind.FLOAT, TypeKind.STR, TypeKind.DATETIME, TypeKind.TIMEDELTA})
COMPARABLE = ORDERED | {TypeKind.BOOL, TypeKind.NONE, TypeKind.ENUM, TypeKind.ANY}
NUMERIC = frozenset({TypeKind.INT, TypeKind.FLOAT})


class Otherwise(enum.StrEnum):
    """What a branch does when no case matches (the value is the spec's JSON form)."""

    FAIL = "fail"  # the branch fails with its message
    NONE = "none"  # nothing runs (allowed only if no output of the branch is used)


OTHERWISE_FAIL = Otherwise.FAIL
OTHERWISE_NONE = Otherwise.NONE


def _operand_type(op: Any, types: Mapping[str, TypeRef], where: str) -> TypeRef | None:
    if not isinstance(op, Mapping):
        raise SpecError(f"{where}: an operand must be {{'ref': name}} or {{'const': value}}")
    if "ref" in op:
        t = types.get(op["ref"])
        if t is None:
            raise SpecError(f"{where}: unknown operand '{op['ref']}'")
        return t
    if "const" in op:
        value = op["const"]
        if value is not None and not isinstance(value, bool | int | float | str):
            raise SpecError(f"{where}: constants in conditions must be numbers, strings, booleans or None")
        return None
    raise SpecError(f"{where}: an operand must be {{'ref': name}} or {{'const': value}}")


def _base(t: TypeRef) -> TypeRef:
    """Optional[T] compares like T (None never satisfies an ordering)."""
    if t.kind is TypeKind.UNION:
        rest = [a for a in t.args if a.kind is not TypeKind.NONE]
        if len(rest) == 1:
            return rest[0]
    return t


def validate_expr(expr: Any, types: Mapping[str, TypeRef], where: str) -> None:
    if not isinstance(expr, Mapping) or "op" not in expr:
        raise SpecError(f"{where}: a condition must be an object with an 'op'")
    op = expr["op"]
    if op == "true":
        return
    if op in ("and", "or"):
        args = expr.get("args")
        if not isinstance(args, list) or len(args) < 2:
            raise SpecError(f"{where}: '{op}' takes at least two conditions")
        for a in args:
            validate_expr(a, types, where)
        return
    if op in ("is_none", "truthy"):
        _operand_type(expr.get("arg"), types, where)
        return
    if op not in COMPARISONS:
        raise SpecError(f"{where}: unknown condition operator {op!r}")
    left = _operand_type(expr.get("left"), types, where)
    right = _operand_type(expr.get("right"), types, where)
    symbol = COMPARISONS[op]
    for t in (left, right):
        if t is not None and _base(t).kind not in COMPARABLE:
            raise TypeMismatchError(f"{where}: cannot compare a value of type {t} with {symbol}")
    if left is not None and right is not None:
        lk, rk = _base(left).kind, _base(right).kind
        if lk != rk and not (lk in NUMERIC and rk in NUMERIC) and TypeKind.ANY not in (lk, rk):
            raise TypeMismatchError(f"{where}: cannot compare {left} {symbol} {right}")
    if op not in ("eq", "ne"):
        for t in (left, right):  # ANY: a value whose type is known only when it exists
            if t is not None and _base(t).kind not in ORDERED | {TypeKind.ANY}:
                raise TypeMismatchError(f"{where}: {t} values have no order; use == or !=")


def _value(op: Mapping[str, Any], values: Mapping[str, Any]) -> Any:
    raw = values[op["ref"]] if "ref" in op else op["const"]
    if isinstance(raw, Mapping) and len(raw) == 1:
        ((tag, body),) = raw.items()
        if tag in ("$datetime", "$timedelta"):
            return body
        if tag == "$float":
            return float(body)
    return raw


def evaluate(expr: Mapping[str, Any], values: Mapping[str, Any]) -> bool:
    """Evaluate a validated condition over operand literals. Pure; None never satisfies an order."""
    op = expr["op"]
    if op == "true":
        return True
    if op == "and":
        return all(evaluate(a, values) for a in expr["args"])
    if op == "or":
        return any(evaluate(a, values) for a in expr["args"])
    if op == "is_none":
        return _value(expr["arg"], values) is None
    if op == "truthy":
        return bool(_value(expr["arg"], values))
    left, right = _value(expr["left"], values), _value(expr["right"], values)
    if op == "eq":
        return bool(left == right)
    if op == "ne":
        return bool(left != right)
    if left is None or right is None:
        return False
    try:
        if op == "lt":
            return bool(left < right)
        if op == "le":
            return bool(left <= right)
        if op == "gt":
            return bool(left > right)
        return bool(left >= right)
    except TypeError:  # operands whose types were known only at run time (ANY) and do not order
        raise PathError(f"cannot compare {left!r} {COMPARISONS[op]} {right!r}") from None


def choose(conditions: list[Any], values: Mapping[str, Any]) -> int:
    """Index of the first case whose condition holds, or -1."""
    for i, cond in enumerate(conditions):
        if evaluate(cond, values):
            return i
    return -1


def describe(expr: Mapping[str, Any]) -> str:
    op = expr["op"]
    if op == "true":
        return "else"
    if op in ("and", "or"):
        return "(" + f" {op} ".join(describe(a) for a in expr["args"]) + ")"
    if op in ("is_none", "truthy"):
        return f"{op}({_show(expr['arg'])})"
    return f"{_show(expr['left'])} {COMPARISONS[op]} {_show(expr['right'])}"


def _show(op: Mapping[str, Any]) -> str:
    return str(op["ref"]) if "ref" in op else repr(op["const"])
