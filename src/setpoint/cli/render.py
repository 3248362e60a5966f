"""How executions look in a terminal (rich) and to scripts (``--output json``).

The JSON shapes built here are a documented, stable interface (docs/cli.md): scripts depend on
the field names, so they change only by adding fields. Each is a record's one wire form
(`setpoint.client.wire`, the API's too) with literals as plain JSON, plus what only a terminal
user needs (a duration, a node's attempt count and ids).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from setpoint.client.wire import plain, to_wire
from setpoint.core.model import ExecutionRecord
from setpoint.core.phases import ExecutionPhase, NodePhase
from setpoint.service.inspect import NodeView
from setpoint.spec.model import TaskSpec
from setpoint.spec.workflow import WorkflowSpec

PHASE_STYLE = {
    "QUEUED": "cyan",
    "PENDING": "dim",
    "RUNNING": "yellow",
    "RETRYING": "magenta",
    "SUCCEEDED": "green",
    "RECOVERED": "green",
    "FAILED": "bold red",
    "ABORTED": "red",
    "SKIPPED": "dim",
}


def phase_text(phase: str) -> Text:
    return Text(phase, style=PHASE_STYLE.get(phase, ""))


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 120:
        return f"{seconds:.2f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def fmt_time(ts: float | None) -> str:
    if ts is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def summarize(values: dict[str, Any] | None, max_len: int = 60) -> str:
    if not values:
        return "-"
    from setpoint.types import summarize_literal

    parts = [f"{k}={summarize_literal(v, max_len=max_len)}" for k, v in values.items()]
    text = ", ".join(parts)
    return text if len(text) <= max_len * 2 else text[: max_len * 2 - 1] + "…"


def _duration(rec: ExecutionRecord) -> float | None:
    if rec.started_at is None:
        return None
    return (rec.finished_at or time.time()) - rec.started_at


def execution_json(rec: ExecutionRecord, blobs: Any = None) -> dict[str, Any]:
    """The execution's wire form (`setpoint.client.wire`), literals as plain JSON, and its duration."""
    return {**plain(to_wire(rec), blobs), "duration_s": _duration(rec)}


def node_json(v: NodeView) -> dict[str, Any]:
    """The node record's wire form, with the spec's view of it (``attempts`` is the attempt count)."""
    r = v.record
    return {
        **plain(to_wire(r)),
        "id": v.node_id,
        "task": v.task,
        "upstream": list(v.upstream),
        "attempts": r.attempt,
        "attempt_ids": [a.id for a in v.attempts],
        "duration_s": v.duration,
    }


def describe_json(rec: ExecutionRecord, nodes: Sequence[NodeView], blobs: Any = None) -> dict[str, Any]:
    return {"execution": execution_json(rec, blobs), "nodes": [node_json(v) for v in nodes]}


def execution_panel(rec: ExecutionRecord) -> Panel:
    """The execution's facts. Every value is a `Text`: names, inputs and reasons are data, never markup."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    duration = _duration(rec)
    grid.add_row("execution", Text(rec.id))
    grid.add_row("workflow", Text(f"{rec.workflow}  (project {rec.project})"))
    grid.add_row("phase", phase_text(rec.phase.value))
    grid.add_row("created", fmt_time(rec.created_at))
    grid.add_row("duration", fmt_duration(duration))
    grid.add_row("code", Text(rec.code_digest[:12]))
    grid.add_row("spec", Text(rec.spec_digest[:12]))
    if rec.source_id:
        grid.add_row(Text(rec.mode + " of"), Text(rec.source_id))
    grid.add_row("inputs", Text(summarize(rec.inputs)))
    if rec.outputs is not None:
        grid.add_row("outputs", Text(summarize(rec.outputs)))
    if rec.abort_reason:
        grid.add_row("abort", Text(rec.abort_reason))
    if rec.error is not None:
        where = f" at node '{rec.error.node}'" if rec.error.node else ""
        grid.add_row("error", Text(f"{rec.error.code}{where}: {rec.error.message}", style="red"))
    return Panel(grid, title="setpoint", expand=False)


def nodes_table(nodes: Sequence[NodeView], *, limit: int | None = None, detail: bool = True) -> Table:
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("node")
    table.add_column("phase")
    table.add_column("try", justify="right")
    table.add_column("duration", justify="right")
    if detail:
        table.add_column("after")
        table.add_column("inputs")
        table.add_column("outputs")
    table.add_column("error")
    shown = nodes if limit is None else nodes[:limit]
    for v in shown:
        r = v.record
        err = ""
        if r.error is not None:
            err = f"{r.error.code}: {r.error.message}"
            if len(err) > 80:
                err = err[:79] + "…"
        phase = phase_text(r.phase.value)
        if r.cache_status:
            phase.append(f" {r.cache_status.lower()}", style="cyan")
        cells: list[Any] = [Text(v.node_id), phase, str(r.attempt or "-"), fmt_duration(v.duration)]
        if detail:
            cells += [
                Text(", ".join(v.upstream) or "-"),
                Text(summarize(r.inputs, 30)),
                Text(summarize(r.outputs, 30)),
            ]
        cells.append(Text(err, style="red") if err else "")
        table.add_row(*cells)
    if limit is not None and len(nodes) > limit:
        table.caption = f"{len(nodes) - limit} more nodes not shown"
    return table


def progress_view(rec: ExecutionRecord, nodes: Sequence[NodeView]) -> Group:
    counts: dict[str, int] = {}
    for v in nodes:
        counts[v.phase.value] = counts.get(v.phase.value, 0) + 1
    line = Text()
    line.append(f"{rec.id} ", style="bold")
    line.append_text(phase_text(rec.phase.value))
    line.append("  ")
    for phase in NodePhase:
        n = counts.get(phase.value, 0)
        if n:
            line.append(f"{phase.value.lower()} {n}  ", style=PHASE_STYLE.get(phase.value, ""))
    interesting = [v for v in nodes if v.phase not in (NodePhase.PENDING, NodePhase.SUCCEEDED)]
    recent = sorted(
        (v for v in nodes if v.phase is NodePhase.SUCCEEDED),
        key=lambda v: v.record.finished_at or 0,
        reverse=True,
    )
    rows = (interesting + recent)[:15]
    return Group(line, nodes_table(rows, detail=False))


def executions_table(records: Sequence[ExecutionRecord]) -> Table:
    table = Table(show_edge=False, pad_edge=False)
    for col in ("execution", "workflow", "project", "phase", "created", "duration"):
        table.add_column(col)
    for rec in records:
        duration = _duration(rec)
        table.add_row(
            Text(rec.id),
            Text(rec.workflow),
            Text(rec.project),
            phase_text(rec.phase.value),
            fmt_time(rec.created_at),
            fmt_duration(duration),
        )
    return table


def value_text(value: Any, limit: int = 2000) -> str:
    """A plain value as JSON for a terminal: non-ASCII text as itself (``"😀"``, not ``"\\ud83d..."``)."""
    return json.dumps(value, ensure_ascii=False)[:limit]


def output_lines(rec: ExecutionRecord, blobs: Any = None) -> list[str]:
    """``  name = value`` for each output of a finished execution (none if it has no outputs)."""
    if rec.outputs is None:
        return []
    return [f"  {name} = {value_text(v)}" for name, v in execution_json(rec, blobs)["outputs"].items()]


def outcome_line(console: Console, rec: ExecutionRecord) -> None:
    """One line saying how the execution ended (an abort reason is shown as written, not as markup)."""
    eid = (rec.id, "bold")
    if rec.phase is ExecutionPhase.SUCCEEDED:
        line = Text.assemble(("✔", "green"), " execution ", eid, " succeeded")
    elif rec.phase is ExecutionPhase.FAILED:
        line = Text.assemble(("✘", "red"), " execution ", eid, " failed")
    elif rec.phase is ExecutionPhase.ABORTED:
        line = Text.assemble(("■", "red"), " execution ", eid, " aborted: ", rec.abort_reason or "")
    else:
        line = Text.assemble("execution ", eid, f" is {rec.phase.value}")
    console.print(line)


def task_settings(task: TaskSpec) -> str:
    """How a task asked to run, beyond its code: image, limits, deck, secret names (never values)."""
    parts = []
    if task.container_image:
        parts.append(f"image {task.container_image}")
    if task.limits:
        parts.append("limits " + " ".join(f"{k}={v}" for k, v in task.limits))
    if task.enable_deck:
        parts.append("deck")
    if task.secrets:
        parts.append("secrets " + ", ".join(f"{g}/{k}" if k else g for g, k in task.secrets))
    return "; ".join(parts)


def tasks_table(spec: WorkflowSpec) -> Table | None:
    """The workflow's tasks that set an image, limits, decks or secrets (None if none does)."""
    rows = [(t.name, task_settings(t)) for _, t in sorted(spec.tasks.items())]
    rows = [(name, text) for name, text in rows if text]
    if not rows:
        return None
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("task")
    table.add_column("settings")
    for name, text in rows:
        table.add_row(Text(name), Text(text))
    return table
