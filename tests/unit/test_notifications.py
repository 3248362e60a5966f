"""Launch plan notifications: which fire, what they say, delivered to a real SMTP and HTTP sink."""

from __future__ import annotations

import email
import json
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message as MailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from setpoint.core.model import ErrorInfo, ExecutionRecord
from setpoint.core.phases import ErrorKind, ExecutionPhase
from setpoint.errors import SpecError
from setpoint.notify.rules import (
    Email,
    Notification,
    PagerDuty,
    Slack,
    Webhook,
    WorkflowExecutionPhase,
    check_notifications,
    notification_from_json,
)
from setpoint.notify.senders import Message, Senders, SmtpSender, WebhookSender
from setpoint.service.notifications import due, message_for, notify_terminal, rules_from_json

pytestmark = pytest.mark.timeout(60)


# -- sinks ------------------------------------------------------------------------------------------


@dataclass
class Inbox:
    mails: list[tuple[str, list[str], MailMessage]] = field(default_factory=list)


class _SmtpHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP for smtplib: EHLO, MAIL, RCPT, DATA, QUIT."""

    def reply(self, line: str) -> None:
        self.wfile.write(f"{line}\r\n".encode())

    def handle(self) -> None:
        inbox: Inbox = self.server.inbox  # type: ignore[attr-defined]
        self.reply("220 sink ready")
        sender, rcpts = "", list[str]()
        while line := self.rfile.readline().decode().rstrip("\r\n"):
            verb = line.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250 sink")
            elif verb == "MAIL":
                sender, rcpts = line.split(":", 1)[1].strip().strip("<>").split(">")[0], list[str]()
                self.reply("250 ok")
            elif verb == "RCPT":
                rcpts.append(line.split(":", 1)[1].strip().strip("<>"))
                self.reply("250 ok")
            elif verb == "DATA":
                self.reply("354 go on")
                data = []
                while (chunk := self.rfile.readline().decode()) not in (".\r\n", ""):
                    data.append(chunk[1:] if chunk.startswith("..") else chunk)
                inbox.mails.append((sender, rcpts, email.message_from_string("".join(data))))
                self.reply("250 queued")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("250 ok")


@pytest.fixture
def smtp_sink() -> Iterator[tuple[int, Inbox]]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SmtpHandler)
    server.daemon_threads = True
    server.inbox = Inbox()  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], server.inbox  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def http_sink() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"path": self.path, "token": self.headers.get("X-Token"), "body": json.loads(body)})
            self.send_response(500 if self.path == "/broken" else 204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


def record(phase: ExecutionPhase, error: ErrorInfo | None = None) -> ExecutionRecord:
    return ExecutionRecord(
        id="e1",
        project="ml",
        workflow="train",
        spec_digest="s",
        code_digest="c",
        inputs={},
        phase=phase,
        started_at=10.0,
        finished_at=12.5,
        error=error,
    )


# -- rules ------------------------------------------------------------------------------------------


def test_rules_check_their_phases_and_addresses() -> None:
    rule = Email(phases=[WorkflowExecutionPhase.FAILED, "timed_out"], recipients_email=["a@x.org"])
    assert rule.phases == ("FAILED",)  # TIMED_OUT is a failure here
    with pytest.raises(SpecError, match="not a terminal phase"):
        Slack(phases=["RUNNING"], recipients_email=["c@x.org"])
    with pytest.raises(SpecError, match="e-mail addresses"):
        PagerDuty(phases=["FAILED"], recipients_email=["not-an-address"])
    with pytest.raises(SpecError, match="http:// or https://"):
        Webhook(phases=["FAILED"], url="ftp://x")
    with pytest.raises(SpecError, match="Email, Slack, PagerDuty or Webhook"):
        check_notifications(["mail me"], "launch plan 'x'")  # type: ignore[list-item]


@pytest.mark.parametrize(
    "rule",
    [
        Email(phases=["SUCCEEDED"], recipients_email=["a@x.org"]),
        Slack(phases=["FAILED", "ABORTED"], recipients_email=["chan@x.slack.com"]),
        PagerDuty(phases=["FAILED"], recipients_email=["svc@x.pagerduty.com"]),
        Webhook(phases=["FAILED"], url="https://hooks.example.org/x", headers={"X-Token": "t"}),
    ],
)
def test_rules_round_trip_through_json(rule: Any) -> None:
    assert notification_from_json(json.loads(json.dumps(rule.to_json()))) == rule
    assert rules_from_json([rule.to_json()]) == [rule]


def test_a_bad_stored_rule_is_an_error_naming_it() -> None:
    assert rules_from_json(None) == []
    with pytest.raises(SpecError, match="launch plan, notification 1: unknown notification kind 'fax'"):
        rules_from_json([Email(phases=["FAILED"], recipients_email=["a@x.org"]).to_json(), {"kind": "fax"}])


@pytest.mark.parametrize(
    ("phase", "fired"),
    [
        (ExecutionPhase.RUNNING, []),
        (ExecutionPhase.SUCCEEDED, ["email"]),
        (ExecutionPhase.FAILED, ["slack", "webhook"]),
        (ExecutionPhase.ABORTED, ["slack"]),
    ],
)
def test_which_rules_fire_for_a_phase(phase: ExecutionPhase, fired: list[str]) -> None:
    rules: list[Notification] = [
        Email(phases=["SUCCEEDED"], recipients_email=["a@x.org"]),
        Slack(phases=["FAILED", "ABORTED"], recipients_email=["c@x.org"]),
        Webhook(phases=["FAILED"], url="http://h/x"),
    ]
    assert [r.kind for r in due(record(phase), rules)] == fired


def test_the_message_names_the_execution_phase_and_error() -> None:
    err = ErrorInfo(ErrorKind.USER, "TaskRaised", "ValueError: bad batch", node="train-step")
    msg = message_for(record(ExecutionPhase.FAILED, err), launchplan="nightly")
    assert msg.subject == "[setpoint] ml/e1 FAILED: launch plan 'nightly'"
    assert "in node 'train-step': TaskRaised: ValueError: bad batch" in msg.text
    assert "ran for 2.5s" in msg.text
    assert msg.payload["error"] == {"code": "TaskRaised", "message": "ValueError: bad batch", "node": "train-step"}


# -- delivery ---------------------------------------------------------------------------------------


def test_mail_and_webhooks_are_delivered_to_real_sinks(
    smtp_sink: tuple[int, Inbox], http_sink: tuple[str, list[dict[str, Any]]]
) -> None:
    port, inbox = smtp_sink
    url, received = http_sink
    rules: list[Notification] = [
        Email(phases=["FAILED"], recipients_email=["a@x.org", "b@x.org"]),
        PagerDuty(phases=["FAILED"], recipients_email=["oncall@x.pagerduty.com"]),
        Webhook(phases=["FAILED"], url=f"{url}/hook", headers={"X-Token": "s3"}),
        Email(phases=["SUCCEEDED"], recipients_email=["never@x.org"]),
    ]
    senders = Senders(mail=SmtpSender("127.0.0.1", port, sender="setpoint@ci"), webhook=WebhookSender(timeout=5))
    deliveries = notify_terminal(record(ExecutionPhase.FAILED), rules, senders, launchplan="nightly")
    assert [(d.rule.kind, d.sent) for d in deliveries] == [("email", True), ("pagerduty", True), ("webhook", True)]
    assert [(s, r) for s, r, _ in inbox.mails] == [
        ("setpoint@ci", ["a@x.org", "b@x.org"]),
        ("setpoint@ci", ["oncall@x.pagerduty.com"]),
    ]
    mail = inbox.mails[0][2]
    assert mail["Subject"] == "[setpoint] ml/e1 FAILED: launch plan 'nightly'"
    assert "Execution e1 of launch plan 'nightly'" in mail.get_payload()
    assert received == [
        {"path": "/hook", "token": "s3", "body": message_for(record(ExecutionPhase.FAILED), "nightly").payload}
    ]


def test_a_failed_delivery_is_reported_not_raised(http_sink: tuple[str, list[dict[str, Any]]]) -> None:
    url, _ = http_sink
    rules: list[Notification] = [
        Webhook(phases=["SUCCEEDED"], url=f"{url}/broken"),
        Email(phases=["SUCCEEDED"], recipients_email=["a@x.org"]),
    ]
    out = notify_terminal(record(ExecutionPhase.SUCCEEDED), rules, Senders(webhook=WebhookSender(timeout=5)))
    assert [d.sent for d in out] == [False, False]
    assert "500" in out[0].error
    assert out[1].error == "no sender configured for email notifications"


def test_a_custom_sender_plugs_in() -> None:
    got: list[tuple[str, str]] = []

    class Recorder:
        def send(self, rule: Any, message: Message) -> None:
            got.append((rule.kind, message.subject))

    out = notify_terminal(
        record(ExecutionPhase.ABORTED),
        [Slack(phases=["ABORTED"], recipients_email=["c@x.org"])],
        Senders(mail=Recorder()),
    )
    assert out[0].sent and got == [("slack", "[setpoint] ml/e1 ABORTED: workflow 'train'")]
