"""`NodeSpec`: one node of a workflow (a task call, a map, a branch, a gate, a launch plan).

Shape checks only; what a node's inputs must be depends on the rest of the workflow and is
checked by `setpoint.spec.validate`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from setpoint.errors import SpecError
from setpoint.spec.bindings import Binding
from setpoint.spec.model import NODE_ID_RE, check_name

# ---------------------------------------------------------------------------------------------
# Nodes and workflows
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NodeSpec:
    id: str
    task: str  # key into WorkflowSpec.tasks
    inputs: tuple[tuple[str, Binding], ...] = ()
    after: tuple[str, ...] = ()  # explicit ordering edges with no data (a >> b)
    kind: str = "task"  # "task" | "branch"
    config: Mapping[str, Any] | None = None  # kind-specific (a branch's conditions)
    case_of: tuple[str, int] | None = None  # runs only if branch case_of[0] takes case case_of[1]

    @property
    def upstream(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        if self.case_of is not None:
            seen[self.case_of[0]] = None
        for _, b in self.inputs:
            for n in b.upstream_nodes():
                seen[n] = None
        for n in self.after:
            seen[n] = None
        return tuple(seen)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "task": self.task,
            "inputs": {n: b.to_json() for n, b in self.inputs},
        }
        if self.after:
            out["after"] = list(self.after)
        if self.config is not None:
            out["config"] = dict(self.config)
        if self.case_of is not None:
            out["case_of"] = list(self.case_of)
        return out

    @staticmethod
    def from_json(data: Any, where: str) -> NodeSpec:
        if not isinstance(data, Mapping):
            raise SpecError(f"{where}: a node must be an object")
        node_id = check_name(data.get("id"), f"node id in {where}", pattern=NODE_ID_RE)
        where = f"node '{node_id}'"
        kind = data.get("kind", "task")
        if kind not in NODE_KINDS:
            raise SpecError(f"{where}: unknown node kind {kind!r}")
        task = data.get("task")
        if not isinstance(task, str):
            raise SpecError(f"{where}: missing 'task'")
        ins = data.get("inputs", {})
        if not isinstance(ins, Mapping):
            raise SpecError(f"{where}: 'inputs' must be an object")
        after = data.get("after", [])
        if not isinstance(after, list):
            raise SpecError(f"{where}: 'after' must be an array of node ids")
        config = data.get("config")
        if config is not None and not isinstance(config, Mapping):
            raise SpecError(f"{where}: 'config' must be an object")
        case_of = data.get("case_of")
        if case_of is not None:
            if not (isinstance(case_of, list) and len(case_of) == 2 and isinstance(case_of[1], int)):
                raise SpecError(f"{where}: 'case_of' must be [branch node id, case index]")
            case_of = (check_name(case_of[0], f"branch node id in {where}", pattern=NODE_ID_RE), case_of[1])
        return NodeSpec(
            kind=kind,
            config=config,
            case_of=case_of,
            id=node_id,
            task=task,
            inputs=tuple(
                (check_name(n, f"input name in {where}"), Binding.from_json(b, f"{where}.inputs.{n}"))
                for n, b in ins.items()
            ),
            after=tuple(check_name(a, f"node id in {where}.after", pattern=NODE_ID_RE) for a in after),
        )


NODE_KINDS = frozenset({"task", "branch", "map", "gate", "launchplan"})
GATES = ("sleep", "approve", "signal")
