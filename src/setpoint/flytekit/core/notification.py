"""flytekit.core.notification: what launch plans send when an execution ends."""

from __future__ import annotations

from setpoint.flytekit._lazy import exports

NAMES: dict[str, str] = {
    "Email": "setpoint.notify.rules:Email",
    "Slack": "setpoint.notify.rules:Slack",
    "PagerDuty": "setpoint.notify.rules:PagerDuty",
    "Webhook": "setpoint.notify.rules:Webhook",
}

__all__ = sorted(NAMES)  # noqa: PLE0605 - the table above is the list of names
__getattr__, __dir__ = exports(__name__, NAMES)
