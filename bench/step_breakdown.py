"""Where the time of one dependent step goes: a timeline of a chain, from both sides of the fork.

    .venv/bin/python bench/step_breakdown.py [--quick] [--n 100] [--experiment preload-runtime]

Runs a chain like ``bench/chain.py`` but wraps, in this process only, the controller-side calls of
a step (fork-server reports, wake-ups, the round and its parts, the launch and its file writes)
to time-stamp them, and joins them with the timestamps the attempt processes leave in their
attempt directories. For each dependent step (upstream u finished -> downstream d started) it
reports the median and p90 of each segment, in order:

    u outputs written      (attempt process, outputs.json)
    u reaped               (fork server wrote exit.json)
    "exited" report read   (executor reader thread in the controller)
    controller woken       (executor notified the controller; id queued)
    round start            (a worker thread took the id)
    round: get_execution, observe, reconcile(), commit_round, then launch(d):
        launch.json (O_EXCL + fsync), request.json, send to the fork server
    d harness started      (attempt process, outputs.json started_at)
    d outputs written

It also counts rounds per step: each attempt's "started" report wakes the controller for a round
of its own (LAUNCHING -> RUNNING), which is a second SQLite commit per step.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections import defaultdict
from typing import Any

from _common import EXPERIMENTS, apply_experiment, attempt_file_times, emit, fresh_home, header, settings, summary_ms


class Log:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rows: list[tuple[float, str, str, Any]] = []  # (time, what, edge, detail)

    def add(self, what: str, edge: str, detail: Any = None) -> None:
        t = time.time()
        with self.lock:
            self.rows.append((t, what, edge, detail))

    def span(self, what: str, fn: Any, detail_of: Any = None) -> Any:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            d = detail_of(*args, **kwargs) if detail_of else None
            self.add(what, "start", d)
            try:
                return fn(*args, **kwargs)
            finally:
                self.add(what, "end", d)

        return wrapped


def instrument(log: Log) -> None:
    import setpoint.adapters.executor.attempt_dir as files
    import setpoint.controller.controller as ctl
    from setpoint.adapters.executor import local
    from setpoint.adapters.executor.forkserver import ForkServerClient
    from setpoint.adapters.store.sqlite import SqliteStore

    orig_report = local.LocalExecutor._on_report

    def on_report(self: Any, server: Any, line: str) -> None:
        kind, _, rest = line.strip().partition(" ")
        log.add("report", kind, rest.partition(" ")[0])
        orig_report(self, server, line)

    local.LocalExecutor._on_report = on_report  # type: ignore[method-assign]
    orig_event = ctl.Controller._on_attempt_event

    def on_event(self: Any, aid: str) -> None:
        log.add("wake", "point", aid)
        orig_event(self, aid)

    ctl.Controller._on_attempt_event = on_event  # type: ignore[method-assign]
    ctl.Controller.reconcile_once = log.span("round", ctl.Controller.reconcile_once)  # type: ignore[method-assign]
    ctl.Controller._observe = log.span("observe", ctl.Controller._observe)  # type: ignore[method-assign]
    ctl.reconcile = log.span("reconcile", ctl.reconcile)
    SqliteStore.commit_round = log.span("commit", SqliteStore.commit_round)  # type: ignore[method-assign]
    SqliteStore.get_execution = log.span("get_execution", SqliteStore.get_execution)  # type: ignore[method-assign]
    local.LocalExecutor.launch = log.span(  # type: ignore[method-assign]
        "launch", local.LocalExecutor.launch, lambda self, req: req.attempt_id
    )
    files.create_marker = log.span("marker", files.create_marker)
    files.write_atomic = log.span("write_atomic", files.write_atomic)
    ForkServerClient.send = log.span("send", ForkServerClient.send)  # type: ignore[method-assign]


def first_after(rows: list[tuple[float, str, str, Any]], t: float, what: str, edge: str, detail: Any = None) -> float:
    for r in rows:
        if r[0] >= t and r[1] == what and r[2] == edge and (detail is None or r[3] == detail):
            return r[0]
    return float("nan")


def last_before(rows: list[tuple[float, str, str, Any]], t: float, what: str, edge: str) -> float:
    best = float("nan")
    for r in rows:
        if r[0] > t:
            break
        if r[1] == what and r[2] == edge:
            best = r[0]
    return best


def analyse(log: Log, client: Any, eid: str, n: int) -> dict[str, Any]:
    rows = sorted(log.rows, key=lambda r: r[0])
    root = client.settings.attempts_root
    ids = ["add"] + [f"add-{i}" for i in range(1, n)]
    f = {nid: attempt_file_times(root, f"{eid}/{nid}/1") for nid in ids}
    seg: dict[str, list[float]] = defaultdict(list)
    rounds_per_step = []
    for i in range(1, n):
        u, d = ids[i - 1], ids[i]
        uaid, daid = f"{eid}/{u}/1", f"{eid}/{d}/1"
        t_out = f[u]["outputs_written"]
        t_reaped = f[u]["reaped"]
        t_report = first_after(rows, t_out, "report", "exited", uaid)
        t_wake = first_after(rows, t_report, "wake", "point", uaid)
        t_launch = first_after(rows, t_wake, "launch", "start", daid)
        t_round = last_before(rows, t_launch, "round", "start")
        t_getx_end = first_after(rows, t_round, "get_execution", "end")
        t_rec_start = first_after(rows, t_round, "reconcile", "start")
        t_rec_end = first_after(rows, t_round, "reconcile", "end")
        t_commit_start = first_after(rows, t_rec_end, "commit", "start")
        t_commit_end = first_after(rows, t_rec_end, "commit", "end")
        t_marker_start = first_after(rows, t_launch, "marker", "start")
        t_marker_end = first_after(rows, t_launch, "marker", "end")
        t_send_start = first_after(rows, t_launch, "send", "start")
        t_send_end = first_after(rows, t_launch, "send", "end")
        t_harness = f[d]["harness_start"]
        t_dout = f[d]["outputs_written"]
        parts = [
            ("1 u exits, fork server reaps it", t_reaped - t_out),
            ("2 reaped -> 'exited' report read", t_report - t_reaped),
            ("3 report -> controller woken", t_wake - t_report),
            ("4 woken -> round starts", t_round - t_wake),
            ("5 round: get_execution", t_getx_end - t_round),
            ("6 round: observe", t_rec_start - t_getx_end),
            ("7 round: reconcile()", t_rec_end - t_rec_start),
            ("8 round: checks before commit", t_commit_start - t_rec_end),
            ("9 round: commit_round (SQLite)", t_commit_end - t_commit_start),
            ("10 commit -> launch(d)", t_launch - t_commit_end),
            ("11 launch: up to launch.json", t_marker_start - t_launch),
            ("12 launch: launch.json (fsync)", t_marker_end - t_marker_start),
            ("13 launch: request.json, to send", t_send_start - t_marker_end),
            ("14 launch: send to fork server", t_send_end - t_send_start),
            ("15 sent -> d harness started", t_harness - t_send_end),
            ("16 d in worker (harness+body)", t_dout - t_harness),
        ]
        for name, v in parts:
            seg[name].append(v)
        seg["= gap: u outputs -> d harness start"].append(t_harness - t_out)
        seg["= step period"].append(t_dout - t_out)
        rounds_per_step.append(sum(1 for r in rows if r[1] == "round" and r[2] == "start" and t_out <= r[0] < t_dout))
    out = {name: summary_ms(v) for name, v in seg.items()}
    out["rounds_per_step_median"] = sorted(rounds_per_step)[len(rounds_per_step) // 2]
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="20 steps instead of 100")
    p.add_argument("--n", type=int, default=None)
    p.add_argument("--experiment", choices=EXPERIMENTS, default=None)
    a = p.parse_args()
    n = a.n or (20 if a.quick else 100)
    apply_experiment(a.experiment)
    import workflows as w

    from setpoint.client.embedded import Client

    header(f"step breakdown: chain of {n}, local executor (fork), SQLite; experiment={a.experiment}")
    log = Log()
    instrument(log)
    wf = w.make_chain(n)
    with fresh_home("breakdown") as home:
        client = Client(settings(home))
        try:
            client.start_controller()
            warm = client.create_execution(w.make_chain(2), {"x": 0})  # start the fork server first
            client.wait(warm, timeout=120)
            log.rows.clear()
            eid = client.create_execution(wf, {"x": 0})
            rec = client.wait(eid, timeout=600)
            assert rec.phase.value == "SUCCEEDED", (rec.phase, rec.error)
            result = analyse(log, client, eid, n)
        finally:
            client.close()
    print(f"   {'segment':40} {'median':>9} {'p90':>9}  (ms)")
    for name, s in result.items():
        if isinstance(s, dict):
            print(f"   {name:40} {s['median_ms']:9.2f} {s['p90_ms']:9.2f}")
    print(f"   controller rounds per step (median): {result['rounds_per_step_median']}")
    emit("step_breakdown", {"n": n, "experiment": a.experiment, "segments": result}, quick=a.quick)


if __name__ == "__main__":
    main()
