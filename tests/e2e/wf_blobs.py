"""A workflow whose data travels only through the blob store: an offloaded list, a File, a Directory."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import NamedTuple

from setpoint import Directory, File, task, workflow


@task
def make_rows(n: int) -> list[float]:
    return [i * 0.5 for i in range(n)]  # 20,000 rows are ~180 KB of JSON: offloaded past 64 KiB


@task
def write_report(rows: list[float]) -> File:
    path = Path("report.txt")
    path.write_text("\n".join(str(r) for r in rows))
    return File(path)


@task
def write_shards(rows: list[float], shards: int) -> Directory:
    out = Path("shards")
    for k in range(shards):
        (out / f"part-{k}").mkdir(parents=True, exist_ok=True)
        (out / f"part-{k}" / "rows.txt").write_text("\n".join(str(r) for r in rows[k::shards]))
    return Directory(out)


@task
def check(rows: list[float], report: File, shards: Directory) -> float:
    lines = Path(report.path).read_text().splitlines()
    shard_lines = sum(len((Path(shards.path) / rel).read_text().splitlines()) for rel in shards.files())
    if len(lines) != len(rows) or shard_lines != len(rows):
        raise ValueError(f"lost rows: {len(rows)} rows, {len(lines)} report lines, {shard_lines} shard lines")
    return sum(float(x) for x in lines)


class Results(NamedTuple):
    rows: list[float]
    report: File
    shards: Directory
    total: float


@workflow
def pipeline(n: int = 20_000, shards: int = 3) -> Results:
    rows = make_rows(n=n)
    report = write_report(rows=rows)
    parts = write_shards(rows=rows, shards=shards)
    return Results(rows=rows, report=report, shards=parts, total=check(rows=rows, report=report, shards=parts))


@task
def pause(rows: list[float], pidfile: str, seconds: float) -> int:
    """Runs after the rows are offloaded; publishes its pid so a test can interrupt the run meanwhile."""
    Path(pidfile).write_text(str(os.getpid()))
    time.sleep(seconds)
    return len(rows)


@task
def count(rows: list[float], seen: int) -> int:
    return len(rows) + seen


@workflow
def interrupted(pidfile: str, seconds: float = 3.0, n: int = 20_000) -> int:
    """The last task starts after an interruption: its offloaded input must come from the same store."""
    rows = make_rows(n=n)
    return count(rows=rows, seen=pause(rows=rows, pidfile=pidfile, seconds=seconds))
