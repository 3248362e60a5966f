"""The authoring surface: `task`, `workflow`, and the objects they return."""

from setpoint.sdk.task import Resources, Task, dynamic, task
from setpoint.sdk.workflow import Workflow, workflow

__all__ = ["Resources", "Task", "Workflow", "dynamic", "task", "workflow"]
