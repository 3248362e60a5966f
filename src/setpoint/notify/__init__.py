"""Notifications: what to tell whom when an execution reaches a terminal phase, and the senders.

`rules` holds the declarations a launch plan carries (`Email`, `Slack`, `PagerDuty`, `Webhook`),
plain frozen data with a JSON form; `senders` delivers them (SMTP for mail, HTTP POST for
webhooks) behind the small `Sender` protocol, so a deployment can plug in its own. Deciding which
notifications fire for an execution is `setpoint.service.notifications`.
"""

from setpoint.notify.rules import Email, Notification, PagerDuty, Slack, Webhook, WorkflowExecutionPhase

__all__ = ["Email", "Notification", "PagerDuty", "Slack", "Webhook", "WorkflowExecutionPhase"]
