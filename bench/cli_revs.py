"""`setpoint run` as a user meets it (a whole CLI process), compared between source revisions.

    .venv/bin/python bench/cli_revs.py --revs 911953b HEAD --repeat 3

Each revision is checked out into a temporary git worktree and run by this venv's interpreter
with ``PYTHONPATH=<worktree>/src`` (so the same dependencies serve every revision; ``WORKTREE``
as a revision means the working tree as it is). Runs are interleaved (A B A B ...) so a change
in the machine's load hits every revision alike; each run gets a fresh setpoint home. Workloads:

- ``one``: a one-task workflow, ``setpoint run`` to exit;
- ``chain50``: 50 dependent steps;
- ``fan200``: 200 independent tasks and a sum;
- ``fan200-cached``: the same workflow with ``cache=True``, run a second time in the same home
  (the figure is the second run).

Prints every run, then the median per revision and workload, and one JSON line.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO, emit

WORKFLOWS = '''
from setpoint import task, workflow


@task
def add(x: int, y: int = 1) -> int:
    return x + y


@task
def sq(i: int) -> int:
    return i * i


@task(cache=True)
def sq_cached(i: int) -> int:
    return i * i


@task
def total(xs: list[int]) -> int:
    return sum(xs)


@workflow
def one(x: int = 1) -> int:
    return add(x=x)


@workflow
def chain50(x: int = 0) -> int:
    v = add(x=x)
    for _ in range(49):
        v = add(x=v)
    return v


@workflow
def fan200() -> int:
    return total(xs=[sq(i=i) for i in range(200)])


@workflow
def fan200_cached() -> int:
    return total(xs=[sq_cached(i=i) for i in range(200)])
'''

WORKLOADS = {"one": "one", "chain50": "chain50", "fan200": "fan200", "fan200-cached": "fan200_cached"}


def checkout(rev: str, base: Path) -> Path:
    if rev == "WORKTREE":
        return REPO
    dest = base / rev.replace("/", "_")
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "-f", str(dest), rev],
                   check=True, capture_output=True)
    return dest


def run_once(src: Path, project: Path, workflow: str, home: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(src / "src"), "SETPOINT_HOME": str(home)}
    env.pop("SETPOINT_DB", None)
    cmd = [sys.executable, "-m", "setpoint.cli.main", "--home", str(home), "run", f"wf.py:{workflow}"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True, check=False)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{src}: {' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return took


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--revs", nargs="+", default=["HEAD~1", "WORKTREE"])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=list(WORKLOADS))
    a = p.parse_args()
    base = Path(tempfile.mkdtemp(prefix="setpoint-bench-revs-"))
    trees = {rev: checkout(rev, base) for rev in a.revs}
    project = base / "project"
    project.mkdir()
    (project / "wf.py").write_text(WORKFLOWS)
    results: dict[str, dict[str, list[float]]] = {rev: {w: [] for w in a.workloads} for rev in a.revs}
    try:
        for r in range(a.repeat):
            for workload in a.workloads:
                for rev in a.revs:
                    home = Path(tempfile.mkdtemp(prefix="home-", dir=base))
                    wf = WORKLOADS[workload]
                    took = run_once(trees[rev], project, wf, home)
                    if workload.endswith("-cached"):
                        took = run_once(trees[rev], project, wf, home)
                    results[rev][workload].append(took)
                    print(f"  run {r + 1} {workload:14} {rev:12} {took:7.3f} s", flush=True)
                    shutil.rmtree(home, ignore_errors=True)
        print()
        print(f"{'workload':14} " + " ".join(f"{rev:>12}" for rev in a.revs) + "   (median s)")
        medians = {rev: {w: statistics.median(v) for w, v in ws.items()} for rev, ws in results.items()}
        for workload in a.workloads:
            print(f"{workload:14} " + " ".join(f"{medians[rev][workload]:12.3f}" for rev in a.revs))
        emit("cli_revs", {"repeat": a.repeat, "median_s": medians, "runs_s": results}, quick=False)
    finally:
        for tree in trees.values():
            if tree != REPO:
                subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)],
                               check=False, capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
