"""setpoint: a declarative, level-triggered workflow orchestrator for ML and data pipelines.

The public surface is re-exported here and pinned by a test, so modules can move freely behind it.
Importing setpoint registers nothing and starts nothing.
"""

from typing import TYPE_CHECKING

from setpoint.errors import NonRetryableError, SetpointError, TaskError
from setpoint.scheduling.ticks import Cron, CronSchedule, FixedRate
from setpoint.sdk import Resources, Task, Workflow, dynamic, task, workflow
from setpoint.sdk.conditional import conditional
from setpoint.sdk.gates import approve, sleep, wait_for_input
from setpoint.sdk.launchplan import LaunchPlan
from setpoint.sdk.maptask import map_task

if TYPE_CHECKING:  # the lazy names below, typed for mypy without importing them at run time
    from setpoint.client.embedded import Client
    from setpoint.client.remote import connect
    from setpoint.sdk.current import Checkpoint, RecoverableException, TaskContext, current_context
    from setpoint.sdk.deck import Deck
    from setpoint.sdk.eager import eager
    from setpoint.sdk.imperative import ImperativeWorkflow
    from setpoint.sdk.reference import reference_launch_plan, reference_task
    from setpoint.sdk.shell import OutputLocation, ShellTask, kwtypes
    from setpoint.sdk.sqlite_task import SQLite3Config, SQLite3Task
    from setpoint.sdk.task import ImageSpec, Secret, TaskMetadata
    from setpoint.sdk.workflow import WorkflowError, WorkflowFailurePolicy, create_node
    from setpoint.types.files import Directory, File
    from setpoint.types.hashing import HashMethod
    from setpoint.types.pickling import BatchSize
    from setpoint.types.structured import StructuredDataset

# Names loaded on first use ("module:attribute"): task kinds and the task context pull in more than
# `import setpoint` should (sqlite3, the type engine), and most programs never touch them.
_LAZY: dict[str, str] = {  # name -> "module:attribute"
    "Client": "setpoint.client.embedded:Client",
    "connect": "setpoint.client.remote:connect",  # a client for a remote `setpoint server`
    "File": "setpoint.types.files:File",
    "Directory": "setpoint.types.files:Directory",
    "Checkpoint": "setpoint.sdk.current:Checkpoint",
    "RecoverableException": "setpoint.sdk.current:RecoverableException",
    "TaskContext": "setpoint.sdk.current:TaskContext",
    "current_context": "setpoint.sdk.current:current_context",
    "Deck": "setpoint.sdk.deck:Deck",
    "reference_task": "setpoint.sdk.reference:reference_task",
    "reference_launch_plan": "setpoint.sdk.reference:reference_launch_plan",
    "ShellTask": "setpoint.sdk.shell:ShellTask",
    "OutputLocation": "setpoint.sdk.shell:OutputLocation",
    "kwtypes": "setpoint.sdk.shell:kwtypes",
    "SQLite3Task": "setpoint.sdk.sqlite_task:SQLite3Task",
    "SQLite3Config": "setpoint.sdk.sqlite_task:SQLite3Config",
    "ImageSpec": "setpoint.sdk.task:ImageSpec",
    "Secret": "setpoint.sdk.task:Secret",
    "TaskMetadata": "setpoint.sdk.task:TaskMetadata",
    "create_node": "setpoint.sdk.workflow:create_node",
    "WorkflowFailurePolicy": "setpoint.sdk.workflow:WorkflowFailurePolicy",
    "WorkflowError": "setpoint.sdk.workflow:WorkflowError",
    "ImperativeWorkflow": "setpoint.sdk.imperative:ImperativeWorkflow",
    "eager": "setpoint.sdk.eager:eager",
    "StructuredDataset": "setpoint.types.structured:StructuredDataset",
    "HashMethod": "setpoint.types.hashing:HashMethod",
    "BatchSize": "setpoint.types.pickling:BatchSize",
}

__all__ = [
    "BatchSize",
    "Checkpoint",
    "Client",
    "Cron",
    "CronSchedule",
    "Deck",
    "Directory",
    "File",
    "FixedRate",
    "HashMethod",
    "ImageSpec",
    "ImperativeWorkflow",
    "LaunchPlan",
    "NonRetryableError",
    "OutputLocation",
    "RecoverableException",
    "Resources",
    "SQLite3Config",
    "SQLite3Task",
    "Secret",
    "SetpointError",
    "ShellTask",
    "StructuredDataset",
    "Task",
    "TaskContext",
    "TaskError",
    "TaskMetadata",
    "Workflow",
    "WorkflowError",
    "WorkflowFailurePolicy",
    "approve",
    "conditional",
    "connect",
    "create_node",
    "current_context",
    "dynamic",
    "eager",
    "kwtypes",
    "map_task",
    "reference_launch_plan",
    "reference_task",
    "sleep",
    "task",
    "wait_for_input",
    "workflow",
]


def __getattr__(name: str) -> object:
    where = _LAZY.get(name)
    if where is None:
        raise AttributeError(f"module 'setpoint' has no attribute {name!r}")
    import importlib

    module, _, attr = where.partition(":")
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value  # the next lookup is a plain attribute
    return value
