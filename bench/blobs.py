"""What the blob store costs by location: the local folder, fsspec ``file://``, and ``s3://``.

    .venv/bin/python bench/blobs.py [--quick] [--runs-only] [--no-backend-preload]

Part 1 — the store alone, in this process: opening a store and its first request (for S3, building
the client), put and get of 1 KiB blobs (median of 50), and throughput for one 32 MiB blob.

Part 2 — a whole run of ``tests/e2e/wf_blobs.py:pipeline`` (an offloaded 20,000-element list, a
File, a 3-file Directory, four tasks) with the blob store at each location; median of 3 runs.

S3 here is moto's server mode on loopback, started by the script: a Python server, far slower than
a real object store, so its figures bound the client-side cost from above rather than predict a
cloud bucket.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from _common import REPO, emit, fresh_home, header, settings

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def store_figures(name: str, make: Callable[[], Any], small_n: int, big_mib: int) -> dict[str, Any]:
    t = time.perf_counter()
    store = make()
    store.exists(store.put_bytes(b"first request"))
    open_ms = (time.perf_counter() - t) * 1e3
    puts, gets = [], []
    for _ in range(small_n):
        data = os.urandom(1024)
        t = time.perf_counter()
        ref = store.put_bytes(data)
        puts.append(time.perf_counter() - t)
        t = time.perf_counter()
        store.get_bytes(ref)
        gets.append(time.perf_counter() - t)
    big = os.urandom(big_mib << 20)
    t = time.perf_counter()
    ref = store.put_bytes(big)
    put_s = time.perf_counter() - t
    t = time.perf_counter()
    store.get_bytes(ref)
    get_s = time.perf_counter() - t
    figures = {
        "store": name,
        "open_first_request_ms": round(open_ms, 1),
        "put_1k_median_ms": round(statistics.median(puts) * 1e3, 2),
        "get_1k_median_ms": round(statistics.median(gets) * 1e3, 2),
        f"put_{big_mib}m_mib_s": round(big_mib / put_s),
        f"get_{big_mib}m_mib_s": round(big_mib / get_s),
    }
    print(
        f"{name:10} open+first request {open_ms:7.1f} ms | 1 KiB put {figures['put_1k_median_ms']:6.2f} ms, "
        f"get {figures['get_1k_median_ms']:6.2f} ms | {big_mib} MiB put {big_mib / put_s:5.0f} MiB/s, "
        f"get {big_mib / get_s:5.0f} MiB/s"
    )
    return figures


def run_figures(name: str, base_url: str | None, runs: int) -> dict[str, Any]:
    """Each run gets an empty store (its own prefix), so nothing is deduplicated across runs."""
    from tests.e2e import wf_blobs

    from setpoint.client.embedded import Client
    from setpoint.core.phases import ExecutionPhase

    walls = []
    for i in range(runs):
        url = None if base_url is None else f"{base_url}/run-{i}"
        with fresh_home("blobs") as home, Client(settings(home, blobs_url=url)) as client:
            client.start_controller()
            t = time.perf_counter()
            rec = client.run(wf_blobs.pipeline, {"n": 20_000, "shards": 3}, timeout=300)
            walls.append(time.perf_counter() - t)
            if rec.phase is not ExecutionPhase.SUCCEEDED:
                raise SystemExit(f"{name}: the run ended {rec.phase.value}: {rec.error}")
    median = statistics.median(walls)
    print(f"{name:10} pipeline run: median {median:.2f} s over {runs} ({', '.join(f'{w:.2f}' for w in walls)})")
    return {"store": name, "run_median_s": round(median, 3), "runs_s": [round(w, 3) for w in walls]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer and smaller operations")
    parser.add_argument(
        "--no-backend-preload",
        action="store_true",
        help="warm workers do not import the storage backend before forking (the cost it saves)",
    )
    parser.add_argument("--runs-only", action="store_true", help="skip part 1")
    args = parser.parse_args()
    if args.no_backend_preload:
        import setpoint.controller.controller as controller_module

        controller_module.preload_modules = lambda location: ()  # type: ignore[assignment]
    small_n, big_mib, runs = (10, 8, 1) if args.quick else (50, 32, 3)

    from tests.support.s3 import moto_server

    from setpoint.adapters.blobs import open_blob_store
    from setpoint.adapters.blobs.fsspec_store import FsspecBlobStore

    header("blob store by location")
    with tempfile.TemporaryDirectory(prefix="setpoint-bench-blobs-") as d, moto_server() as s3:
        bucket = s3.new_bucket()
        os.environ.update(s3.env())  # task processes inherit the endpoint and credentials
        stores: dict[str, Callable[[], Any]] = {
            "local": lambda: open_blob_store(f"{d}/local"),
            "file://": lambda: FsspecBlobStore(f"file://{d}/fsspec"),
            "s3://": lambda: FsspecBlobStore(f"s3://{bucket}/bench", storage_options=s3.storage_options()),
        }
        for name, make in stores.items():
            if not args.runs_only:
                emit("blobs.store", store_figures(name, make, small_n, big_mib), quick=args.quick)
        locations = {"local": None, "file://": f"file://{d}/shared", "s3://": f"s3://{bucket}/runs"}
        for name, url in locations.items():
            figures = run_figures(name, url, runs)
            emit("blobs.run", {**figures, "backend_preload": not args.no_backend_preload}, quick=args.quick)


if __name__ == "__main__":
    main()
