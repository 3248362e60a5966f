"""`conditional(...)`: branch on workflow inputs or upstream outputs, decided when the workflow runs.

    result = (
        conditional("size")
        .if_((n > 100) & (n < 1000)).then(big(n=n))
        .elif_(n <= 100).then(small(n=n))
        .else_().fail("n is too large")
    )

Python evaluates ``.if_(...)`` before the argument of ``.then(...)``, so ``if_`` opens a scope
and every node created until ``then`` runs only when that case is taken. The branch node
evaluates the conditions once its operands exist and records the case it took; the nodes of the
other cases end SKIPPED. ``result`` is bound to whichever case ran; every case must produce the
same types, and using the result of a conditional with no ``else_`` is a compile-time error.
"""

from __future__ import annotations

from typing import Any, NoReturn

from setpoint.errors import SpecError, UserError
from setpoint.sdk.binding import to_binding
from setpoint.sdk.context import building, current_builder
from setpoint.sdk.promise import Condition, NodeGroup, NodeHandle, NoValue, Outputs, Promise, as_condition, type_of
from setpoint.spec.bindings import show_path
from setpoint.spec.branch import OTHERWISE_FAIL, OTHERWISE_NONE
from setpoint.spec.types import TypeRef
from setpoint.spec.workflow import Binding, BranchConfig, NodeKind, NodeSpec


class conditional:
    def __new__(cls, name: str) -> Any:
        builder = current_builder()
        if builder is None or builder.in_process:  # a workflow called directly: decide with the values in hand
            return _LocalConditional(name)
        return super().__new__(cls)

    def __init__(self, name: str) -> None:
        builder = current_builder()
        if builder is None:  # pragma: no cover - __new__ returned a _LocalConditional
            raise SpecError("conditional() can only be used inside a @workflow body")
        self._builder = builder
        self.id = builder.new_node_id(name)
        self._conditions: list[dict[str, Any]] = []
        self._operands: list[tuple[str, Binding]] = []
        self._results: list[Any] = []
        self._otherwise = OTHERWISE_NONE
        self._message = ""
        self._index = len(builder.nodes)
        builder.nodes.append(self._node())

    # -- building ------------------------------------------------------------------------------
    def _operand(self, value: Any) -> dict[str, Any]:
        if isinstance(value, Promise):
            name = f"c{len(self._operands)}"
            self._operands.append((name, to_binding(value, None, f"branch '{self.id}', operand")))
            return {"ref": name}
        if value is None or isinstance(value, bool | int | float | str):
            return {"const": value}
        raise SpecError(
            f"branch '{self.id}': conditions compare workflow values with numbers, strings, booleans or None; "
            f"got {type(value).__name__}"
        )

    def _expr(self, cond: Condition) -> dict[str, Any]:
        if cond.op in ("and", "or"):
            return {"op": cond.op, "args": [self._expr(c) for c in cond.operands]}
        if cond.op in ("is_none", "truthy"):
            return {"op": cond.op, "arg": self._operand(cond.operands[0])}
        left, right = cond.operands
        return {"op": cond.op, "left": self._operand(left), "right": self._operand(right)}

    def _node(self) -> NodeSpec:
        return NodeSpec(
            id=self.id,
            task="",
            kind=NodeKind.BRANCH,
            inputs=tuple(self._operands),
            config=BranchConfig(tuple(self._conditions), self._otherwise, self._message),
            case_of=self._builder.scope(),
        )

    def _open(self, cond: Any) -> _Then:
        if self._otherwise != OTHERWISE_NONE or (self._conditions and self._conditions[-1]["op"] == "true"):
            raise SpecError(f"branch '{self.id}': no case can follow else_()")
        self._conditions.append(self._expr(as_condition(cond)) if cond is not True else {"op": "true"})
        self._builder.nodes[self._index] = self._node()
        self._builder.push_scope((self.id, len(self._conditions) - 1))
        return _Then(self)

    def if_(self, cond: Any) -> _Then:
        if self._conditions:
            raise SpecError(f"branch '{self.id}': if_() comes first; use elif_() for further cases")
        return self._open(cond)

    def _close(self, result: Any) -> None:
        self._builder.pop_scope((self.id, len(self._conditions) - 1))
        self._results.append(result)
        self._builder.nodes[self._index] = self._node()

    def result(self) -> Any:
        """The conditional's value: bound at run time to the outputs of the case that ran."""
        shapes = {_shape(r) for r in self._results}
        if len(shapes) > 1:
            raise SpecError(
                f"branch '{self.id}': every case must return the same kind of result "
                "(a single output, the same named outputs, or nothing)"
            )
        first = self._results[0] if self._results else None
        cases = len(self._conditions)

        def select(name: str) -> Binding:
            per_case: list[Binding | None] = []
            for r in self._results:
                value = r if isinstance(r, Promise) else getattr(r, name)
                per_case.append(to_binding(value, None, f"branch '{self.id}', output '{name}'"))
            per_case += [None] * (cases - len(per_case))
            return Binding(select=(self.id, tuple(per_case)))

        ids = tuple(n.id for n in self._builder.nodes[self._index :])  # the branch and its cases' nodes
        if isinstance(first, Promise):
            return _Result(self, "o0", type_of(first), select("o0"), ids)
        if isinstance(first, Outputs):
            promises: dict[str, Promise] = {
                n: _Result(self, n, type_of(p), select(n), ids) for n, p in zip(first._names, first, strict=True)
            }
            return Outputs(self.id, promises, nodes=ids, builder=self._builder)
        return NodeGroup(self.id, ids, self._builder)

    def elif_(self, cond: Any) -> _Then:
        return self._open(cond)

    def else_(self) -> _Else:
        return _Else(self)


class _Then:
    def __init__(self, c: conditional) -> None:
        self._c = c

    def then(self, result: Any) -> _Chain:
        self._c._close(result)
        return _Chain(self._c)


class _Chain(NoValue):
    """After a ``then``: continue with ``elif_``/``else_``, or use it as the (else-less) result."""

    def __init__(self, c: conditional) -> None:
        self._c = c

    def no_value(self) -> NoReturn:
        raise SpecError(
            f"the result of branch '{self._c.id}' is used, but the branch has no else_(): when no case "
            "matches there is no value; add .else_().then(...) or .else_().fail(...)"
        )

    def elif_(self, cond: Any) -> _Then:
        return self._c.elif_(cond)

    def else_(self) -> _Else:
        return self._c.else_()

    def __getattr__(self, name: str) -> NoReturn:
        self.no_value()


class _Else:
    """After ``else_()``: the default case is open already, so the nodes its ``then(...)`` argument
    builds (Python evaluates the argument before calling ``then``) land in that case, not before
    the branch, where they would run whichever case is taken."""

    def __init__(self, c: conditional) -> None:
        self._c = c
        c._open(True)

    def then(self, result: Any) -> Any:
        self._c._close(result)
        self._c._otherwise = OTHERWISE_FAIL
        self._c._builder.nodes[self._c._index] = self._c._node()
        return self._c.result()

    def fail(self, message: str) -> Any:
        c = self._c
        c._builder.pop_scope((c.id, len(c._conditions) - 1))  # no default case after all: close it unused
        c._conditions.pop()
        c._otherwise = OTHERWISE_FAIL
        c._message = str(message)
        c._builder.nodes[c._index] = c._node()
        return c.result()


class _Result(Promise):
    def __init__(self, c: conditional, name: str, t: TypeRef, binding: Binding, nodes: tuple[str, ...]) -> None:
        super().__init__(None, name, t, c._builder, binding=binding, nodes=nodes)
        self._branch = c.id

    def _describe(self) -> str:
        return f"the result of branch '{self._branch}'" + (f" at {show_path(self._path)}" if self._path else "")

    def _step(self, step: str | int) -> Promise:
        part = super()._step(step)
        result = _Result.__new__(_Result)
        result.__dict__.update(part.__dict__, _branch=self._branch)
        return result


def _shape(r: Any) -> Any:
    if isinstance(r, Promise):
        return "single"
    if isinstance(r, Outputs):
        return tuple(r._names)
    if r is None or isinstance(r, NodeHandle | NodeGroup):
        return "none"
    return type(r).__name__


# -- a workflow called directly: decided on the values in hand -------------------------------------


class BranchFailed(UserError):
    """``.fail(message)`` reached when a workflow with a conditional is called directly."""


class _LocalConditional:
    """``conditional(...)`` outside a workflow being compiled: the first true case's calls run."""

    def __init__(self, name: str) -> None:
        self.id = name
        self._taken = False  # a case was chosen
        self._current = False  # the open case is the chosen one
        self._value: Any = None
        self._skip: Any = None  # the throw-away builder context of an untaken case
        self._cases = 0

    def _open(self, cond: Any) -> _LocalThen:
        if self._skip is not None:
            raise SpecError(f"branch '{self.id}': a case is still open (then() was not called)")
        self._cases += 1
        chosen = not self._taken and _truth(self.id, cond)
        self._current = chosen
        if chosen:
            self._taken = True
        else:
            self._skip = building(_skipping_builder(self.id))
            self._skip.__enter__()
        return _LocalThen(self)

    def _close(self, result: Any) -> None:
        if self._skip is not None:
            self._skip.__exit__(None, None, None)
            self._skip = None
        elif self._current:
            self._value = result

    def if_(self, cond: Any) -> _LocalThen:
        if self._cases:
            raise SpecError(f"branch '{self.id}': if_() comes first; use elif_() for further cases")
        return self._open(cond)

    def elif_(self, cond: Any) -> _LocalThen:
        return self._open(cond)

    def else_(self) -> _LocalElse:
        return _LocalElse(self)


def _skipping_builder(name: str) -> Any:
    """A builder whose calls do nothing: the calls written in a case that is not taken."""
    from setpoint.sdk.compiler import Builder  # lazily: the compiler imports this module

    class Skipping(Builder):
        in_process = True

        def add_task_node(self, task: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            return _Skipped()

        def add_map_node(self, mt: Any, mapped: dict[str, Any]) -> Any:
            return _Skipped()

        def add_subworkflow(self, wf: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            return _Skipped()

        def override(self, entity: Any, overrides: dict[str, Any]) -> None:
            return None

        def add_order(self, before: str, after: str) -> None:
            return None

    return Skipping(f"{name}-skipped")


class _Skipped:
    """What a call in an untaken case returns in-process: nothing ran, anything may be asked of it."""

    def __getattr__(self, name: str) -> _Skipped:
        if name.startswith("__"):
            raise AttributeError(name)
        return self

    def __getitem__(self, key: Any) -> _Skipped:
        return self

    def __rshift__(self, other: Any) -> Any:
        return other

    def __iter__(self) -> Any:
        return iter(())


def _truth(name: str, cond: Any) -> bool:
    if isinstance(cond, Condition):  # pragma: no cover - promises exist only while compiling
        raise SpecError(f"branch '{name}': a condition on promises outside a workflow being compiled")
    return bool(cond)


class _LocalThen:
    def __init__(self, c: _LocalConditional) -> None:
        self._c = c

    def then(self, result: Any) -> _LocalChain:
        self._c._close(result)
        return _LocalChain(self._c)


class _LocalChain:
    """After a ``then`` in-process: further cases, or (no else_) nothing to use as a value."""

    def __init__(self, c: _LocalConditional) -> None:
        self._c = c

    def elif_(self, cond: Any) -> _LocalThen:
        return self._c.elif_(cond)

    def else_(self) -> _LocalElse:
        return self._c.else_()


class _LocalElse:
    def __init__(self, c: _LocalConditional) -> None:
        self._c = c
        c._open(True)

    def then(self, result: Any) -> Any:
        self._c._close(result)
        return self._c._value

    def fail(self, message: str) -> Any:
        c = self._c
        c._close(None)
        if c._current:  # no case matched
            raise BranchFailed(f"branch '{c.id}': {message}")
        return c._value
