"""One controller replica in a process of its own: what the fault scenarios kill, stop and restart.

``python -m tests.faults.replica --home H [--db URL] [--lease S] [--crash-at POINT:N] [--exit-when-idle]
[--no-leases]``

Unlike `setpoint controller`, it takes short lease, poll and backoff times (the CLI keeps the
production defaults), so takeovers and retries happen within a test's patience. It prints
``ready <owner>`` once the controller runs, stops cleanly on SIGTERM, and prints ``stats <json>``
(its round commits and compare-and-swap conflicts per execution) when it ends.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from setpoint.client.embedded import Client
from setpoint.config.settings import Settings
from setpoint.core.reconcile import ReconcileConfig
from setpoint.errors import ConflictError, SetpointError


def settings(args: argparse.Namespace) -> Settings:
    return Settings(
        home=Path(args.home).resolve(),
        db_url=args.db or None,
        lease_ttl_s=args.lease,
        poll_interval_s=args.poll,
        resync_interval_s=args.resync,
        crash_at=args.crash_at or None,
        executor_slots=args.slots,
        leases=not args.no_leases,
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
    parser.add_argument("--no-leases", action="store_true", help="SETPOINT_LEASES=off: only row versions fence")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    client = Client(settings(args))
    stats = CommitStats(client)
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
        print("stats " + json.dumps(stats.figures()), flush=True)


class CommitStats:
    """Counts this replica's round commits and compare-and-swap conflicts, per execution."""

    def __init__(self, client: Client) -> None:
        self.commits: dict[str, int] = {}
        self.conflicts: dict[str, int] = {}
        self._lock = threading.Lock()
        commit = client.store.commit_round

        def counted(write: Any, *, owner: str | None) -> Any:
            eid = write.execution.id
            try:
                stored = commit(write, owner=owner)
            except ConflictError:
                with self._lock:
                    self.conflicts[eid] = self.conflicts.get(eid, 0) + 1
                raise
            with self._lock:
                self.commits[eid] = self.commits.get(eid, 0) + 1
            return stored

        client.store.commit_round = counted  # type: ignore[method-assign]

    def figures(self) -> dict[str, Any]:
        with self._lock:
            return {"commits": self.commits, "conflicts": self.conflicts}


if __name__ == "__main__":
    sys.exit(main())
