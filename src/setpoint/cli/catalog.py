"""CLI commands for memoization, lineage and recovery: `cache`, `lineage`, `recover`."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from setpoint.cli import render
from setpoint.cli.app import Ctx, cli, console, output_option
from setpoint.cli.progress import follow_to_the_end
from setpoint.client.embedded import Client
from setpoint.client.wire import to_wire
from setpoint.service.lineage import LineageNode


@cli.group()
def cache() -> None:
    """Inspect and manage the memoization catalog."""


@cache.command("ls")
@click.option("--task", default=None, help="Only entries of this task (its qualified name).")
@click.option("--project", default=None, help="Only entries of this project.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@output_option
@click.pass_obj
def cache_ls(state: Ctx, task: str | None, project: str | None, limit: int, output: str) -> None:
    """List catalog entries, newest first."""
    entries = state.client.cache_entries(project=project, task=task, limit=limit)
    if output == "json":
        click.echo(
            json.dumps(
                {
                    "entries": [
                        {
                            "project": e.project,
                            "task": e.task,
                            "key": e.key,
                            "created_at": e.created_at,
                            "source": {
                                "execution": e.source_execution,
                                "node": e.source_node,
                                "attempt": e.source_attempt,
                            },
                            "version": e.components.get("version"),
                        }
                        for e in entries
                    ]
                },
                indent=2,
            )
        )
        return
    table = Table(show_edge=False, pad_edge=False)
    for col in ("key", "task", "project", "version", "produced by", "created"):
        table.add_column(col)
    for e in entries:
        table.add_row(
            e.key[:12],
            e.task,
            e.project,
            str(e.components.get("version") or "-"),
            f"{e.source_execution}/{e.source_node}/{e.source_attempt}",
            render.fmt_time(e.created_at),
        )
    console.print(table)


@cache.command("evict")
@click.option("--key", "keys", multiple=True, help="An entry's key (repeatable; a unique prefix of 12+ chars is fine).")
@click.option("--task", default=None, help="Every entry of this task.")
@click.option("--execution", default=None, help="Every entry produced by this execution.")
@click.option("--project", default=None, help="The project (default: the configured one).")
@click.pass_obj
def cache_evict(
    state: Ctx, keys: tuple[str, ...], task: str | None, execution: str | None, project: str | None
) -> None:
    """Remove catalog entries; the next run of those tasks computes them again."""
    if not (keys or task or execution):
        raise click.UsageError("say what to evict: --key, --task or --execution")
    full_keys = list(keys)
    if keys:
        known = [e.key for e in state.client.cache_entries(project=project or state.settings.project, limit=10_000)]
        full_keys = []
        for k in keys:
            matches = [x for x in known if x.startswith(k)] if len(k) >= 12 else [k]
            full_keys.extend(matches or [k])
    n = state.client.cache_evict(project=project, keys=full_keys, task=task, execution=execution)
    console.print(f"evicted {n} entr{'y' if n == 1 else 'ies'}")


@cache.command("explain")
@click.argument("execution")
@click.argument("node")
@output_option
@click.pass_obj
def cache_explain(state: Ctx, execution: str, node: str, output: str) -> None:
    """Why a node hit or missed the cache: which part of its key differed from the closest entry."""
    result = state.client.cache_explain(execution, node)
    if output == "json":
        click.echo(json.dumps(result, indent=2))
        return
    console.print(f"[bold]{execution}/{node}[/] ({result['task']}): {result['summary']}", highlight=False)
    for d in result.get("differences", []):
        console.print(f"  - {d}", highlight=False)


@cli.command()
@click.argument("execution")
@click.option("--node", default=None, help="Start from this node (default: the workflow's outputs).")
@click.option(
    "--output",
    "-o",
    "output",
    default=None,
    metavar="NAME|json|table",
    help="An output of the node (with --consumers), or the format: json or table.",
)
@click.option("--output-name", default=None, help="The node's output, when it is literally named json or table.")
@click.option("--consumers", is_flag=True, help="Walk downstream: who consumed the node's outputs, anywhere.")
@click.pass_obj
def lineage(
    state: Ctx, execution: str, node: str | None, output: str | None, output_name: str | None, consumers: bool
) -> None:
    """Trace values: upstream to the workflow inputs, or downstream to every consumer (--consumers)."""
    fmt = "table"
    if output in ("json", "table"):
        fmt = output
    elif output is not None:
        output_name = output_name or output
    client = state.client
    if consumers:
        if node is None:
            raise click.UsageError("--consumers needs --node")
        found = client.consumers(execution, node, output_name)
        if fmt == "json":
            click.echo(json.dumps({"consumers": [to_wire(c) for c in found]}, indent=2))
            return
        if not found:
            console.print("no recorded consumers")
        for c in found:
            console.print(
                f"{'  ' * (c.depth - 1)}{c.execution}/{c.node} (input '{c.input}', value {c.value_hash[:12]})"
            )
        return
    trees = client.lineage(execution, node)
    if fmt == "json":
        click.echo(json.dumps({"lineage": [to_wire(t) for t in trees]}, indent=2))
        return
    for t in trees:
        console.print(_tree(t))


def _tree(node: LineageNode) -> Tree:
    label = f"[bold]{node.node}[/] {node.phase} attempt {node.attempt}"
    if node.cache_status:
        label += f" cache {node.cache_status}"
    prov = node.produced_by or {}
    if prov and (prov.get("execution") != node.execution or node.cache_status == "HIT"):
        label += f"  produced by {prov.get('execution')}/{prov.get('node')}/{prov.get('attempt')}"
    if node.outputs:
        label += "  → " + ", ".join(f"{k}={v[:10]}" for k, v in node.outputs.items())
    if node.repeated:
        label += "  (shown above)"
    tree = Tree(label)
    for s in node.inputs:
        where = {
            "node": f"from {s.node}.{s.output}",
            "workflow_input": f"workflow input '{s.workflow_input}'",
            "literal": "constant",
            "collection": "collection of upstream outputs",
        }[s.kind]
        branch = tree.add(f"{s.input} = {s.value_hash[:10] or '-'}  ({where})")
        for up in s.upstream:
            branch.add(_tree(up))
    return tree


@cli.command()
@click.argument("execution")
@click.option("--plan", is_flag=True, help="Only show what would be reused and what would run, and why.")
@click.option("--wait/--no-wait", default=True, show_default=True, help="Run it here and wait for the result.")
@output_option
@click.pass_obj
def recover(state: Ctx, execution: str, plan: bool, wait: bool, output: str) -> None:
    """Re-run a FAILED or ABORTED execution, reusing every node that succeeded (a new execution)."""
    client = state.client
    items = client.recover_plan(execution)
    if plan:
        if output == "json":
            click.echo(json.dumps({"plan": [to_wire(i) for i in items]}, indent=2))
            return
        table = Table(show_edge=False, pad_edge=False)
        table.add_column("node")
        table.add_column("action")
        table.add_column("why")
        for i in items:
            action = Text("reuse", style="green") if i.action == "reuse" else Text("run", style="yellow")
            table.add_row(Text(i.node_id), action, Text(i.reason))
        console.print(table)
        return
    if wait:
        if isinstance(client, Client):
            client.start_controller(own_only=True)  # like run: only what it can finish
        else:
            client.start_controller()
    new_id = client.recover(execution)
    if not wait:
        payload: dict[str, Any] = {"execution": {"id": new_id, "phase": "QUEUED", "source_id": execution}}
        if output == "json":
            click.echo(json.dumps(payload))
        else:
            console.print(f"created execution [bold]{new_id}[/] (recovery of {execution})")
        return
    follow_to_the_end(client, new_id, state, output)
