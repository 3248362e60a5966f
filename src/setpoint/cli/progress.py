"""Following an execution the CLI started to its end: live progress, Ctrl-C, the final report and exit code.

`run`, `relaunch` and `recover` (`setpoint.cli.catalog`) end the same way: progress until the
execution ends (redrawn from the server's event stream in remote mode), Ctrl-C asking whether to
abort or leave it running, then the outcome and the exit code of its phase.
"""

from __future__ import annotations

import json
import os
import queue
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import click
from rich.console import Group
from rich.live import Live
from rich.text import Text

from setpoint.cli import render
from setpoint.cli.app import EXIT_FAILED, EXIT_INTERRUPTED, Ctx, console, err_console
from setpoint.client.embedded import Client
from setpoint.core.model import EventKind
from setpoint.core.phases import ExecutionPhase, NodePhase
from setpoint.errors import InputError, SetpointError
from setpoint.spec.configs import GateKind
from setpoint.spec.workflow import ApproveGate

if TYPE_CHECKING:
    from setpoint.client.contract import ClientContract
    from setpoint.service.follow import LogChunk
    from setpoint.service.inspect import NodeView
    from setpoint.spec.workflow import WorkflowSpec


def follow_to_the_end(client: ClientContract, eid: str, state: Ctx, output: str, *, logs: bool = False) -> None:
    """Show progress until the execution ends (Ctrl-C asks what to do), print it, exit by its phase.

    In a terminal the progress is redrawn in place; otherwise (table output) each node transition
    is one line. ``logs``: the running tasks' output is printed as it comes, each line after its
    ``[node/attempt]``.
    """
    if logs and output == "json":
        raise InputError("--logs prints to the terminal; it does not go with --output json")
    try:
        if output == "table" and console.is_terminal:
            rec = follow(client, eid, live=True, logs=logs, state=state)
        elif output == "table":
            rec = follow_lines(client, eid, logs=logs, state=state)
        else:
            rec = client.wait(eid)
    except KeyboardInterrupt:
        rec = on_interrupt(client, eid, state)
    finish(client, eid, output, rec.phase, state)


def log_chunks(
    client: ClientContract, eid: str, node: str | None = None, attempt: int | None = None
) -> Iterator[tuple[str, LogChunk]]:
    """(node id, chunk) of the logs of every node under ``node`` (default: all) as they grow, until
    the execution ends: read from the store here, or one server stream per node with ``--server``."""
    if isinstance(client, Client):
        from setpoint.service.logs import LogsFollower

        follower = LogsFollower(client.store, client.settings.attempts_root, eid, node, attempt)
        while True:
            yield from follower.poll()
            if follower.ended:
                return
            time.sleep(0.2)
    got: queue.Queue[tuple[str, LogChunk | BaseException | None]] = queue.Queue()
    streams: dict[str, threading.Thread] = {}

    def pump(node_id: str) -> None:
        try:
            for chunk in client.follow_logs(eid, node_id, attempt):
                got.put((node_id, chunk))
        except BaseException as e:
            got.put((node_id, e))
        finally:
            got.put((node_id, None))

    while True:
        ended = client.get(eid).phase.is_terminal  # before the nodes: none that ran is missed
        for v in client.nodes(eid, children=True):
            under = node is None or v.node_id == node or v.node_id.startswith(node + ".")
            if v.node_id in streams or not under or v.record.attempt == 0:
                continue
            streams[v.node_id] = threading.Thread(target=pump, args=(v.node_id,), daemon=True)
            streams[v.node_id].start()
        deadline = time.monotonic() + 0.5
        while (left := deadline - time.monotonic()) > 0:
            try:
                node_id, item = got.get(timeout=left)
            except queue.Empty:
                break
            if isinstance(item, BaseException):
                raise item
            if item is not None:
                yield node_id, item
        if ended and got.empty() and not any(t.is_alive() for t in streams.values()):
            return


def log_prefix(node_id: str, chunk: LogChunk) -> bytes:
    number = chunk.attempt_id.rsplit("/", 1)[1]
    return f"[{node_id}/{number}{':stderr' if chunk.stream == 'stderr' else ''}] ".encode()


class LogPrinter:
    """Prints the running tasks' output (``run --logs``) from a thread, each line after its node."""

    def __init__(self, client: ClientContract, eid: str, write: Callable[[bytes], None]) -> None:
        self.write = write
        self.thread = threading.Thread(target=self._run, args=(client, eid), name="setpoint-logs", daemon=True)
        self.thread.start()

    def _run(self, client: ClientContract, eid: str) -> None:
        from setpoint.service.logs import LineFilter

        lines = LineFilter()
        prefixes: dict[tuple[str, str], bytes] = {}
        try:
            for node_id, chunk in log_chunks(client, eid):
                key = (chunk.attempt_id, chunk.stream)
                prefixes[key] = log_prefix(node_id, chunk)
                data = lines.feed(key, chunk.text.encode(), prefixes[key])
                if data:
                    self.write(data)
        except SetpointError as e:
            self.write(f"(logs stopped: {e})\n".encode())
        for key, prefix in prefixes.items():
            data = lines.flush(key, prefix)
            if data:
                self.write(data)

    def join(self, timeout: float = 10.0) -> None:
        self.thread.join(timeout)


def _write_stdout(data: bytes) -> None:
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def gate_hints(eid: str, nodes: Sequence[NodeView], spec: WorkflowSpec | None, state: Ctx | None = None) -> list[str]:
    """For each gate waiting for a signal, the command that releases it."""
    command = state.command if state is not None else _plain_command
    gates = {n.id: g for n in spec.nodes if (g := n.signal_gate) is not None} if spec is not None else {}
    hints = []
    for v in nodes:
        if v.phase.is_terminal or v.phase is NodePhase.PENDING:
            continue
        detail = v.record.typed_detail
        gate = gates.get(v.node_id)
        name = gate.name if gate is not None else detail.signal
        if name is None or (gate is None and detail.gate is None):
            continue
        if isinstance(gate, ApproveGate) or detail.gate is GateKind.APPROVE:
            hints.append(f"{v.node_id} waits for approval: {command('signal', eid, name)}  (or --reject)")
        else:
            kind = f" ({gate.type})" if gate is not None and hasattr(gate, "type") else ""
            hints.append(f"{v.node_id} waits for a value{kind}: {command('signal', eid, name)} VALUE")
    return hints


def _spec(client: ClientContract, eid: str) -> WorkflowSpec | None:
    try:
        return client.spec(eid)
    except SetpointError:
        return None


def follow(client: ClientContract, eid: str, *, live: bool, logs: bool = False, state: Ctx | None = None) -> Any:
    if not live:
        return client.wait(eid)
    spec = _spec(client, eid)

    def view(rec: Any) -> Group:
        nodes = client.nodes(eid)
        hints = [Text(h, style="cyan") for h in gate_hints(eid, nodes, spec, state)]
        return Group(render.progress_view(rec, nodes), *hints)

    with Live(console=console, refresh_per_second=8, transient=False) as shown:
        printer = LogPrinter(client, eid, _print_text) if logs else None
        try:
            return _follow_live(client, eid, shown, view)
        finally:
            if printer is not None:
                printer.join()


def _print_text(data: bytes) -> None:
    console.print(Text(data.decode("utf-8", errors="replace").rstrip("\n")), highlight=False)


def _follow_live(client: ClientContract, eid: str, shown: Live, view: Callable[[Any], Group]) -> Any:
    """Redraw the progress (and gate hints) until the execution ends."""
    if not isinstance(client, Client):
        # Remote: redraw when the server's event stream says something happened (at most 5
        # times a second; its keep-alive, about once a second, catches up a skipped redraw).
        drawn = 0.0
        for _ in client.changes(eid):
            if time.monotonic() - drawn >= 0.2:
                shown.update(view(client.get(eid)))
                drawn = time.monotonic()
        rec = client.get(eid)
        shown.update(view(rec))
        return rec
    while True:
        rec = client.get(eid)
        shown.update(view(rec))
        if rec.phase.is_terminal:
            return rec
        client.wait(eid, timeout=0.25)


def follow_lines(client: ClientContract, eid: str, *, logs: bool = False, state: Ctx | None = None) -> Any:
    """Print one line per node transition (and, with ``logs``, the tasks' output) until the end."""
    command = state.command if state is not None else _plain_command
    spec = _spec(client, eid)
    gates = {n.id: g for n in spec.nodes if (g := n.signal_gate) is not None} if spec is not None else {}
    out = sys.stdout
    lock = threading.Lock()

    def write(data: bytes) -> None:
        with lock:
            _write_stdout(data)

    printer = LogPrinter(client, eid, write) if logs else None
    try:
        for e in client.follow_events(eid):
            if e.kind is not EventKind.NODE or not e.node_id:
                continue
            line = f"{render.fmt_time(e.ts)} {e.node_id} {e.phase}"
            if e.message:
                line += f": {e.message}"
            gate = gates.get(e.node_id)
            if gate is not None and e.phase == NodePhase.RUNNING.value:
                extra = "  (or --reject)" if isinstance(gate, ApproveGate) else " VALUE"
                line += f"\n  waiting for signal '{gate.name}': {command('signal', eid, gate.name)}{extra}"
            with lock:
                out.write(line + "\n")
                out.flush()
    finally:
        if printer is not None:
            printer.join()
    return client.get(eid)


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
        err_console.print(
            f"execution {eid} continues on the server; follow it with: {state.command('describe', eid)}",
            markup=False,
            highlight=False,
        )
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
            f"follow it with: {state.command('describe', eid)}",
            markup=False,
            highlight=False,
        )
        sys.exit(0)
    client.terminate(eid, "interrupted from the command line")
    err_console.print(f"aborting execution {eid} ...")
    return client.wait(eid, timeout=30)


def finish(client: ClientContract, eid: str, output: str, phase: ExecutionPhase, state: Ctx | None = None) -> None:
    rec = client.get(eid)
    if output == "json":
        click.echo(json.dumps(render.describe_json(rec, client.nodes(eid), client.blobs), indent=2))
    else:
        render.outcome_line(console, rec)
        for line in render.output_lines(rec, client.blobs):
            console.print(line, markup=False, highlight=False, soft_wrap=True)
        if rec.error is not None:
            where = f" at node '{rec.error.node}'" if rec.error.node else ""
            console.print(Text.assemble((f"{rec.error.code}{where}:", "red"), " ", rec.error.message), highlight=False)
            if rec.error.node:
                command = state.command if state is not None else _plain_command
                console.print(f"  logs: {command('logs', eid, rec.error.node)}", markup=False, highlight=False)
    if rec.phase is ExecutionPhase.ABORTED and rec.abort_reason == "interrupted from the command line":
        sys.exit(EXIT_INTERRUPTED)
    if rec.phase is not ExecutionPhase.SUCCEEDED:
        sys.exit(EXIT_FAILED)


def _plain_command(*args: str) -> str:
    return " ".join(["setpoint", *(shlex.quote(a) for a in args)])
