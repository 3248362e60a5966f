"""Placeholders for values that exist only once a workflow runs.

While a `@workflow` body is being compiled, its inputs and every task call's results are
`Promise`s: they record *where* a value will come from (a workflow input or a node's output)
and its type, so the compiler can wire and type-check the DAG. Using one as a real value (in an
``if``, a loop, arithmetic, an f-string) is a mistake the user should hear about immediately.
Comparing promises builds a `Condition` for `conditional(...)`; it lives here, beside the
promises it compares, so that neither this module nor `conditional` has to import the other's user.

A promise's own state is private (``_node_id``, ``_type``, ...): every public attribute name
belongs to the user's value, so ``make().name`` is the field ``name`` of what ``make`` returns,
type-checked now and resolved when it exists (a binding with a path, see spec/bindings.py).
Indexing works the same way: ``xs[0]``, ``d["k"]``, nested as deep as the type goes.

Everything a call returns (a promise, `Outputs`, a `NodeHandle`, a subworkflow's `NodeGroup`)
can be ordered with ``>>`` and given per-node overrides with ``with_overrides(...)``; both only
need the ids of the nodes it stands for, which `nodes_of` finds.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, NoReturn

from setpoint.errors import SpecError, TypeMismatchError
from setpoint.spec.bindings import show_path
from setpoint.spec.types import TypeKind, TypeRef
from setpoint.spec.validate import path_type  # the rule the spec's validation applies to a path


class PromiseAttributeError(TypeMismatchError, AttributeError):
    """An attribute a promised value does not have (a compile-time error that ``hasattr`` understands)."""


class _Entity:
    """Behaviour shared by everything a call returns inside a workflow body: ``>>`` and overrides."""

    _builder: Any

    def _node_ids(self) -> tuple[str, ...]:
        raise NotImplementedError

    def __rshift__(self, other: Any) -> Any:
        order(self, other)
        return other

    def __rrshift__(self, other: Any) -> Any:  # ``x >> self`` where x is not a call's result
        order(other, self)
        return self

    def runs_before(self, other: Any) -> Any:
        """The same as ``self >> other`` (flytekit's spelling)."""
        return self.__rshift__(other)

    def with_overrides(self, **overrides: Any) -> Any:
        """Per-call options: ``retries``, ``timeout``, ``requests``, ``limits``, ``cache``..., ``name``."""
        self._builder.override(self, overrides)
        return self


def nodes_of(value: Any, where: str) -> tuple[str, ...]:
    """The node ids a call's result stands for (for ``>>``); a `SpecError` saying why if none."""
    if isinstance(value, _Entity):
        ids = value._node_ids()
        if ids:
            return ids
        if isinstance(value, Promise):
            raise SpecError(f"{where}: {value._describe()} is not the result of a call, so it cannot be ordered")
    if isinstance(value, Outputs):
        return value._nodes
    what = "None (a call that returns nothing?)" if value is None else type(value).__name__
    raise SpecError(f"{where}: expected the result of a task, subworkflow or node call, got {what}")


def order(before: Any, after: Any) -> None:
    """Make every node of ``after`` wait for every node of ``before`` (``before >> after``)."""
    first = nodes_of(before, "the left side of >>")
    then = nodes_of(after, "the right side of >>")
    builder = before._builder
    for a in then:
        for b in first:
            builder.add_order(b, a)


class NodeHandle(_Entity):
    """What a task call returns when the task has no outputs; usable for ordering (``a >> b``)."""

    def __init__(self, node_id: str, builder: Any) -> None:
        self.node_id = node_id
        self._builder = builder

    def _node_ids(self) -> tuple[str, ...]:
        return (self.node_id,)

    def __repr__(self) -> str:
        return f"<node {self.node_id}>"


class NodeGroup(_Entity):
    """Several nodes that act as one for ordering: a subworkflow call without outputs."""

    def __init__(self, name: str, node_ids: tuple[str, ...], builder: Any) -> None:
        self.node_id = name
        self._ids = node_ids
        self._builder = builder

    def _node_ids(self) -> tuple[str, ...]:
        return self._ids

    def __repr__(self) -> str:
        return f"<subworkflow {self.node_id}>"


class Node(_Entity):
    """What ``create_node(...)`` returns: the call's node, its outputs by name (``.outputs``, ``.o0``)."""

    def __init__(self, result: Any, builder: Any) -> None:
        self._result = result
        self._builder = builder
        if isinstance(result, Outputs):
            self.outputs: dict[str, Promise] = result.outputs
        elif isinstance(result, Promise):
            self.outputs = {"o0": result}
        else:
            self.outputs = {}

    def _node_ids(self) -> tuple[str, ...]:
        return nodes_of(self._result, "create_node")

    @property
    def id(self) -> str:
        """The node's id in the workflow (a subworkflow's: its prefix)."""
        ids = self._node_ids()
        return ids[0] if len(ids) == 1 else str(getattr(self._result, "node_id", getattr(self._result, "_node_id", "")))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        outputs = self.__dict__.get("outputs", {})
        if name in outputs:
            return outputs[name]
        raise PromiseAttributeError(
            f"node '{self.id}' has no output '{name}' (outputs: {', '.join(outputs) or 'none'})"
        )

    def __repr__(self) -> str:
        return f"<node {self.id}>"


class LocalNode:
    """``create_node(...)`` outside a workflow being compiled: the call has run; its outputs by name."""

    def __init__(self, result: Any) -> None:
        if result is None:
            self.outputs: dict[str, Any] = {}
        elif isinstance(result, tuple) and hasattr(result, "_fields"):
            self.outputs = dict(zip(result._fields, result, strict=True))
        elif isinstance(result, tuple):
            self.outputs = {f"o{i}": v for i, v in enumerate(result)}
        else:
            self.outputs = {"o0": result}

    def __getattr__(self, name: str) -> Any:
        outputs = self.__dict__.get("outputs", {})
        if name in outputs:
            return outputs[name]
        raise AttributeError(f"the node has no output '{name}' (outputs: {', '.join(outputs) or 'none'})")

    def __rshift__(self, other: Any) -> Any:
        return other  # already run, in order

    def with_overrides(self, **overrides: Any) -> LocalNode:
        return self


PLACEHOLDER_OPEN = "\u27eapromise: "  # ⟪promise: ... ⟫
PLACEHOLDER_CLOSE = "\u27eb"
_PLACEHOLDER = re.compile(re.escape(PLACEHOLDER_OPEN) + r"(.*?)" + re.escape(PLACEHOLDER_CLOSE))


def placeholder_in(value: Any) -> str | None:
    """The promise a constant's text was made from (its description), or None: searched in strings,
    lists, tuples and dict keys and values."""
    if isinstance(value, str):
        m = _PLACEHOLDER.search(value)
        return m.group(1) if m else None
    if isinstance(value, list | tuple):
        return next((d for v in value if (d := placeholder_in(v)) is not None), None)
    if isinstance(value, Mapping):
        return next((d for kv in value.items() for v in kv if (d := placeholder_in(v)) is not None), None)
    return None


class Promise(_Entity):
    """A typed reference to a workflow input (no node) or to one output of a node, maybe a part of it."""

    def __init__(
        self,
        node_id: str | None,
        name: str,
        type_: TypeRef,
        builder: Any,
        *,
        binding: Any = None,
        path: tuple[str | int, ...] = (),
        nodes: tuple[str, ...] | None = None,
    ) -> None:
        self._node_id = node_id
        self._name = name
        self._type = type_
        self._builder = builder
        self._binding = binding  # a subworkflow's or branch's output: its binding, already rewritten
        self._path = path
        self._nodes = nodes if nodes is not None else ((node_id,) if node_id is not None else ())

    def _node_ids(self) -> tuple[str, ...]:
        return self._nodes

    def _describe(self) -> str:
        if self._binding is not None:
            base = f"subworkflow output '{self._name}'"
        elif self._node_id is None:
            base = f"workflow input '{self._name}'"
        else:
            base = f"output '{self._name}' of node '{self._node_id}'"
        return base + (f" at {show_path(self._path)}" if self._path else "")

    def _step(self, step: str | int) -> Promise:
        t = path_type(self._type, (step,), self._describe())
        return Promise(
            self._node_id,
            self._name,
            t,
            self._builder,
            binding=self._binding,
            path=(*self._path, step),
            nodes=self._nodes,
        )

    def _misuse(self, what: str) -> NoReturn:
        raise SpecError(
            f"{self._describe()} is only known when the workflow runs, so it cannot be used in {what} "
            "while the workflow is compiled; pass it to a task and use it there"
        )

    # -- parts of the value: attributes and items -----------------------------------------------
    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("_"):  # Python's protocols (copy, pickle, ...) and our own private state
            raise AttributeError(attr)
        t = self.__dict__.get("_type")
        if t is None:
            raise AttributeError(attr)
        if attr == "type" and not _has_field(t, "type"):
            return t  # the promise's type, for code written before promises kept it private
        if t.kind in (TypeKind.STRUCT, TypeKind.ANY) or (t.is_optional and t.kind is TypeKind.UNION):
            try:
                return self._step(attr)
            except TypeMismatchError as e:
                raise PromiseAttributeError(str(e)) from None
        raise PromiseAttributeError(
            f"{self._describe()} is a {t}, which has no attribute '{attr}'"
            + ("; use [...] for its items" if t.kind in (TypeKind.LIST, TypeKind.DICT) else "")
        )

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, _Entity | Outputs):
            raise SpecError(
                f"{self._describe()}: an index or key must be a constant; a value known only at run time "
                "cannot pick an item while the workflow is compiled (pass both to a task)"
            )
        if isinstance(key, bool) or not isinstance(key, int | str):
            raise TypeMismatchError(
                f"{self._describe()}: index with an int (lists) or a str (dicts), got {type(key).__name__}"
            )
        if isinstance(key, str):
            key = "$" + key if key.startswith("$") else key  # dict keys' literal form (types/context.py)
        return self._step(key)

    # -- misuse: these dunders never return; they raise to tell the user what went wrong ----------
    def __bool__(self) -> bool:  # noqa: PLE0304
        self._misuse("a Python condition (if, while, and, or, not)")

    def __iter__(self) -> Iterator[Any]:
        self._misuse("a Python loop or unpacking")

    def __len__(self) -> int:  # noqa: PLE0303
        self._misuse("len()")

    def __contains__(self, item: Any) -> bool:
        self._misuse("an `in` test")

    # print(promise) while a workflow compiles is common in flytekit programs and harmless: str() gives
    # a placeholder that names the promise. Text holding a placeholder that reaches a task input or an
    # output is refused (sdk/binding.py), so "Hello <promise>" can never run in place of the value.
    # An f-string or str.format is refused at once: its text is meant to be used, not printed.
    def __format__(self, spec: str) -> str:
        self._misuse("string formatting (an f-string or str.format)")

    def __str__(self) -> str:
        return self._text()

    def _text(self) -> str:
        return f"{PLACEHOLDER_OPEN}{self._describe()}{PLACEHOLDER_CLOSE}"

    def __index__(self) -> int:  # noqa: PLE0305
        self._misuse("an index")

    def __float__(self) -> float:
        self._misuse("float()")

    def __int__(self) -> int:
        self._misuse("int()")

    def __add__(self, other: Any) -> Any:
        self._misuse("arithmetic")

    __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = __floordiv__ = __add__
    __mod__ = __rmod__ = __pow__ = __rpow__ = __add__

    def __neg__(self) -> Any:
        self._misuse("arithmetic")

    __pos__ = __abs__ = __invert__ = __neg__

    # -- comparisons build conditions for conditional(...).if_(...) ------------------------------
    def __lt__(self, other: Any) -> Any:
        return Condition("lt", self, other)

    def __le__(self, other: Any) -> Any:
        return Condition("le", self, other)

    def __gt__(self, other: Any) -> Any:
        return Condition("gt", self, other)

    def __ge__(self, other: Any) -> Any:
        return Condition("ge", self, other)

    def __eq__(self, other: object) -> Any:
        return Condition("eq", self, other)

    def __ne__(self, other: object) -> Any:
        return Condition("ne", self, other)

    __hash__ = object.__hash__

    def is_none(self) -> Condition:
        """A condition that holds when the value is None."""
        return Condition("is_none", self)

    def is_true(self) -> Condition:
        """A condition that holds when the (bool) value is True."""
        self._need_bool("is_true()")
        return Condition("eq", self, True)

    def is_false(self) -> Condition:
        """A condition that holds when the (bool) value is False."""
        self._need_bool("is_false()")
        return Condition("eq", self, False)

    def _need_bool(self, what: str) -> None:
        t = self._type
        inner = [a for a in t.args if a.kind is not TypeKind.NONE] if t.kind is TypeKind.UNION else [t]
        if not all(a.kind in (TypeKind.BOOL, TypeKind.ANY) for a in inner):
            raise TypeMismatchError(f"{self._describe()} has type {t}; {what} needs a bool (compare it with ==)")

    def __repr__(self) -> str:
        return f"<promise {self._describe()}: {self._type}>"


def _has_field(t: TypeRef, name: str) -> bool:
    return t.kind is TypeKind.STRUCT and any(n == name for n, _ in t.fields)


def type_of(p: Promise) -> TypeRef:
    """The type of the value a promise stands for."""
    return p._type


class Condition:
    """A comparison or combination of comparisons between promises and constants."""

    def __init__(self, op: str, *operands: Any) -> None:
        self.op = op
        self.operands = operands

    def __and__(self, other: Any) -> Condition:
        return Condition("and", self, as_condition(other))

    def __or__(self, other: Any) -> Condition:
        return Condition("or", self, as_condition(other))

    def __bool__(self) -> bool:
        raise SpecError(
            "a condition on workflow values is only known when the workflow runs; use it in "
            "conditional(...).if_(...), and combine conditions with & and | (not `and` / `or`)"
        )


def as_condition(value: Any) -> Condition:
    if isinstance(value, Condition):
        return value
    if isinstance(value, Promise):
        return Condition("truthy", value)
    raise SpecError(f"expected a condition on workflow values, got {type(value).__name__}")


class NoValue:
    """A compile-time object that looks like a result but has none (a branch without ``else_``).

    Binding one as a task's input calls `no_value`, which raises the reason.
    """

    def no_value(self) -> NoReturn:
        raise NotImplementedError


class Outputs(tuple):  # type: ignore[type-arg]
    """The promises of a call with several outputs; unpacks like the tuple it stands for.

    Output names win over the tuple's own attributes: an output named ``count`` or ``index`` is
    that output, not the tuple method (the methods stay reachable through ``tuple.count(...)``).
    """

    _node_id: str
    _names: tuple[str, ...]
    _nodes: tuple[str, ...]
    _builder: Any

    def __new__(
        cls, node_id: str, promises: dict[str, Promise], *, nodes: tuple[str, ...] | None = None, builder: Any = None
    ) -> Outputs:
        obj = super().__new__(cls, tuple(promises.values()))
        obj._node_id = node_id
        obj._names = tuple(promises)
        obj._nodes = nodes if nodes is not None else (node_id,)
        first = next(iter(promises.values()), None)
        obj._builder = builder if builder is not None else (first._builder if first is not None else None)
        return obj

    def __getattribute__(self, name: str) -> Any:
        if not name.startswith("_"):
            names = tuple.__getattribute__(self, "_names")
            if name in names:
                return self[names.index(name)]
        return tuple.__getattribute__(self, name)

    def __getattr__(self, name: str) -> Promise:
        if name.startswith("_"):
            raise AttributeError(name)
        raise PromiseAttributeError(
            f"node '{self._node_id}' has no output '{name}' (outputs: {', '.join(self._names)})"
        )

    def _node_ids(self) -> tuple[str, ...]:
        return self._nodes

    def __rshift__(self, other: Any) -> Any:
        order(self, other)
        return other

    def runs_before(self, other: Any) -> Any:
        return self.__rshift__(other)

    def with_overrides(self, **overrides: Any) -> Outputs:
        self._builder.override(self, overrides)
        return self

    @property
    def outputs(self) -> dict[str, Promise]:
        """The outputs by name (flytekit's ``node.outputs``)."""
        return dict(zip(self._names, self, strict=True))
