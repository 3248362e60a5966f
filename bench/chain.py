"""Latency per dependent step: a chain of N tasks, each ``add(x=prev, y=1)``, with a trivial body.

    .venv/bin/python bench/chain.py [--quick] [--n 100] [--experiment preload-runtime]

Runs the chain through the real stack: `Client` in this process hosting the controller, SQLite
store and the default fork-mode local executor in a fresh temporary setpoint home. Reports

* wall time: compile, create (bundle capture + spec + row), create → SUCCEEDED, total;
* per dependent step, from the recorded rows (all times are wall-clock seconds):
  - period: upstream attempt finished → this attempt finished (what one step really costs);
  - gap: upstream attempt finished (outputs written, in the worker) → this attempt's harness
    started (in its freshly forked process) — the orchestration latency between two steps;
    split into *notice* (upstream finished → controller recorded it SUCCEEDED, in the round
    that also decided to launch this node) and *launch* (that round → this harness started);
  - in-worker: harness start → outputs written (imports, pid claim, input/output conversion and
    the body itself);
* the floor: the same Python functions called directly in this process.

A second, warm run of the same workflow on the same client (fork server already started) is
reported too. ``--experiment preload-runtime`` patches the controller (in this process only) so
the fork server imports ``setpoint.adapters.executor.runtime`` before forking; it exists to measure a suggested fix.
"""

from __future__ import annotations

import argparse
from typing import Any

from _common import (
    EXPERIMENTS,
    Noise,
    apply_experiment,
    attempt_file_times,
    best_of,
    emit,
    fmt_ms,
    fresh_home,
    header,
    settings,
    summary_ms,
    timer,
    wait_quiet,
)


def step_metrics(client: Any, eid: str, n: int) -> dict[str, Any]:
    ids = ["add"] + [f"add-{i}" for i in range(1, n)]
    nodes = {r.node_id: r for r in client.store.load_nodes(eid)}
    root = client.settings.attempts_root
    f = {nid: attempt_file_times(root, f"{eid}/{nid}/{nodes[nid].attempt}") for nid in ids}
    rec = client.get(eid)
    period, gap, exit_, notice, launch, fork, inside = [], [], [], [], [], [], []
    for i, nid in enumerate(ids):
        a, node = f[nid], nodes[nid]
        inside.append(a["outputs_written"] - a["harness_start"])
        if i == 0:
            continue
        u, up_node = f[ids[i - 1]], nodes[ids[i - 1]]
        period.append(a["outputs_written"] - u["outputs_written"])
        gap.append(a["harness_start"] - u["outputs_written"])
        exit_.append(u["reaped"] - u["outputs_written"])
        notice.append(up_node.finished_at - u["reaped"])
        launch.append(a["launched"] - node.started_at)
        fork.append(a["harness_start"] - a["launched"])
    first, last = f[ids[0]], f[ids[-1]]
    return {
        "execution_wall_s": rec.finished_at - rec.created_at,
        "created_to_first_start_s": first["harness_start"] - rec.created_at,
        "last_finish_to_succeeded_s": rec.finished_at - last["outputs_written"],
        "period": summary_ms(period),
        "gap": summary_ms(gap),
        "gap_exit_reap": summary_ms(exit_),
        "gap_notice_decide": summary_ms(notice),
        "gap_commit_launch": summary_ms(launch),
        "gap_fork_start": summary_ms(fork),
        "in_worker": summary_ms(inside),
        "attempts": len(nodes),
    }


def run(n: int, quick: bool, experiment: str | None) -> None:
    import workflows as w

    from setpoint.client.embedded import Client

    apply_experiment(experiment)
    header(f"chain: {n} dependent steps (add(x=prev, y=1)), local executor (fork), SQLite")

    # The floor: direct calls, and the workflow function run in-process.
    direct = best_of(lambda: w.direct_chain(n), repeat=20)
    wf_floor = w.make_chain(n)
    inproc = best_of(lambda: wf_floor(x=0), repeat=20)

    wf = w.make_chain(n)
    idle_before = wait_quiet()
    noise = Noise()
    with fresh_home("chain") as home:
        client = Client(settings(home))
        try:
            t0 = timer()
            spec = wf.compile()
            t1 = timer()
            client.start_controller()
            t2 = timer()
            eid = client.create_execution(wf, {"x": 0})
            t3 = timer()
            rec = client.wait(eid, timeout=600)
            t4 = timer()
            assert rec.phase.value == "SUCCEEDED", (rec.phase, rec.error)
            assert rec.outputs == {"o0": n}, rec.outputs
            cold = step_metrics(client, eid, n)

            # warm: same client, fork server already running, workflow already compiled
            t5 = timer()
            eid2 = client.create_execution(wf, {"x": 0})
            rec2 = client.wait(eid2, timeout=600)
            t6 = timer()
            assert rec2.phase.value == "SUCCEEDED", (rec2.phase, rec2.error)
            warm = step_metrics(client, eid2, n)
            rounds = client.controller.rounds if client.controller else None
        finally:
            client.close()

    machine_noise = {"cpu_pct_before": idle_before, **noise.stop()}
    body_sum = direct  # n trivial bodies: the direct-call floor is an upper bound on their time
    cold_added = (cold["execution_wall_s"] - body_sum) / n
    warm_added = (warm["execution_wall_s"] - body_sum) / n
    total_cold = t4 - t0
    print(f"   nodes: {len(spec.nodes)}; controller rounds (both runs): {rounds}")
    print(f"   floor: direct calls {direct * 1e3:.3f} ms total; in-process workflow call {inproc * 1e3:.3f} ms")
    print(
        f"   cold run: compile {(t1 - t0) * 1e3:.1f} ms, start controller {(t2 - t1) * 1e3:.1f} ms, "
        f"create {(t3 - t2) * 1e3:.1f} ms, create->SUCCEEDED {(t4 - t3):.3f} s, total {total_cold:.3f} s"
    )
    print(f"   warm run: create->SUCCEEDED {(t6 - t5):.3f} s")
    for label, m, added in (("cold", cold, cold_added), ("warm", warm, warm_added)):
        print(f"   [{label}] mean added latency per step (execution wall - bodies)/{n}: {added * 1e3:.2f} ms")
        print(f"   [{label}] step period   : {fmt_ms(m['period'])}")
        print(f"   [{label}] gap (orchestr.): {fmt_ms(m['gap'])}")
        print(f"   [{label}]   exit+reap    : {fmt_ms(m['gap_exit_reap'])}")
        print(f"   [{label}]   notice+decide: {fmt_ms(m['gap_notice_decide'])}")
        print(f"   [{label}]   commit+launch: {fmt_ms(m['gap_commit_launch'])}")
        print(f"   [{label}]   fork+start   : {fmt_ms(m['gap_fork_start'])}")
        print(f"   [{label}] in-worker     : {fmt_ms(m['in_worker'])}")
        print(
            f"   [{label}] created -> first harness start {m['created_to_first_start_s'] * 1e3:.1f} ms; "
            f"last finish -> SUCCEEDED {m['last_finish_to_succeeded_s'] * 1e3:.1f} ms"
        )
    print(
        f"   machine: {idle_before:.0f}% CPU busy before; other processes used "
        f"{machine_noise['foreign_cpu_s']:.1f} CPU-s during the {machine_noise['wall_s']:.1f} s measured"
    )
    verdict = "meets" if warm["period"]["median_ms"] <= 10 else "misses"
    print(
        f"   target: <= 10 ms median per dependent step -> {verdict} (warm median period "
        f"{warm['period']['median_ms']:.2f} ms)"
    )
    emit(
        "chain",
        {
            "n": n,
            "experiment": experiment,
            "compile_s": round(t1 - t0, 4),
            "create_s": round(t3 - t2, 4),
            "run_s": round(t4 - t3, 4),
            "total_s": round(total_cold, 4),
            "warm_run_s": round(t6 - t5, 4),
            "floor_direct_s": direct,
            "floor_inprocess_workflow_s": inproc,
            "mean_added_per_step_ms": {"cold": round(cold_added * 1e3, 2), "warm": round(warm_added * 1e3, 2)},
            "cold": cold,
            "warm": warm,
            "target_median_step_ms": 10,
            "median_step_ms": warm["period"]["median_ms"],
            "noise": machine_noise,
        },
        quick=quick,
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="20 steps instead of 100")
    p.add_argument("--n", type=int, default=None)
    p.add_argument("--experiment", choices=EXPERIMENTS, default=None)
    a = p.parse_args()
    n = a.n or (20 if a.quick else 100)
    run(n, a.quick, a.experiment)


if __name__ == "__main__":
    main()
