"""`WorkflowSpec`: a compiled workflow, what an execution pins, and its JSON form.

A spec is pure data, schema-versioned and content-addressed (its digest is the SHA-256 of its
canonical JSON). `WorkflowSpec.from_json` is the only way a spec enters the system from outside,
so it validates everything a hand-written or tampered document could get wrong: unknown nodes,
duplicate ids, cycles, unknown inputs, ill-typed bindings.

The parts live beside this module (`model`: names, interfaces, tasks; `bindings`; `configs`: node
kinds and their typed configs; `nodes`) and the whole-spec checks in `validate`. The names other
modules import from here are re-exported so that `from setpoint.spec.workflow import X` keeps
working.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from setpoint.errors import SpecError
from setpoint.spec.bindings import Binding
from setpoint.spec.canonical import digest as _digest
from setpoint.spec.configs import (
    GATES,
    NODE_KINDS,
    ApproveGate,
    BranchConfig,
    GateKind,
    LaunchPlanConfig,
    MapConfig,
    NodeConfig,
    NodeKind,
    SignalGate,
    SleepGate,
)
from setpoint.spec.model import (
    FAILURE_POLICIES,
    NAME_RE,
    NODE_ID_RE,
    ON_FAILURE_NODE,
    QUALNAME_RE,
    SCHEMA_VERSION,
    CachePolicy,
    FailurePolicy,
    Interface,
    TaskSpec,
    Variable,
    check_name,
    positive_seconds,
)
from setpoint.spec.nodes import NodeSpec
from setpoint.spec.types import TypeKind, TypeRef
from setpoint.spec.validate import binding_type, check_binding, find_cycle, validate

__all__ = [
    "FAILURE_POLICIES",
    "GATES",
    "NAME_RE",
    "NODE_ID_RE",
    "NODE_KINDS",
    "ON_FAILURE_NODE",
    "QUALNAME_RE",
    "SCHEMA_VERSION",
    "ApproveGate",
    "Binding",
    "BranchConfig",
    "CachePolicy",
    "FailurePolicy",
    "GateKind",
    "Interface",
    "LaunchPlanConfig",
    "MapConfig",
    "NodeConfig",
    "NodeKind",
    "NodeSpec",
    "SignalGate",
    "SleepGate",
    "TaskSpec",
    "Variable",
    "WorkflowSpec",
    "binding_type",
    "check_binding",
    "check_name",
    "find_cycle",
    "validate",
]


@dataclass(frozen=True)
class WorkflowSpec:
    name: str
    interface: Interface
    nodes: tuple[NodeSpec, ...]
    outputs: tuple[tuple[str, Binding], ...]
    tasks: Mapping[str, TaskSpec]
    max_parallelism: int = 0  # 0 = the controller's default
    failure_policy: FailurePolicy = FailurePolicy.FAIL_FAST
    deadline_s: float | None = None  # the whole execution must end within this many seconds of starting
    on_failure: str | None = None  # a task (key into tasks) run once with the error when the execution fails

    # -- derived indexes (computed once; a spec is immutable) ---------------------------------
    @cached_property
    def node_map(self) -> dict[str, NodeSpec]:
        return {n.id: n for n in self.nodes}

    @cached_property
    def launchplans(self) -> dict[str, WorkflowSpec]:
        """The child workflow each launch-plan node starts, parsed once."""
        return {
            n.id: WorkflowSpec.from_json(n.config.workflow)
            for n in self.nodes
            if isinstance(n.config, LaunchPlanConfig)
        }

    def node_outputs(self, node: NodeSpec) -> dict[str, TypeRef]:
        """A node's outputs by name (a branch node has none: its result is a select binding)."""
        if node.kind is NodeKind.TASK:
            return self.tasks[node.task].interface.output_map
        if node.kind is NodeKind.LAUNCHPLAN:
            return dict(self.launchplans[node.id].interface.outputs)
        config = node.config
        if isinstance(config, SignalGate):
            return {"o0": config.type}
        if isinstance(config, ApproveGate):
            value = dict(node.inputs).get("value")
            t = binding_type(self, value, f"gate '{node.id}'") if value is not None else None
            return {"o0": t if t is not None else TypeRef(TypeKind.ANY)}
        if isinstance(config, MapConfig):
            partial = config.min_success_ratio < 1.0
            return {
                n: TypeRef.list_of(TypeRef.optional(t) if partial else t)
                for n, t in self.tasks[node.task].interface.outputs
            }
        return {}

    def node_input_types(self, node: NodeSpec) -> dict[str, Variable]:
        """What each input of a task or map node accepts (a map takes lists for the inputs it maps over)."""
        declared = self.tasks[node.task].interface.input_map
        if not isinstance(node.config, MapConfig):
            return declared
        over = set(node.config.over)
        return {n: Variable(TypeRef.list_of(v.type)) if n in over else v for n, v in declared.items()}

    @cached_property
    def upstream(self) -> dict[str, tuple[str, ...]]:
        return {n.id: n.upstream for n in self.nodes}

    @cached_property
    def downstream(self) -> dict[str, tuple[str, ...]]:
        down: dict[str, list[str]] = {n.id: [] for n in self.nodes}
        for n in self.nodes:
            for u in n.upstream:
                down[u].append(n.id)
        return {k: tuple(v) for k, v in down.items()}

    @cached_property
    def output_nodes(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for _, b in self.outputs:
            for n in b.upstream_nodes():
                seen[n] = None
        return tuple(seen)

    @cached_property
    def digest(self) -> str:
        return _digest(self.to_json())

    # -- serialisation ------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA_VERSION,
            "kind": "workflow",
            "name": self.name,
            "interface": self.interface.to_json(),
            "nodes": [n.to_json() for n in self.nodes],
            "outputs": {n: b.to_json() for n, b in self.outputs},
            "tasks": {k: t.to_json() for k, t in sorted(self.tasks.items())},
            "max_parallelism": self.max_parallelism,
            "failure_policy": self.failure_policy.value,
            **({"deadline_s": self.deadline_s} if self.deadline_s is not None else {}),
            **({"on_failure": self.on_failure} if self.on_failure is not None else {}),
        }

    @staticmethod
    def from_json(data: Any) -> WorkflowSpec:
        """Load and fully validate a spec document. Raises `SpecError` naming what is wrong."""
        if not isinstance(data, Mapping):
            raise SpecError("workflow spec: expected a JSON object")
        schema = data.get("schema")
        if schema != SCHEMA_VERSION:
            raise SpecError(
                f"workflow spec: unsupported schema version {schema!r} (this setpoint reads {SCHEMA_VERSION})"
            )
        name = data.get("name")
        if not isinstance(name, str) or not QUALNAME_RE.match(name):
            raise SpecError(f"workflow spec: invalid workflow name {str(name)[:80]!r}")
        where = f"workflow '{name}'"
        tasks_raw = data.get("tasks", {})
        if not isinstance(tasks_raw, Mapping):
            raise SpecError(f"{where}: 'tasks' must be an object")
        tasks = {k: TaskSpec.from_json(v, f"{where}: task '{k}'") for k, v in tasks_raw.items()}
        nodes_raw = data.get("nodes", [])
        if not isinstance(nodes_raw, list):
            raise SpecError(f"{where}: 'nodes' must be an array")
        nodes = tuple(NodeSpec.from_json(n, f"{where}: nodes[{i}]", workflow=name) for i, n in enumerate(nodes_raw))
        outs_raw = data.get("outputs", {})
        if not isinstance(outs_raw, Mapping):
            raise SpecError(f"{where}: 'outputs' must be an object")
        outputs = tuple(
            (check_name(k, f"output name in {where}"), Binding.from_json(b, f"{where}: output '{k}'"))
            for k, b in outs_raw.items()
        )
        mp = data.get("max_parallelism", 0)
        if not isinstance(mp, int) or isinstance(mp, bool) or mp < 0:
            raise SpecError(f"{where}: max_parallelism must be a non-negative integer, got {mp!r}")
        policy = data.get("failure_policy", FailurePolicy.FAIL_FAST)
        if policy not in FAILURE_POLICIES:
            raise SpecError(f"{where}: failure_policy must be one of {list(FAILURE_POLICIES)}, got {policy!r}")
        spec = WorkflowSpec(
            name=name,
            interface=Interface.from_json(data.get("interface", {}), where),
            nodes=nodes,
            outputs=outputs,
            tasks=tasks,
            max_parallelism=mp,
            failure_policy=FailurePolicy(policy),
            deadline_s=positive_seconds(data.get("deadline_s"), f"{where}: deadline_s"),
            on_failure=data.get("on_failure"),
        )
        validate(spec)
        return spec
