"""`Binding`: how a node input (or a workflow output) gets its value, and its JSON form.

One of a constant literal, a workflow input, an upstream node's output, a list or dict of
bindings, or the case-by-case result of a branch. Shape checks only; whether the types fit is
`setpoint.spec.validate`'s job, since it needs the whole workflow.

Any binding may carry a ``path``: the steps taken into its value once it exists (``make().name``,
``xs[0]``, ``d["k"]``). A step is a string (a struct field, or a dict key in its literal form) or
an integer (a list index). `follow_path` takes the steps on a literal; it is pure, so the core
resolves paths itself, and it stops at an offloaded part (a ``$ref`` it cannot read) and hands
back the rest of the path, which the worker finishes where the blob store is at hand.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from setpoint.errors import SpecError
from setpoint.spec.model import NODE_ID_RE, check_name

# ---------------------------------------------------------------------------------------------
# Bindings: how a node input (or a workflow output) gets its value
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Binding:
    """One of: a constant literal, a workflow input, an upstream output, a list or a dict of bindings."""

    literal: Any = None
    is_literal: bool = False
    input: str | None = None
    node: str | None = None
    output: str | None = None
    items: tuple[Binding, ...] | None = None
    entries: tuple[tuple[str, Binding], ...] | None = None
    select: tuple[str, tuple[Binding | None, ...]] | None = None  # (branch node, one binding per case)
    path: tuple[str | int, ...] = ()  # steps into the value: struct fields / dict keys (str), list indices

    def at(self, *steps: str | int) -> Binding:
        """This binding with ``steps`` appended to its path."""
        return replace(self, path=self.path + steps) if steps else self

    def rebased(self, base: Binding) -> Binding:
        """``base`` followed by this binding's path (used when a binding is rewritten)."""
        return base.at(*self.path)

    @staticmethod
    def const(value: Any) -> Binding:
        return Binding(literal=value, is_literal=True)

    @staticmethod
    def from_input(name: str) -> Binding:
        return Binding(input=name)

    @staticmethod
    def from_node(node: str, output: str) -> Binding:
        return Binding(node=node, output=output)

    def upstream_nodes(self) -> Iterator[str]:
        if self.node is not None:
            yield self.node
        elif self.items is not None:
            for b in self.items:
                yield from b.upstream_nodes()
        elif self.entries is not None:
            for _, b in self.entries:
                yield from b.upstream_nodes()
        elif self.select is not None:
            yield self.select[0]
            for c in self.select[1]:
                if c is not None:
                    yield from c.upstream_nodes()

    def to_json(self) -> dict[str, Any]:
        out = self._base_json()
        if self.path:
            out["path"] = list(self.path)
        return out

    def _base_json(self) -> dict[str, Any]:
        if self.is_literal:
            return {"literal": self.literal}
        if self.input is not None:
            return {"input": self.input}
        if self.node is not None:
            return {"node": self.node, "output": self.output}
        if self.items is not None:
            return {"list": [b.to_json() for b in self.items]}
        if self.entries is not None:
            return {"dict": {k: b.to_json() for k, b in self.entries}}
        if self.select is not None:
            return {
                "select": {
                    "branch": self.select[0],
                    "cases": [None if c is None else c.to_json() for c in self.select[1]],
                }
            }
        raise SpecError("empty binding")

    @staticmethod
    def from_json(data: Any, where: str) -> Binding:
        if not isinstance(data, Mapping) or len(data) == 0:
            raise SpecError(f"{where}: a binding must be an object")
        if "path" in data:
            steps = data["path"]
            if not isinstance(steps, list) or not steps or not all(_is_step(x) for x in steps):
                raise SpecError(f"{where}: 'path' must be a non-empty list of strings and integers")
            rest = {k: v for k, v in data.items() if k != "path"}
            return Binding._from_json(rest, where).at(*steps)
        return Binding._from_json(data, where)

    @staticmethod
    def _from_json(data: Mapping[str, Any], where: str) -> Binding:
        if len(data) == 0:
            raise SpecError(f"{where}: a binding must be an object")
        if "literal" in data:
            return Binding.const(data["literal"])
        if "input" in data:
            return Binding(input=check_name(data["input"], f"workflow input in {where}"))
        if "node" in data:
            return Binding(
                node=check_name(data["node"], f"node id in {where}", pattern=NODE_ID_RE),
                output=check_name(data.get("output"), f"output name in {where}"),
            )
        if "list" in data:
            if not isinstance(data["list"], list):
                raise SpecError(f"{where}: 'list' must be an array")
            return Binding(items=tuple(Binding.from_json(b, f"{where}[{i}]") for i, b in enumerate(data["list"])))
        if "dict" in data:
            if not isinstance(data["dict"], Mapping):
                raise SpecError(f"{where}: 'dict' must be an object")
            return Binding(
                entries=tuple((str(k), Binding.from_json(b, f"{where}.{k}")) for k, b in data["dict"].items())
            )
        if "select" in data:
            sel = data["select"]
            if not isinstance(sel, Mapping) or not isinstance(sel.get("cases"), list):
                raise SpecError(f"{where}: 'select' needs a 'branch' and a list of 'cases'")
            return Binding(
                select=(
                    check_name(sel.get("branch"), f"branch node id in {where}", pattern=NODE_ID_RE),
                    tuple(
                        None if c is None else Binding.from_json(c, f"{where}.cases[{i}]")
                        for i, c in enumerate(sel["cases"])
                    ),
                )
            )
        raise SpecError(f"{where}: unknown binding kind {sorted(data)!r}")


def _is_step(x: Any) -> bool:
    return isinstance(x, str) or (isinstance(x, int) and not isinstance(x, bool))


def show_path(path: tuple[str | int, ...]) -> str:
    """``.name[0]["k"]``-style text for messages (dict keys and fields both show as ``.name``)."""
    return "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in path)


HASHED = "$hashed"  # {"$hashed": {"hash": str, "value": literal}}: see setpoint.types.hashing


def _unhashed(value: Any) -> Any:
    """The value inside a ``$hashed`` wrapper; anything else as it is."""
    while isinstance(value, Mapping) and len(value) == 1 and HASHED in value:
        body = value[HASHED]
        if not (isinstance(body, Mapping) and "value" in body):
            return value
        value = body["value"]
    return value


class PathError(ValueError):
    """A path step that does not exist in the value (a missing key, an index out of range, None)."""


def follow_path(
    value: Any, path: tuple[str | int, ...], *, offloaded: Callable[[Any], bool] | None = None
) -> tuple[Any, tuple[str | int, ...]]:
    """Take ``path``'s steps into a literal; returns (value reached, steps not taken).

    Steps stop early only at a part for which ``offloaded`` is true (a blob reference): the caller
    either reads it and continues, or hands both back. A missing step raises `PathError`. A step
    looks through a ``$hashed`` wrapper (an output with its `HashMethod` hash) into its value.
    """
    for i, step in enumerate(path):
        value = _unhashed(value)
        if offloaded is not None and offloaded(value):
            return value, path[i:]
        done = show_path(path[:i]) or "the value"
        if isinstance(step, int):
            if not isinstance(value, list):
                raise PathError(f"{done} is not a list, so it has no item [{step}]")
            if not -len(value) <= step < len(value):
                raise PathError(f"{done} has {len(value)} items, so it has no item [{step}]")
            value = value[step]
        else:
            if value is None:
                raise PathError(f"{done} is None, so it has no {step!r}")
            if not isinstance(value, Mapping) or step not in value:
                raise PathError(f"{done} has no key or field {step!r}")
            value = value[step]
    return value, ()
