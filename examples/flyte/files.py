"""FlyteFile and FlyteDirectory: write a CSV, split it into a directory of shards, count rows back.

setpoint run examples/flyte/files.py:shard_csv --rows 10 --shards 3
"""

from __future__ import annotations

import csv
import os

from setpoint.flytekit import current_context, task, workflow
from setpoint.flytekit.types.directory import FlyteDirectory
from setpoint.flytekit.types.file import FlyteFile


@task
def make_csv(rows: int) -> FlyteFile:
    path = os.path.join(current_context().working_directory, "samples.csv")
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "value"])
        for i in range(rows):
            writer.writerow([i, i * i])
    return FlyteFile(path)


@task
def split(data: FlyteFile, shards: int) -> FlyteDirectory:
    out = os.path.join(current_context().working_directory, "shards")
    os.makedirs(out, exist_ok=True)
    with open(data) as f:
        rows = list(csv.reader(f))[1:]
    for s in range(shards):
        with open(os.path.join(out, f"part-{s}.csv"), "w", newline="") as f:
            csv.writer(f).writerows(rows[s::shards])
    return FlyteDirectory(out)


@task
def count_rows(shards: FlyteDirectory) -> dict[str, int]:
    counts = {}
    for name in sorted(os.listdir(shards)):
        with open(os.path.join(shards, name)) as f:
            counts[name] = sum(1 for _ in f)
    return counts


@workflow
def shard_csv(rows: int = 10, shards: int = 3) -> dict[str, int]:
    return count_rows(shards=split(data=make_csv(rows=rows), shards=shards))
