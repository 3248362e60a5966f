"""flytekit.core.workflow: the workflow decorator, `WorkflowFailurePolicy`, `ImperativeWorkflow`."""

from __future__ import annotations

from setpoint.flytekit._lazy import exports

NAMES: dict[str, str] = {
    "workflow": "setpoint.sdk.workflow:workflow",
    "WorkflowFailurePolicy": "setpoint.sdk.workflow:WorkflowFailurePolicy",
    "ImperativeWorkflow": "setpoint.sdk.imperative:ImperativeWorkflow",
}

__all__ = sorted(NAMES)  # noqa: PLE0605 - the table above is the list of names
__getattr__, __dir__ = exports(__name__, NAMES)
