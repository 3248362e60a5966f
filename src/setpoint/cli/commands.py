"""The core commands: run, get, describe, logs, events, terminate, relaunch, controller."""

from __future__ import annotations

import importlib
import inspect
import json
import re
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from setpoint.cli import render
from setpoint.cli.app import Ctx, cli, console, err_console, output_option
from setpoint.cli.progress import finish, follow_to_the_end, log_chunks
from setpoint.client.embedded import Client
from setpoint.client.wire import to_wire
from setpoint.core.model import Event
from setpoint.core.phases import ExecutionPhase
from setpoint.errors import InputError, SetpointError
from setpoint.ports import ExecutionFilter
from setpoint.sdk.workflow import Workflow
from setpoint.spec.workflow import ApproveGate

if TYPE_CHECKING:
    from setpoint.sdk.launchplan import LaunchPlan

# ---------------------------------------------------------------------------------------------
# run
# ---------------------------------------------------------------------------------------------


def load_workflow(target: str) -> Workflow:
    """Import ``path/to/file.py:workflow_name`` (or ``package.module:workflow_name``).

    The name may also be a ``@task`` (or a task object such as a ``ShellTask``): it runs as a
    workflow of one node with the task's inputs and outputs, like ``pyflyte run file.py:task``.
    A workflow whose module holds ``reference_task`` / ``reference_launch_plan`` objects is
    compiled here against the registry of the store the command uses.
    """
    from setpoint.adapters.bundle import project_root
    from setpoint.sdk.launchplan import LaunchPlan
    from setpoint.sdk.reference import ReferenceLaunchPlan, ReferenceTask, references_from
    from setpoint.sdk.task import Task

    if ":" not in target:
        raise InputError(f"expected FILE.py:WORKFLOW or MODULE:WORKFLOW, got {target!r}")
    where, _, name = target.rpartition(":")
    if where.endswith(".py") or "/" in where:
        path = Path(where).resolve()
        if not path.is_file():
            raise InputError(f"no such file: {where}")
        root = project_root(path)
        rel = path.relative_to(root).with_suffix("")
        module_name = ".".join(rel.parts)
        if str(root) not in sys.path:
            sys.path.insert(0, str(root))
    else:
        module_name = where
        if "" not in sys.path and str(Path.cwd()) not in sys.path:
            sys.path.insert(0, str(Path.cwd()))
    try:
        module = importlib.import_module(module_name)
    except SetpointError:
        raise
    except Exception as e:
        raise InputError(f"cannot import {where}: {type(e).__name__}: {e}") from None
    obj = getattr(module, name, None)
    if obj is None:
        raise InputError(f"{where} has no workflow named '{name}'")
    if isinstance(obj, Task) and not isinstance(obj, ReferenceTask):
        task = obj
        hints = task.hints(f"task '{task.name}'")

        def single(**kwargs: Any) -> Any:
            return task(**kwargs)

        single.__signature__ = task.signature  # type: ignore[attr-defined]
        single.__annotations__ = hints
        single.__module__ = task.function.__module__
        single.__name__ = single.__qualname__ = task.function.__name__
        obj = Workflow(single)
    if isinstance(obj, LaunchPlan):
        obj = launch_plan_workflow(obj)
    if not isinstance(obj, Workflow):
        raise InputError(
            f"'{name}' in {where} is a {type(obj).__name__}, not a @workflow, a @task or a LaunchPlan"
        )
    store = getattr(getattr(click.get_current_context(silent=True), "obj", None), "client", None)
    store = getattr(store, "store", None)
    if store is not None and any(isinstance(v, ReferenceTask | ReferenceLaunchPlan) for v in vars(module).values()):
        with references_from(store):
            obj.compile()  # compiled once: the spec is kept, resolved
    return obj


def launch_plan_workflow(lp: LaunchPlan) -> Workflow:
    """A launch plan run from a file (``setpoint run file.py:my_lp``): its workflow with the plan's
    default inputs as defaults and its fixed inputs bound, as ``pyflyte run`` runs a launch plan."""
    import typing

    wf = lp.workflow
    signature = inspect.signature(wf.function)
    hints = typing.get_type_hints(wf.function, include_extras=True)
    fixed = dict(lp.fixed_inputs)
    params = [
        p.replace(default=lp.default_inputs.get(p.name, p.default))
        for p in signature.parameters.values()
        if p.name not in fixed
    ]

    def plan(**kwargs: Any) -> Any:
        return wf(**kwargs, **fixed)

    plan.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    plan.__annotations__ = {k: v for k, v in hints.items() if k not in fixed}
    plan.__module__ = wf.function.__module__
    plan.__name__ = plan.__qualname__ = lp.name
    return Workflow(plan)


def parse_inputs(wf: Workflow, extra: list[str], inputs_file: str | None) -> dict[str, Any]:
    """``--name value`` pairs and an optional JSON file, parsed by the workflow's declared types."""
    from setpoint.types import literal_from_json_value, parse_cli_value
    from setpoint.types.localinputs import literal_from_local_path, looks_like_path

    iface = wf.interface
    declared = iface.input_map
    literals: dict[str, Any] = {}
    if inputs_file:
        try:
            data = json.loads(Path(inputs_file).read_text())
        except OSError as e:
            raise InputError(f"cannot read --inputs file {inputs_file}: {e.strerror}") from None
        except json.JSONDecodeError as e:
            raise InputError(f"--inputs file {inputs_file} is not valid JSON: {e}") from None
        if not isinstance(data, dict):
            raise InputError(f"--inputs file {inputs_file} must hold a JSON object of input names to values")
        for name, value in data.items():
            if name not in declared:
                raise InputError(f"workflow '{wf.name}': unknown input '{name}' in {inputs_file}")
            where = f"workflow '{wf.name}', input '{name}'"
            if isinstance(value, str) and looks_like_path(value, declared[name].type):
                literals[name] = literal_from_local_path(value, declared[name].type, _local_blobs(), where=where)
            else:
                literals[name] = literal_from_json_value(value, declared[name].type, where=where)
    i = 0
    while i < len(extra):
        token = extra[i]
        if not token.startswith("--"):
            raise InputError(f"unexpected argument {token!r}; inputs are given as --name value")
        key, eq, value = token[2:].partition("=")
        name = key.replace("-", "_")
        if name not in declared:
            known = ", ".join(f"--{n}" for n in declared) or "none"
            raise InputError(f"workflow '{wf.name}' has no input '{name}' (inputs: {known})")
        if not eq:
            if i + 1 >= len(extra):
                raise InputError(f"--{key} needs a value")
            value = extra[i + 1]
            i += 1
        where = f"workflow '{wf.name}', input '{name}'"
        if looks_like_path(value, declared[name].type):  # a File, Directory or table: upload the local path
            literals[name] = literal_from_local_path(value, declared[name].type, _local_blobs(), where=where)
        else:
            literals[name] = parse_cli_value(value, declared[name].type, where=where)
        i += 1
    return literals


def _local_blobs() -> Any:
    """The blob store local paths are uploaded to: the embedded client's (None with --server)."""
    ctx = click.get_current_context(silent=True)
    state = ctx.find_object(Ctx) if ctx is not None else None
    return getattr(state.client, "blobs", None) if state is not None else None


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("target")
@click.option("--inputs", "inputs_file", metavar="FILE", help="A JSON object of input values.")
@click.option("--project", default=None, help="The project the execution belongs to.")
@click.option("--max-parallelism", type=int, default=0, help="Attempts in flight at once (0: default).")
@click.option("--detach", is_flag=True, help="Create the execution and return; a controller runs it.")
@click.option("--overwrite-cache", is_flag=True, help="Run cached tasks anyway and replace their catalog entries.")
@click.option(
    "--executor",
    default=None,
    metavar="NAME",
    help="Where tasks that name no executor run: local or ray (default: env SETPOINT_DEFAULT_EXECUTOR, else local).",
)
@click.option("--logs", "show_logs", is_flag=True, help="Print the running tasks' output as it comes.")
@output_option
@click.pass_context
def run(
    ctx: click.Context,
    target: str,
    *,
    inputs_file: str | None,
    project: str | None,
    max_parallelism: int,
    detach: bool,
    overwrite_cache: bool,
    executor: str | None,
    show_logs: bool,
    output: str,
) -> None:
    """Run a workflow: setpoint run FILE.py:WORKFLOW --input value ...

    Inputs are parsed by the workflow's declared types (JSON for collections and dataclasses).
    """
    state: Ctx = ctx.obj
    if "--help-inputs" in ctx.args:
        wf = load_workflow(target)
        for name, var in wf.interface.inputs:
            default = " (default)" if var.has_default else " (required)"
            console.print(f"--{name} {var.type}{default}")
        return
    wf = load_workflow(target)
    literals = parse_inputs(wf, list(ctx.args), inputs_file)
    client = state.client
    if show_logs and detach:
        raise InputError("--logs follows the run here; it does not go with --detach")
    if not detach:
        if isinstance(client, Client):
            # only this execution (and the children it starts): the run ends with it, so it
            # adopts nothing it would leave unfinished
            client.start_controller(own_only=True)
        else:
            client.start_controller()
    if isinstance(client, Client):
        eid = client.create_execution(
            wf,
            literal_inputs=literals,
            project=project,
            max_parallelism=max_parallelism,
            overwrite_cache=overwrite_cache,
            executor=executor,
        )
    else:
        if executor:
            raise InputError("--executor applies to executions created here; a server runs its own default executor")
        eid = client.create_execution(
            wf,
            literal_inputs=literals,
            project=project,
            max_parallelism=max_parallelism,
            overwrite_cache=overwrite_cache,
        )
    if detach:
        if output == "json":
            click.echo(json.dumps({"execution": {"id": eid, "phase": "QUEUED"}}))
        else:
            console.print(f"created execution [bold]{eid}[/]; a running `setpoint controller` will run it")
        if isinstance(client, Client):
            _say_if_no_controller(state, client, eid)
        return
    if isinstance(client, Client):
        _say_what_is_left(state, client, eid)
    follow_to_the_end(client, eid, state, output, logs=show_logs)


def _say_if_no_controller(state: Ctx, client: Client, eid: str) -> bool:
    """Tell the user when nothing will run ``eid``: no live controller holds it or adopts everything."""
    from setpoint.controller.controller import running_controllers
    from setpoint.controller.owners import owner_is_dead

    rec = client.get(eid)
    if rec.phase.is_terminal or running_controllers(client.settings.home):
        return False
    if rec.lease_owner and not owner_is_dead(rec.lease_owner) and (rec.lease_expires_at or 0) > time.time():
        return False
    err_console.print(
        f"no controller is running on {client.settings.home}: execution {eid} waits until one starts; "
        f"start one with: {state.command('controller')}",
        markup=False,
        highlight=False,
    )
    return True


def _say_what_is_left(state: Ctx, client: Client, eid: str) -> None:
    """A run's controller runs only its own execution: say so when others wait for a controller."""
    from setpoint.controller.controller import running_controllers

    ctl = client.controller
    others = [e for e in client.store.unfinished_executions() if e != eid and (ctl is None or not ctl.owns(e))]
    if not others or running_controllers(client.settings.home):
        return
    what = (
        "1 other unfinished execution waits" if len(others) == 1 else f"{len(others)} other unfinished executions wait"
    )
    err_console.print(
        f"this run runs execution {eid} only; {what} for a controller: {state.command('controller')}",
        markup=False,
        highlight=False,
    )


# ---------------------------------------------------------------------------------------------
# read commands
# ---------------------------------------------------------------------------------------------


@cli.group()
def get() -> None:
    """List things (executions)."""


@get.command("executions")
@click.option("--phase", "phases", multiple=True, type=click.Choice([p.value for p in ExecutionPhase]))
@click.option("--workflow", default=None)
@click.option("--project", default=None)
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--before", default=None, metavar="ID", help="Cursor: list executions older than ID.")
@output_option
@click.pass_obj
def get_executions(
    state: Ctx,
    phases: tuple[str, ...],
    workflow: str | None,
    project: str | None,
    limit: int,
    before: str | None,
    output: str,
) -> None:
    """List executions, newest first."""
    flt = ExecutionFilter(tuple(ExecutionPhase(p) for p in phases), project, workflow, limit, before)
    records = state.client.executions(flt)
    if output == "json":
        click.echo(json.dumps({"executions": [render.execution_json(r) for r in records]}, indent=2))
    else:
        console.print(render.executions_table(records))


@cli.command()
@click.argument("execution")
@click.option("--children", is_flag=True, help="Also list the nodes that map and dynamic nodes expanded into.")
@output_option
@click.pass_obj
def describe(state: Ctx, execution: str, children: bool, output: str) -> None:
    """Show an execution: its DAG with every node's phase, attempts, durations, inputs and outputs."""
    client = state.client
    rec = client.get(execution)
    nodes = client.nodes(execution, children=children)
    if output == "json":
        click.echo(json.dumps(render.describe_json(rec, nodes, client.blobs), indent=2))
        return
    console.print(render.execution_panel(rec))
    console.print(render.nodes_table(nodes))
    settings = render.tasks_table(client.spec(execution))
    if settings is not None:
        console.print(settings)


@cli.command()
@click.argument("execution")
@click.argument("node", required=False)
@click.argument("index", required=False)
@click.option("--attempt", type=click.IntRange(min=1), default=None, help="Only this attempt number.")
@click.option("--stream", type=click.Choice(["stdout", "stderr", "both"]), default="both", show_default=True)
@click.option("--follow", "-f", is_flag=True, help="Keep printing the output as it grows, until the execution ends.")
@click.option(
    "--tail", "tail", type=click.IntRange(min=0), default=None, metavar="N", help="Only the last N lines of each log."
)
@click.option(
    "--since",
    default=None,
    metavar="WHEN",
    help="Only attempts running at or started after WHEN: a duration ago (90s, 10m, 2h, 1d) "
    "or a time (2026-01-31T12:00).",
)
@click.option("--grep", "grep", default=None, metavar="REGEX", help="Only the lines that match REGEX.")
@output_option
@click.pass_obj
def logs(
    state: Ctx,
    execution: str,
    *,
    node: str | None,
    index: str | None,
    attempt: int | None,
    stream: str,
    follow: bool,
    tail: int | None,
    since: str | None,
    grep: str | None,
    output: str,
) -> None:
    """Print the captured stdout and stderr of an execution's attempts.

    NODE is any node `describe --children` lists: `fit-map.2` is element 2 of the map node `fit-map`
    (also `logs E fit-map 2`); a map or dynamic node means every node under it; no NODE means every
    node. With more than one node, each line starts with [node/attempt]. stdout goes to stdout and
    stderr to stderr, byte for byte.
    """
    from setpoint.service import logs as logs_service

    if index is not None:
        if node is None:
            raise InputError("give the node before the element index: setpoint logs EXECUTION NODE INDEX")
        node = f"{node}.{index}"
    pattern = _compile_grep(grep)
    streams = logs_service.STREAMS if stream == "both" else (stream,)
    if follow:
        if tail is not None or since is not None:
            raise InputError("--tail and --since read what was written; give them without --follow")
        _follow_logs(state, execution, node, attempt, streams, pattern, output)
        return
    client = state.client
    cutoff = _parse_since(since) if since is not None else None
    if isinstance(client, Client):
        plan = logs_service.select(client.store, execution, node, attempt, since=cutoff)
        notes = [n.message for n in plan.notes]
        if output == "json":
            rows = [
                {"attempt_id": a, "stream": s, "text": _filtered_text(t, pattern, tail)}
                for a, s, t in logs_service.read_entries(plan, client.log_paths())
                if s in streams
            ]
            click.echo(json.dumps({"logs": rows, "notes": notes}, indent=2))
            return
        _print_notes(notes, plan.attempts == ())
        _write_logs(plan, client.log_paths(), node, streams, pattern, tail)
        return
    entries = client.logs(execution, node, attempt)
    notes = client.log_notes(execution, node, attempt)
    if cutoff is not None:
        keep = {
            a.id
            for v in client.nodes(execution, children=True)
            for a in v.attempts
            if a.finished_at is None or a.finished_at >= cutoff
        }
        entries = [e for e in entries if e[0] in keep]
    texts = [(a, s, _filtered_text(t, pattern, tail)) for a, s, t in entries if s in streams]
    if output == "json":
        click.echo(
            json.dumps(
                {"logs": [{"attempt_id": a, "stream": s, "text": t} for a, s, t in texts], "notes": notes}, indent=2
            )
        )
        return
    _print_notes(notes, not entries)
    several = len([t for _, _, t in texts if t]) > 1
    out = sys.stdout.buffer
    for aid, name, text in texts:
        _, node_id, number = aid.split("/")
        prefix = _prefix(node, node_id, number, name)
        data = text.encode()
        if prefix:
            data = b"".join(logs_service.filter_lines(data, None, prefix))
        elif several and data:
            out.write(f"==> {aid} {name} <==\n".encode())
        out.write(data)
    out.flush()


def _out(stream: str) -> Any:
    return sys.stderr.buffer if stream == "stderr" else sys.stdout.buffer


def _prefix(node: str | None, node_id: str, number: int | str, stream: str) -> bytes:
    """``[node/attempt] `` before each line of a node other than the one asked for (``:stderr`` for stderr)."""
    if node_id == node:
        return b""
    return f"[{node_id}/{number}{':stderr' if stream == 'stderr' else ''}] ".encode()


def _compile_grep(grep: str | None) -> re.Pattern[bytes] | None:
    if grep is None:
        return None
    try:
        return re.compile(grep.encode())
    except re.error as e:
        raise InputError(f"--grep {grep!r} is not a regular expression: {e}") from None


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")


def _parse_since(since: str) -> float:
    m = _DURATION.match(since.strip())
    if m:
        return time.time() - float(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
    from datetime import datetime

    try:
        return datetime.fromisoformat(since.strip()).timestamp()
    except ValueError:
        raise InputError(
            f"--since {since!r} is neither a duration (90s, 10m, 2h, 1d) nor a time (2026-01-31T12:00)"
        ) from None


def _filtered_text(text: str, pattern: re.Pattern[bytes] | None, tail: int | None) -> str:
    from setpoint.service import logs as logs_service

    if pattern is None and tail is None:
        return text
    data = text.encode()
    if pattern is not None:
        data = b"".join(logs_service.filter_lines(data, pattern))
    if tail is not None:
        data = logs_service.tail_lines(data, tail)
    return data.decode("utf-8", errors="replace")


def _print_notes(notes: list[str], nothing: bool) -> None:
    for note in notes:
        err_console.print(note, markup=False, highlight=False, soft_wrap=True)
    if nothing and not notes:
        err_console.print("no attempts have run yet", highlight=False)


def _write_logs(
    plan: Any,
    path: Any,
    node: str | None,
    streams: tuple[str, ...],
    pattern: re.Pattern[bytes] | None,
    tail: int | None,
) -> None:
    """The planned attempts' files to stdout: byte for byte when one log of the node asked for is
    all there is (``logs E n > file`` copies it), a ``==> attempt stream <==`` line before each when
    there are several, and each line after a ``[node/attempt]`` prefix for the nodes under it."""
    import shutil

    from setpoint.service import logs as logs_service

    pieces = [
        (a, name, p)
        for a in plan.attempts
        for name in streams
        if (p := Path(path(a, name))).exists() and p.stat().st_size > 0
    ]
    out = sys.stdout.buffer
    for a, name, p in pieces:
        prefix = _prefix(node, a.node_id, a.number, name)
        if len(pieces) > 1 and not prefix:
            out.write(f"==> {a.attempt_id} {name} <==\n".encode())
        if pattern is None and tail is None and not prefix:
            with p.open("rb") as fh:
                shutil.copyfileobj(fh, out, 1024 * 1024)
        elif pattern is None and tail is not None:
            out.writelines(logs_service.filter_lines(logs_service.read_tail(p, tail), None, prefix))
        else:
            with p.open("rb") as fh:
                matched = b"".join(line for line in fh if pattern is None or pattern.search(line))
            if tail is not None:
                matched = logs_service.tail_lines(matched, tail)
            out.write(b"".join(logs_service.filter_lines(matched, None, prefix)) if prefix else matched)
    out.flush()


def _follow_logs(
    state: Ctx,
    execution: str,
    node: str | None,
    attempt: int | None,
    streams: tuple[str, ...],
    pattern: re.Pattern[bytes] | None,
    output: str,
) -> None:
    from setpoint.service import logs as logs_service

    client = state.client
    lines = logs_service.LineFilter(pattern)
    client.log_notes(execution, node)  # an unknown execution or node: not found, before waiting
    chunks = log_chunks(client, execution, node, attempt)
    keys: dict[tuple[str, str], bytes] = {}
    for node_id, chunk in chunks:
        if chunk.stream not in streams:
            continue
        if output == "json":
            row = {"attempt_id": chunk.attempt_id, "stream": chunk.stream, "offset": chunk.offset}
            click.echo(json.dumps({**row, "text": chunk.text}))
            continue
        prefix = _prefix(node, node_id, chunk.attempt_id.rsplit("/", 1)[1], chunk.stream)
        key = (chunk.attempt_id, chunk.stream)
        keys[key] = prefix
        out = _out(chunk.stream)
        out.write(lines.feed(key, chunk.text.encode(), prefix))
        out.flush()
    for key, prefix in keys.items():
        out = _out(key[1])
        out.write(lines.flush(key, prefix))
        out.flush()


@cli.command()
@click.argument("execution")
@click.option("--after", type=int, default=0, help="Only events after this sequence number.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing events as they happen, until the execution ends.")
@output_option
@click.pass_obj
def events(state: Ctx, execution: str, after: int, follow: bool, output: str) -> None:
    """Print an execution's event history."""
    if follow:
        for e in state.client.follow_events(execution, after):
            if output == "json":
                click.echo(json.dumps(to_wire(e)))
            else:
                _print_event(e)
        return
    evs = state.client.events(execution, after)
    if output == "json":
        click.echo(json.dumps({"events": [to_wire(e) for e in evs]}, indent=2))
        return
    for e in evs:
        _print_event(e)


def _print_event(e: Event) -> None:
    where = e.node_id or ""
    if e.attempt:
        where += f"/{e.attempt}"
    console.print(
        f"{e.seq:>6} {render.fmt_time(e.ts)} {e.kind:<9} {where:<24} {e.phase:<16} {e.message}",
        highlight=False,
        markup=False,
    )


# ---------------------------------------------------------------------------------------------
# write commands
# ---------------------------------------------------------------------------------------------


@cli.command()
@click.argument("execution")
@click.option("--reason", default="terminated by the user", show_default=True)
@output_option
@click.pass_obj
def terminate(state: Ctx, execution: str, reason: str, output: str) -> None:
    """Abort an execution: running attempts are killed and it ends ABORTED."""
    rec = state.client.terminate(execution, reason)
    if output == "json":
        click.echo(json.dumps({"execution": render.execution_json(rec)}))
    elif rec.phase.is_terminal:
        console.print(f"execution {execution} already ended {rec.phase.value}")
    else:
        console.print(f"termination of {execution} requested; a running controller aborts it")


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("execution")
@click.option("--wait/--no-wait", default=True, show_default=True, help="Run it here and wait for the result.")
@output_option
@click.pass_context
def relaunch(ctx: click.Context, execution: str, wait: bool, output: str) -> None:
    """Start a new execution with the same pinned spec, code and inputs (--name value overrides)."""
    state: Ctx = ctx.obj
    client = state.client
    overrides: dict[str, Any] = {}
    args = list(ctx.args)
    spec = client.spec(execution)
    i = 0
    while i < len(args):
        key, eq, value = args[i].lstrip("-").partition("=")
        name = key.replace("-", "_")
        if not eq:
            if i + 1 >= len(args):
                raise InputError(f"--{key} needs a value")
            value = args[i + 1]
            i += 1
        var = spec.interface.input_map.get(name)
        if var is None:
            raise InputError(f"workflow '{spec.name}' has no input '{name}'")
        from setpoint.types import literal_to_plain, parse_cli_value

        overrides[name] = literal_to_plain(parse_cli_value(value, var.type, where=f"input '{name}'"))
        i += 1
    if wait:
        if isinstance(client, Client):
            client.start_controller(own_only=True)  # like run: only what it can finish
        else:
            client.start_controller()
    new_id = client.relaunch(execution, overrides)
    if not wait:
        if output == "json":
            click.echo(json.dumps({"execution": {"id": new_id, "phase": "QUEUED", "source_id": execution}}))
        else:
            console.print(f"created execution [bold]{new_id}[/] (relaunch of {execution})")
        return
    follow_to_the_end(client, new_id, state, output)


@cli.command()
@click.option("--exit-when-idle", is_flag=True, help="Return once no execution is unfinished.")
@click.option("--workers", type=click.IntRange(1, 64), default=None, help="Reconcile worker threads.")
@click.pass_obj
def controller(state: Ctx, exit_when_idle: bool, workers: int | None) -> None:
    """Run the controller in the foreground: it takes over every unfinished execution in the store."""
    client = state.embedded("setpoint controller")
    if workers:
        client.settings = client.settings.evolve(workers=workers)
    ctl = client.start_controller()
    err_console.print(f"controller {ctl.owner} running on {client.settings.home}", markup=False, highlight=False)
    _stop_on_sigterm()
    try:
        while True:
            if exit_when_idle and ctl.run_until_idle(timeout=1.0):
                err_console.print("no unfinished executions; exiting")
                return
            if not exit_when_idle:
                time.sleep(1.0)
    except KeyboardInterrupt:
        err_console.print("stopping")


def _stop_on_sigterm() -> None:
    """SIGTERM stops like Ctrl-C: the controller releases its leases, so the next one takes over at once."""
    import signal

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


@cli.command()
@click.argument("execution")
@click.option("--timeout", type=click.FloatRange(min=0), default=None, help="Give up after this many seconds.")
@output_option
@click.pass_obj
def wait(state: Ctx, execution: str, timeout: float | None, output: str) -> None:
    """Wait for an execution to end; print it like `run` does and exit by its phase (1 unless it SUCCEEDED)."""
    client = state.client
    if isinstance(client, Client):
        _say_if_no_controller(state, client, execution)
    rec = client.wait(execution, timeout=timeout)
    finish(client, execution, output, rec.phase, state)


@cli.command()
@click.argument("execution")
@click.pass_obj
def outputs(state: Ctx, execution: str) -> None:
    """Print a SUCCEEDED execution's outputs as one JSON object (plain JSON values)."""
    click.echo(json.dumps(state.client.outputs(execution)))


@cli.command()
@click.argument("execution")
@click.argument("name")
@click.argument("value", required=False)
@click.option("--reject", is_flag=True, help="For an approve gate: reject instead of approve.")
@click.pass_obj
def signal(state: Ctx, execution: str, name: str, value: str | None, reject: bool) -> None:
    """Send a gate's signal: `signal EXEC deploy_ok` approves; `--reject` rejects; a value for wait_for_input.

    The value is parsed by the gate's declared type (JSON for collections and dataclasses).
    """
    client = state.client
    spec = client.spec(execution)
    gate = next((g for n in spec.nodes if (g := n.signal_gate) is not None and g.name == name), None)
    parsed: Any
    if isinstance(gate, ApproveGate):
        if value is not None and value.lower() not in ("true", "false", "yes", "no", "1", "0"):
            raise InputError(f"signal '{name}' is an approval: give no value (approve), or --reject")
        parsed = not reject and (value is None or value.lower() in ("true", "yes", "1"))
    else:
        if value is None:
            raise InputError(f"signal '{name}' needs a value")
        from setpoint.types import literal_to_plain, parse_cli_value

        if gate is None:
            parsed = value  # client.signal names the known signals in its error
        else:
            parsed = literal_to_plain(parse_cli_value(value, gate.type, where=f"signal '{name}'"))
    client.signal(execution, name, parsed)
    console.print(f"signal '{name}' sent to {execution}", markup=False, highlight=False)
