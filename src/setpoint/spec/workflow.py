"""Compiled declarations: `TaskSpec`, `NodeSpec`, `WorkflowSpec`, and their JSON form.

A spec is what an execution pins. It is pure data, schema-versioned and content-addressed (its
digest is the SHA-256 of its canonical JSON). `WorkflowSpec.from_json` is the only way a spec
enters the system from outside, so it validates everything a hand-written or tampered document
could get wrong: unknown nodes, duplicate ids, cycles, unknown inputs, ill-typed bindings.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from setpoint.errors import SpecError, TypeMismatchError
from setpoint.spec.canonical import digest as _digest
from setpoint.spec.types import TypeKind, TypeRef, is_assignable

SCHEMA_VERSION = 1

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
NODE_ID_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")  # map elements are "0", "1", ...
QUALNAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.<>-]{0,255}$")


def check_name(name: object, what: str, *, pattern: re.Pattern[str] = NAME_RE) -> str:
    """Validate a user-supplied name; hostile names never reach a path, a query or a log line."""
    if not isinstance(name, str) or not pattern.match(name):
        shown = repr(name)[:80]
        raise SpecError(f"invalid {what} {shown}: use letters, digits and '_' (start with a letter)")
    return name


# ---------------------------------------------------------------------------------------------
# Interfaces
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Variable:
    type: TypeRef
    default: Any = None  # the default's literal (JSON), meaningful only when has_default
    has_default: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type.to_json()}
        if self.has_default:
            out["default"] = self.default
        return out

    @staticmethod
    def from_json(data: Any, where: str) -> Variable:
        if not isinstance(data, Mapping) or "type" not in data:
            raise SpecError(f"{where}: expected an object with a 'type'")
        try:
            t = TypeRef.from_json(data["type"], where)
        except ValueError as e:
            raise SpecError(str(e)) from None
        return Variable(t, data.get("default"), "default" in data)


@dataclass(frozen=True)
class Interface:
    inputs: tuple[tuple[str, Variable], ...] = ()
    outputs: tuple[tuple[str, TypeRef], ...] = ()

    @cached_property
    def input_map(self) -> dict[str, Variable]:
        return dict(self.inputs)

    @cached_property
    def output_map(self) -> dict[str, TypeRef]:
        return dict(self.outputs)

    def to_json(self) -> dict[str, Any]:
        return {
            "inputs": {n: v.to_json() for n, v in self.inputs},
            "outputs": {n: t.to_json() for n, t in self.outputs},
        }

    @staticmethod
    def from_json(data: Any, where: str) -> Interface:
        if not isinstance(data, Mapping):
            raise SpecError(f"{where}: expected an object with 'inputs' and 'outputs'")
        ins = data.get("inputs", {})
        outs = data.get("outputs", {})
        if not isinstance(ins, Mapping) or not isinstance(outs, Mapping):
            raise SpecError(f"{where}: 'inputs' and 'outputs' must be objects")
        inputs = tuple(
            (check_name(n, f"input name in {where}"), Variable.from_json(v, f"{where}.inputs.{n}"))
            for n, v in ins.items()
        )
        outputs: list[tuple[str, TypeRef]] = []
        for n, t in outs.items():
            check_name(n, f"output name in {where}")
            try:
                outputs.append((n, TypeRef.from_json(t, f"{where}.outputs.{n}")))
            except ValueError as e:
                raise SpecError(str(e)) from None
        return Interface(inputs, tuple(outputs))


# ---------------------------------------------------------------------------------------------
# Tasks
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CachePolicy:
    enabled: bool = False
    version: str = ""
    serialize: bool = False
    ignore_inputs: tuple[str, ...] = ()
    code_in_key: bool = True  # False: key on cache_version only (Flyte's behaviour)

    def to_json(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "version": self.version,
            "serialize": self.serialize,
            "ignore_inputs": list(self.ignore_inputs),
            "code_in_key": self.code_in_key,
        }

    @staticmethod
    def from_json(data: Any) -> CachePolicy:
        if not isinstance(data, Mapping):
            return CachePolicy()
        return CachePolicy(
            bool(data.get("enabled", False)),
            str(data.get("version", "")),
            bool(data.get("serialize", False)),
            tuple(str(x) for x in data.get("ignore_inputs", ())),
            bool(data.get("code_in_key", True)),
        )


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """A task as the controller and executors see it: where its code is and how to run it."""

    name: str  # unique within a workflow spec: "<module>.<qualname>"
    module: str
    qualname: str
    interface: Interface
    retries: int = 0
    timeout_s: float | None = None
    cache: CachePolicy = field(default_factory=CachePolicy)
    executor: str = ""  # "" means the execution's default executor
    resources: tuple[tuple[str, str], ...] = ()
    kind: str = "python"
    unsafe_pickle: bool = False  # explicit opt-in: values of unsupported types travel pickled
    deadline_s: float | None = None  # all attempts of a node together, retries and backoffs included

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "module": self.module,
            "qualname": self.qualname,
            "interface": self.interface.to_json(),
            "retries": self.retries,
            "timeout_s": self.timeout_s,
            "cache": self.cache.to_json(),
            "executor": self.executor,
            "resources": dict(self.resources),
            "kind": self.kind,
            "unsafe_pickle": self.unsafe_pickle,
        }
        if self.deadline_s is not None:
            out["deadline_s"] = self.deadline_s
        return out

    @staticmethod
    def from_json(data: Any, where: str) -> TaskSpec:
        if not isinstance(data, Mapping):
            raise SpecError(f"{where}: expected an object")
        for key in ("name", "module", "qualname", "interface"):
            if key not in data:
                raise SpecError(f"{where}: missing '{key}'")
        name = data["name"]
        if not isinstance(name, str) or not QUALNAME_RE.match(name):
            raise SpecError(f"{where}: invalid task name {str(name)[:80]!r}")
        for key in ("module", "qualname"):
            if not isinstance(data[key], str) or not QUALNAME_RE.match(data[key]):
                raise SpecError(f"{where}: invalid {key} {str(data[key])[:80]!r}")
        retries = data.get("retries", 0)
        if not isinstance(retries, int) or isinstance(retries, bool) or not 0 <= retries <= 100:
            raise SpecError(f"{where}: retries must be an integer from 0 to 100, got {retries!r}")
        timeout = data.get("timeout_s")
        if timeout is not None and (not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0):
            raise SpecError(f"{where}: timeout_s must be a positive number, got {timeout!r}")
        res = data.get("resources", {})
        if not isinstance(res, Mapping):
            raise SpecError(f"{where}: resources must be an object")
        return TaskSpec(
            name=name,
            module=data["module"],
            qualname=data["qualname"],
            interface=Interface.from_json(data["interface"], f"{where}.interface"),
            retries=retries,
            timeout_s=float(timeout) if timeout is not None else None,
            cache=CachePolicy.from_json(data.get("cache")),
            executor=str(data.get("executor", "")),
            resources=tuple(sorted((str(k), str(v)) for k, v in res.items())),
            kind=str(data.get("kind", "python")),
            unsafe_pickle=bool(data.get("unsafe_pickle", False)),
            deadline_s=_positive(data.get("deadline_s"), f"{where}: deadline_s"),
        )


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


class FailurePolicy:
    FAIL_FAST = "fail_fast"
    FINISH_RUNNABLE = "finish_runnable"
    ALL = (FAIL_FAST, FINISH_RUNNABLE)


@dataclass(frozen=True)
class WorkflowSpec:
    name: str
    interface: Interface
    nodes: tuple[NodeSpec, ...]
    outputs: tuple[tuple[str, Binding], ...]
    tasks: Mapping[str, TaskSpec]
    max_parallelism: int = 0  # 0 = the controller's default
    failure_policy: str = FailurePolicy.FAIL_FAST
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
            n.id: WorkflowSpec.from_json((n.config or {}).get("workflow")) for n in self.nodes if n.kind == "launchplan"
        }

    def node_outputs(self, node: NodeSpec) -> dict[str, TypeRef]:
        """A node's outputs by name (a branch node has none: its result is a select binding)."""
        if node.kind == "task":
            return self.tasks[node.task].interface.output_map
        if node.kind == "launchplan":
            return dict(self.launchplans[node.id].interface.outputs)
        if node.kind == "gate":
            config = node.config or {}
            if config.get("gate") == "signal":
                return {"o0": TypeRef.from_json(config.get("type"), f"gate '{node.id}'")}
            if config.get("gate") == "approve":
                value = dict(node.inputs).get("value")
                t = binding_type(self, value, f"gate '{node.id}'") if value is not None else None
                return {"o0": t if t is not None else TypeRef(TypeKind.ANY)}
            return {}
        if node.kind == "map":
            partial = float((node.config or {}).get("min_success_ratio", 1.0)) < 1.0
            return {
                n: TypeRef.list_of(TypeRef.optional(t) if partial else t)
                for n, t in self.tasks[node.task].interface.outputs
            }
        return {}

    def node_input_types(self, node: NodeSpec) -> dict[str, Variable]:
        """What each input of a task or map node accepts (a map takes lists for the inputs it maps over)."""
        declared = self.tasks[node.task].interface.input_map
        if node.kind != "map":
            return declared
        over = set((node.config or {}).get("over", ()))
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
            "failure_policy": self.failure_policy,
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
        nodes = tuple(NodeSpec.from_json(n, f"{where}: nodes[{i}]") for i, n in enumerate(nodes_raw))
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
        if policy not in FailurePolicy.ALL:
            raise SpecError(f"{where}: failure_policy must be one of {list(FailurePolicy.ALL)}, got {policy!r}")
        spec = WorkflowSpec(
            name=name,
            interface=Interface.from_json(data.get("interface", {}), where),
            nodes=nodes,
            outputs=outputs,
            tasks=tasks,
            max_parallelism=mp,
            failure_policy=policy,
            deadline_s=_positive(data.get("deadline_s"), f"{where}: deadline_s"),
            on_failure=data.get("on_failure"),
        )
        validate(spec)
        return spec


# ---------------------------------------------------------------------------------------------
# Validation (shared by the compiler and the JSON loader)
# ---------------------------------------------------------------------------------------------


def binding_type(spec: WorkflowSpec, b: Binding, where: str) -> TypeRef | None:
    """The static type a binding produces, or None for a literal (checked when converted)."""
    if b.is_literal:
        return None
    if b.input is not None:
        var = spec.interface.input_map.get(b.input)
        if var is None:
            raise SpecError(f"{where}: unknown workflow input '{b.input}'")
        return var.type
    if b.node is not None:
        node = spec.node_map.get(b.node)
        if node is None:
            raise SpecError(f"{where}: unknown node '{b.node}'")
        outputs = spec.node_outputs(node)
        out = outputs.get(b.output or "")
        if out is None:
            known = ", ".join(outputs) or "none"
            raise SpecError(f"{where}: node '{b.node}' has no output '{b.output}' (outputs: {known})")
        return out
    if b.select is not None:
        branch_id, cases = b.select
        branch = spec.node_map.get(branch_id)
        if branch is None or branch.kind != "branch":
            raise SpecError(f"{where}: '{branch_id}' is not a branch node")
        conds = (branch.config or {}).get("conditions", [])
        if len(cases) != len(conds):
            raise SpecError(f"{where}: branch '{branch_id}' has {len(conds)} cases, the binding {len(cases)}")
        if (branch.config or {}).get("otherwise") == "none":
            raise SpecError(
                f"{where}: uses the result of branch '{branch_id}', which has no else_(): "
                "when no case matches there is no value; add .else_().then(...) or .else_().fail(...)"
            )
        typed = [(i, binding_type(spec, c, f"{where}, case {i}")) for i, c in enumerate(cases) if c is not None]
        cases_typed: list[tuple[int, TypeRef]] = [(i, t) for i, t in typed if t is not None]
        for i, t in cases_typed[1:]:
            if t != cases_typed[0][1]:
                raise TypeMismatchError(
                    f"branch '{branch_id}': every case must produce the same type; "
                    f"case {cases_typed[0][0]} gives {cases_typed[0][1]}, case {i} gives {t}"
                )
        return cases_typed[0][1] if cases_typed else None
    if b.items is not None:
        types = [binding_type(spec, x, f"{where}[{i}]") for i, x in enumerate(b.items)]
        found = [t for t in types if t is not None]
        if not found:
            return None
        return TypeRef.list_of(TypeRef.union(*found))
    if b.entries is not None:
        types = [binding_type(spec, x, f"{where}.{k}") for k, x in b.entries]
        found = [t for t in types if t is not None]
        if not found:
            return None
        return TypeRef.dict_of(TypeRef.union(*found))
    raise SpecError(f"{where}: empty binding")


def check_binding(spec: WorkflowSpec, b: Binding, target: TypeRef, where: str) -> None:
    """Type-check a binding against the type it is bound to; collections are checked per item."""
    if b.items is not None and target.kind is TypeKind.LIST:
        for i, x in enumerate(b.items):
            check_binding(spec, x, target.args[0], f"{where}[{i}]")
        return
    if b.entries is not None and target.kind is TypeKind.DICT:
        for k, x in b.entries:
            check_binding(spec, x, target.args[0], f"{where}.{k}")
        return
    if (b.items is not None or b.entries is not None) and target.kind is TypeKind.UNION:
        for variant in target.args:
            try:
                check_binding(spec, b, variant, where)
                return
            except TypeMismatchError:
                continue
    actual = binding_type(spec, b, where)
    if actual is not None and not is_assignable(actual, target):
        raise TypeMismatchError(f"{where}: expected {target}, got {actual}")


def validate(spec: WorkflowSpec) -> None:
    """Everything a spec must satisfy before any execution may pin it."""
    where = f"workflow '{spec.name}'"
    seen: set[str] = set()
    for n in spec.nodes:
        if n.id in seen:
            raise SpecError(f"{where}: duplicate node id '{n.id}'")
        seen.add(n.id)
    signal_names: set[str] = set()
    for n in spec.nodes:
        nwhere = f"{where}, node '{n.id}'"
        _check_scope(spec, n, nwhere)
        if n.kind == "branch":
            _check_branch(spec, n, nwhere)
            continue
        if n.kind == "gate":
            _check_gate(spec, n, nwhere, signal_names)
            continue
        if n.kind == "launchplan":
            _check_launchplan(spec, n, nwhere)
            continue
        task = spec.tasks.get(n.task)
        if task is None:
            raise SpecError(f"{nwhere}: unknown task '{n.task}'")
        if n.kind == "map":
            _check_map(task, n, nwhere)
        declared = spec.node_input_types(n)
        bound = dict(n.inputs)
        for name in bound:
            if name not in declared:
                raise SpecError(
                    f"{nwhere}: unknown input '{name}' (task '{task.name}' takes: {', '.join(declared) or 'none'})"
                )
        for name, var in declared.items():
            if name not in bound:
                if not var.has_default:
                    raise SpecError(f"{nwhere}: missing input '{name}' ({var.type})")
                continue
            check_binding(spec, bound[name], var.type, f"{nwhere}, input '{name}'")
        for a in n.after:
            if a not in spec.node_map:
                raise SpecError(f"{nwhere}: unknown node '{a}' in 'after'")
    declared_outs = spec.interface.output_map
    bound_outs = dict(spec.outputs)
    if set(declared_outs) != set(bound_outs):
        raise SpecError(
            f"{where}: outputs bound ({', '.join(bound_outs) or 'none'}) do not match the interface "
            f"({', '.join(declared_outs) or 'none'})"
        )
    for name, b in spec.outputs:
        check_binding(spec, b, declared_outs[name], f"{where}, output '{name}'")
        _check_refs(spec, b, (), f"{where}, output '{name}'")
    if spec.on_failure is not None:
        _check_on_failure(spec, where)
    cycle = find_cycle(spec)
    if cycle:
        raise SpecError(f"{where}: cycle between nodes {' -> '.join(cycle)}")


ON_FAILURE_NODE = "_on_failure"


def _positive(value: Any, what: str) -> float | None:
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        raise SpecError(f"{what} must be a positive number of seconds, got {value!r}")
    return float(value)


def _check_on_failure(spec: WorkflowSpec, where: str) -> None:
    task = spec.tasks.get(spec.on_failure or "")
    if task is None:
        raise SpecError(f"{where}: on_failure names unknown task '{spec.on_failure}'")
    offered = {"error": TypeRef(TypeKind.STR), **{n: v.type for n, v in spec.interface.inputs}}
    for name, var in task.interface.inputs:
        if name not in offered:
            if var.has_default:
                continue
            raise SpecError(
                f"{where}: on_failure task '{task.name}' takes '{name}', but it receives only 'error' (str) "
                f"and the workflow's inputs ({', '.join(n for n, _ in spec.interface.inputs) or 'none'})"
            )
        if not is_assignable(offered[name], var.type):
            raise TypeMismatchError(
                f"{where}: on_failure task '{task.name}', input '{name}': expected {var.type}, got {offered[name]}"
            )


def _check_launchplan(spec: WorkflowSpec, n: NodeSpec, where: str) -> None:
    config = n.config or {}
    child = spec.launchplans[n.id]
    fixed = config.get("fixed") or {}
    defaults = config.get("defaults") or {}
    declared = child.interface.input_map
    for name in (*fixed, *defaults):
        if name not in declared:
            raise SpecError(f"{where}: launch plan '{config.get('launchplan')}' sets unknown input '{name}'")
    bound = dict(n.inputs)
    for name, b in bound.items():
        if name not in declared:
            raise SpecError(f"{where}: unknown input '{name}' (workflow '{child.name}' takes: {', '.join(declared)})")
        if name in fixed:
            raise SpecError(f"{where}: input '{name}' is fixed by launch plan '{config.get('launchplan')}'")
        check_binding(spec, b, declared[name].type, f"{where}, input '{name}'")
    for name, var in declared.items():
        if name not in bound and name not in fixed and name not in defaults and not var.has_default:
            raise SpecError(f"{where}: missing input '{name}' ({var.type})")


def _check_gate(spec: WorkflowSpec, n: NodeSpec, where: str, signal_names: set[str]) -> None:
    config = n.config or {}
    gate = config.get("gate")
    if gate not in GATES:
        raise SpecError(f"{where}: a gate is one of {', '.join(GATES)}, got {gate!r}")
    timeout = config.get("timeout_s")
    if timeout is not None and (not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0):
        raise SpecError(f"{where}: timeout_s must be a positive number of seconds, got {timeout!r}")
    inputs = dict(n.inputs)
    if gate == "sleep":
        seconds = config.get("seconds")
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
            raise SpecError(f"{where}: sleep needs a non-negative number of seconds, got {seconds!r}")
        if inputs:
            raise SpecError(f"{where}: a sleep gate takes no inputs")
        return
    name = check_name(config.get("name"), f"signal name in {where}")
    if name in signal_names:
        raise SpecError(f"{where}: two gates wait for the signal '{name}'; signal names must be unique")
    signal_names.add(name)
    if gate == "approve":
        if set(inputs) != {"value"}:
            raise SpecError(f"{where}: an approve gate takes exactly one input, 'value' (what it lets through)")
        binding_type(spec, inputs["value"], f"{where}, input 'value'")
    else:
        if inputs:
            raise SpecError(f"{where}: a wait_for_input gate takes no inputs")
        try:
            TypeRef.from_json(config.get("type"), f"{where}: type")
        except ValueError as e:
            raise SpecError(str(e)) from None


def _check_map(task: TaskSpec, n: NodeSpec, where: str) -> None:
    config = n.config or {}
    over = config.get("over")
    if not isinstance(over, list) or not over:
        raise SpecError(f"{where}: a map node needs the inputs it maps over ('over')")
    for name in over:
        if name not in task.interface.input_map:
            raise SpecError(f"{where}: maps over '{name}', which task '{task.name}' does not take")
    concurrency = config.get("concurrency", 0)
    if not isinstance(concurrency, int) or isinstance(concurrency, bool) or concurrency < 0:
        raise SpecError(f"{where}: concurrency must be a non-negative integer, got {concurrency!r}")
    ratio = config.get("min_success_ratio", 1.0)
    if not isinstance(ratio, int | float) or isinstance(ratio, bool) or not 0.0 < float(ratio) <= 1.0:
        raise SpecError(f"{where}: min_success_ratio must be in (0, 1], got {ratio!r}")


def _check_branch(spec: WorkflowSpec, n: NodeSpec, where: str) -> None:
    from setpoint.spec.branch import OTHERWISE_FAIL, OTHERWISE_NONE, validate_expr

    config = n.config or {}
    conditions = config.get("conditions")
    if not isinstance(conditions, list) or not conditions:
        raise SpecError(f"{where}: a branch needs at least one condition")
    if config.get("otherwise") not in (OTHERWISE_FAIL, OTHERWISE_NONE):
        raise SpecError(f"{where}: 'otherwise' must be '{OTHERWISE_FAIL}' or '{OTHERWISE_NONE}'")
    types: dict[str, TypeRef] = {}
    for name, b in n.inputs:
        t = binding_type(spec, b, f"{where}, operand '{name}'")
        types[name] = t if t is not None else TypeRef(TypeKind.ANY)
    for i, cond in enumerate(conditions):
        validate_expr(cond, types, f"{where}, case {i}")


def _scopes(spec: WorkflowSpec, case_of: tuple[str, int] | None) -> list[tuple[str, int]]:
    """The chain of branch cases a node runs under, innermost first."""
    chain: list[tuple[str, int]] = []
    while case_of is not None and case_of not in chain:
        chain.append(case_of)
        branch = spec.node_map.get(case_of[0])
        case_of = branch.case_of if branch is not None else None
    return chain


def _check_scope(spec: WorkflowSpec, n: NodeSpec, where: str) -> None:
    if n.case_of is not None:
        branch = spec.node_map.get(n.case_of[0])
        if branch is None or branch.kind != "branch":
            raise SpecError(f"{where}: 'case_of' names '{n.case_of[0]}', which is not a branch node")
        cases = len((branch.config or {}).get("conditions", []))
        if not 0 <= n.case_of[1] < cases:
            raise SpecError(f"{where}: branch '{n.case_of[0]}' has no case {n.case_of[1]}")
    scopes = _scopes(spec, n.case_of)
    for name, b in n.inputs:
        _check_refs(spec, b, scopes, f"{where}, input '{name}'")


def _check_refs(spec: WorkflowSpec, b: Binding, scopes: Sequence[tuple[str, int]], where: str) -> None:
    """A node that runs only in one branch case can be used directly only inside that case."""
    if b.node is not None:
        target = spec.node_map.get(b.node)
        if target is not None and target.case_of is not None and target.case_of not in scopes:
            raise SpecError(
                f"{where}: uses node '{b.node}', which runs only when branch '{target.case_of[0]}' takes case "
                f"{target.case_of[1]}; use the conditional's result instead"
            )
    for child in b.items or ():
        _check_refs(spec, child, scopes, where)
    for _, child in b.entries or ():
        _check_refs(spec, child, scopes, where)


def find_cycle(spec: WorkflowSpec) -> list[str] | None:
    """Return one cycle as a node path (first node repeated at the end), or None. Iterative DFS."""
    white, grey, black = 0, 1, 2
    color = {n.id: white for n in spec.nodes}
    up = spec.upstream
    for root, root_color in list(color.items()):
        if root_color != white or color[root] != white:
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        path: list[str] = []
        while stack:
            node, i = stack.pop()
            if i == 0:
                color[node] = grey
                path.append(node)
            deps = up[node]
            if i < len(deps):
                stack.append((node, i + 1))
                nxt = deps[i]
                if color[nxt] == grey:
                    start = path.index(nxt)
                    return [*path[start:], nxt][::-1]
                if color[nxt] == white:
                    stack.append((nxt, 0))
            else:
                color[node] = black
                path.pop()
    return None
