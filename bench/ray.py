"""The Ray executor beside the local one: per-task overhead (a chain) and a 1,000-task fan-out.

    .venv/bin/python bench/ray.py [--quick] [--chain 50] [--fanout 1000] [--address HOST:PORT]

Starts a local two-node Ray cluster (two ``ray start`` processes, 2 CPUs each, as the tests do;
``--address`` uses an existing cluster instead), then runs the same workflows from
``bench/workflows.py`` twice in fresh homes: once with the execution's default executor
``local`` (fork mode), once with ``ray``. `Client` hosts the controller in this process, SQLite.

* chain: ``n`` dependent trivial steps; the step period (upstream node finished → this node
  finished, from the node rows) is the per-task overhead of a dependent step. The first run is
  cold (connect, fork server or Ray workers starting); a second run of the same workflow on the
  same client is reported as warm.
* fan-out: ``total(xs=[sq(i=i) for i in range(n)])``: create → SUCCEEDED and tasks/s.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named ray.py, and a script's folder comes first on sys.path: import the real Ray
# before the bench folder goes back on the path (at its end), so `import ray` never finds this file.
_BENCH = str(Path(__file__).resolve().parent)
sys.path[:] = [p for p in sys.path if p not in ("", _BENCH)]
import ray  # noqa: E402, F401

sys.path.append(_BENCH)

import argparse  # noqa: E402
import itertools  # noqa: E402
import statistics  # noqa: E402
from typing import Any  # noqa: E402

from _common import REPO, emit, fresh_home, header, settings, summary_ms, timer  # noqa: E402

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def step_periods(client: Any, eid: str, n: int) -> list[float]:
    nodes = {r.node_id: r for r in client.store.load_nodes(eid)}
    ids = ["add"] + [f"add-{i}" for i in range(1, n)]
    return [nodes[b].finished_at - nodes[a].finished_at for a, b in itertools.pairwise(ids)]


def run_once(client: Any, wf: Any, executor: str) -> tuple[str, float]:
    t = timer()
    eid = client.create_execution(wf, executor=executor)
    rec = client.wait(eid, timeout=900)
    elapsed = timer() - t
    if rec.phase.value != "SUCCEEDED":
        raise SystemExit(f"{wf.name} on {executor} ended {rec.phase.value}: {rec.error}")
    return eid, elapsed


def bench_executor(executor: str, address: str, chain_n: int, fanout_n: int, quick: bool) -> dict[str, Any]:
    from workflows import make_chain, make_fanout

    from setpoint.client.embedded import Client

    out: dict[str, Any] = {"executor": executor}
    with fresh_home(f"ray-{executor}") as home, Client(settings(home, ray_address=address)) as client:
        client.start_controller()
        chain = make_chain(chain_n)
        for label in ("cold", "warm"):
            eid, wall = run_once(client, chain, executor)
            periods = step_periods(client, eid, chain_n)
            out[f"chain_{label}"] = {
                "n": chain_n,
                "create_to_succeeded_s": round(wall, 3),
                "step_period": summary_ms(periods),
            }
            print(
                f"   {executor:<5} chain {chain_n} ({label}): {wall:.2f} s, step period median "
                f"{statistics.median(periods) * 1e3:.1f} ms"
            )
        fan = make_fanout(fanout_n)
        eid, wall = run_once(client, fan, executor)
        out["fanout"] = {
            "n": fanout_n,
            "create_to_succeeded_s": round(wall, 3),
            "tasks_per_s": round((fanout_n + 1) / wall, 1),
        }
        print(f"   {executor:<5} fan-out {fanout_n}: {wall:.2f} s ({(fanout_n + 1) / wall:.0f} tasks/s)")
        if executor == "ray":
            import json

            root = client.settings.attempts_root / eid
            nodes = {json.loads(p.read_text())["node_id"] for p in root.glob("*/*/ray.json")}
            out["fanout"]["ray_nodes_used"] = len(nodes)
    emit("ray", out, quick=quick)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="chain 10, fan-out 100")
    parser.add_argument("--chain", type=int, default=50)
    parser.add_argument("--fanout", type=int, default=1000)
    parser.add_argument("--address", default=None, help="an existing Ray cluster (default: start two local nodes)")
    args = parser.parse_args()
    chain_n, fanout_n = (10, 100) if args.quick else (args.chain, args.fanout)
    header(f"Ray executor vs local: chain {chain_n}, fan-out {fanout_n}")
    from tests.ray import cluster

    running = None if args.address else cluster.start()
    address = args.address or (running.address if running else "")
    print(f"   Ray cluster at {address} ({'started here: 2 nodes x 2 CPUs' if running else 'given'})")
    try:
        for executor in ("local", "ray"):
            bench_executor(executor, address, chain_n, fanout_n, args.quick)
    finally:
        if running is not None:
            cluster.stop(running)


if __name__ == "__main__":
    main()
