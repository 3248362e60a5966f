"""Shared helpers for the benchmark scripts: machine facts, a fresh home, statistics, reporting.

Every script prints human-readable lines and exactly one JSON line per figure, starting with
``{"bench": ...}`` so results can be collected with ``grep '^{"bench"'``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))


def machine() -> dict[str, Any]:
    try:
        rev = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "src"], capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        rev, dirty = "", ""
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git": rev + ("+dirty-src" if dirty else ""),
        "home_base": os.environ.get(HOME_BASE_ENV) or tempfile.gettempdir(),
    }


HOME_BASE_ENV = "SETPOINT_BENCH_TMP"


@contextlib.contextmanager
def fresh_home(prefix: str) -> Iterator[Path]:
    """A new, empty setpoint home in a temporary directory, removed afterwards.

    It lives under the system temporary directory (a disk here), or under ``$SETPOINT_BENCH_TMP``
    when set (e.g. ``/dev/shm`` to measure how much of a step is file-system cost).
    """
    base = os.environ.get(HOME_BASE_ENV) or None
    with tempfile.TemporaryDirectory(prefix=f"setpoint-bench-{prefix}-", dir=base) as d:
        yield Path(d) / "home"


def home_base() -> str:
    return os.environ.get(HOME_BASE_ENV) or tempfile.gettempdir()


def settings(home: Path, **changes: Any) -> Any:
    """The default settings (fork-mode local executor, SQLite under ``home``), optionally changed."""
    from setpoint.config.settings import Settings

    return Settings(home=home).evolve(**changes)


def pct(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), linear interpolation; nan for no values."""
    if not values:
        return float("nan")
    xs = sorted(values)
    if len(xs) == 1:
        return xs[0]
    pos = (len(xs) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def summary_ms(values: Sequence[float]) -> dict[str, float]:
    """median / p90 / mean / max of a list of seconds, in milliseconds (rounded to 0.01 ms)."""
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "median_ms": round(pct(values, 50) * 1e3, 2),
        "p90_ms": round(pct(values, 90) * 1e3, 2),
        "mean_ms": round(statistics.fmean(values) * 1e3, 2),
        "min_ms": round(min(values) * 1e3, 2),
        "max_ms": round(max(values) * 1e3, 2),
    }


def fmt_ms(s: dict[str, float]) -> str:
    if not s.get("n"):
        return "n/a"
    return f"median {s['median_ms']:.2f} ms, p90 {s['p90_ms']:.2f} ms, mean {s['mean_ms']:.2f} ms (n={s['n']})"


def peak_rss_mb() -> float:
    """Peak resident set size of *this* process (not its children), in MiB."""
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024.0 if sys.platform.startswith("linux") else kb / (1024.0 * 1024.0)


def current_rss_mb() -> float:
    import psutil

    return float(psutil.Process().memory_info().rss) / (1024.0 * 1024.0)


def emit(bench: str, figures: dict[str, Any], *, quick: bool) -> None:
    """Print the one JSON line of a figure."""
    line = {"bench": bench, "quick": quick, **figures, "machine": machine()}
    print(json.dumps(line, sort_keys=False, default=str), flush=True)


def timer() -> float:
    return time.perf_counter()


def best_of(fn: Any, repeat: int = 5) -> float:
    """Shortest wall time of ``repeat`` calls (the floor is what the machine can do)."""
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def header(title: str) -> None:
    m = machine()
    print(f"== {title}")
    print(f"   {m['cpus']} CPUs, Python {m['python']}, {m['platform']}, {m['date']}, setpoint {m['git']}")
    print(f"   setpoint home under {m['home_base']}")


EXPERIMENTS = (
    "preload-runtime",
    "no-marker-fsync",
    "no-started-wakeup",
    "preload-runtime,no-marker-fsync",
)


def apply_experiment(name: str | None) -> None:
    """Patch setpoint *in this process only* to measure a suggested fix (nothing in src/ changes).

    ``preload-runtime``: the fork server also imports ``setpoint.adapters.executor.runtime`` (the attempt entrypoint)
    before it forks, so attempt processes do not import it each time.
    ``no-marker-fsync``: the local executor creates ``launch.json`` (O_EXCL) without fsync-ing it,
    to measure what that fsync costs on the launch path (not a recommendation by itself).
    ``no-started-wakeup``: the fork server's "started" report no longer wakes the controller, so an
    attempt is not given a round of its own for LAUNCHING -> RUNNING (it is recorded at the next
    round that observes it); measures what that extra round per attempt costs.
    Several can be combined with commas.
    """
    for one in (name or "").split(","):
        if not one:
            continue
        if one == "preload-runtime":
            _preload_runtime()
        elif one == "no-marker-fsync":
            _no_marker_fsync()
        elif one == "no-started-wakeup":
            _no_started_wakeup()
        else:
            raise SystemExit(f"unknown experiment {one!r} (known: {', '.join(EXPERIMENTS)})")


def _preload_runtime() -> None:
    from dataclasses import replace

    from setpoint.controller.controller import Controller

    original = Controller._launch_request

    def patched(self: Any, state: Any, action: Any) -> Any:
        req = original(self, state, action)
        return replace(req, preload=("setpoint.adapters.executor.runtime", *req.preload))

    Controller._launch_request = patched  # type: ignore[method-assign]


def _no_started_wakeup() -> None:
    import threading

    from setpoint.adapters.executor.local import LocalExecutor

    quiet = threading.local()
    on_report, notify = LocalExecutor._on_report, LocalExecutor._notify

    def patched_report(self: Any, server: Any, line: str) -> None:
        quiet.on = line.startswith("started ")
        try:
            on_report(self, server, line)
        finally:
            quiet.on = False

    def patched_notify(self: Any, aid: str) -> None:
        if not getattr(quiet, "on", False):
            notify(self, aid)

    LocalExecutor._on_report = patched_report  # type: ignore[method-assign]
    LocalExecutor._notify = patched_notify  # type: ignore[method-assign]


def _no_marker_fsync() -> None:
    import setpoint.adapters.executor.attempt_dir as files

    def create_marker(path: Path, data: bytes) -> bool:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        try:
            files._write_all(fd, data)
        finally:
            os.close(fd)
        return True

    files.create_marker = create_marker


def attempt_file_times(attempts_root: Path, attempt_id: str) -> dict[str, Any]:
    """Timestamps the local executor's on-disk protocol keeps for one attempt (wall-clock seconds).

    ``launched``: the executor created ``launch.json`` (controller process, after the round's commit);
    ``harness_start`` / ``outputs_written``: the attempt process's own clock (``outputs.json``);
    ``reaped``: the fork server reaped the process (``exit.json``). The attempt *record*'s
    ``started_at`` is not used: it can be the time the controller read the fork server's "started"
    report, which under load comes after the attempt already finished.
    """
    d = attempts_root.joinpath(*attempt_id.split("/"))

    def read(name: str) -> dict[str, Any]:
        try:
            obj = json.loads((d / name).read_bytes())
        except (FileNotFoundError, ValueError):
            return {}
        return obj if isinstance(obj, dict) else {}

    marker, outputs, exit_ = read("launch.json"), read("outputs.json"), read("exit.json")
    return {
        "launched": marker.get("launched_at"),
        "harness_start": outputs.get("started_at"),
        "outputs_written": outputs.get("finished_at"),
        "reaped": exit_.get("finished_at"),
    }


def _busy_cpu_s() -> float:
    import psutil

    t = psutil.cpu_times()
    return float(t.user + t.nice + t.system + getattr(t, "irq", 0.0) + getattr(t, "softirq", 0.0))


def _own_cpu_s() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


class Noise:
    """CPU time other processes used while a figure was measured (this machine is shared).

    ``foreign_cpu_s`` = machine-wide busy CPU time - this process's and its reaped children's.
    Read it after the fork server (and so every attempt process) has been reaped.
    """

    def __init__(self) -> None:
        self.busy0 = _busy_cpu_s()
        self.own0 = _own_cpu_s()
        self.t0 = time.perf_counter()

    def stop(self) -> dict[str, float]:
        busy = _busy_cpu_s() - self.busy0
        own = _own_cpu_s() - self.own0
        wall = time.perf_counter() - self.t0
        return {
            "wall_s": round(wall, 3),
            "own_cpu_s": round(own, 2),
            "foreign_cpu_s": round(max(0.0, busy - own), 2),
            "load_1min": round(os.getloadavg()[0], 2),
        }


def wait_quiet(threshold_pct: float = 15.0, max_wait_s: float = 300.0) -> float:
    """Wait until the machine's CPU use (over 1 s) is below ``threshold_pct``; returns the last reading."""
    import psutil

    end = time.monotonic() + max_wait_s
    while True:
        pct_now = psutil.cpu_percent(interval=1.0)
        if pct_now < threshold_pct or time.monotonic() > end:
            return pct_now
