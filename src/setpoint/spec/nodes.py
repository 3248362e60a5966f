"""`NodeSpec`: one node of a workflow, with its kind and typed config (`setpoint.spec.configs`).

The JSON form is what spec digests are computed from, so it must not change by a byte: a node
built by the compiler writes its config's `to_json`, and a node read from JSON keeps the config
document it was read from (`config_json`) and writes that back, so hand-written documents (an
int where the compiler writes a float, a key left at its default) keep their digest too.

Parsing here checks the shape of one node; what its inputs must be depends on the rest of the
workflow and is checked by `setpoint.spec.validate`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from setpoint.errors import SpecError
from setpoint.spec.bindings import Binding
from setpoint.spec.configs import (
    CONFIG_TYPES,
    NODE_KINDS,
    ApproveGate,
    ConfigView,
    NodeConfig,
    NodeKind,
    SignalGate,
    parse_config,
)
from setpoint.spec.model import NODE_ID_RE, check_name


@dataclass(frozen=True, slots=True)
class NodeSpec:
    id: str
    task: str  # key into WorkflowSpec.tasks ("" for nodes that run no task)
    inputs: tuple[tuple[str, Binding], ...] = ()
    after: tuple[str, ...] = ()  # explicit ordering edges with no data (a >> b)
    kind: NodeKind = NodeKind.TASK
    config: NodeConfig | None = None  # one type per kind (None for a task node)
    case_of: tuple[str, int] | None = None  # runs only if branch case_of[0] takes case case_of[1]
    # The config document this node was read from, written back as it was (see the module docstring).
    config_json: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        # Coerce what callers that predate the typed form pass: a kind string, a config dict.
        kind = self.kind
        if not isinstance(kind, NodeKind):
            if kind not in NODE_KINDS:
                raise SpecError(f"node '{self.id}': unknown node kind {kind!r}")
            object.__setattr__(self, "kind", kind := NodeKind(kind))
        config = self.config
        if isinstance(config, Mapping) and not isinstance(config, ConfigView):
            object.__setattr__(self, "config", parse_config(kind, config, f"node '{self.id}'"))
            if self.config_json is None:
                object.__setattr__(self, "config_json", config)
        elif not isinstance(config, CONFIG_TYPES[kind]):
            raise SpecError(f"node '{self.id}': a {kind} node cannot have a {type(config).__name__} config")

    @property
    def signal_gate(self) -> ApproveGate | SignalGate | None:
        """The config of a gate that waits for a signal (an approval or a value); None for any other node."""
        return self.config if isinstance(self.config, ApproveGate | SignalGate) else None

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
            "kind": self.kind.value,
            "task": self.task,
            "inputs": {n: b.to_json() for n, b in self.inputs},
        }
        if self.after:
            out["after"] = list(self.after)
        if self.config_json is not None:
            out["config"] = dict(self.config_json)
        elif self.config is not None:
            out["config"] = self.config.to_json()
        if self.case_of is not None:
            out["case_of"] = list(self.case_of)
        return out

    @staticmethod
    def from_json(data: Any, where: str, *, workflow: str | None = None) -> NodeSpec:
        """Read one node; ``workflow`` names the workflow in the config's error messages."""
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
        raw = data.get("config")
        if raw is not None and not isinstance(raw, Mapping):
            raise SpecError(f"{where}: 'config' must be an object")
        config_where = f"workflow '{workflow}', {where}" if workflow is not None else where
        config = parse_config(NodeKind(kind), raw, config_where)
        case_of = data.get("case_of")
        if case_of is not None:
            if not (isinstance(case_of, list) and len(case_of) == 2 and isinstance(case_of[1], int)):
                raise SpecError(f"{where}: 'case_of' must be [branch node id, case index]")
            case_of = (check_name(case_of[0], f"branch node id in {where}", pattern=NODE_ID_RE), case_of[1])
        return NodeSpec(
            kind=NodeKind(kind),
            config=config,
            config_json=raw,
            case_of=case_of,
            id=node_id,
            task=task,
            inputs=tuple(
                (check_name(n, f"input name in {where}"), Binding.from_json(b, f"{where}.inputs.{n}"))
                for n, b in ins.items()
            ),
            after=tuple(check_name(a, f"node id in {where}.after", pattern=NODE_ID_RE) for a in after),
        )
