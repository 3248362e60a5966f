"""Placeholders for values that exist only once a workflow runs.

While a `@workflow` body is being compiled, its inputs and every task call's results are
`Promise`s: they record *where* a value will come from (a workflow input or a node's output)
and its type, so the compiler can wire and type-check the DAG. Using one as a real value (in an
``if``, a loop, arithmetic) is a mistake the user should hear about immediately. Comparing
promises builds a `Condition` for `conditional(...)`; it lives here, beside the promises it
compares, so that neither this module nor `conditional` has to import the other's user.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NoReturn

from setpoint.errors import SpecError
from setpoint.spec.types import TypeRef


class NodeHandle:
    """What a task call returns when the task has no outputs; usable for ordering (``a >> b``)."""

    def __init__(self, node_id: str, builder: Any) -> None:
        self.node_id = node_id
        self._builder = builder

    def __rshift__(self, other: Any) -> Any:
        node_of(other, "the right side of >>")
        self._builder.add_order(self.node_id, node_of(other, ">>"))
        return other

    def __repr__(self) -> str:
        return f"<node {self.node_id}>"


def node_of(value: Any, where: str) -> str:
    if isinstance(value, NodeHandle):
        return value.node_id
    if isinstance(value, Promise) and value.node_id is not None:
        return value.node_id
    if isinstance(value, Outputs):
        return value.node_id
    raise SpecError(f"{where}: expected the result of a task call, got {type(value).__name__}")


class Promise:
    """A typed reference to a workflow input (``node_id is None``) or to one output of a node."""

    def __init__(self, node_id: str | None, name: str, type_: TypeRef, builder: Any, *, binding: Any = None) -> None:
        self.node_id = node_id
        self.name = name
        self.type = type_
        self._builder = builder
        self.binding = binding  # a subworkflow's output: whatever its binding is, already rewritten

    def describe(self) -> str:
        if self.binding is not None:
            return f"subworkflow output '{self.name}'"
        if self.node_id is None:
            return f"workflow input '{self.name}'"
        return f"output '{self.name}' of node '{self.node_id}'"

    def _misuse(self, what: str) -> NoReturn:
        raise SpecError(
            f"{self.describe()} is only known when the workflow runs, so it cannot be used in {what} "
            "while the workflow is compiled; pass it to a task and use it there"
        )

    # These dunders never return: they raise to tell the user what went wrong.
    def __bool__(self) -> bool:  # noqa: PLE0304
        self._misuse("a Python condition")

    def __iter__(self) -> Iterator[Any]:
        self._misuse("a Python loop")

    def __len__(self) -> int:  # noqa: PLE0303
        self._misuse("len()")

    def __getitem__(self, key: Any) -> Any:
        self._misuse("indexing")

    def __format__(self, spec: str) -> str:
        self._misuse("string formatting")

    def __index__(self) -> int:  # noqa: PLE0305
        self._misuse("an index")

    def __float__(self) -> float:
        self._misuse("float()")

    def __int__(self) -> int:
        self._misuse("int()")

    def __add__(self, other: Any) -> Any:
        self._misuse("arithmetic")

    __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __add__

    # Comparisons build conditions for conditional(...).if_(...); using one as a Python bool raises.
    def __lt__(self, other: Any) -> Any:
        return _compare("lt", self, other)

    def __le__(self, other: Any) -> Any:
        return _compare("le", self, other)

    def __gt__(self, other: Any) -> Any:
        return _compare("gt", self, other)

    def __ge__(self, other: Any) -> Any:
        return _compare("ge", self, other)

    def __eq__(self, other: object) -> Any:
        return _compare("eq", self, other)

    def __ne__(self, other: object) -> Any:
        return _compare("ne", self, other)

    __hash__ = object.__hash__

    def is_none(self) -> Any:
        return Condition("is_none", self)

    def __rshift__(self, other: Any) -> Any:
        if self.node_id is None:
            raise SpecError(f"{self.describe()} cannot be ordered with >>; only task calls can")
        self._builder.add_order(self.node_id, node_of(other, ">>"))
        return other

    def __repr__(self) -> str:
        return f"<promise {self.describe()}: {self.type}>"


def _compare(op: str, left: Any, right: Any) -> Any:
    return Condition(op, left, right)


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
    """The promises of a task with several (NamedTuple) outputs; unpacks like the tuple it stands for."""

    node_id: str
    _names: tuple[str, ...]

    def __new__(cls, node_id: str, promises: dict[str, Promise]) -> Outputs:
        obj = super().__new__(cls, tuple(promises.values()))
        obj.node_id = node_id
        obj._names = tuple(promises)
        return obj

    def __getattr__(self, name: str) -> Promise:
        try:
            return self[self._names.index(name)]  # type: ignore[no-any-return]
        except ValueError:
            raise AttributeError(
                f"node '{self.node_id}' has no output '{name}' (outputs: {', '.join(self._names)})"
            ) from None
