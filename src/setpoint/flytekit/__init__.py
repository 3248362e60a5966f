"""flytekit's module paths over setpoint's own names: port a Flyte program by changing its imports.

    from flytekit import task, workflow                  ->  from setpoint.flytekit import task, workflow
    from flytekit.types.file import FlyteFile            ->  from setpoint.flytekit.types.file import FlyteFile

Every name here is a setpoint object (``setpoint.flytekit.task is setpoint.task``): this package
only spells them the way flytekit does and at flytekit's paths. Which flytekit names exist here,
which behave differently and which do not exist (and what to use) is the table in
docs/migrating-from-flyte.md. Names are loaded lazily (`setpoint.flytekit._lazy`).
"""

from __future__ import annotations

from setpoint.flytekit._lazy import exports

NAMES: dict[str, str] = {
    # authoring
    "task": "setpoint.sdk.task:task",
    "workflow": "setpoint.sdk.workflow:workflow",
    "WorkflowFailurePolicy": "setpoint.sdk.workflow:WorkflowFailurePolicy",
    "Workflow": "setpoint.sdk.imperative:ImperativeWorkflow",  # flytekit's Workflow is the imperative builder
    "dynamic": "setpoint.sdk.task:dynamic",
    "eager": "setpoint.sdk.eager:eager",
    "map_task": "setpoint.sdk.maptask:map_task",
    "conditional": "setpoint.sdk.conditional:conditional",
    "create_node": "setpoint.sdk.workflow:create_node",
    "EagerException": "setpoint.sdk.eager:EagerException",
    "kwtypes": "setpoint.sdk.shell:kwtypes",
    "Resources": "setpoint.sdk.task:Resources",
    "TaskMetadata": "setpoint.sdk.task:TaskMetadata",
    "ImageSpec": "setpoint.sdk.task:ImageSpec",
    "Secret": "setpoint.sdk.task:Secret",
    "current_context": "setpoint.sdk.current:current_context",
    "Deck": "setpoint.sdk.deck:Deck",
    "Checkpoint": "setpoint.sdk.current:Checkpoint",
    # gates
    "approve": "setpoint.sdk.gates:approve",
    "sleep": "setpoint.sdk.gates:sleep",
    "wait_for_input": "setpoint.sdk.gates:wait_for_input",
    # launch plans, schedules, notifications, references
    "LaunchPlan": "setpoint.sdk.launchplan:LaunchPlan",
    "CronSchedule": "setpoint.scheduling.ticks:CronSchedule",
    "FixedRate": "setpoint.scheduling.ticks:FixedRate",
    "Email": "setpoint.notify.rules:Email",
    "Slack": "setpoint.notify.rules:Slack",
    "PagerDuty": "setpoint.notify.rules:PagerDuty",
    "WorkflowExecutionPhase": "setpoint.notify.rules:WorkflowExecutionPhase",
    "reference_task": "setpoint.sdk.reference:reference_task",
    "reference_launch_plan": "setpoint.sdk.reference:reference_launch_plan",
    # types
    "FlyteFile": "setpoint.types.files:File",
    "FlyteDirectory": "setpoint.types.files:Directory",
    "StructuredDataset": "setpoint.types.structured:StructuredDataset",
    "HashMethod": "setpoint.types.hashing:HashMethod",
    "BatchSize": "setpoint.types.pickling:BatchSize",
}

__all__ = sorted(NAMES)  # noqa: PLE0605 - the table above is the list of names
__getattr__, __dir__ = exports(__name__, NAMES)
