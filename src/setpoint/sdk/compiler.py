"""Compile a `@workflow` body into a `WorkflowSpec`, type-checking every wire.

The body runs once with promises in place of its inputs; each task call becomes a node whose
inputs are bindings (a constant, a workflow input, an upstream output, or a list/dict of those).
The result is validated by the same `validate` that guards specs loaded from JSON, so a type
mismatch, a missing or unknown input, or a bad default is reported before anything runs, naming
the workflow, the node, the input, and the expected and actual types.
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from typing import TYPE_CHECKING, Any

from setpoint.errors import NonRetryableError, SpecError
from setpoint.sdk.binding import dynamic_binding, to_binding, type_hints
from setpoint.sdk.context import building
from setpoint.sdk.promise import NodeHandle, Outputs, Promise
from setpoint.spec.types import TypeRef
from setpoint.spec.workflow import (
    NODE_ID_RE,
    Binding,
    Interface,
    MapConfig,
    NodeKind,
    NodeSpec,
    TaskSpec,
    WorkflowSpec,
    check_name,
    validate,
)

if TYPE_CHECKING:
    from setpoint.sdk.maptask import MapTask
    from setpoint.sdk.task import Task
    from setpoint.sdk.workflow import Workflow
    from setpoint.types import LiteralContext

MAX_NODES = 100_000


class Builder:
    """Collects nodes while one workflow body runs."""

    def __init__(self, workflow: str) -> None:
        self.workflow = workflow
        self.nodes: list[NodeSpec] = []
        self.tasks: dict[str, TaskSpec] = {}
        self._task_objs: dict[str, Task] = {}
        self._counts: dict[str, int] = {}
        self._order: dict[str, list[str]] = {}
        self._scopes: list[tuple[str, int]] = []

    def _node_id(self, base: str) -> str:
        n = self._counts.get(base, 0)
        self._counts[base] = n + 1
        return base if n == 0 else f"{base}-{n}"

    def new_node_id(self, base: str) -> str:
        check_name(base, f"node name in workflow '{self.workflow}'", pattern=NODE_ID_RE)
        return self._node_id(base)

    def scope(self) -> tuple[str, int] | None:
        """The branch case new nodes belong to (None outside any conditional)."""
        return self._scopes[-1] if self._scopes else None

    def push_scope(self, case: tuple[str, int]) -> None:
        self._scopes.append(case)

    def pop_scope(self, case: tuple[str, int]) -> None:
        if not self._scopes or self._scopes[-1] != case:
            raise SpecError(f"workflow '{self.workflow}': branch '{case[0]}' case {case[1]} was not closed in order")
        self._scopes.pop()

    def add_order(self, before: str, after: str) -> None:
        self._order.setdefault(after, []).append(before)

    def add_task_node(self, task: Task, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if len(self.nodes) >= MAX_NODES:
            raise SpecError(f"workflow '{self.workflow}': more than {MAX_NODES} nodes")
        existing = self._task_objs.get(task.name)
        if existing is not None and existing is not task:
            raise SpecError(f"workflow '{self.workflow}': two different tasks are named '{task.name}'")
        self._task_objs[task.name] = task
        if task.name not in self.tasks:
            self.tasks[task.name] = task.spec()
        spec = self.tasks[task.name]
        node_id = self._node_id(task.function.__name__)
        where = f"workflow '{self.workflow}', node '{node_id}'"
        try:
            bound = task.signature.bind_partial(*args, **kwargs)
        except TypeError as e:
            raise SpecError(f"{where}: {e}") from None
        hints = task.hints(where)
        inputs: list[tuple[str, Binding]] = []
        for name, value in bound.arguments.items():
            var = spec.interface.input_map.get(name)
            if var is None:
                raise SpecError(f"{where}: unknown input '{name}'")
            inputs.append((name, to_binding(value, hints.get(name), f"{where}, input '{name}'")))
        self.nodes.append(NodeSpec(id=node_id, task=task.name, inputs=tuple(inputs), case_of=self.scope()))
        outs = spec.interface.outputs
        if not outs:
            return NodeHandle(node_id, self)
        promises = {name: Promise(node_id, name, t, self) for name, t in outs}
        if len(outs) == 1 and outs[0][0] == "o0":
            return promises["o0"]
        return Outputs(node_id, promises)

    def add_map_node(self, mt: MapTask, mapped: dict[str, Any]) -> Any:
        task = mt.task
        existing = self._task_objs.get(task.name)
        if existing is not None and existing is not task:
            raise SpecError(f"workflow '{self.workflow}': two different tasks are named '{task.name}'")
        self._task_objs[task.name] = task
        if task.name not in self.tasks:
            self.tasks[task.name] = task.spec()
        spec = self.tasks[task.name]
        node_id = self._node_id(f"{task.function.__name__}-map")
        where = f"workflow '{self.workflow}', node '{node_id}'"
        hints = type_hints(task.function, where)
        inputs: list[tuple[str, Binding]] = []
        for name, value in {**mt.fixed, **mapped}.items():
            if name not in spec.interface.input_map:
                raise SpecError(
                    f"{where}: unknown input '{name}' (task '{task.name}' takes: "
                    f"{', '.join(spec.interface.input_map) or 'none'})"
                )
            hint = hints.get(name)
            if name in mapped and hint is not None:
                hint = list[hint]  # type: ignore[valid-type]
            inputs.append((name, to_binding(value, hint, f"{where}, input '{name}'")))
        self.nodes.append(
            NodeSpec(
                id=node_id,
                task=task.name,
                inputs=tuple(inputs),
                kind=NodeKind.MAP,
                config=MapConfig(tuple(sorted(mapped)), mt.concurrency, mt.min_success_ratio),
                case_of=self.scope(),
            )
        )
        partial = mt.min_success_ratio < 1.0
        outs = spec.interface.outputs
        promises = {
            name: Promise(node_id, name, TypeRef.list_of(TypeRef.optional(t) if partial else t), self)
            for name, t in outs
        }
        if not outs:
            return NodeHandle(node_id, self)
        if len(outs) == 1 and outs[0][0] == "o0":
            return promises["o0"]
        return Outputs(node_id, promises)

    def add_subworkflow(self, wf: Workflow, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Inline a workflow called inside this one: its nodes join ours under ``<name>.``."""
        sub = wf.compile()
        prefix = self._node_id(wf.name)
        where = f"workflow '{self.workflow}', subworkflow '{prefix}'"
        if len(self.nodes) + len(sub.nodes) > MAX_NODES:
            raise SpecError(f"workflow '{self.workflow}': more than {MAX_NODES} nodes")
        try:
            bound = inspect.signature(wf.function).bind_partial(*args, **kwargs)
        except TypeError as e:
            raise SpecError(f"{where}: {e}") from None
        hints = type_hints(wf.function, where)
        given = {
            name: to_binding(value, hints.get(name), f"{where}, input '{name}'")
            for name, value in bound.arguments.items()
        }
        for name, var in sub.interface.inputs:
            if name not in given:
                if not var.has_default:
                    raise SpecError(f"{where}: missing input '{name}' ({var.type})")
                given[name] = Binding.const(var.default)
        for tname, tspec in sub.tasks.items():
            if tname in self.tasks and self.tasks[tname] != tspec:
                raise SpecError(f"{where}: two different tasks are named '{tname}'")
            self.tasks[tname] = tspec

        def rebind(b: Binding) -> Binding:
            if b.input is not None:
                return given[b.input]
            if b.node is not None:
                return Binding.from_node(f"{prefix}.{b.node}", b.output or "")
            if b.items is not None:
                return Binding(items=tuple(rebind(x) for x in b.items))
            if b.entries is not None:
                return Binding(entries=tuple((k, rebind(x)) for k, x in b.entries))
            if b.select is not None:
                return Binding(
                    select=(f"{prefix}.{b.select[0]}", tuple(None if c is None else rebind(c) for c in b.select[1]))
                )
            return b

        for n in sub.nodes:
            self.nodes.append(
                NodeSpec(
                    id=f"{prefix}.{n.id}",
                    task=n.task,
                    inputs=tuple((k, rebind(b)) for k, b in n.inputs),
                    after=tuple(f"{prefix}.{a}" for a in n.after),
                    kind=n.kind,
                    config=n.config,
                    case_of=(f"{prefix}.{n.case_of[0]}", n.case_of[1]) if n.case_of else self.scope(),
                )
            )
        outs = sub.interface.outputs
        promises = {name: Promise(None, name, t, self, binding=rebind(dict(sub.outputs)[name])) for name, t in outs}
        if not outs:
            return None
        if len(outs) == 1 and outs[0][0] == "o0":
            return promises["o0"]
        return Outputs(prefix, promises)

    def finish_nodes(self) -> tuple[NodeSpec, ...]:
        out = []
        for n in self.nodes:
            after = self._order.get(n.id)
            if after:
                out.append(dataclasses.replace(n, after=tuple(dict.fromkeys(after))))
            else:
                out.append(n)
        return tuple(out)


MAX_DYNAMIC_NODES = 10_000


def compile_dynamic(task: TaskSpec, fn: Any, kwargs: dict[str, Any], ctx: LiteralContext) -> dict[str, Any]:
    """Run a @dynamic task's body with real inputs and return the sub-workflow it builds (spec JSON).

    Task calls inside the body become nodes whose inputs are constants (the values in hand) or
    other nodes' outputs; what the body returns becomes the sub-workflow's outputs. The result is
    validated like any workflow, so an ill-typed sub-DAG fails the node here, with the reason.
    """
    where = f"dynamic task '{task.name}'"
    builder = Builder(task.name)
    try:
        with building(builder):
            result = fn(**kwargs)
    except SpecError as e:  # wiring the sub-workflow failed (a type mismatch, a missing input, ...)
        raise NonRetryableError(f"{where} built an invalid workflow: {e}") from None
    try:
        hints = type_hints(fn, where)
        ret_t = hints.get("return")
        outs = task.interface.outputs
        bindings: tuple[tuple[str, Binding], ...]
        if not outs:
            bindings = ()
        elif len(outs) == 1 and outs[0][0] == "o0":
            bindings = (("o0", dynamic_binding(result, ret_t, where, ctx)),)
        else:
            fields = typing.get_type_hints(ret_t) if ret_t is not None else {}
            if not isinstance(result, tuple) or len(result) != len(outs):
                raise SpecError(f"{where}: must return {len(outs)} values ({', '.join(n for n, _ in outs)})")
            bindings = tuple(
                (name, dynamic_binding(value, fields.get(name), f"{where}, output '{name}'", ctx))
                for (name, _), value in zip(outs, result, strict=True)
            )
        spec = WorkflowSpec(
            name=task.name,
            interface=Interface((), outs),
            nodes=builder.finish_nodes(),
            outputs=bindings,
            tasks=dict(builder.tasks),
        )
        if len(spec.nodes) > MAX_DYNAMIC_NODES:
            raise SpecError(f"{where}: built {len(spec.nodes)} nodes; the limit is {MAX_DYNAMIC_NODES}")
        validate(spec)
    except SpecError as e:
        raise NonRetryableError(f"{where} built an invalid workflow: {e}") from None
    return spec.to_json()


def compile_workflow(wf: Workflow) -> WorkflowSpec:
    iface = wf.interface
    builder = Builder(wf.name)
    args = {name: Promise(None, name, var.type, builder) for name, var in iface.inputs}
    with building(builder):
        result = wf.function(**args)
    where = f"workflow '{wf.name}'"
    outputs = _output_bindings(result, iface.outputs, wf, where)
    tasks = dict(builder.tasks)
    if wf.on_failure is not None:
        existing = tasks.get(wf.on_failure.name)
        if existing is not None and existing != wf.on_failure.spec():
            raise SpecError(f"{where}: two different tasks are named '{wf.on_failure.name}'")
        tasks[wf.on_failure.name] = wf.on_failure.spec()
    spec = WorkflowSpec(
        name=wf.name,
        interface=iface,
        nodes=builder.finish_nodes(),
        outputs=outputs,
        tasks=tasks,
        max_parallelism=wf.max_parallelism,
        failure_policy=wf.failure_policy,
        deadline_s=wf.deadline_s,
        on_failure=wf.on_failure.name if wf.on_failure is not None else None,
    )
    validate(spec)
    return spec


def _output_bindings(
    result: Any, outs: tuple[tuple[str, Any], ...], wf: Workflow, where: str
) -> tuple[tuple[str, Binding], ...]:
    hints = type_hints(wf.function, where)
    ret_t = hints.get("return")
    if not outs:
        if result is not None and not isinstance(result, NodeHandle | Promise | Outputs):
            raise SpecError(f"{where}: returns a value but its return annotation declares no outputs")
        return ()
    if len(outs) == 1 and outs[0][0] == "o0":
        if result is None:
            raise SpecError(f"{where}: declares an output ({outs[0][1]}) but the body returns nothing")
        return (("o0", to_binding(result, ret_t, f"{where}, output")),)
    fields = typing.get_type_hints(ret_t) if ret_t is not None else {}
    if not isinstance(result, tuple) or len(result) != len(outs):
        raise SpecError(f"{where}: must return {len(outs)} values ({', '.join(n for n, _ in outs)})")
    return tuple(
        (name, to_binding(value, fields.get(name), f"{where}, output '{name}'"))
        for (name, _), value in zip(outs, result, strict=True)
    )
