"""`ImperativeWorkflow`: a workflow built by method calls instead of a function body.

    wf = ImperativeWorkflow(name="fit")
    x = wf.add_workflow_input("x", list[int])
    slope = wf.add_entity(fit_slope, x=x)
    line = wf.add_entity(fit_line, x=wf.inputs["x"], slope=slope.outputs["o0"])
    wf.add_workflow_output("line", line.outputs["o0"])

This is flytekit's ``Workflow(name=...)`` builder (``flytekit.core.workflow.ImperativeWorkflow``).
The calls are recorded, and the workflow's body is a function that replays them: compiling runs
that body under the compiler like any ``@workflow`` body (so every wire is type-checked the same
way), and calling the workflow directly replays it with real values. It is a `Workflow`, so
``setpoint run file.py:wf`` and ``Client.run(wf, ...)`` take it as they take a decorated one.
"""

from __future__ import annotations

import inspect
import sys
import typing
from collections.abc import Callable
from datetime import timedelta
from typing import Any, NamedTuple

from setpoint.errors import SpecError
from setpoint.sdk.workflow import Workflow, create_node
from setpoint.spec.workflow import QUALNAME_RE, FailurePolicy, check_name


class WorkflowInput:
    """A reference to a workflow input, for ``add_entity(task, x=wf.inputs["x"])``."""

    def __init__(self, workflow: ImperativeWorkflow, name: str, py_type: Any) -> None:
        self.workflow, self.name, self.py_type = workflow, name, py_type

    def __repr__(self) -> str:
        return f"<input {self.name} of {self.workflow.name}>"


class NodeOutput:
    """A reference to one output of a node added with ``add_entity``."""

    def __init__(self, node: ImperativeNode, name: str, py_type: Any) -> None:
        self.node, self.name, self.py_type = node, name, py_type

    def __repr__(self) -> str:
        return f"<output {self.name} of node {self.node.index} ({self.node.entity_name})>"


class ImperativeNode:
    """What ``add_entity`` returns: the node's outputs by name (``node.outputs["o0"]``), and ordering."""

    def __init__(self, workflow: ImperativeWorkflow, index: int, entity: Any, kwargs: dict[str, Any]) -> None:
        self.workflow, self.index, self.entity, self.kwargs = workflow, index, entity, kwargs
        self.entity_name = str(getattr(entity, "name", type(entity).__name__))
        self.outputs: dict[str, NodeOutput] = {
            name: NodeOutput(self, name, t) for name, t in _output_types(entity, self.entity_name)
        }

    def __getattr__(self, name: str) -> NodeOutput:
        outputs = self.__dict__.get("outputs", {})
        if name in outputs:
            return typing.cast(NodeOutput, outputs[name])
        raise AttributeError(f"node {self.index} ({self.entity_name}) has no output '{name}'")

    def runs_before(self, other: ImperativeNode) -> ImperativeNode:
        """Make ``other`` wait for this node (``self >> other``)."""
        if not isinstance(other, ImperativeNode) or other.workflow is not self.workflow:
            raise SpecError(f"workflow '{self.workflow.name}': >> orders two nodes of the same workflow")
        self.workflow._orders.append((self.index, other.index))
        self.workflow._changed()
        return other

    def __rshift__(self, other: ImperativeNode) -> ImperativeNode:
        return self.runs_before(other)

    def __repr__(self) -> str:
        return f"<node {self.index} ({self.entity_name})>"


class ImperativeWorkflow(Workflow):
    """A workflow assembled with ``add_workflow_input``, ``add_entity`` and ``add_workflow_output``."""

    def __init__(
        self,
        name: str,
        *,
        failure_policy: Any = FailurePolicy.FAIL_FAST,
        max_parallelism: int = 0,
        deadline: timedelta | float | None = None,
        on_failure: Any = None,
        module: str | None = None,
    ) -> None:
        if not isinstance(name, str) or not QUALNAME_RE.match(name):
            raise SpecError(f"imperative workflow: invalid name {str(name)[:80]!r} (letters, digits, '_', '.', '-')")
        self._inputs: dict[str, WorkflowInput] = {}
        self._nodes: list[ImperativeNode] = []
        self._orders: list[tuple[int, int]] = []
        self._outputs: dict[str, tuple[Any, Any]] = {}
        if module is None:
            caller = sys._getframe(1)
            module = str(caller.f_globals.get("__name__", "__main__"))
        self._module_name = module
        super().__init__(
            self._body_function(name),
            max_parallelism=max_parallelism,
            failure_policy=failure_policy,
            deadline=deadline,
            on_failure=on_failure,
        )

    # -- building --------------------------------------------------------------------------------
    @property
    def inputs(self) -> dict[str, WorkflowInput]:
        """The workflow's inputs by name (flytekit's ``wf.inputs["x"]``)."""
        return dict(self._inputs)

    @property
    def nodes(self) -> list[ImperativeNode]:
        return list(self._nodes)

    def add_workflow_input(self, name: str, python_type: Any) -> WorkflowInput:
        check_name(name, f"input name of workflow '{self.name}'")
        if name in self._inputs:
            raise SpecError(f"workflow '{self.name}': input '{name}' is already declared")
        ref = WorkflowInput(self, name, python_type)
        self._inputs[name] = ref
        self._changed()
        return ref

    def add_entity(self, entity: Any, **kwargs: Any) -> ImperativeNode:
        """Call a task, a workflow or a launch plan with these inputs; its outputs are ``node.outputs``."""
        if not callable(entity):
            raise SpecError(
                f"workflow '{self.name}': add_entity expects a task, workflow or launch plan, "
                f"got {type(entity).__name__}"
            )
        for key, value in kwargs.items():
            self._check_refs(value, f"workflow '{self.name}', add_entity({self._entity_name(entity)}), input '{key}'")
        node = ImperativeNode(self, len(self._nodes), entity, kwargs)
        self._nodes.append(node)
        self._changed()
        return node

    # flytekit's other spellings of add_entity
    def add_task(self, task: Any, **kwargs: Any) -> ImperativeNode:
        return self.add_entity(task, **kwargs)

    def add_subwf(self, sub: Any, **kwargs: Any) -> ImperativeNode:
        return self.add_entity(sub, **kwargs)

    def add_launch_plan(self, launch_plan: Any, **kwargs: Any) -> ImperativeNode:
        return self.add_entity(launch_plan, **kwargs)

    def add_workflow_output(self, output_name: str, p: Any, python_type: Any = None) -> None:
        """Bind output ``output_name`` to a node's output, an input, or a list of them (give ``python_type``)."""
        where = f"workflow '{self.name}', output '{output_name}'"
        check_name(output_name, f"output name of workflow '{self.name}'")
        if output_name in self._outputs:
            raise SpecError(f"{where}: is already bound")
        self._check_refs(p, where)
        if python_type is None:
            if not isinstance(p, WorkflowInput | NodeOutput):
                raise SpecError(f"{where}: give python_type= for a value that is not a single node output or input")
            python_type = p.py_type
        self._outputs[output_name] = (p, python_type)
        self._changed()

    def _entity_name(self, entity: Any) -> str:
        return str(getattr(entity, "name", type(entity).__name__))

    def _check_refs(self, value: Any, where: str) -> None:
        if isinstance(value, WorkflowInput | NodeOutput):
            owner = value.workflow if isinstance(value, WorkflowInput) else value.node.workflow
            if owner is not self:
                raise SpecError(f"{where}: {value!r} belongs to another workflow")
        elif isinstance(value, list | tuple):
            for v in value:
                self._check_refs(v, where)
        elif isinstance(value, dict):
            for v in value.values():
                self._check_refs(v, where)

    def _changed(self) -> None:
        self._interface = None
        self._spec = None
        self.function = self._body_function(self.name)

    # -- the body --------------------------------------------------------------------------------
    def _body_function(self, name: str) -> Callable[..., Any]:
        """A function whose signature is the declared interface and whose body replays the calls."""
        outputs = list(self._outputs.items())
        if not outputs:
            ret: Any = None
        elif len(outputs) == 1 and outputs[0][0] == "o0":
            ret = outputs[0][1][1]
        else:
            make: Any = NamedTuple  # several named outputs: a NamedTuple return, as a @workflow declares them
            ret = make(f"{name.replace('.', '_').replace('-', '_')}_outputs", [(n, t) for n, (_, t) in outputs])
        params = [
            inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, annotation=ref.py_type)
            for n, ref in self._inputs.items()
        ]

        def body(**kwargs: Any) -> Any:
            return self._replay(kwargs)

        body.__signature__ = inspect.Signature(params, return_annotation=ret)  # type: ignore[attr-defined]
        body.__annotations__ = {**{n: ref.py_type for n, ref in self._inputs.items()}, "return": ret}
        body.__module__ = getattr(self, "_module_name", "__main__")
        body.__name__ = body.__qualname__ = name
        return body

    def _replay(self, inputs: dict[str, Any]) -> Any:
        results: list[Any] = []

        def value_of(v: Any) -> Any:
            if isinstance(v, WorkflowInput):
                return inputs[v.name]
            if isinstance(v, NodeOutput):
                return results[v.node.index].outputs[v.name]
            if isinstance(v, list):
                return [value_of(x) for x in v]
            if isinstance(v, tuple):
                return tuple(value_of(x) for x in v)
            if isinstance(v, dict):
                return {k: value_of(x) for k, x in v.items()}
            return v

        for node in self._nodes:
            results.append(create_node(node.entity, **{k: value_of(v) for k, v in node.kwargs.items()}))
        for before, after in self._orders:
            results[before] >> results[after]
        values = tuple(value_of(p) for p, _ in self._outputs.values())
        if not values:
            return None
        return values[0] if len(values) == 1 else values

    def __repr__(self) -> str:
        return f"<imperative workflow {self.module}.{self.name}>"


def _output_types(entity: Any, where: str) -> list[tuple[str, Any]]:
    """An entity's outputs as (name, Python type), in the interface's order."""
    from setpoint.types.engine import output_types  # lazily: start-up cost, see sdk/binding.py

    fn = getattr(entity, "function", None)
    if fn is None:
        wf = getattr(entity, "workflow", None)  # a launch plan
        fn = getattr(wf, "function", None)
    if fn is None:
        return []
    return list(output_types(fn, where=where))
