"""Launch plans: a workflow with default and fixed inputs, started as its own execution.

    nightly = LaunchPlan.get_or_create(train, name="nightly", default_inputs={"epochs": 5},
                                       fixed_inputs={"dataset": "prod"},
                                       schedule=Cron("0 3 * * *", tz="Europe/Berlin"))

Called inside a workflow, a launch plan starts a **child execution**: its own immutable execution
(own id, own controller round, own history), linked to the parent (``source_id``, mode
``child``) and aborted with it. Subworkflows are inlined (pass by value); launch plans are
separate executions (pass by reference), as in Flyte.

A launch plan may carry a schedule (`setpoint.scheduling.ticks.Cron` or `FixedRate`), checked here when it
is declared; once registered and activated, the scheduler starts it on every tick (docs/schedules.md).
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Mapping
from typing import Any, ClassVar

from setpoint.errors import SpecError
from setpoint.scheduling.ticks import Cron, FixedRate, Schedule, check_for_workflow
from setpoint.sdk.binding import to_binding
from setpoint.sdk.context import current_builder
from setpoint.sdk.promise import NodeHandle, Outputs, Promise
from setpoint.sdk.workflow import Workflow
from setpoint.spec.workflow import NODE_ID_RE, LaunchPlanConfig, NodeKind, NodeSpec, check_name


class LaunchPlan:
    _known: ClassVar[dict[tuple[str, str], LaunchPlan]] = {}

    def __init__(
        self,
        workflow: Workflow,
        name: str,
        default_inputs: Mapping[str, Any] | None = None,
        fixed_inputs: Mapping[str, Any] | None = None,
        schedule: Schedule | None = None,
    ) -> None:
        if not isinstance(workflow, Workflow):
            raise SpecError(f"a launch plan needs a @workflow, got {type(workflow).__name__}")
        self.workflow = workflow
        self.name = check_name(name, "launch plan name", pattern=NODE_ID_RE)
        self.default_inputs = dict(default_inputs or {})
        self.fixed_inputs = dict(fixed_inputs or {})
        declared = workflow.interface.input_map
        for key in (*self.default_inputs, *self.fixed_inputs):
            if key not in declared:
                raise SpecError(f"launch plan '{name}': workflow '{workflow.name}' has no input '{key}'")
        both = set(self.default_inputs) & set(self.fixed_inputs)
        if both:
            raise SpecError(f"launch plan '{name}': {', '.join(sorted(both))} cannot be both default and fixed")
        where = f"launch plan '{name}'"
        if schedule is not None:
            if not isinstance(schedule, Cron | FixedRate):
                raise SpecError(f"{where}: schedule must be a Cron or a FixedRate, got {type(schedule).__name__}")
            schedule.check(where)
            check_for_workflow(schedule, workflow.interface, self.default_inputs, self.fixed_inputs, where)
        self.schedule = schedule

    @classmethod
    def get_or_create(
        cls,
        workflow: Workflow,
        name: str | None = None,
        *,
        default_inputs: Mapping[str, Any] | None = None,
        fixed_inputs: Mapping[str, Any] | None = None,
        schedule: Schedule | None = None,
    ) -> LaunchPlan:
        """The launch plan of this name for this workflow; asking again with other inputs is an error."""
        name = name or workflow.name
        key = (f"{workflow.module}.{workflow.name}", name)
        plan = cls(workflow, name, default_inputs, fixed_inputs, schedule)
        existing = cls._known.get(key)
        if existing is not None:
            if (existing.default_inputs, existing.fixed_inputs, existing.schedule) != (
                plan.default_inputs,
                plan.fixed_inputs,
                plan.schedule,
            ):
                raise SpecError(
                    f"launch plan '{name}' already exists with other inputs or schedule; give it another name"
                )
            return existing
        cls._known[key] = plan
        return plan

    def literals(self) -> tuple[dict[str, Any], dict[str, Any]]:
        from setpoint.types import LiteralContext, to_literal  # lazily: start-up cost, see sdk/binding.py

        hints = typing.get_type_hints(self.workflow.function, include_extras=True)
        ctx = LiteralContext(blobs=None, workdir=None)

        def conv(values: dict[str, Any], what: str) -> dict[str, Any]:
            return {
                k: to_literal(v, hints[k], ctx, where=f"launch plan '{self.name}', {what} input '{k}'")
                for k, v in values.items()
            }

        return conv(self.default_inputs, "default"), conv(self.fixed_inputs, "fixed")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        builder = current_builder()
        if builder is None:  # in-process run: call the workflow with the plan's inputs
            return self.workflow(*args, **{**self.default_inputs, **kwargs, **self.fixed_inputs})
        if args:
            raise SpecError(f"launch plan '{self.name}': pass inputs by name")
        for k in kwargs:
            if k in self.fixed_inputs:
                raise SpecError(f"launch plan '{self.name}': input '{k}' is fixed and cannot be set")
        child = self.workflow.compile()
        defaults, fixed = self.literals()
        node_id = builder.new_node_id(self.name)
        where = f"workflow '{builder.workflow}', node '{node_id}'"
        hints = typing.get_type_hints(self.workflow.function, include_extras=True)
        sig = inspect.signature(self.workflow.function)
        inputs = []
        for k, v in kwargs.items():
            if k not in sig.parameters:
                raise SpecError(f"{where}: unknown input '{k}' (workflow '{self.workflow.name}')")
            inputs.append((k, to_binding(v, hints.get(k), f"{where}, input '{k}'")))
        builder.nodes.append(
            NodeSpec(
                id=node_id,
                task="",
                kind=NodeKind.LAUNCHPLAN,
                inputs=tuple(inputs),
                config=LaunchPlanConfig(self.name, child.to_json(), defaults, fixed),
                case_of=builder.scope(),
            )
        )
        outs = child.interface.outputs
        promises = {name: Promise(node_id, name, t, builder) for name, t in outs}
        if not outs:
            return NodeHandle(node_id, builder)
        if len(outs) == 1 and outs[0][0] == "o0":
            return promises["o0"]
        return Outputs(node_id, promises)

    def __repr__(self) -> str:
        return f"<launch plan {self.name} of {self.workflow.name}>"
