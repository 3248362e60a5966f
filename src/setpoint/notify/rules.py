"""The notifications a launch plan declares, as frozen data with a JSON form.

As in Flyte, `Email`, `Slack` and `PagerDuty` all send mail (Slack channels and PagerDuty services
take mail at an address of their own); `Webhook` POSTs a JSON body to a URL. Each names the
terminal phases it fires on: ``phases=[WorkflowExecutionPhase.FAILED]``. Phases are checked when
the launch plan is declared, so a typo or a phase that is never terminal fails then, not silently
later.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from setpoint.errors import SpecError


class WorkflowExecutionPhase(enum.StrEnum):
    """The terminal phases a notification can fire on (flytekit's name; TIMED_OUT counts as FAILED)."""

    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    ABORTED = "ABORTED"
    TIMED_OUT = "TIMED_OUT"


def _phases(phases: Iterable[Any], where: str) -> tuple[str, ...]:
    out = []
    for p in phases:
        value = p.value if isinstance(p, enum.Enum) else p
        name = str(value).upper()
        if name not in WorkflowExecutionPhase.__members__:
            raise SpecError(
                f"{where}: {p!r} is not a terminal phase (use {', '.join(WorkflowExecutionPhase.__members__)})"
            )
        out.append("FAILED" if name == "TIMED_OUT" else name)
    if not out:
        raise SpecError(f"{where}: give at least one phase to notify on")
    return tuple(dict.fromkeys(out))


def _addresses(recipients: Sequence[str], where: str) -> tuple[str, ...]:
    if isinstance(recipients, str):
        recipients = [recipients]
    out = tuple(recipients)
    if not out or not all(isinstance(r, str) and "@" in r for r in out):
        raise SpecError(f"{where}: recipients_email must be a list of e-mail addresses, got {recipients!r}")
    return out


@dataclass(frozen=True, init=False)
class _MailRule:
    phases: tuple[str, ...]
    recipients_email: tuple[str, ...]
    kind = "email"

    def __init__(self, phases: Iterable[Any], recipients_email: Sequence[str]) -> None:
        where = f"{type(self).__name__} notification"
        object.__setattr__(self, "phases", _phases(phases, where))
        object.__setattr__(self, "recipients_email", _addresses(recipients_email, where))

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "phases": list(self.phases), "recipients_email": list(self.recipients_email)}


class Email(_MailRule):
    """Mail ``recipients_email`` when an execution ends in one of ``phases``."""

    kind = "email"


class Slack(_MailRule):
    """Mail a Slack channel's e-mail address (Flyte's Slack notification is an e-mail too)."""

    kind = "slack"


class PagerDuty(_MailRule):
    """Mail a PagerDuty service's integration address (as in Flyte)."""

    kind = "pagerduty"


@dataclass(frozen=True, init=False)
class Webhook:
    """POST a JSON description of the execution to ``url`` when it ends in one of ``phases``."""

    phases: tuple[str, ...]
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    kind = "webhook"

    def __init__(self, phases: Iterable[Any], url: str, headers: Mapping[str, str] | None = None) -> None:
        where = "Webhook notification"
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise SpecError(f"{where}: url must be an http:// or https:// URL, got {url!r}")
        object.__setattr__(self, "phases", _phases(phases, where))
        object.__setattr__(self, "url", url)
        object.__setattr__(self, "headers", tuple(sorted((headers or {}).items())))

    def to_json(self) -> dict[str, Any]:
        return {"kind": "webhook", "phases": list(self.phases), "url": self.url, "headers": dict(self.headers)}


Notification = Email | Slack | PagerDuty | Webhook
_MAIL_KINDS: dict[str, type[_MailRule]] = {"email": Email, "slack": Slack, "pagerduty": PagerDuty}


def check_notifications(value: Notification | Sequence[Notification] | None, where: str) -> tuple[Notification, ...]:
    """A launch plan's notifications as a tuple (one or a list may be given); `SpecError` otherwise."""
    if value is None:
        return ()
    items = [value] if isinstance(value, Email | Slack | PagerDuty | Webhook) else list(value)
    for item in items:
        if not isinstance(item, Email | Slack | PagerDuty | Webhook):
            raise SpecError(
                f"{where}: notifications take Email, Slack, PagerDuty or Webhook, got {type(item).__name__}"
            )
    return tuple(items)


def notification_from_json(data: Mapping[str, Any], where: str = "notification") -> Notification:
    kind = data.get("kind")
    if kind == "webhook":
        return Webhook(data.get("phases", ()), data.get("url", ""), data.get("headers"))
    cls = _MAIL_KINDS.get(str(kind))
    if cls is None:
        raise SpecError(f"{where}: unknown notification kind {kind!r}")
    return cls(data.get("phases", ()), data.get("recipients_email", ()))  # type: ignore[return-value]
