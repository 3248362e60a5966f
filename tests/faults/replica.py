"""One controller replica in a process of its own: what the fault scenarios kill, stop and restart.

``python -m tests.faults.replica --home H [--db URL] [--lease S] [--crash-at POINT:N] [--exit-when-idle]``

Unlike `setpoint controller`, it takes short lease, poll and backoff times (the CLI keeps the
production defaults), so takeovers and retries happen within a test's patience. It prints
``ready <owner>`` once the controller runs, and stops cleanly on SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from setpoint.client import Client
from setpoint.core.reconcile import ReconcileConfig
from setpoint.errors import SetpointError
from setpoint.settings import Settings


def settings(args: argparse.Namespace) -> Settings:
    return Settings(
        home=Path(args.home).resolve(),
        db_url=args.db or None,
        lease_ttl_s=args.lease,
        poll_interval_s=args.poll,
        resync_interval_s=args.resync,
        crash_at=args.crash_at or None,
        executor_slots=args.slots,
        reconcile=ReconcileConfig(backoff_base_s=0.05, backoff_max_s=0.2, max_system_retries=3),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="replica")
    parser.add_argument("--home", required=True)
    parser.add_argument("--db", default=None)
    parser.add_argument("--lease", type=float, default=15.0)
    parser.add_argument("--poll", type=float, default=0.1)
    parser.add_argument("--resync", type=float, default=1.0)
    parser.add_argument("--crash-at", default=None)
    parser.add_argument("--slots", type=int, default=None)
    parser.add_argument("--exit-when-idle", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    client = Client(settings(args))
    try:
        ctl = client.start_controller()
        print(f"ready {ctl.owner}", flush=True)
        while not stop.is_set():
            try:
                if args.exit_when_idle and ctl.run_until_idle(timeout=0.5):
                    return 0
            except SetpointError as e:  # the store is unreachable: the controller rides it out too
                print(f"store error while waiting: {e}", file=sys.stderr, flush=True)
            if not args.exit_when_idle:
                stop.wait(0.2)
        return 0
    finally:
        client.close()


if __name__ == "__main__":
    sys.exit(main())
