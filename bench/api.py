"""The REST API under load: a real `setpoint server` process, measured from a concurrent client.

    .venv/bin/python bench/api.py [--quick] [--db postgresql://...] [--only get,create,sustained]

The server is ``setpoint --home H server --port P`` (API, controller and scheduler in one process,
SQLite in H unless ``--db``), started by this script on a free port with bearer tokens on: every
request carries an editor token, so the figures include the token check. The client runs in this
process: ``--clients`` threads, each with its own keep-alive `httpx.Client`, on the same 2 cores
as the server (so the client's own CPU is part of what limits the figures).

* **GET execution**: ``GET /api/v1/projects/bench/executions/{id}`` of a finished execution, as
  fast as the clients go, for ``--seconds``; requests/s and latency percentiles.
* **create execution**: ``POST .../executions`` of a registered one-task workflow, as fast as the
  clients go, for ``--seconds`` (the server's controller runs them meanwhile, as it would).
* **sustained**: 20 creations per second, paced, for 60 s (``--quick``: 10 s); then waits until
  every execution has finished, and reports how many completed, the latencies, and how far the
  controller lagged behind.

Targets (issue 5): GET >= 300 req/s with p99 <= 50 ms; create >= 50 req/s; sustained 20/s for a
minute with all executions completing.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import BENCH_DIR, REPO, Noise, emit, fresh_home, header, pct, settings, wait_quiet

PROJECT = "bench"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`setpoint server` in a process of its own; stopped with SIGINT (uvicorn's clean shutdown)."""

    def __init__(self, home: Path, db: str | None, extra: list[str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = [sys.executable, "-m", "setpoint.cli.main", "--home", str(home)]
        args += ["--db", db] if db else []
        args += ["server", "--port", str(self.port), *extra]
        env = {k: v for k, v in os.environ.items() if not k.startswith("SETPOINT_")}
        self.log = home.parent / "server.log"
        self._fh = open(self.log, "wb")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=self._fh, stderr=subprocess.STDOUT)

    def wait_ready(self) -> None:
        import httpx

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/openapi.json", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("server not ready after 60 s")

    def cpu_s(self) -> float:
        import psutil

        t = psutil.Process(self.proc.pid).cpu_times()
        return float(t.user + t.system)

    def stop(self) -> None:
        import signal

        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._fh.close()


def latency_summary(lat: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(pct(lat, 50) * 1000, 2),
        "p90_ms": round(pct(lat, 90) * 1000, 2),
        "p99_ms": round(pct(lat, 99) * 1000, 2),
        "max_ms": round(max(lat) * 1000, 2) if lat else float("nan"),
    }


def hammer(
    clients: int, seconds: float, call: Callable[[Any], int], expect: int
) -> tuple[int, list[float], dict[int, int], float]:
    """``clients`` threads calling ``call(http)`` until ``seconds`` pass; (ok, latencies, statuses, wall)."""
    import httpx

    lat: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    deadline = [0.0]

    def worker() -> None:
        mine: list[float] = []
        codes: dict[int, int] = {}
        with httpx.Client(timeout=30) as http:
            start.wait()
            while time.perf_counter() < deadline[0]:
                t = time.perf_counter()
                code = call(http)
                mine.append(time.perf_counter() - t)
                codes[code] = codes.get(code, 0) + 1
        with lock:
            lat.extend(mine)
            for k, v in codes.items():
                statuses[k] = statuses.get(k, 0) + v

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    t0 = time.perf_counter()
    deadline[0] = t0 + seconds
    start.wait()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return statuses.get(expect, 0), lat, statuses, wall


def sustained(base: str, headers: dict[str, str], rate: float, seconds: float) -> dict[str, Any]:
    """Create ``rate`` executions per second for ``seconds`` (paced, each on its own thread so a
    slow answer does not delay the next), then wait for all to finish."""
    import httpx

    ids: list[str] = []
    lat: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    http = httpx.Client(timeout=30, limits=httpx.Limits(max_connections=64))

    def submit(i: int) -> None:
        t = time.perf_counter()
        try:
            r = http.post(f"{base}/executions", json={"workflow": "one", "inputs": {"x": i}}, headers=headers)
        except httpx.HTTPError as exc:
            with lock:
                errors.append(repr(exc))
            return
        dt = time.perf_counter() - t
        with lock:
            lat.append(dt)
            if r.status_code == 201:
                ids.append(r.json()["id"])
            else:
                errors.append(f"{r.status_code} {r.text[:200]}")

    n = int(rate * seconds)
    threads = []
    t0 = time.perf_counter()
    for i in range(n):
        target = t0 + i / rate
        delay = target - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        th = threading.Thread(target=submit, args=(i,), daemon=True)
        th.start()
        threads.append(th)
    for th in threads:
        th.join()
    submit_wall = time.perf_counter() - t0
    submitted_at = time.time()  # the server's records use the same (wall) clock: same machine
    # every execution must finish; poll the list of unfinished ones
    pending = set(ids)
    lag_samples = []
    finish_deadline = time.perf_counter() + 600
    done_phases: dict[str, int] = {}
    while pending and time.perf_counter() < finish_deadline:
        for eid in list(pending):
            r = http.get(f"{base}/executions/{eid}", headers=headers)
            phase = r.json()["phase"]
            if phase in ("SUCCEEDED", "FAILED", "ABORTED"):
                pending.discard(eid)
                done_phases[phase] = done_phases.get(phase, 0) + 1
        lag_samples.append(len(pending))
        if pending:
            time.sleep(0.2)
    all_done = time.perf_counter() - t0
    # how long each took, creation to end, from the server's own record
    turnaround = []
    last_finished = 0.0
    for eid in ids:
        rec = http.get(f"{base}/executions/{eid}", headers=headers).json()
        if rec.get("finished_at") and rec.get("created_at"):
            turnaround.append(rec["finished_at"] - rec["created_at"])
            last_finished = max(last_finished, rec["finished_at"])
    http.close()
    return {
        "target_rate_per_s": rate,
        "seconds": seconds,
        "submitted": n,
        "created": len(ids),
        "errors": errors[:5],
        "achieved_rate_per_s": round(len(ids) / submit_wall, 2),
        "create_latency": latency_summary(lat),
        "finished": done_phases,
        "unfinished": len(pending),
        "seen_all_finished_after_s": round(all_done, 2),  # includes this client's polling of every id
        "last_finished_after_last_submit_s": round(last_finished - submitted_at, 3),
        "turnaround": latency_summary(turnaround),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="3 s per load phase and 10 s sustained")
    p.add_argument("--db", default=None, help="a postgresql:// URL (default: SQLite in the temporary home)")
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--seconds", type=float, default=None)
    p.add_argument("--sustained-seconds", type=float, default=None)
    p.add_argument("--only", default="get,create,sustained")
    p.add_argument("--server-arg", action="append", default=[], help="extra `setpoint server` options")
    a = p.parse_args()
    seconds = a.seconds or (3.0 if a.quick else 10.0)
    sus_seconds = a.sustained_seconds or (10.0 if a.quick else 60.0)
    only = set(a.only.split(","))

    import httpx

    from setpoint.client.embedded import Client
    from setpoint.server.tokens import create_token

    header(f"REST API: a `setpoint server` process, {a.clients} client threads, {'PostgreSQL' if a.db else 'SQLite'}")
    figures: dict[str, Any] = {"clients": a.clients, "store": "postgresql" if a.db else "sqlite"}
    with fresh_home("api") as home:
        with Client(settings(home, db_url=a.db)) as c:
            c.register([str(BENCH_DIR / "api_workflows.py")], project=PROJECT)
            token = create_token(c.store, PROJECT, "editor")
        headers = {"Authorization": f"Bearer {token}"}
        server = Server(home, a.db, a.server_arg)
        try:
            server.wait_ready()
            base = f"{server.url}/api/v1/projects/{PROJECT}"
            first = httpx.post(f"{base}/executions", json={"workflow": "one", "inputs": {"x": 1}}, headers=headers)
            assert first.status_code == 201, first.text
            eid = first.json()["id"]
            while httpx.get(f"{base}/executions/{eid}", headers=headers).json()["phase"] != "SUCCEEDED":
                time.sleep(0.05)
            url = f"{base}/executions/{eid}"

            if "get" in only:
                idle = wait_quiet()
                noise = Noise()
                cpu0 = server.cpu_s()
                ok, lat, statuses, wall = hammer(
                    a.clients, seconds, lambda h: h.get(url, headers=headers).status_code, 200
                )
                res = {
                    "requests": ok,
                    "statuses": statuses,
                    "wall_s": round(wall, 2),
                    "req_per_s": round(ok / wall, 1),
                    **latency_summary(lat),
                    "server_cpu_s": round(server.cpu_s() - cpu0, 2),
                    "noise": {"cpu_pct_before": idle, **noise.stop()},
                }
                figures["get_execution"] = res
                print(
                    f"   GET execution: {res['req_per_s']:.0f} req/s, p50 {res['p50_ms']:.1f} ms, "
                    f"p99 {res['p99_ms']:.1f} ms ({ok} requests, statuses {statuses}, server CPU "
                    f"{res['server_cpu_s']:.1f} s of {wall:.1f} s) -> target >= 300 req/s, p99 <= 50 ms: "
                    f"{'meets' if res['req_per_s'] >= 300 and res['p99_ms'] <= 50 else 'misses'}"
                )

            if "create" in only:
                idle = wait_quiet()
                noise = Noise()
                cpu0 = server.cpu_s()
                counter = iter(range(10**9))

                def create(h: Any) -> int:
                    body = {"workflow": "one", "inputs": {"x": next(counter)}}
                    return int(h.post(f"{base}/executions", json=body, headers=headers).status_code)

                ok, lat, statuses, wall = hammer(a.clients, seconds, create, 201)
                res = {
                    "created": ok,
                    "statuses": statuses,
                    "wall_s": round(wall, 2),
                    "req_per_s": round(ok / wall, 1),
                    **latency_summary(lat),
                    "server_cpu_s": round(server.cpu_s() - cpu0, 2),
                    "noise": {"cpu_pct_before": idle, **noise.stop()},
                }
                figures["create_execution"] = res
                print(
                    f"   create execution: {res['req_per_s']:.0f} req/s, p50 {res['p50_ms']:.1f} ms, "
                    f"p99 {res['p99_ms']:.1f} ms ({ok} created, statuses {statuses}) -> target >= 50 req/s: "
                    f"{'meets' if res['req_per_s'] >= 50 else 'misses'}"
                )
                # let the controller finish what the burst created before the next phase
                while httpx.get(
                    f"{base}/executions", params={"phase": ["QUEUED", "RUNNING"], "limit": 1}, headers=headers
                ).json()["executions"]:
                    time.sleep(0.5)

            if "sustained" in only:
                idle = wait_quiet()
                noise = Noise()
                res = sustained(base, headers, 20.0, sus_seconds)
                res["noise"] = {"cpu_pct_before": idle, **noise.stop()}
                figures["sustained"] = res
                ok = res["created"] == res["submitted"] and res["finished"].get("SUCCEEDED", 0) == res["submitted"]
                print(
                    f"   sustained {res['target_rate_per_s']:.0f}/s for {sus_seconds:.0f} s: {res['created']} of "
                    f"{res['submitted']} created ({res['achieved_rate_per_s']} /s), finished {res['finished']}, "
                    f"create p50 {res['create_latency']['p50_ms']} ms p99 {res['create_latency']['p99_ms']} ms; "
                    f"creation -> end p50 {res['turnaround']['p50_ms']} ms p99 {res['turnaround']['p99_ms']} ms; "
                    f"the last finished {res['last_finished_after_last_submit_s']} s after the last submission -> "
                    f"{'meets' if ok else 'misses'}"
                )
        finally:
            server.stop()
    emit("api", figures, quick=a.quick)


if __name__ == "__main__":
    main()
