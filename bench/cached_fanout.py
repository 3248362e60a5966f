"""A fully cached re-run of a 1,000-task fan-out (issue: memoization).

    .venv/bin/python bench/cached_fanout.py [--n 1000] [--repeat 3]

The first run computes every ``sq`` (cache=True) and fills the catalog; each re-run is a new
execution of the same workflow whose 1,000 tasks are all cache hits. The headline is the wall time
of a re-run from create (compile is cached in the process; code capture and spec storage are
included) to SUCCEEDED, with the controller hosted in this process on SQLite. Target: <= 1 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cached_workflows import make_cached_fanout

from setpoint.client.embedded import Client
from setpoint.config.settings import Settings


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    wf = make_cached_fanout(args.n)
    with tempfile.TemporaryDirectory(prefix="setpoint-bench-") as tmp, Client(Settings(home=Path(tmp))) as client:
        client.start_controller()
        t0 = time.perf_counter()
        first = client.run(wf, timeout=600)
        cold = time.perf_counter() - t0
        assert first.phase.value == "SUCCEEDED", first.error
        warm = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            rec = client.run(wf, timeout=600)
            warm.append(time.perf_counter() - t0)
            statuses = {n.record.cache_status for n in client.nodes(rec.id) if n.node_id != "ctotal"}
            assert statuses == {"HIT"}, statuses
            assert client.outputs(rec.id) == client.outputs(first.id)
        figures = {
            "bench": "cached_fanout",
            "n": args.n,
            "cold_s": round(cold, 3),
            "cached_rerun_s": [round(w, 3) for w in warm],
            "cached_rerun_median_s": round(statistics.median(warm), 3),
            "target_s": 1.0,
        }
    print(
        f"1,000-way fan-out (n={args.n}): first run {cold:.2f} s; fully cached re-runs "
        f"{', '.join(f'{w:.3f}' for w in warm)} s (median {statistics.median(warm):.3f} s; target <= 1 s)"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
