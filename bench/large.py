"""A 10,000-node workflow end to end, and how a reconcile round's cost scales with workflow size.

    .venv/bin/python bench/large.py [--quick] [--n 10000] [--executor local|instant] [--skip-run]
                                    [--skip-table]

Part 1 — ``wide``: N no-op tasks feeding 10 partial sums and a final sum (N + 11 nodes), run with
the default fork-mode local executor (every task in its own process; ``--executor instant`` swaps
in the `InstantExecutor` when the local one would take too long). The controller runs in this
process and the tasks in others, so this process's peak RSS (getrusage) is the controller's,
with nothing subtracted (it includes the compiled spec, the client and the SQLite connections).
Compile time is reported on its own.

Part 2 — the pure `reconcile()` on a prepared state where exactly k in-flight attempts are
observed finished, for workflows of N leaf nodes (N = 100 ... 100,000) and k = 1, 10, 100:

* ``wide``: N independent leaves + one sum; max parallelism 100, 100 leaves in flight, half of
  the rest already SUCCEEDED and the other half PENDING (ready to start);
* ``chains``: 100 parallel chains of N/100 nodes; each chain is half done and its next node in
  flight; nothing else is ready.

If a round costs what changed, each row of the table is flat in N.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from _common import (
    EXPERIMENTS,
    Noise,
    apply_experiment,
    current_rss_mb,
    emit,
    fresh_home,
    header,
    peak_rss_mb,
    settings,
    summary_ms,
    timer,
    wait_quiet,
)

# ---------------------------------------------------------------------------------------------
# Part 1: the end-to-end run
# ---------------------------------------------------------------------------------------------


def run_local(wf: Any) -> dict[str, Any]:
    from controller import Timings

    import setpoint.controller.controller as ctl_mod
    from setpoint.client.embedded import Client

    tm = Timings()
    original = ctl_mod.reconcile
    ctl_mod.reconcile = tm.wrap("reconcile", original, keep=True)
    try:
        with fresh_home("large") as home:
            client = Client(settings(home))
            try:
                client.start_controller()
                t0 = timer()
                eid = client.create_execution(wf)
                t1 = timer()
                rec = client.wait(eid, timeout=3600)
                t2 = timer()
                slots = client._executor._max_workers if client._executor is not None else None
                rounds = client.controller.rounds if client.controller else None
            finally:
                client.close()
    finally:
        ctl_mod.reconcile = original
    return {
        "phase": rec.phase.value,
        "outputs": rec.outputs,
        "create_s": round(t1 - t0, 4),
        "run_s": round(t2 - t1, 4),
        "executor_slots": slots,
        "rounds": rounds,
        "reconcile": summary_ms(tm.samples.get("reconcile", [])),
    }


def run_instant(wf: Any) -> dict[str, Any]:
    from controller import noop_outputs, run_controller

    t0 = timer()
    r = run_controller("sqlite", wf, {}, expect=expected(wf), outputs=noop_outputs)
    return {"phase": "SUCCEEDED", "create_s": None, "run_s": r["wall_s"], "total_incl_setup_s": timer() - t0, **r}


def expected(wf: Any) -> int:
    n = int(wf.name.removeprefix("wide"))
    return sum(range(n))


def part1(n: int, executor: str, quick: bool) -> dict[str, Any]:
    import workflows as w

    rss_start = current_rss_mb()
    wf = w.make_wide(n, sums=10)
    t = timer()
    spec = wf.compile()
    compile_s = timer() - t
    rss_compiled = current_rss_mb()
    print(f"   part 1: {len(spec.nodes)} nodes ({n} no-op tasks -> 10 partial sums -> 1 sum), {executor} executor")
    print(f"   compile {compile_s:.3f} s (RSS {rss_start:.0f} MiB before, {rss_compiled:.0f} MiB after)")
    idle_before = wait_quiet()
    noise = Noise()
    r = run_local(wf) if executor == "local" else run_instant(wf)
    machine_noise = {"cpu_pct_before": idle_before, **noise.stop()}
    if executor == "local":
        assert r["phase"] == "SUCCEEDED", r
        assert r["outputs"] == {"o0": expected(wf)}, r["outputs"]
    peak = peak_rss_mb()
    rate = len(spec.nodes) / r["run_s"]
    print(
        f"   create {r['create_s'] if r['create_s'] is not None else float('nan'):.3f} s, "
        f"create->SUCCEEDED {r['run_s']:.1f} s ({rate:.0f} tasks/s), "
        f"total {compile_s + (r['create_s'] or 0) + r['run_s']:.1f} s; rounds {r.get('rounds')}"
    )
    if r.get("reconcile", {}).get("n"):
        print(
            f"   reconcile() per round during the run: median {r['reconcile']['median_ms']:.3f} ms, "
            f"p90 {r['reconcile']['p90_ms']:.3f} ms, max {r['reconcile']['max_ms']:.1f} ms"
        )
    print(f"   controller process peak RSS: {peak:.0f} MiB")
    print(
        f"   machine: {idle_before:.0f}% CPU busy before; other processes used "
        f"{machine_noise['foreign_cpu_s']:.1f} CPU-s during the {machine_noise['wall_s']:.1f} s measured"
    )
    return {
        "n_tasks": n,
        "nodes": len(spec.nodes),
        "executor": executor,
        "compile_s": round(compile_s, 4),
        "rss_before_mb": round(rss_start, 1),
        "rss_after_compile_mb": round(rss_compiled, 1),
        "peak_rss_mb": round(peak, 1),
        "tasks_per_s": round(rate, 1),
        "noise": machine_noise,
        **{k: v for k, v in r.items() if k not in ("outputs",)},
    }


# ---------------------------------------------------------------------------------------------
# Part 2: reconcile cost vs workflow size
# ---------------------------------------------------------------------------------------------

IN_FLIGHT = 100


def _task_specs() -> dict[str, Any]:
    import workflows as w

    return {t.name: t.spec() for t in (w.noop, w.total)}


def wide_spec(n: int) -> Any:
    """N independent ``noop`` leaves and one ``total`` over them (built directly, as the compiler would)."""
    import workflows as w

    from setpoint.spec.workflow import Binding, Interface, NodeSpec, WorkflowSpec

    leaves = [NodeSpec(f"noop-{i}", w.noop.name, (("i", Binding.const(i)),)) for i in range(n)]
    items = tuple(Binding.from_node(f"noop-{i}", "o0") for i in range(n))
    final = NodeSpec("total", w.total.name, (("xs", Binding(items=items)),))
    return WorkflowSpec(
        name=f"wide{n}",
        interface=Interface((), w.total.spec().interface.outputs),
        nodes=(*leaves, final),
        outputs=(("o0", Binding.from_node("total", "o0")),),
        tasks=_task_specs(),
    )


def chains_spec(n: int, width: int = IN_FLIGHT) -> Any:
    """``width`` parallel chains of ``n // width`` ``noop`` nodes each."""
    import workflows as w

    from setpoint.spec.workflow import Binding, Interface, NodeSpec, WorkflowSpec

    length = max(1, n // width)
    nodes = []
    for c in range(width):
        for j in range(length):
            b = Binding.const(c) if j == 0 else Binding.from_node(f"c{c}-{j - 1}", "o0")
            nodes.append(NodeSpec(f"c{c}-{j}", w.noop.name, (("i", b),)))
    return WorkflowSpec(
        name=f"chains{n}",
        interface=Interface(),
        nodes=tuple(nodes),
        outputs=(),
        tasks=_task_specs(),
    )


def prepared_state(shape: str, n: int) -> tuple[Any, list[str]]:
    """A RUNNING execution mid-way, with IN_FLIGHT attempts running; returns it and their attempt ids."""
    from setpoint.core.model import AttemptRecord, ExecutionConfig, ExecutionRecord, NodeRecord
    from setpoint.core.phases import AttemptPhase, ExecutionPhase, NodePhase
    from setpoint.core.state import ExecutionState

    now = 1_000_000.0
    eid = "bench"
    spec = wide_spec(n) if shape == "wide" else chains_spec(n)
    rec = ExecutionRecord(
        eid, "bench", spec.name, "0" * 64, "0" * 64, {},
        phase=ExecutionPhase.RUNNING, created_at=now, started_at=now,
        config=ExecutionConfig(max_parallelism=IN_FLIGHT), version=5,
    )  # fmt: skip
    done: list[str] = []
    flying: list[str] = []
    if shape == "wide":
        flying = [f"noop-{i}" for i in range(min(IN_FLIGHT, n))]
        rest = [f"noop-{i}" for i in range(len(flying), n)]
        done = rest[: len(rest) // 2]
    else:
        length = max(1, n // IN_FLIGHT)
        half = length // 2
        for c in range(IN_FLIGHT):
            done += [f"c{c}-{j}" for j in range(half)]
            flying.append(f"c{c}-{half}")
    nodes = [
        NodeRecord(eid, nid, NodePhase.SUCCEEDED, attempt=1, inputs={"i": 0}, outputs={"o0": 0},
                   started_at=now - 5, finished_at=now - 4, version=3)
        for nid in done
    ]  # fmt: skip
    attempts = []
    for nid in flying:
        nodes.append(NodeRecord(eid, nid, NodePhase.RUNNING, attempt=1, inputs={"i": 0}, started_at=now - 1, version=2))
        attempts.append(
            AttemptRecord(eid, nid, 1, AttemptPhase.RUNNING, "local", now - 1, started_at=now - 1, version=2)
        )
    spec.node_map, spec.upstream, spec.downstream  # noqa: B018 (derive the spec's indexes up front, as the controller's cache does)
    state = ExecutionState.build(spec, rec, nodes, attempts)
    return state, [a.id for a in attempts]


def time_reconcile(state: Any, aids: list[str], k: int, budget_s: float = 0.3) -> tuple[float, float, int, int]:
    """(fastest, median) wall time of reconcile() with the first k in-flight attempts observed SUCCEEDED."""
    from setpoint.core.model import AttemptObservation, Observed
    from setpoint.core.reconcile import ReconcileConfig, reconcile

    now = 1_000_001.0
    cfg = ReconcileConfig()
    obs = {aid: AttemptObservation(Observed.SUCCEEDED, now - 1, now, outputs={"o0": 0}) for aid in aids[:k]}
    d = reconcile(state, obs, now, cfg)  # warm-up, and the decision's size
    times = []
    end = time.perf_counter() + budget_s
    while len(times) < 7 or (time.perf_counter() < end and len(times) < 200):
        t = time.perf_counter()
        reconcile(state, obs, now, cfg)
        times.append(time.perf_counter() - t)
    times.sort()
    return times[0], times[len(times) // 2], len(d.nodes), len(d.actions)


def part2(ns: list[int], ks: list[int]) -> dict[str, Any]:
    print(f"   part 2: pure reconcile() per round, k in-flight attempts observed SUCCEEDED ({IN_FLIGHT} in flight)")
    table: dict[str, Any] = {}
    for shape in ("wide", "chains"):
        rows: dict[str, Any] = {}
        build: dict[int, float] = {}
        for n in ns:
            t = timer()
            state, aids = prepared_state(shape, n)
            build[n] = timer() - t
            row = {}
            for k in ks:
                if k > len(aids):
                    continue
                best, med, nodes_written, actions = time_reconcile(state, aids, k)
                row[k] = {
                    "ms": round(best * 1e3, 4),
                    "median_ms": round(med * 1e3, 4),
                    "nodes_written": nodes_written,
                    "actions": actions,
                }
            rows[n] = row
            del state
        table[shape] = {"reconcile": rows, "prepare_state_s": {n: round(v, 3) for n, v in build.items()}}
        print(f"   {shape}: ms per reconcile() round, fastest of >= 7 calls (nodes written / actions in the decision)")
        print("      k \\ N  " + "".join(f"{n:>22,}" for n in ns))
        for k in ks:
            cells = []
            for n in ns:
                c = rows[n].get(k)
                cells.append(f"{c['ms']:>9.3f} ({c['nodes_written']:>3}/{c['actions']:>3})" if c else f"{'-':>22}")
            print(f"      {k:>5}  " + "".join(f"{c:>22}" for c in cells))
        print(
            "      state build (load from rows): "
            + ", ".join(f"N={n:,}: {build[n] * 1e3:.0f} ms" for n in ns)
            + "  (once per controller, not per round)"
        )
    return table


# ---------------------------------------------------------------------------------------------
# Part 3: one round that settles many nodes at once (a failure skipping its dependents)
# ---------------------------------------------------------------------------------------------


def cascade_state(s: int) -> tuple[Any, dict[str, Any]]:
    """A root node with ``s`` dependents (finish_runnable); the root's attempt is observed failed."""
    import workflows as w

    from setpoint.core.model import (
        AttemptObservation,
        AttemptRecord,
        ErrorInfo,
        ExecutionRecord,
        NodeRecord,
        Observed,
    )
    from setpoint.core.phases import AttemptPhase, ErrorKind, ExecutionPhase, NodePhase
    from setpoint.core.state import ExecutionState
    from setpoint.spec.workflow import Binding, FailurePolicy, Interface, NodeSpec, WorkflowSpec

    root = NodeSpec("root", w.noop.name, (("i", Binding.const(0)),))
    kids = [NodeSpec(f"k{i}", w.noop.name, (("i", Binding.from_node("root", "o0")),)) for i in range(s)]
    spec = WorkflowSpec(
        name="cascade",
        interface=Interface(),
        nodes=(root, *kids),
        outputs=(),
        tasks=_task_specs(),
        failure_policy=FailurePolicy.FINISH_RUNNABLE,
    )
    now = 1_000_000.0
    rec = ExecutionRecord("e", "bench", "cascade", "0" * 64, "0" * 64, {}, phase=ExecutionPhase.RUNNING, version=2)
    node = NodeRecord("e", "root", NodePhase.RUNNING, attempt=1, inputs={"i": 0}, started_at=now, version=2)
    att = AttemptRecord("e", "root", 1, AttemptPhase.RUNNING, "local", now, started_at=now, version=2)
    state = ExecutionState.build(spec, rec, [node], [att])
    error = ErrorInfo(ErrorKind.USER, "TaskRaised", "boom", retryable=False)
    return state, {att.id: AttemptObservation(Observed.FAILED, now, now + 1, error=error)}


def part3(sizes: list[int]) -> dict[str, Any]:
    from setpoint.core.reconcile import reconcile

    print("   part 3: one round in which a failed node's dependents are all SKIPPED (finish_runnable)")
    out = {}
    for s in sizes:
        state, obs = cascade_state(s)
        t = time.perf_counter()
        d = reconcile(state, obs, 1_000_001.0)
        dt = time.perf_counter() - t
        skipped = sum(1 for n in d.nodes if n.phase.value == "SKIPPED")
        out[s] = {"ms": round(dt * 1e3, 2), "skipped": skipped, "us_per_skip": round(dt * 1e6 / max(1, skipped), 1)}
        per = dt * 1e6 / max(1, skipped)
        print(f"      {s:>6,} dependents: {dt * 1e3:9.1f} ms ({skipped} skipped, {per:.1f} us each)")
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="1,000 tasks; table up to N = 10,000")
    p.add_argument("--n", type=int, default=None)
    p.add_argument("--executor", choices=["local", "instant"], default="local")
    p.add_argument("--experiment", choices=EXPERIMENTS, default=None)
    p.add_argument("--skip-run", action="store_true", help="only the reconcile table")
    p.add_argument("--skip-table", action="store_true", help="only the end-to-end run")
    p.add_argument("--skip-cascade", action="store_true", help="leave out part 3")
    a = p.parse_args()
    n = a.n or (1000 if a.quick else 10_000)
    header(f"large: {n:,}-task workflow; reconcile cost vs workflow size")
    apply_experiment(a.experiment)
    figures: dict[str, Any] = {"experiment": a.experiment}
    if not a.skip_run:
        figures["run"] = part1(n, a.executor, a.quick)
    if not a.skip_table:
        ns = [100, 1_000, 10_000] if a.quick else [100, 1_000, 10_000, 100_000]
        figures["table"] = part2(ns, [1, 10, 100])
    if not a.skip_cascade:
        figures["cascade"] = part3([1_000, 2_000, 4_000, 8_000] if a.quick else [1_000, 2_000, 4_000, 8_000, 16_000])
    emit("large", figures, quick=a.quick)


if __name__ == "__main__":
    main()
