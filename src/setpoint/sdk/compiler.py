"""Compile a `@workflow` body into a `WorkflowSpec`, type-checking every wire.

The body runs once with promises in place of its inputs; each task call becomes a node whose
inputs are bindings (a constant, a workflow input, an upstream output, or a list/dict of those).
The result is validated by the same `validate` that guards specs loaded from JSON, so a type
mismatch, a missing or unknown input, or a bad default is reported before anything runs, naming
the workflow, the node, the input, and the expected and actual types.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import sys
import typing
import warnings
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from setpoint.errors import NonRetryableError, SpecError
from setpoint.sdk.binding import dynamic_binding, to_binding, type_hints
from setpoint.sdk.context import building
from setpoint.sdk.promise import NodeGroup, NodeHandle, Outputs, Promise, nodes_of
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

# with_overrides(...) options setpoint acts on, and flytekit's that it accepts but cannot honour
OVERRIDES = frozenset(
    {"retries", "timeout", "requests", "resources", "limits", "cache", "cache_version", "cache_serialize"}
)
RENAMES = frozenset({"node_name"})
IGNORED_OVERRIDES = {
    "name": "setpoint shows a node by its id and keeps no display name; node_name= renames the node",
    "interruptible": "setpoint runs no spot/preemptible capacity",
    "container_image": "the local executor runs tasks in the current environment",
    "accelerator": "no executor schedules accelerators by type",
    "task_config": "a node cannot change its task's kind",
    "aliases": "outputs keep their names",
    "pod_template": "setpoint runs no pods",
    "shared_memory": "no executor sizes shared memory",
    "enable_deck": "decks are a task's declaration (@task(enable_deck=True))",
}


class OverrideWarning(UserWarning):
    """A ``with_overrides`` option setpoint accepts but does not act on (said at compile time)."""


class Builder:
    """Collects nodes while one workflow body runs."""

    in_process = False  # True for `LocalRun`: calls run now, with real values

    def __init__(self, workflow: str) -> None:
        self.workflow = workflow
        self.ordered_or_overridden = False  # the body uses >> or with_overrides (see `LocalRun`)
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
        self.ordered_or_overridden = True
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
        if sub.on_failure is not None:
            # Its own on_failure handler runs when it fails (as in Flyte): it runs as a child
            # execution of its own, which has the handler, instead of being inlined.
            from setpoint.sdk.launchplan import add_launchplan_node  # lazily: it imports this module

            self._counts[wf.name] -= 1  # the launch-plan node takes the id
            return add_launchplan_node(wf.name, sub, {}, {}, dict(bound.arguments), hints)
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
            return b.rebased(rebind_base(b))

        def rebind_base(b: Binding) -> Binding:
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
            return Binding.const(b.literal)

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
        ids = tuple(f"{prefix}.{n.id}" for n in sub.nodes)
        promises = {
            name: Promise(None, name, t, self, binding=rebind(dict(sub.outputs)[name]), nodes=ids) for name, t in outs
        }
        if not outs:
            return NodeGroup(prefix, ids, self)
        if len(outs) == 1 and outs[0][0] == "o0":
            return promises["o0"]
        return Outputs(prefix, promises, nodes=ids, builder=self)

    def override(self, entity: Any, overrides: dict[str, Any]) -> None:
        """Apply ``with_overrides(...)`` to the node(s) a call's result stands for."""
        self.ordered_or_overridden = True
        ids = nodes_of(entity, "with_overrides")
        where = f"workflow '{self.workflow}', node '{ids[0] if len(ids) == 1 else ', '.join(ids)}'"
        for key in overrides:
            if key not in OVERRIDES and key not in RENAMES and key not in IGNORED_OVERRIDES:
                known = ", ".join(sorted(OVERRIDES | RENAMES))
                raise SpecError(f"{where}: with_overrides() got an unknown option '{key}' (setpoint honours: {known})")
        for key, why in IGNORED_OVERRIDES.items():
            if key in overrides:
                warnings.warn(f"{where}: with_overrides({key}=...) is accepted but not used: {why}", OverrideWarning, 3)
        options = {k: v for k, v in overrides.items() if k in OVERRIDES}
        if options:
            for node_id in ids:
                self._override_task(node_id, options, f"workflow '{self.workflow}', node '{node_id}'")
        if overrides.get("node_name") is not None:
            if len(ids) != 1:
                raise SpecError(f"{where}: only a single node can be renamed")
            self._rename(entity, ids[0], str(overrides["node_name"]), where)

    def _override_task(self, node_id: str, options: dict[str, Any], where: str) -> None:
        index = next(i for i, n in enumerate(self.nodes) if n.id == node_id)
        node = self.nodes[index]
        if not node.task or node.task not in self.tasks:
            raise SpecError(f"{where}: with_overrides() options apply to task nodes only")
        base = self.tasks[node.task]
        changes: dict[str, Any] = {}
        if "retries" in options:
            retries = 0 if options["retries"] is None else options["retries"]
            if not isinstance(retries, int) or isinstance(retries, bool) or not 0 <= retries <= 100:
                raise SpecError(f"{where}: retries must be an integer from 0 to 100, got {retries!r}")
            changes["retries"] = retries
        if "timeout" in options:
            timeout = options["timeout"]
            seconds = timeout.total_seconds() if isinstance(timeout, timedelta) else timeout
            if seconds is not None and (not isinstance(seconds, int | float) or seconds <= 0):
                raise SpecError(f"{where}: timeout must be positive, got {timeout!r}")
            changes["timeout_s"] = None if seconds is None else float(seconds)
        if "resources" in options and "requests" not in options:  # newer flytekit's spelling
            options = {**options, "requests": options["resources"]}
        for key in ("requests", "limits"):
            if key in options:
                res = options[key]
                if not hasattr(res, "items") or not hasattr(res, "check"):
                    raise SpecError(f"{where}: {key}= must be a Resources, got {type(res).__name__}")
                res.check(f"{where}, {key}")
                if key == "limits":
                    changes["limits"] = res.items()
                    warnings.warn(
                        f"{where}: with_overrides(limits=...) is recorded in the spec; no executor enforces limits",
                        OverrideWarning,
                        4,
                    )
                else:
                    changes["resources"] = tuple(kv for kv in res.items() if kv[0] != "ephemeral_storage")
                    changes["ephemeral_storage"] = str(res.ephemeral_storage or "")
        cache = base.cache
        if "cache" in options:
            if not isinstance(options["cache"], bool):
                raise SpecError(f"{where}: cache must be True or False, got {options['cache']!r}")
            cache = dataclasses.replace(cache, enabled=options["cache"])
        if "cache_version" in options:
            cache = dataclasses.replace(cache, version=str(options["cache_version"]))
        if "cache_serialize" in options:
            cache = dataclasses.replace(cache, serialize=bool(options["cache_serialize"]))
        if cache != base.cache:
            changes["cache"] = cache
        if not changes:
            return
        variant = dataclasses.replace(base, **changes)
        text = json.dumps(variant.to_json(), sort_keys=True, default=str)
        name = f"{base.name}-with-{hashlib.sha256(text.encode()).hexdigest()[:10]}"
        variant = dataclasses.replace(variant, name=name)
        self.tasks[name] = variant
        self.nodes[index] = dataclasses.replace(node, task=name)
        if not any(n.task == base.name for n in self.nodes):
            del self.tasks[base.name]  # a later plain call of the task adds it again

    def _rename(self, entity: Any, old: str, new: str, where: str) -> None:
        check_name(new, f"{where}: with_overrides(name=...)", pattern=NODE_ID_RE)
        if new == old:
            return
        if any(n.id == new for n in self.nodes) or new in self._counts:
            raise SpecError(f"{where}: cannot rename the node to '{new}': a node of that name exists")
        for n in self.nodes:
            if old in {u for _, b in n.inputs for u in b.upstream_nodes()}:
                raise SpecError(f"{where}: rename the node before its result is used (node '{n.id}' uses it)")
        self.nodes = [dataclasses.replace(n, id=new) if n.id == old else n for n in self.nodes]
        self._counts[new] = 1
        self._order = {(new if k == old else k): [new if x == old else x for x in v] for k, v in self._order.items()}
        for item in (entity, *(entity if isinstance(entity, Outputs) else ())):
            if isinstance(item, Promise):
                item._node_id = new
                item._nodes = (new,)
            elif isinstance(item, NodeHandle):
                item.node_id = new
            elif isinstance(item, Outputs):
                item._node_id = new
                item._nodes = (new,)

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
        from setpoint.types.engine import output_types  # lazily: start-up cost, see sdk/binding.py

        py_types = dict(output_types(fn, where=where))
        outs = task.interface.outputs
        bindings: tuple[tuple[str, Binding], ...]
        if not outs:
            bindings = ()
        elif len(outs) == 1 and outs[0][0] == "o0":
            bindings = (("o0", dynamic_binding(result, py_types.get("o0"), where, ctx)),)
        else:
            if len(outs) == 1 and not isinstance(result, tuple):
                result = (result,)
            if not isinstance(result, tuple) or len(result) != len(outs):
                raise SpecError(f"{where}: must return {len(outs)} values ({', '.join(n for n, _ in outs)})")
            bindings = tuple(
                (name, dynamic_binding(value, py_types.get(name), f"{where}, output '{name}'", ctx))
                for (name, _), value in zip(outs, _in_declared_order(result, outs), strict=True)
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
    where = f"workflow '{wf.name}'"
    try:
        with building(builder):
            result = wf.function(**args)
    except SpecError as e:
        if str(e).startswith(where) or f"in {where}" in str(e):
            raise
        raise type(e)(f"{where}{_body_position(wf, builder)}: {e}") from None
    except Exception as e:  # a Python mistake in the body (None >> None, a bad call): say where
        raise SpecError(f"{where}{_body_position(wf, builder)}: {type(e).__name__}: {e}") from e
    outputs = _output_bindings(result, iface.outputs, wf, where)
    wf.runs_locally_with_promises = builder.ordered_or_overridden
    tasks = dict(builder.tasks)
    handler = None
    if wf.on_failure is not None:
        handler = _handler_spec(wf.on_failure)
        existing = tasks.get(handler.name)
        if existing is not None and existing != handler:
            raise SpecError(f"{where}: two different tasks are named '{handler.name}'")
        tasks[handler.name] = handler
    spec = WorkflowSpec(
        name=wf.name,
        interface=iface,
        nodes=builder.finish_nodes(),
        outputs=outputs,
        tasks=tasks,
        max_parallelism=wf.max_parallelism,
        failure_policy=wf.failure_policy,
        deadline_s=wf.deadline_s,
        on_failure=handler.name if handler is not None else None,
    )
    validate(spec)
    return spec


def _handler_spec(on_failure: Any) -> TaskSpec:
    """The task an ``on_failure`` task or workflow runs as (a workflow runs in-process in one attempt)."""
    handler = getattr(on_failure, "failure_handler", None)  # a Workflow (which imports this module)
    if handler is not None:
        return handler.spec()  # type: ignore[no-any-return]
    spec: TaskSpec = on_failure.spec()
    return spec


def _output_bindings(
    result: Any, outs: tuple[tuple[str, Any], ...], wf: Workflow, where: str
) -> tuple[tuple[str, Binding], ...]:
    from setpoint.types.engine import output_types  # lazily: start-up cost, see sdk/binding.py

    py_types = dict(output_types(wf.function, where=where))
    if not outs:
        if result is not None and not isinstance(result, NodeHandle | NodeGroup | Promise | Outputs):
            raise SpecError(f"{where}: returns a value but its return annotation declares no outputs")
        return ()
    if len(outs) == 1 and outs[0][0] == "o0":
        if result is None:
            raise SpecError(f"{where}: declares an output ({outs[0][1]}) but the body returns nothing")
        return (("o0", to_binding(result, py_types.get("o0"), f"{where}, output")),)
    if len(outs) == 1 and not isinstance(result, tuple):  # a one-field NamedTuple may be returned bare
        result = (result,)
    if not isinstance(result, tuple) or len(result) != len(outs):
        raise SpecError(f"{where}: must return {len(outs)} values ({', '.join(n for n, _ in outs)})")
    return tuple(
        (name, to_binding(value, py_types.get(name), f"{where}, output '{name}'"))
        for (name, _), value in zip(outs, _in_declared_order(result, outs), strict=True)
    )


def _in_declared_order(result: tuple[Any, ...], outs: tuple[tuple[str, Any], ...]) -> tuple[Any, ...]:
    """A NamedTuple's values by field name (the spec may list outputs in another order); else as given."""
    fields = getattr(type(result), "_fields", None)
    if isinstance(fields, tuple) and set(fields) == {n for n, _ in outs}:
        return tuple(result[fields.index(n)] for n, _ in outs)
    return result


def _body_position(wf: Workflow, builder: Builder) -> str:
    """``, line N (after node 'x')``: where the body was when compiling it failed."""
    parts = []
    tb = sys.exc_info()[2]
    code = getattr(wf.function, "__code__", None)
    line = None
    while tb is not None:
        if tb.tb_frame.f_code is code:
            line = tb.tb_lineno
        tb = tb.tb_next
    if line is not None:
        parts.append(f"line {line}")
    if builder.nodes:
        parts.append(f"after node '{builder.nodes[-1].id}'")
    return ", " + " ".join(parts) if parts else ""


# -- a workflow called directly in Python ------------------------------------------------------------


class LocalValue:
    """A value a call returned in a workflow called in-process, with what a promise offers a body.

    ``>>`` and ``runs_before`` keep the order the calls were written in (they have run already),
    ``with_overrides`` changes nothing (the function runs once, here, without retries or
    timeouts), attribute and index access reach into the value, comparisons and ``.is_true()``
    give plain booleans for ``conditional``.
    """

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __rshift__(self, other: Any) -> Any:
        return other

    def __rrshift__(self, other: Any) -> Any:
        return self

    def runs_before(self, other: Any) -> Any:
        return other

    def with_overrides(self, **overrides: Any) -> LocalValue:
        return self

    def is_true(self) -> bool:
        return self.value is True

    def is_false(self) -> bool:
        return self.value is False

    def is_none(self) -> bool:
        return self.value is None

    def __getattr__(self, name: str) -> LocalValue:
        if name.startswith("__"):
            raise AttributeError(name)
        return LocalValue(getattr(self.value, name))

    def __getitem__(self, key: Any) -> LocalValue:
        return LocalValue(self.value[plain(key)])

    def __bool__(self) -> bool:
        return bool(self.value)

    def __eq__(self, other: object) -> bool:
        return bool(self.value == plain(other))

    def __ne__(self, other: object) -> bool:
        return bool(self.value != plain(other))

    def __lt__(self, other: Any) -> bool:
        return bool(self.value < plain(other))

    def __le__(self, other: Any) -> bool:
        return bool(self.value <= plain(other))

    def __gt__(self, other: Any) -> bool:
        return bool(self.value > plain(other))

    def __ge__(self, other: Any) -> bool:
        return bool(self.value >= plain(other))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"LocalValue({self.value!r})"


def plain(value: Any) -> Any:
    """``value`` with every `LocalValue` in it replaced by what it holds."""
    if isinstance(value, LocalValue):
        return plain(value.value)
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*(plain(v) for v in value))
    if isinstance(value, list | tuple):
        return type(value)(plain(v) for v in value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def wrap(result: Any) -> Any:
    """A call's result as a body sees it in-process: each output a `LocalValue`."""
    if isinstance(result, tuple) and hasattr(result, "_fields"):
        named: Any = type(result)
        return named(*(LocalValue(v) for v in result))
    if isinstance(result, tuple):
        return tuple(LocalValue(v) for v in result)
    return LocalValue(result)


class LocalRun(Builder):
    """The "builder" of a workflow called in-process whose body uses ``>>`` or ``with_overrides``.

    Every task, map and subworkflow call runs at once with the real values, as flytekit's local
    execution does, and returns `LocalValue` s so the body's ``>>`` and ``with_overrides`` work.
    Entities that only exist in a running execution (launch plans) are refused with the reason.
    """

    in_process = True

    def add_task_node(self, task: Task, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        with outside_any_body():
            return wrap(task(*plain(args), **plain(kwargs)))

    def add_map_node(self, mt: MapTask, mapped: dict[str, Any]) -> Any:
        with outside_any_body():
            return wrap(mt(**plain(mapped)))

    def add_subworkflow(self, wf: Workflow, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        with outside_any_body():
            return wrap(wf(*plain(args), **plain(kwargs)))

    def override(self, entity: Any, overrides: dict[str, Any]) -> None:
        return None

    def add_order(self, before: str, after: str) -> None:
        return None

    def new_node_id(self, base: str) -> str:
        raise SpecError(
            f"workflow '{self.workflow}' called in-process: '{base}' can only run in an execution "
            "(run the workflow with `setpoint run` or Client.run)"
        )


def outside_any_body() -> Any:
    """A context in which no workflow body is being compiled (calls run directly)."""
    return building(typing.cast("Builder", None))
