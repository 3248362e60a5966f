"""Compare experiments (in-process patches that model a suggested fix) against the baseline, interleaved.

    .venv/bin/python bench/ab.py fanout total_s --experiments - preload-runtime --repeat 3 [--quick]
    .venv/bin/python bench/ab.py chain median_step_ms --experiments - preload-runtime --repeat 3

Each run is a fresh process of ``bench/<script>.py`` (``-`` is the baseline: no experiment); runs
are interleaved (A B A B ...) so that a change in the machine's load hits every variant alike. The
metric is a dotted path into the script's JSON line. Prints every run with the CPU time other
processes used meanwhile, then the median per variant, and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from _common import emit

HERE = Path(__file__).resolve().parent


def dig(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = obj[part]
    return obj


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("script", help="chain | fanout | large ...")
    p.add_argument("metric", help="dotted path into the JSON line, e.g. total_s or warm.period.median_ms")
    p.add_argument("--experiments", nargs="+", default=["-", "preload-runtime"])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--args", default="", help="extra arguments for the script")
    a = p.parse_args()
    results: dict[str, list[dict[str, Any]]] = {e: [] for e in a.experiments}
    for r in range(a.repeat):
        for exp in a.experiments:
            cmd = [sys.executable, str(HERE / f"{a.script}.py"), *a.args.split()]
            if a.quick:
                cmd.append("--quick")
            if exp != "-":
                cmd += ["--experiment", exp]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            line = next(json.loads(x) for x in out.splitlines() if x.startswith('{"bench"'))
            value = dig(line, a.metric)
            noise = line.get("noise", {})
            results[exp].append({"value": value, "noise": noise})
            print(
                f"   run {r + 1} {exp:32} {a.metric} = {value}   "
                f"(other processes: {noise.get('foreign_cpu_s', float('nan'))} CPU-s)",
                flush=True,
            )
    summary = {e: statistics.median(x["value"] for x in runs) for e, runs in results.items()}
    for e, v in summary.items():
        print(f"   median {e:32} {a.metric} = {v:.3f}")
    emit("ab", {"script": a.script, "metric": a.metric, "median": summary, "runs": results}, quick=a.quick)


if __name__ == "__main__":
    main()
