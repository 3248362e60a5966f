"""`Binding`: how a node input (or a workflow output) gets its value, and its JSON form.

One of a constant literal, a workflow input, an upstream node's output, a list or dict of
bindings, or the case-by-case result of a branch. Shape checks only; whether the types fit is
`setpoint.spec.validate`'s job, since it needs the whole workflow.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
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
