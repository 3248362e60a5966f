"""Following an execution the CLI started to its end: live progress, Ctrl-C, the final report and exit code.

`run`, `relaunch` and `recover` (`setpoint.cli.catalog`) end the same way: progress until the
execution ends (redrawn from the server's event stream in remote mode), Ctrl-C asking whether to
abort or leave it running, then the outcome and the exit code of its phase.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

import click
from rich.live import Live

from setpoint.cli import render
from setpoint.cli.app import EXIT_FAILED, EXIT_INTERRUPTED, Ctx, console, err_console
from setpoint.client.embedded import Client
from setpoint.core.phases import ExecutionPhase

if TYPE_CHECKING:
    from setpoint.client.contract import ClientContract


def follow_to_the_end(client: ClientContract, eid: str, state: Ctx, output: str) -> None:
    """Show progress until the execution ends (Ctrl-C asks what to do), print it, exit by its phase."""
    try:
        rec = follow(client, eid, live=output == "table" and console.is_terminal)
    except KeyboardInterrupt:
        rec = on_interrupt(client, eid, state)
    finish(client, eid, output, rec.phase)


def follow(client: ClientContract, eid: str, *, live: bool) -> Any:
    if not live:
        return client.wait(eid)
    with Live(console=console, refresh_per_second=8, transient=False) as view:
        if not isinstance(client, Client):
            # Remote: redraw when the server's event stream says something happened (at most 5
            # times a second; its keep-alive, about once a second, catches up a skipped redraw).
            drawn = 0.0
            for _ in client.changes(eid):
                if time.monotonic() - drawn >= 0.2:
                    view.update(render.progress_view(client.get(eid), client.nodes(eid)))
                    drawn = time.monotonic()
            rec = client.get(eid)
            view.update(render.progress_view(rec, client.nodes(eid)))
            return rec
        while True:
            rec = client.get(eid)
            view.update(render.progress_view(rec, client.nodes(eid)))
            if rec.phase.is_terminal:
                return rec
            client.wait(eid, timeout=0.25)


def on_interrupt(client: ClientContract, eid: str, state: Ctx) -> Any:
    choice = "abort"
    if sys.stdin.isatty():
        try:
            choice = click.prompt(
                "\nAbort the execution, or leave it running in the background?",
                type=click.Choice(["abort", "background"]),
                default="abort",
            )
        except (KeyboardInterrupt, click.Abort):
            choice = "abort"
    if choice == "background" and not isinstance(client, Client):
        err_console.print(f"execution {eid} continues on the server; follow it with: setpoint describe {eid}")
        sys.exit(0)
    if choice == "background":
        log = client.settings.home / "controller.log"
        with log.open("ab") as fh:
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "setpoint.cli.main",
                    "--home",
                    str(client.settings.home),
                    "controller",
                    "--exit-when-idle",
                ],
                stdout=fh,
                stderr=fh,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                # the same database and blob store as this process, even when given as options
                # (through the environment: a database URL may hold a password, argv is public)
                env={
                    **os.environ,
                    **({"SETPOINT_DB": client.settings.db_url} if client.settings.db_url else {}),
                    **({"SETPOINT_BLOBS": client.settings.blobs_url} if client.settings.blobs_url else {}),
                },
            )
        err_console.print(
            f"execution {eid} continues in the background (controller log: {log}); "
            f"follow it with: setpoint describe {eid}"
        )
        sys.exit(0)
    client.terminate(eid, "interrupted from the command line")
    err_console.print(f"aborting execution {eid} ...")
    return client.wait(eid, timeout=30)


def finish(client: ClientContract, eid: str, output: str, phase: ExecutionPhase) -> None:
    rec = client.get(eid)
    if output == "json":
        click.echo(json.dumps(render.describe_json(rec, client.nodes(eid), client.blobs), indent=2))
    else:
        render.outcome_line(console, rec)
        if rec.outputs is not None:
            for name, value in render.execution_json(rec, client.blobs)["outputs"].items():
                console.print(f"  {name} = {json.dumps(value)[:2000]}", highlight=False, soft_wrap=True)
        if rec.error is not None:
            where = f" at node '{rec.error.node}'" if rec.error.node else ""
            console.print(f"[red]{rec.error.code}{where}:[/] {rec.error.message}", highlight=False)
            if rec.error.node:
                console.print(f"  logs: setpoint logs {eid} {rec.error.node}")
    if rec.phase is ExecutionPhase.ABORTED and rec.abort_reason == "interrupted from the command line":
        sys.exit(EXIT_INTERRUPTED)
    if rec.phase is not ExecutionPhase.SUCCEEDED:
        sys.exit(EXIT_FAILED)
