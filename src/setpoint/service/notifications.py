"""Which notifications an execution that has ended fires, and sending them.

A launch plan declares notifications (`setpoint.notify.rules`); when one of its executions reaches
a terminal phase, `notify_terminal` renders one message, picks the rules whose phases include the
execution's phase, and hands each to its sender. A failed delivery is logged and reported in the
result, never raised: a mail server being down must not fail or stall the execution that ended.
`due` and `message_for` are pure, so which rule fires, and what it says, is tested with tables.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from setpoint.core.model import ExecutionRecord
from setpoint.notify.rules import Notification, notification_from_json
from setpoint.notify.senders import Message, Senders

log = logging.getLogger("setpoint.service.notifications")


@dataclass(frozen=True, slots=True)
class Delivery:
    rule: Notification
    sent: bool
    error: str = ""


def rules_from_json(data: Sequence[Mapping[str, Any]] | None, where: str = "launch plan") -> list[Notification]:
    """The notifications a registered launch plan's body holds (its ``notifications`` list), checked."""
    return [notification_from_json(item, f"{where}, notification {i}") for i, item in enumerate(data or ())]


def due(record: ExecutionRecord, rules: Sequence[Notification]) -> list[Notification]:
    """The rules that fire for this execution (none until it is terminal)."""
    if not record.phase.is_terminal:
        return []
    return [r for r in rules if record.phase.value in r.phases]


def message_for(record: ExecutionRecord, launchplan: str = "", link: str = "") -> Message:
    """The subject, text and JSON payload describing an execution that has ended."""
    phase = record.phase.value
    source = f"launch plan '{launchplan}'" if launchplan else f"workflow '{record.workflow}'"
    subject = f"[setpoint] {record.project}/{record.id} {phase}: {source}"
    lines = [f"Execution {record.id} of {source} in project '{record.project}' ended {phase}."]
    if record.started_at is not None and record.finished_at is not None:
        lines.append(f"It ran for {record.finished_at - record.started_at:.1f}s.")
    if record.error is not None:
        node = f" in node '{record.error.node}'" if record.error.node else ""
        lines.append(f"Error{node}: {record.error.code}: {record.error.message}")
    if link:
        lines.append(link)
    payload = {
        "execution": record.id,
        "project": record.project,
        "workflow": record.workflow,
        "launchplan": launchplan or None,
        "phase": phase,
        "error": None
        if record.error is None
        else {"code": record.error.code, "message": record.error.message, "node": record.error.node},
        "link": link or None,
    }
    return Message(subject, "\n".join(lines) + "\n", payload)


def notify_terminal(
    record: ExecutionRecord,
    rules: Sequence[Notification],
    senders: Senders,
    *,
    launchplan: str = "",
    link: str = "",
) -> list[Delivery]:
    """Send every notification due for ``record``; report each delivery (failures are not raised)."""
    fired = due(record, rules)
    if not fired:
        return []
    message = message_for(record, launchplan, link)
    out = []
    for rule in fired:
        sender = senders.for_rule(rule)
        if sender is None:
            log.warning("no sender configured for %s notifications of execution %s", rule.kind, record.id)
            out.append(Delivery(rule, False, f"no sender configured for {rule.kind} notifications"))
            continue
        try:
            sender.send(rule, message)
        except Exception as e:  # any failure of a sender is reported, never raised
            log.warning("%s notification of execution %s failed: %s", rule.kind, record.id, e)
            out.append(Delivery(rule, False, f"{type(e).__name__}: {e}"))
        else:
            out.append(Delivery(rule, True))
    return out
