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
It may carry notifications (`setpoint.notify.Email`, `Slack`, `PagerDuty`, `Webhook`): what to send
when one of its executions reaches a terminal phase (see `setpoint.service.notifications`).

flytekit's spellings work too: ``LaunchPlan.create(name, wf, ...)``, ``LaunchPlan.get_or_create(wf,
name, ...)`` and ``LaunchPlan.get_default_launch_plan(ctx, wf)``. Its options setpoint has no use
for (labels, annotations, security contexts ...) are accepted with a warning naming them.
"""

from __future__ import annotations

import sys
import typing
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from setpoint.errors import SpecError
from setpoint.notify.rules import Notification, check_notifications
from setpoint.scheduling.ticks import Cron, FixedRate, Schedule, check_for_workflow
from setpoint.sdk.binding import to_binding
from setpoint.sdk.context import current_builder
from setpoint.sdk.promise import NodeHandle, Outputs, Promise
from setpoint.spec.workflow import NODE_ID_RE, LaunchPlanConfig, NodeKind, NodeSpec, WorkflowSpec, check_name

if TYPE_CHECKING:
    from setpoint.sdk.workflow import Workflow


def _is_workflow(obj: object) -> bool:
    """Whether ``obj`` is a `Workflow`, without importing the workflow module: it imports the
    compiler, which imports this module to add launch-plan nodes (an instance implies it is loaded)."""
    module = sys.modules.get("setpoint.sdk.workflow")
    return module is not None and isinstance(obj, module.Workflow)


# flytekit options that have no meaning here: accepted, and a warning says so.
UNUSED_OPTIONS = (
    "labels",
    "annotations",
    "raw_output_data_config",
    "max_parallelism",
    "security_context",
    "auth_role",
    "trigger",
    "overwrite_cache",
    "auto_activate",
)


def _warn_unused(options: Mapping[str, Any], where: str) -> None:
    unknown = sorted(set(options) - set(UNUSED_OPTIONS))
    if unknown:
        raise SpecError(f"{where}: unknown option{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}")
    given = sorted(k for k, v in options.items() if v is not None)
    if given:
        warnings.warn(f"{where}: {', '.join(given)} accepted but not used by setpoint", stacklevel=3)


def add_launchplan_node(
    name: str,
    child: WorkflowSpec,
    defaults: Mapping[str, Any],
    fixed: Mapping[str, Any],
    kwargs: Mapping[str, Any],
    hints: Mapping[str, Any],
) -> Any:
    """Add a node that starts ``child`` as a child execution to the body being compiled; its promises."""
    builder = current_builder()
    assert builder is not None
    for k in kwargs:
        if k in fixed:
            raise SpecError(f"launch plan '{name}': input '{k}' is fixed and cannot be set")
    node_id = builder.new_node_id(name)
    where = f"workflow '{builder.workflow}', node '{node_id}'"
    declared = child.interface.input_map
    inputs = []
    for k, v in kwargs.items():
        if k not in declared:
            raise SpecError(f"{where}: unknown input '{k}' (workflow '{child.name}')")
        inputs.append((k, to_binding(v, hints.get(k), f"{where}, input '{k}'")))
    builder.nodes.append(
        NodeSpec(
            id=node_id,
            task="",
            kind=NodeKind.LAUNCHPLAN,
            inputs=tuple(inputs),
            config=LaunchPlanConfig(name, child.to_json(), dict(defaults), dict(fixed)),
            case_of=builder.scope(),
        )
    )
    outs = child.interface.outputs
    promises = {n: Promise(node_id, n, t, builder) for n, t in outs}
    if not outs:
        return NodeHandle(node_id, builder)
    if len(outs) == 1 and outs[0][0] == "o0":
        return promises["o0"]
    return Outputs(node_id, promises)


class RegisteredPlan:
    """A registered launch plan as a workflow body calls it (see `setpoint.sdk.reference`)."""

    def __init__(self, name: str, spec: WorkflowSpec, defaults: Mapping[str, Any], fixed: Mapping[str, Any]) -> None:
        self.name = name
        self.spec = spec
        self.defaults = dict(defaults)
        self.fixed = dict(fixed)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if args:
            raise SpecError(f"launch plan '{self.name}': pass inputs by name")
        return add_launchplan_node(self.name, self.spec, self.defaults, self.fixed, kwargs, {})


class LaunchPlan:
    _known: ClassVar[dict[tuple[str, str], LaunchPlan]] = {}

    def __init__(
        self,
        workflow: Workflow,
        name: str,
        default_inputs: Mapping[str, Any] | None = None,
        fixed_inputs: Mapping[str, Any] | None = None,
        schedule: Schedule | None = None,
        notifications: Notification | Sequence[Notification] | None = None,
    ) -> None:
        if not _is_workflow(workflow):
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
        self.notifications = check_notifications(notifications, where)

    def _same(self, other: LaunchPlan) -> bool:
        return (self.default_inputs, self.fixed_inputs, self.schedule, self.notifications) == (
            other.default_inputs,
            other.fixed_inputs,
            other.schedule,
            other.notifications,
        )

    @classmethod
    def get_or_create(
        cls,
        workflow: Workflow,
        name: str | None = None,
        *,
        default_inputs: Mapping[str, Any] | None = None,
        fixed_inputs: Mapping[str, Any] | None = None,
        schedule: Schedule | None = None,
        notifications: Notification | Sequence[Notification] | None = None,
        **unused: Any,
    ) -> LaunchPlan:
        """The launch plan of this name for this workflow; asking again with other inputs is an error.

        Without a name (and without inputs, schedule or notifications) it is the workflow's default
        launch plan, named like the workflow.
        """
        _warn_unused(unused, f"launch plan '{name or workflow.name}'")
        if name is None and (default_inputs or fixed_inputs or schedule is not None or notifications):
            raise SpecError(
                f"workflow '{workflow.name}': only a named launch plan has default or fixed inputs, a schedule "
                "or notifications; pass name="
            )
        name = name or workflow.name
        key = (f"{workflow.module}.{workflow.name}", name)
        plan = cls(workflow, name, default_inputs, fixed_inputs, schedule, notifications)
        existing = cls._known.get(key)
        if existing is not None:
            if not existing._same(plan):
                raise SpecError(
                    f"launch plan '{name}' already exists with other inputs, schedule or notifications; "
                    "give it another name"
                )
            return existing
        cls._known[key] = plan
        return plan

    @classmethod
    def create(
        cls,
        name: str,
        workflow: Workflow,
        default_inputs: Mapping[str, Any] | None = None,
        fixed_inputs: Mapping[str, Any] | None = None,
        schedule: Schedule | None = None,
        notifications: Notification | Sequence[Notification] | None = None,
        **unused: Any,
    ) -> LaunchPlan:
        """A new launch plan (flytekit's argument order: name first); it replaces one of the same name."""
        _warn_unused(unused, f"launch plan '{name}'")
        plan = cls(workflow, name, default_inputs, fixed_inputs, schedule, notifications)
        cls._known[(f"{workflow.module}.{workflow.name}", name)] = plan
        return plan

    @classmethod
    def get_default_launch_plan(cls, *args: Any) -> LaunchPlan:
        """The workflow's default launch plan: ``get_default_launch_plan(wf)`` or flytekit's ``(ctx, wf)``."""
        if len(args) not in (1, 2) or not _is_workflow(args[-1]):
            raise SpecError("get_default_launch_plan takes a @workflow (optionally after a context)")
        return cls.get_or_create(args[-1])

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
        hints = typing.get_type_hints(self.workflow.function, include_extras=True)
        defaults, fixed = self.literals()
        return add_launchplan_node(self.name, self.workflow.compile(), defaults, fixed, kwargs, hints)

    def __repr__(self) -> str:
        return f"<launch plan {self.name} of {self.workflow.name}>"
