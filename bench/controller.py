"""The controller alone: how many node transitions per second it sustains, with no process start-up.

    .venv/bin/python bench/controller.py [--quick] [--wide 5000] [--chain 1000]

The real `Controller` (its worker threads, work queue, compare-and-swap commits) runs against the
real `SqliteStore` (in a fresh temporary home) and against `InMemoryStore`, with the
`InstantExecutor` (every attempt succeeds the moment it is launched) so nothing but the controller
is measured. Two workflows:

* wide: ``total(xs=[sq(i=i) for i in range(N)])`` (N = 5,000), default max parallelism (256);
* chain: ``add(x=prev, y=1)`` repeated M times (M = 1,000): one round per step, the worst case for
  per-round fixed costs.

A node transition is one recorded node phase change (PENDING->QUEUED, QUEUED->SUCCEEDED, ...),
counted from the events the store keeps. Transitions per second = node transitions / wall time
from submit to SUCCEEDED. While the controller runs, the time spent in `reconcile()`, in
`commit_round` and in the rest of the round is accumulated, so the per-round cost is broken down.

Finally the pure core alone: the same workflows driven by `reconcile()` + `ExecutionState.apply`
in a loop with no controller, store or threads (an upper bound for the core).
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from _common import Noise, emit, fresh_home, header, settings, summary_ms, timer, wait_quiet


def noop_outputs(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """``noop(i) -> i`` and ``total(xs) -> sum(xs)``: the tasks of ``workflows.make_wide``."""
    if "xs" in inputs:
        return {"o0": sum(inputs["xs"])}
    return {"o0": inputs.get("i", 0)}


def bench_outputs(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """What the benchmark tasks would return, computed from their input literals."""
    if "xs" in inputs:
        return {"o0": sum(inputs["xs"])}
    if "i" in inputs:
        return {"o0": inputs["i"] * inputs["i"]}
    return {"o0": inputs.get("x", 0) + inputs.get("y", 0)}


class Timings:
    """Wall time accumulated in named calls, from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.total: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.samples: dict[str, list[float]] = {}

    def wrap(self, name: str, fn: Any, keep: bool = False) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                dt = time.perf_counter() - t
                with self._lock:
                    self.total[name] = self.total.get(name, 0.0) + dt
                    self.calls[name] = self.calls.get(name, 0) + 1
                    if keep:
                        self.samples.setdefault(name, []).append(dt)

        return timed


def make_store(kind: str, home: Path) -> Any:
    if kind == "sqlite":
        from setpoint.adapters.store.sqlite import SqliteStore

        return SqliteStore(home / "setpoint.db")
    from setpoint.testing import InMemoryStore

    return InMemoryStore()


def count_events(store: Any, eid: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    after = 0
    while True:
        batch = store.events(eid, after_seq=after, limit=10_000)
        if not batch:
            return counts
        for ev in batch:
            counts[ev.kind] = counts.get(ev.kind, 0) + 1
        after = batch[-1].seq


def run_controller(kind: str, wf: Any, inputs: dict[str, Any], expect: int, outputs: Any = None) -> dict[str, Any]:
    import setpoint.controller.controller as ctl_mod
    from setpoint.adapters.blobs.local import LocalBlobStore
    from setpoint.adapters.bundle import BundleCache, capture
    from setpoint.adapters.bundle import store as store_bundle
    from setpoint.core.model import Event, ExecutionRecord
    from setpoint.core.phases import ExecutionPhase
    from setpoint.spec.canonical import canonical_json
    from setpoint.testing.instant_executor import InstantExecutor

    spec = wf.compile()
    with fresh_home(f"controller-{kind}") as home:
        home.mkdir(parents=True)
        s = settings(home)
        store = make_store(kind, home)
        blobs = LocalBlobStore(s.blob_root)
        bundles = BundleCache(s.bundles_root, blobs)
        bundle = capture({wf.module, *(t.module for t in spec.tasks.values())})
        store_bundle(bundle, blobs)
        store.put_spec(spec.digest, canonical_json(spec.to_json()))
        now = time.time()
        eid = f"bench-{kind}-{len(spec.nodes)}"
        rec = ExecutionRecord(
            id=eid,
            project="bench",
            workflow=spec.name,
            spec_digest=spec.digest,
            code_digest=bundle.digest,
            inputs=inputs,
            created_at=now,
            updated_at=now,
        )
        store.create_execution(rec, [Event(eid, now, "execution", ExecutionPhase.QUEUED.value)])

        tm = Timings()
        original_reconcile = ctl_mod.reconcile
        ctl_mod.reconcile = tm.wrap("reconcile", original_reconcile, keep=True)
        store.commit_round = tm.wrap("commit_round", store.commit_round, keep=True)
        store.get_execution = tm.wrap("get_execution", store.get_execution)
        executor = InstantExecutor(outputs or bench_outputs)
        controller = ctl_mod.Controller(store, {"local": executor}, bundles, s)
        controller.reconcile_once = tm.wrap("round", controller.reconcile_once, keep=True)  # type: ignore[method-assign]
        idle_before = wait_quiet()
        noise = Noise()
        try:
            controller.start()
            t0 = timer()
            controller.submit(eid)
            done = controller.wait(eid, timeout=900)
            wall = timer() - t0
        finally:
            controller.stop()
            ctl_mod.reconcile = original_reconcile
        assert done.phase is ExecutionPhase.SUCCEEDED, (done.phase, done.error)
        assert done.outputs == {"o0": expect}, done.outputs
        machine_noise = {"cpu_pct_before": idle_before, **noise.stop()}
        events = count_events(store, eid)
        store.close()
    node_tr = events.get("node", 0)
    rounds = tm.calls.get("round", 0)
    round_total = tm.total.get("round", 0.0)
    return {
        "store": kind,
        "nodes": len(spec.nodes),
        "wall_s": round(wall, 4),
        "node_transitions": node_tr,
        "attempt_transitions": events.get("attempt", 0),
        "transitions_per_s": round(node_tr / wall, 1),
        "rounds": rounds,
        "rounds_per_s": round(rounds / wall, 1),
        "round": summary_ms(tm.samples.get("round", [])),
        "reconcile": summary_ms(tm.samples.get("reconcile", [])),
        "commit_round": summary_ms(tm.samples.get("commit_round", [])),
        "share_of_round_time": {
            "reconcile": round(tm.total.get("reconcile", 0.0) / round_total, 3) if round_total else None,
            "commit_round": round(tm.total.get("commit_round", 0.0) / round_total, 3) if round_total else None,
            "get_execution": round(tm.total.get("get_execution", 0.0) / round_total, 3) if round_total else None,
        },
        "launches": executor.launches,
        "noise": machine_noise,
    }


def drive_pure(spec: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    """Run a workflow to the end with the pure core only: reconcile, apply, repeat."""
    from setpoint.core.model import AttemptObservation, ExecutionRecord, Observed
    from setpoint.core.reconcile import ReconcileConfig, reconcile
    from setpoint.core.state import ExecutionState, Launch

    cfg = ReconcileConfig()
    rec = ExecutionRecord("pure", "bench", spec.name, spec.digest, "0" * 64, inputs)
    state = ExecutionState.build(spec, rec, [], [])
    obs: dict[str, AttemptObservation] = {}
    now = 1_000_000.0
    times: list[float] = []
    transitions = 0
    while not state.execution.phase.is_terminal:
        t = time.perf_counter()
        d = reconcile(state, obs, now, cfg)
        times.append(time.perf_counter() - t)
        state.apply(d)
        transitions += sum(1 for e in d.events if e.kind == "node")
        obs = {
            a.attempt_id: AttemptObservation(Observed.SUCCEEDED, now, now, outputs=bench_outputs(a.inputs))
            for a in d.actions
            if isinstance(a, Launch)
        }
        now += 0.001
        if len(times) > 10 * len(spec.nodes) + 10:
            raise RuntimeError("the pure driver does not converge")
    total = sum(times)
    return {
        "rounds": len(times),
        "node_transitions": transitions,
        "reconcile_total_s": round(total, 4),
        "reconcile": summary_ms(times),
        "transitions_per_s": round(transitions / total, 0),
        "outputs": state.execution.outputs,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="1,000 wide and 200 chained instead of 5,000 / 1,000")
    p.add_argument("--wide", type=int, default=None)
    p.add_argument("--chain", type=int, default=None)
    p.add_argument("--repeat", type=int, default=3, help="runs per case (the machine may be shared)")
    a = p.parse_args()
    wide_n = a.wide or (1000 if a.quick else 5000)
    chain_n = a.chain or (200 if a.quick else 1000)

    import workflows as w

    header("controller alone (InstantExecutor): node transitions per second")
    cases = []
    summary: dict[str, dict[str, float]] = {}
    t = timer()
    wide = w.make_fanout(wide_n)
    wide.compile()
    wide_compile = timer() - t
    t = timer()
    chain = w.make_chain(chain_n)
    chain.compile()
    chain_compile = timer() - t
    print(f"   compile: wide {wide_n}+1 nodes {wide_compile:.3f} s; chain {chain_n} nodes {chain_compile:.3f} s")
    expect_wide = sum(i * i for i in range(wide_n))
    for name, wf, inputs, expect in (
        ("wide", wide, {}, expect_wide),
        ("chain", chain, {"x": 0}, chain_n),
    ):
        for kind in ("sqlite", "memory"):
            runs = []
            for rep in range(a.repeat):
                r = run_controller(kind, wf, inputs, expect)
                r["workflow"] = name
                r["repeat"] = rep + 1
                runs.append(r)
                share = r["share_of_round_time"]
                print(
                    f"   {name:5} {r['nodes']:>5} nodes, {kind:6} #{rep + 1}: {r['wall_s']:.3f} s, "
                    f"{r['node_transitions']} node transitions -> {r['transitions_per_s']:.0f}/s; "
                    f"{r['rounds']} rounds ({r['rounds_per_s']:.0f}/s), round median {r['round']['median_ms']:.2f} ms "
                    f"[reconcile {share['reconcile']:.0%}, commit {share['commit_round']:.0%}, "
                    f"get_execution {share['get_execution']:.0%} of round time]; "
                    f"other processes {r['noise']['foreign_cpu_s']:.1f} CPU-s"
                )
            rates = sorted(r["transitions_per_s"] for r in runs)
            summary[f"{name}/{kind}"] = {"median": rates[len(rates) // 2], "best": rates[-1], "worst": rates[0]}
            cases.extend(runs)
    pure = {}
    for name, wf, inputs in (("wide", wide, {}), ("chain", chain, {"x": 0})):
        r = drive_pure(wf.compile(), inputs)
        pure[name] = r
        print(
            f"   pure reconcile() only, {name}: {r['rounds']} rounds, per round {r['reconcile']['median_ms']:.3f} ms "
            f"median / {r['reconcile']['p90_ms']:.3f} ms p90 -> {r['transitions_per_s']:.0f} node transitions/s"
        )
    for key, v in summary.items():
        print(
            f"   {key:14} node transitions/s over {a.repeat} runs: median {v['median']:.0f}, "
            f"best {v['best']:.0f}, worst {v['worst']:.0f}"
        )
    worst = min(v["median"] for k, v in summary.items() if k.endswith("/sqlite"))
    verdict = "meets" if worst >= 2000 else "misses"
    print(f"   target: >= 2,000 node transitions/s (SQLite, median of runs) -> {verdict} (lowest {worst:.0f}/s)")
    emit(
        "controller",
        {
            "wide_n": wide_n,
            "chain_n": chain_n,
            "compile_s": {"wide": round(wide_compile, 4), "chain": round(chain_compile, 4)},
            "summary": summary,
            "cases": cases,
            "pure": pure,
            "target_transitions_per_s": 2000,
        },
        quick=a.quick,
    )


if __name__ == "__main__":
    main()
