"""R-H1 / R-C3: controller replicas sharing one PostgreSQL database.

Two replicas run many executions at once: each completes once, no attempt id runs twice. Then a
replica is frozen with SIGSTOP past its lease: the other takes its executions over within twice
the lease, and when the frozen one resumes it cannot overwrite anything (row versions sampled all
along never go back, nothing leaves a terminal phase, the launch log has no duplicate).
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pytest

from setpoint.core.phases import ExecutionPhase
from tests.faults import wf_faults as wf
from tests.faults.harness import FULL, Replica, report, submitter, wait_until
from tests.faults.invariants import VersionWatcher, check

pytestmark = pytest.mark.timeout(600 if FULL else 180)


def test_two_replicas_run_many_executions_once(
    home: Path, pg_url: str, replicas: list[Replica], reference: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    n = 100 if FULL else 30
    started = time.monotonic()
    with submitter(home, pg_url) as c:
        ids = [c.create_execution(wf.small, {"n": 1}) for _ in range(n)]
        ids.append(c.create_execution(wf.big))
        for _ in range(2):
            r = Replica(home, db=pg_url, lease=5.0, exit_when_idle=True)
            replicas.append(r)
        with VersionWatcher(c.store, ids, interval=0.2) as watcher:
            for r in replicas:
                assert r.wait(timeout=150) == 0, r.output()
        watcher.assert_ok()
        refs = dict.fromkeys(ids[:-1], reference["small"]) | {ids[-1]: reference["big"]}
        figures = check(c.store, home, ids, reference=refs)
    report(
        {
            "scenario": "two_replicas",
            "store": "postgresql",
            "replicas": 2,
            "runs": len(ids),
            **figures,
            "samples": watcher.samples,
            "seconds": round(time.monotonic() - started, 2),
        },
        capsys,
    )


def test_a_replica_frozen_past_its_lease_is_fenced_and_replaced(
    home: Path, pg_url: str, replicas: list[Replica], capsys: pytest.CaptureFixture[str]
) -> None:
    lease = 3.0
    started = time.monotonic()
    with submitter(home, pg_url) as c:
        a = Replica(home, db=pg_url, lease=lease, slots=16)
        replicas.append(a)
        owner_a = a.wait_ready()
        ids = [c.create_execution(wf.naps, {"n": i, "seconds": 4.0}) for i in range(4)]

        def held_by(owner: str) -> bool:
            return all(c.get(eid).lease_owner == owner for eid in ids)

        wait_until(lambda: held_by(owner_a), 30, "replica A to hold every execution")
        wait_until(lambda: sum(len(c.store.load_attempts(e)) for e in ids) >= 8, 30, "attempts to start")
        b = Replica(home, db=pg_url, lease=lease, slots=16)
        replicas.append(b)
        owner_b = b.wait_ready()
        with VersionWatcher(c.store, ids, interval=0.1) as watcher:
            a.signal(signal.SIGSTOP)
            frozen = time.monotonic()
            unfinished = [e for e in ids if not c.get(e).phase.is_terminal]
            wait_until(
                lambda: all(c.get(e).lease_owner == owner_b or c.get(e).phase.is_terminal for e in unfinished),
                4 * lease,
                "replica B to take over",
                interval=0.05,
            )
            takeover = time.monotonic() - frozen
            time.sleep(max(0.0, 2 * lease - takeover))  # A stays frozen well past its lease
            a.signal(signal.SIGCONT)
            resumed = time.monotonic()
            wait_until(lambda: all(c.get(e).phase.is_terminal for e in ids), 90, "every execution to finish")
            time.sleep(1.0)  # let the resumed replica try whatever it had in mind
        watcher.assert_ok()
        assert takeover <= 2 * lease, f"takeover took {takeover:.2f}s, more than twice the {lease}s lease"
        figures = check(c.store, home, ids, expect_phase=ExecutionPhase.SUCCEEDED)
        for i, eid in enumerate(ids):
            assert c.get(eid).outputs == {"o0": sum(i + k for k in range(10))}
        assert a.proc.poll() is None, "the resumed replica should still be alive"
        for r in (a, b):
            r.signal(signal.SIGTERM)
            assert r.wait(timeout=30) == 0, r.output()
    report(
        {
            "scenario": "sigstop_past_lease",
            "store": "postgresql",
            "lease_s": lease,
            "runs": len(ids),
            "crashes": 0,
            "takeover_seconds": round(takeover, 2),
            "relaunched_attempts": figures["attempts"] - 11 * len(ids),
            "resumed_after_s": round(resumed - frozen, 2),
            **figures,
            "version_samples": watcher.samples,
            "stale_writes_seen": len(watcher.problems),
            "seconds": round(time.monotonic() - started, 2),
        },
        capsys,
    )


def test_two_replicas_without_leases_race_on_every_execution(
    home: Path, pg_url: str, replicas: list[Replica], reference: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """R-H1 without its first line of defence: both replicas run with SETPOINT_LEASES=off, so both
    act on every execution at once. Only the row-version compare-and-swap keeps them apart: every
    execution completes once with the fault-free outputs, no attempt id is launched twice, no
    sampled version goes back — and both replicas really did commit rounds of the same executions,
    losing races to each other (the conflicts they counted)."""
    n = 100 if FULL else 20
    started = time.monotonic()
    with submitter(home, pg_url) as c:
        ids = [c.create_execution(wf.small, {"n": 1}) for _ in range(n)]
        ids.append(c.create_execution(wf.big))
        pair = [Replica(home, db=pg_url, lease=5.0, exit_when_idle=True, leases=False) for _ in range(2)]
        replicas.extend(pair)
        with VersionWatcher(c.store, ids, interval=0.2) as watcher:
            for r in pair:
                assert r.wait(timeout=150) == 0, r.output()
        watcher.assert_ok()
        refs = dict.fromkeys(ids[:-1], reference["small"]) | {ids[-1]: reference["big"]}
        figures = check(c.store, home, ids, reference=refs)
        assert all(c.get(e).lease_owner is None for e in ids), "a replica without leases took one"
    stats = [r.stats() for r in pair]
    both = set(stats[0]["commits"]) & set(stats[1]["commits"])
    conflicts = [sum(s["conflicts"].values()) for s in stats]
    assert both, f"the replicas never committed rounds of the same execution: {stats}"
    assert sum(conflicts) > 0, f"no compare-and-swap conflict at all, so nothing raced: {stats}"
    for r in pair:
        assert "Traceback" not in r.output(limit=None), r.output()
    report(
        {
            "scenario": "two_replicas_no_leases",
            "store": "postgresql",
            "replicas": 2,
            "leases": "off",
            "runs": len(ids),
            "executions_committed_by_both": len(both),
            "commits_per_replica": [sum(s["commits"].values()) for s in stats],
            "cas_conflicts_per_replica": conflicts,
            "fenced_attempts": figures["attempts"] - figures["launches"],
            **figures,
            "samples": watcher.samples,
            "seconds": round(time.monotonic() - started, 2),
        },
        capsys,
    )
