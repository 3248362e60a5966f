"""Delivering notifications: mail over SMTP, webhooks over HTTP, behind one small protocol.

A `Sender` takes a rule and a rendered `Message` and delivers it or raises. `Senders` maps each
notification kind to the sender that delivers it: the three mail kinds share one `SmtpSender`,
webhooks use `WebhookSender`. A deployment that mails through an API instead plugs in its own
`Sender` for those kinds. Senders are built at the composition root from settings and passed
down; nothing here reads the environment.
"""

from __future__ import annotations

import json
import smtplib
import urllib.request
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, Protocol

from setpoint.notify.rules import Notification, Webhook


@dataclass(frozen=True, slots=True)
class Message:
    """What a notification says: a subject and text for mail, a JSON payload for webhooks."""

    subject: str
    text: str
    payload: dict[str, Any]


class Sender(Protocol):
    def send(self, rule: Notification, message: Message) -> None: ...


@dataclass(frozen=True, slots=True)
class SmtpSender:
    """Send mail through an SMTP server (``starttls`` and a login when the server wants them)."""

    host: str = "localhost"
    port: int = 25
    sender: str = "setpoint@localhost"
    starttls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0

    def send(self, rule: Notification, message: Message) -> None:
        recipients = getattr(rule, "recipients_email", ())
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = ", ".join(recipients)
        mail["Subject"] = message.subject
        mail.set_content(message.text)
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(mail, from_addr=self.sender, to_addrs=list(recipients))


@dataclass(frozen=True, slots=True)
class WebhookSender:
    """POST the message's JSON payload to the webhook's URL; a non-2xx answer is an error."""

    timeout: float = 30.0

    def send(self, rule: Notification, message: Message) -> None:
        if not isinstance(rule, Webhook):
            raise TypeError(f"WebhookSender delivers webhooks, not {type(rule).__name__}")
        request = urllib.request.Request(
            rule.url,
            data=json.dumps(message.payload).encode(),
            headers={"Content-Type": "application/json", **dict(rule.headers)},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            if not 200 <= response.status < 300:
                raise OSError(f"webhook {rule.url} answered {response.status}")


@dataclass(frozen=True, slots=True)
class Senders:
    """The sender of each notification kind."""

    mail: Sender | None = None
    webhook: Sender | None = None

    def for_rule(self, rule: Notification) -> Sender | None:
        return self.webhook if isinstance(rule, Webhook) else self.mail
