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
    from setpoint.types.files import Directory, File

__all__ = [
    "Client",
    "Cron",
    "CronSchedule",
    "Directory",
    "File",
    "FixedRate",
    "LaunchPlan",
    "NonRetryableError",
    "Resources",
    "SetpointError",
    "Task",
    "TaskError",
    "Workflow",
    "approve",
    "conditional",
    "connect",
    "dynamic",
    "map_task",
    "sleep",
    "task",
    "wait_for_input",
    "workflow",
]


def __getattr__(name: str) -> object:
    # Lazy: the client pulls in the store and executor; File/Directory pull in the type engine.
    if name == "Client":
        from setpoint.client.embedded import Client

        return Client
    if name == "connect":  # a client for a remote `setpoint server`
        from setpoint.client.remote import connect

        return connect
    if name in ("File", "Directory"):
        from setpoint.types import files

        return getattr(files, name)
    raise AttributeError(f"module 'setpoint' has no attribute {name!r}")
