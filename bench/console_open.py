"""The web console in a real browser: a 10,000-node execution and a list of 100,000 executions.

    .venv/bin/python bench/console_open.py [--quick] [--map 10000] [--chain 20] [--executions 100000]

A real `setpoint server` (API, controller and scheduler in one process, SQLite) on a free port, and
Debian's Chromium driven by Playwright on the same machine:

* **execution page, running**: an execution of a ``--map``-element map plus a ``--chain`` of steps
  is launched through the API; while the controller runs it the page is opened (time to a usable
  page: the laid-out DAG on screen), then watched for 10 s: how many map elements changed phase a
  second (the map node's live counts), the longest main-thread task (``longtask`` entries) and how
  long a click on a node takes to show its panel.
* **execution page, finished**: the same page opened 5 times once the execution has ended.
* **executions list**: ``--executions`` finished executions written straight into the store
  (records as the services make them), then the list page opened 5 times; time to the first row.
* **assets**: what the console weighs, raw and gzipped.

Targets (issue 14): the 10,000-node execution usable in <= 1.5 s and interactive while 200 nodes
change phase a second; the list of 100,000 executions shows its first page in <= 300 ms.
"""

from __future__ import annotations

import argparse
import gzip
import os
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx
from _common import REPO, emit, fresh_home, header
from playwright.sync_api import Browser, Page, sync_playwright

PROJECT = "bench"
DIST = REPO / "src" / "setpoint" / "server" / "console_dist"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]

WORKFLOWS = textwrap.dedent(
    """
    from setpoint import map_task, task, workflow

    @task
    def numbers(n: int) -> list[int]:
        return list(range(n))

    @task
    def square(x: int) -> int:
        return x * x

    @task
    def add(xs: list[int]) -> int:
        return sum(xs)

    @task
    def step(x: int) -> int:
        return x + 1

    CHAIN = __CHAIN__  # the chain's length is fixed when the workflow is compiled

    @workflow
    def wide(n: int = 10000) -> int:
        y = add(xs=map_task(square)(x=numbers(n=n)))
        for _ in range(CHAIN):
            y = step(x=y)
        return y

    @workflow
    def tiny(x: int = 1) -> int:
        return step(x=x)
    """
)


def cli(home: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SETPOINT_")}
    out = subprocess.run(
        [sys.executable, "-m", "setpoint.cli.main", "--home", str(home), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"setpoint {' '.join(args)} exited {out.returncode}: {out.stderr}")
    return out.stdout


def fill_executions(home: Path, count: int) -> float:
    """``count`` finished executions of ``tiny``, written through the store as the services would."""
    sys.path.insert(0, str(REPO / "src"))
    from setpoint.client.embedded import Client
    from setpoint.config.settings import Settings
    from setpoint.core.executions import new_execution
    from setpoint.core.phases import ExecutionPhase

    started = time.perf_counter()
    client = Client(Settings(home=home))
    try:
        base = time.time() - count
        for i in range(count):
            now = base + i
            record, event = new_execution(
                f"bench{i:08d}",
                None,
                project=PROJECT,
                code_digest="0" * 64,
                inputs={"x": i},
                now=now,
                workflow="tiny",
                spec_digest="0" * 64,
            )
            done = record.evolve(phase=ExecutionPhase.SUCCEEDED, started_at=now, finished_at=now + 0.5)
            client.store.create_execution(done, [event])
            if i and i % 10_000 == 0:
                print(f"   {i} executions written", flush=True)
    finally:
        client.close()
    return time.perf_counter() - started


class Server:
    def __init__(self, home: Path) -> None:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("SETPOINT_")}
        self.log = open(home.parent / "server.log", "wb")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "setpoint.cli.main",
                "--home",
                str(home),
                "server",
                "--no-auth",
                "--port",
                str(self.port),
            ],
            cwd=REPO,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/openapi.json", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise SystemExit(f"the server did not answer; see {home.parent / 'server.log'}")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=60)
        self.log.close()


def open_ms(browser: Browser, url: str, ready: str) -> tuple[float, Page]:
    """Milliseconds from navigation to ``ready`` on screen, in a fresh context (cold cache)."""
    page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    page.set_default_timeout(60_000)
    t0 = time.perf_counter()
    page.goto(url)
    page.locator(ready).first.wait_for(state="visible")
    return (time.perf_counter() - t0) * 1000, page


def median_open(browser: Browser, url: str, ready: str, times: int = 5) -> list[float]:
    out = []
    for _ in range(times):
        ms, page = open_ms(browser, url, ready)
        out.append(ms)
        page.context.close()
    return out


def map_done(page: Page, node: str) -> int:
    text = page.locator(f'[data-node="{node}"] .node-sub').text_content() or ""
    return int(text.split("/")[0]) if "/" in text else 0


def watch_running(page: Page, node: str, seconds: float) -> dict[str, Any]:
    """Phase changes a second, the longest main-thread task, and click-to-panel latency while it runs."""
    page.evaluate(
        """() => { window.__long = [];
            new PerformanceObserver((l) => l.getEntries().forEach((e) => window.__long.push(e.duration)))
              .observe({type: 'longtask', buffered: false}); }"""
    )
    before, t0 = map_done(page, node), time.perf_counter()
    clicks: list[float] = []
    while time.perf_counter() - t0 < seconds:
        target = "numbers" if len(clicks) % 2 == 0 else node
        c0 = time.perf_counter()
        page.locator(f'[data-node="{target}"]').click()
        page.locator("#panel-title", has_text=target).wait_for(state="visible")
        clicks.append((time.perf_counter() - c0) * 1000)
        time.sleep(0.5)
    elapsed = time.perf_counter() - t0
    after = map_done(page, node)
    longest: list[float] = page.evaluate("() => window.__long")
    return {
        "elements_per_s": round((after - before) / elapsed, 1),
        "longest_task_ms": round(max(longest, default=0.0), 1),
        "long_tasks": len(longest),
        "click_to_panel_ms_median": round(statistics.median(clicks), 1),
        "click_to_panel_ms_max": round(max(clicks), 1),
    }


def report(bench: str, label: str, runs: list[float], extra: dict[str, Any], *, quick: bool) -> None:
    median = statistics.median(runs)
    print(f"   {label}: median {median:.0f} ms of {[round(x) for x in runs]}")
    emit(bench, {**extra, "median_ms": round(median, 1), "runs_ms": [round(x, 1) for x in runs]}, quick=quick)


def asset_weights() -> dict[str, Any]:
    files = [p for p in DIST.rglob("*") if p.is_file()]
    raw = {p.relative_to(DIST).as_posix(): p.stat().st_size for p in files}
    gz = {p.relative_to(DIST).as_posix(): len(gzip.compress(p.read_bytes(), 9)) for p in files}
    worker = sum(v for k, v in gz.items() if "elk-worker" in k)
    return {
        "raw_kb": round(sum(raw.values()) / 1024, 1),
        "gzip_kb": round(sum(gz.values()) / 1024, 1),
        "gzip_kb_page": round((sum(gz.values()) - worker) / 1024, 1),
        "gzip_kb_layout_worker": round(worker / 1024, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1,000 elements and 10,000 executions")
    ap.add_argument("--map", type=int, default=None)
    ap.add_argument("--chain", type=int, default=20)
    ap.add_argument("--executions", type=int, default=None)
    ap.add_argument("--watch", type=float, default=10.0, help="seconds to watch the running execution")
    args = ap.parse_args()
    n_map = args.map or (1000 if args.quick else 10_000)
    n_exec = args.executions or (10_000 if args.quick else 100_000)
    header(f"console: a {n_map}-element map + {args.chain}-step chain; a list of {n_exec} executions")

    weights = asset_weights()
    print(
        f"   assets: {weights['raw_kb']} KB raw, {weights['gzip_kb']} KB gzipped "
        f"({weights['gzip_kb_page']} KB the page, {weights['gzip_kb_layout_worker']} KB the layout worker)"
    )
    emit("console_assets", weights, quick=args.quick)

    with fresh_home("console") as home:
        wf = home.parent / "wf_console_bench.py"
        wf.write_text(WORKFLOWS.replace("__CHAIN__", str(args.chain)))
        cli(home, "register", str(wf), "--project", PROJECT)
        filled = fill_executions(home, n_exec)
        print(f"   {n_exec} finished executions written in {filled:.1f} s")
        server = Server(home)
        try:
            made = httpx.post(
                f"{server.url}/api/v1/projects/{PROJECT}/executions",
                json={"workflow": "wide", "inputs": {"n": n_map}},
                timeout=60,
            )
            made.raise_for_status()
            eid = made.json()["id"]
            page_url = f"{server.url}/#/executions/{eid}?project={PROJECT}"
            ready = "svg.dag[data-ready] [data-node]"
            map_node = "square-map"
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)
                # wait for the map to be under way, then open the page while elements change phase
                deadline = time.monotonic() + 600
                while time.monotonic() < deadline:
                    g = httpx.get(f"{server.url}/api/v1/projects/{PROJECT}/executions/{eid}/graph", timeout=60).json()
                    kids = next((n["children"] for n in g["nodes"] if n["id"] == map_node), None)
                    if kids and kids["succeeded"] > 0:
                        break
                    time.sleep(0.5)
                running_ms, page = open_ms(browser, page_url, ready)
                live = watch_running(page, map_node, args.watch)
                page.context.close()
                print(f"   execution page while running: usable in {running_ms:.0f} ms; {live}")
                emit(
                    "console_execution_running",
                    {"nodes": n_map + args.chain + 2, "open_ms": round(running_ms, 1), **live},
                    quick=args.quick,
                )

                exec_url = f"{server.url}/api/v1/projects/{PROJECT}/executions/{eid}"
                deadline = time.monotonic() + 3600
                while time.monotonic() < deadline:
                    phase = httpx.get(exec_url, timeout=60).json()["phase"]
                    if phase in ("SUCCEEDED", "FAILED", "ABORTED"):
                        break
                    time.sleep(1)
                opened = median_open(browser, page_url, ready)
                report(
                    "console_execution_open",
                    f"execution page, finished ({phase})",
                    opened,
                    {"nodes": n_map + args.chain + 2},
                    quick=args.quick,
                )
                listed = median_open(browser, f"{server.url}/#/executions?project={PROJECT}", "[data-execution]")
                report(
                    "console_list_first_page",
                    f"executions list of {n_exec + 1}, first page",
                    listed,
                    {"executions": n_exec + 1},
                    quick=args.quick,
                )
                browser.close()
        finally:
            server.stop()


if __name__ == "__main__":
    main()
