"""PostgreSQL: node transitions per second with one and two controller replicas, and end-to-end
no-op attempts per second with the local executor, beside the same runs on SQLite.

    .venv/bin/python bench/pg.py [--quick] [--repeat 3] [--only transitions|e2e]

PostgreSQL is named by ``SETPOINT_BENCH_PG`` (an admin URL allowed to create databases; default
``postgresql://postgres@127.0.0.1:5432/postgres``); every run gets a fresh database, dropped after.

* **Controller transitions** (`InstantExecutor`, every attempt succeeds the moment it is
  launched, so only controllers and store are measured): E executions are created at once —
  ``wide``: E x (500 ``sq`` + a sum), ``chain``: E x 100 dependent ``add`` — and run by 1 or 2
  controller replicas, each a process of its own (this script with ``replica``) holding a
  `Controller` on its own `PostgresStore` (database clock, LISTEN/NOTIFY wake-ups, leases),
  exactly as `setpoint controller` would. Node transitions (PENDING->QUEUED->SUCCEEDED, counted
  from the stored events) / wall time from the first create to the last execution SUCCEEDED.
  The SQLite row is the same workload with one in-process controller on a SQLite file (SQLite
  has one writer: a second replica cannot help it).
* **End-to-end no-op attempts** (the real fork-mode local executor, one controller in this
  process): a 1,000-way fan-out of ``sq`` plus a sum, compile -> SUCCEEDED, on PostgreSQL and on
  SQLite; attempts per second = attempts / wall time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from _common import BENCH_DIR, REPO, Noise, emit, fresh_home, header, settings, timer, wait_quiet

ADMIN_ENV = "SETPOINT_BENCH_PG"


def admin_url() -> str:
    return os.environ.get(ADMIN_ENV) or "postgresql://postgres@127.0.0.1:5432/postgres"


@contextlib.contextmanager
def pg_database() -> Iterator[str]:
    """A fresh, empty database for one run; its URL. Dropped afterwards."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    name = f"setpoint_bench_{secrets.token_hex(5)}"
    with psycopg.connect(admin_url(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    parts: dict[str, Any] = conninfo_to_dict(admin_url())
    user = f"{parts['user']}@" if parts.get("user") else ""
    try:
        yield f"postgresql://{user}{parts.get('host', '127.0.0.1')}:{parts.get('port', 5432)}/{name}"
    finally:
        with psycopg.connect(admin_url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench_outputs(inputs: Any) -> dict[str, Any]:
    if "xs" in inputs:
        return {"o0": sum(inputs["xs"])}
    if "i" in inputs:
        return {"o0": inputs["i"] * inputs["i"]}
    return {"o0": inputs.get("x", 0) + inputs.get("y", 0)}


# -- a controller replica process --------------------------------------------------------------


def replica(home: Path, db: str) -> int:
    """Run a Controller with the InstantExecutor until SIGTERM; print its rounds at the end."""
    from setpoint.adapters.blobs.local import LocalBlobStore
    from setpoint.adapters.bundle import BundleCache
    from setpoint.adapters.store.postgres import PostgresStore
    from setpoint.controller.controller import Controller
    from setpoint.testing.instant_executor import InstantExecutor

    stop = False

    def on_term(*_: Any) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    s = settings(home, db_url=db)
    store = PostgresStore(db, clock="db")
    bundles = BundleCache(s.bundles_root, LocalBlobStore(s.blob_root))
    controller = Controller(store, {"local": InstantExecutor(bench_outputs)}, bundles, s).start()
    print("ready", flush=True)
    while not stop:
        time.sleep(0.05)
    controller.stop()
    store.close()
    print(json.dumps({"rounds": controller.rounds}), flush=True)
    return 0


# -- controller transitions ----------------------------------------------------------------------


def make_store(kind: str, home: Path, db: str | None) -> Any:
    if kind == "sqlite":
        from setpoint.adapters.store.sqlite import SqliteStore

        return SqliteStore(home / "setpoint.db")
    from setpoint.adapters.store.postgres import PostgresStore

    assert db is not None
    return PostgresStore(db, clock="db")


def create_executions(store: Any, home: Path, wf: Any, inputs: dict[str, Any], count: int) -> list[str]:
    from setpoint.adapters.blobs.local import LocalBlobStore
    from setpoint.adapters.bundle import capture
    from setpoint.adapters.bundle import store as store_bundle
    from setpoint.core.model import Event, ExecutionRecord
    from setpoint.core.phases import ExecutionPhase
    from setpoint.spec.canonical import canonical_json

    spec = wf.compile()
    bundle = capture({wf.module, *(t.module for t in spec.tasks.values())})
    store_bundle(bundle, LocalBlobStore(home / "blobs"))
    store.put_spec(spec.digest, canonical_json(spec.to_json()))
    ids = []
    for i in range(count):
        now = time.time()
        eid = f"b{secrets.token_hex(5)}{i}"
        rec = ExecutionRecord(
            eid, "bench", spec.name, spec.digest, bundle.digest, inputs, created_at=now, updated_at=now
        )
        store.create_execution(rec, [Event(eid, now, "execution", ExecutionPhase.QUEUED.value)])
        ids.append(eid)
    return ids


def node_transitions(store: Any, ids: list[str]) -> int:
    total = 0
    for eid in ids:
        after = 0
        while batch := store.events(eid, after_seq=after, limit=10_000):
            total += sum(1 for ev in batch if ev.kind == "node")
            after = batch[-1].seq
    return total


def wait_all(store: Any, ids: list[str], timeout: float = 900.0) -> None:
    pending = list(ids)
    deadline = time.monotonic() + timeout
    while pending:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(pending)} executions unfinished after {timeout}s")
        pending = [e for e in pending if not store.get_execution(e).phase.is_terminal]
        if pending:
            time.sleep(0.02)


def run_transitions(kind: str, replicas: int, wf: Any, inputs: dict[str, Any], count: int, expect: int) -> dict:
    from setpoint.core.phases import ExecutionPhase

    with fresh_home(f"pg-{kind}-{replicas}") as home, contextlib.ExitStack() as stack:
        home.mkdir(parents=True)
        db = stack.enter_context(pg_database()) if kind == "postgresql" else None
        store = make_store(kind, home, db)
        procs: list[subprocess.Popen[str]] = []
        controller = None
        idle_before = wait_quiet()
        noise = Noise()
        try:
            if kind == "postgresql":
                for _ in range(replicas):
                    p = subprocess.Popen(
                        [sys.executable, str(BENCH_DIR / "pg.py"), "replica", "--home", str(home), "--db", db],
                        cwd=REPO,
                        stdout=subprocess.PIPE,
                        text=True,
                    )
                    procs.append(p)
                for p in procs:
                    assert p.stdout is not None
                    assert p.stdout.readline().strip() == "ready"
            else:
                from setpoint.adapters.blobs.local import LocalBlobStore
                from setpoint.adapters.bundle import BundleCache
                from setpoint.controller.controller import Controller
                from setpoint.testing.instant_executor import InstantExecutor

                s = settings(home)
                bundles = BundleCache(s.bundles_root, LocalBlobStore(s.blob_root))
                controller = Controller(store, {"local": InstantExecutor(bench_outputs)}, bundles, s).start()
            t0 = timer()
            ids = create_executions(store, home, wf, inputs, count)
            if controller is not None:
                for eid in ids:
                    controller.submit(eid)
            wait_all(store, ids)
            wall = timer() - t0
        finally:
            rounds = []
            for p in procs:
                p.send_signal(signal.SIGTERM)
                out, _ = p.communicate(timeout=60)
                rounds.append(json.loads(out.strip().splitlines()[-1])["rounds"])
            if controller is not None:
                controller.stop()
                rounds.append(controller.rounds)
        for eid in ids:
            rec = store.get_execution(eid)
            assert rec.phase is ExecutionPhase.SUCCEEDED, (rec.phase, rec.error)
            assert rec.outputs == {"o0": expect}, rec.outputs
        transitions = node_transitions(store, ids)
        store.close()
    return {
        "store": kind,
        "replicas": replicas,
        "executions": count,
        "nodes_each": len(wf.compile().nodes),
        "wall_s": round(wall, 3),
        "node_transitions": transitions,
        "transitions_per_s": round(transitions / wall, 1),
        "rounds_per_replica": rounds,
        "noise": {"cpu_pct_before": idle_before, **noise.stop()},
    }


# -- end to end, local executor ----------------------------------------------------------------


def run_e2e(kind: str, n: int) -> dict:
    import workflows as w

    from setpoint.client.embedded import Client

    wf = w.make_fanout(n)
    with fresh_home(f"pg-e2e-{kind}") as home, contextlib.ExitStack() as stack:
        db = stack.enter_context(pg_database()) if kind == "postgresql" else None
        idle_before = wait_quiet()
        noise = Noise()
        with Client(settings(home, db_url=db)) as c:
            c.start_controller()
            t0 = timer()
            wf.compile()
            rec = c.run(wf, {}, timeout=900)
            wall = timer() - t0
            attempts = len(c.store.load_attempts(rec.id))
        assert rec.phase.value == "SUCCEEDED", rec
        assert rec.outputs == {"o0": sum(i * i for i in range(n))}, rec.outputs
    return {
        "store": kind,
        "nodes": n + 1,
        "attempts": attempts,
        "wall_s": round(wall, 3),
        "attempts_per_s": round(attempts / wall, 1),
        "noise": {"cpu_pct_before": idle_before, **noise.stop()},
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd")
    r = sub.add_parser("replica", help="(internal) one controller replica process")
    r.add_argument("--home", required=True)
    r.add_argument("--db", required=True)
    p.add_argument("--quick", action="store_true", help="smaller sizes, one run each")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--only", choices=["transitions", "e2e"], default=None)
    a = p.parse_args()
    if a.cmd == "replica":
        sys.exit(replica(Path(a.home), a.db))
    repeat = 1 if a.quick else a.repeat
    count = 4 if a.quick else 8
    import workflows as w

    cases: list[dict[str, Any]] = []
    summary: dict[str, dict[str, float]] = {}
    if a.only in (None, "transitions"):
        header(f"controller alone (InstantExecutor) on PostgreSQL, {count} executions at once")
        wide_n, chain_n = (200, 50) if a.quick else (500, 100)
        for name, wf, inputs, expect in (
            ("wide", w.make_fanout(wide_n), {}, sum(i * i for i in range(wide_n))),
            ("chain", w.make_chain(chain_n), {"x": 0}, chain_n),
        ):
            for kind, replicas in (("sqlite", 1), ("postgresql", 1), ("postgresql", 2)):
                rates = []
                for rep in range(repeat):
                    res = run_transitions(kind, replicas, wf, inputs, count, expect)
                    res.update(workflow=name, repeat=rep + 1)
                    cases.append(res)
                    rates.append(res["transitions_per_s"])
                    print(
                        f"   {name:5} {count} x {res['nodes_each']} nodes, {kind:10} x{replicas} #{rep + 1}: "
                        f"{res['wall_s']:.2f} s, {res['node_transitions']} node transitions -> "
                        f"{res['transitions_per_s']:.0f}/s; rounds {res['rounds_per_replica']}; "
                        f"other processes {res['noise']['foreign_cpu_s']:.1f} CPU-s"
                    )
                rates.sort()
                summary[f"{name}/{kind}/x{replicas}"] = {
                    "median": rates[len(rates) // 2],
                    "best": rates[-1],
                    "worst": rates[0],
                }
    if a.only in (None, "e2e"):
        n = 200 if a.quick else 1000
        header(f"end to end: {n}-way fan-out of no-op tasks, local executor (fork), one controller")
        for kind in ("sqlite", "postgresql"):
            rates = []
            for rep in range(repeat):
                res = run_e2e(kind, n)
                res.update(case="e2e", repeat=rep + 1)
                cases.append(res)
                rates.append(res["attempts_per_s"])
                print(
                    f"   {kind:10} #{rep + 1}: {res['attempts']} attempts in {res['wall_s']:.2f} s -> "
                    f"{res['attempts_per_s']:.0f} attempts/s; other processes {res['noise']['foreign_cpu_s']:.1f} CPU-s"
                )
            rates.sort()
            summary[f"e2e/{kind}"] = {"median": rates[len(rates) // 2], "best": rates[-1], "worst": rates[0]}
    for key, v in summary.items():
        print(f"   {key:24} median {v['median']:.0f}/s (best {v['best']:.0f}, worst {v['worst']:.0f})")
    emit("pg", {"executions": count, "summary": summary, "cases": cases}, quick=a.quick)


if __name__ == "__main__":
    main()
