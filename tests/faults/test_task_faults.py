"""Executor and task faults (R-E1, R-E3, R-E5, R-E7, R-S6), SQLite store, local executor.

- `kill -9` of 10% of the task processes: each is retried under a new attempt id; all complete.
- A task that exits 0 without writing outputs fails (NoOutputs) and caches nothing.
- Duplicated, late and bogus executor notifications change nothing.
- A task that daemonises a grandchild (setsid + double fork) and is then aborted leaves nothing.
- terminate racing success, 100 times (1,000 with SETPOINT_FAULTS_FULL=1): one terminal phase each.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psutil
import pytest

from setpoint.adapters.executor import attempt_dir as files
from setpoint.client.embedded import Client
from setpoint.core.phases import AttemptPhase, ExecutionPhase
from tests.faults import wf_faults as wf
from tests.faults.harness import FULL, Replica, fast_settings, report, wait_until
from tests.faults.invariants import check, leftover_processes

pytestmark = pytest.mark.timeout(600 if FULL else 180)


def snapshot(c: Client, eid: str) -> tuple[Any, ...]:
    rec = c.get(eid)
    nodes = sorted((n.node_id, n.version, n.phase.value) for n in c.store.load_nodes(eid))
    attempts = sorted((a.id, a.version, a.phase.value) for a in c.store.load_attempts(eid))
    return rec.version, rec.phase.value, tuple(nodes), tuple(attempts), len(c.store.events(eid))


def test_kill_9_of_ten_percent_of_task_processes(home: Path, replicas: list[Replica], capsys: pytest.CaptureFixture[str]) -> None:
    runs = 8 if FULL else 4
    started = time.monotonic()
    rng = random.Random()
    with Client(fast_settings(home)) as c:
        ids = [c.create_execution(wf.naps, {"n": i, "seconds": 1.5}) for i in range(runs)]
        tasks = runs * 10
        want = tasks // 10
        r = Replica(home, slots=12, exit_when_idle=True)
        replicas.append(r)
        killed: dict[str, int] = {}
        deadline = time.monotonic() + 60
        while len(killed) < want and time.monotonic() < deadline:
            for pid_file in (home / "attempts").glob("*/*/*/pid"):
                aid = "/".join(pid_file.parent.parts[-3:])
                if aid in killed:
                    continue
                claim = files.read_claim(pid_file.parent)
                if isinstance(claim, files.ProcessClaim) and files.is_running(claim) and rng.random() < 0.3:
                    psutil.Process(claim.pid).kill()
                    killed[aid] = claim.pid
                    if len(killed) >= want:
                        break
            time.sleep(0.1)
        assert len(killed) == want, f"only killed {len(killed)} of {want}"
        assert r.wait(timeout=120) == 0, r.output()
        figures = check(c.store, home, ids, sqlite_path=home / "setpoint.db")
        for i, eid in enumerate(ids):
            assert c.get(eid).outputs == {"o0": sum(i + k for k in range(10))}
        retried = 0
        for aid in killed:
            eid, node, number = aid.split("/")
            attempts = {a.number: a for a in c.store.load_attempts(eid, node_id=node)}
            assert attempts[int(number)].phase is AttemptPhase.FAILED, attempts[int(number)]
            error = attempts[int(number)].error
            assert error is not None
            assert error.code == "ProcessLost"
            assert max(attempts) > int(number) and attempts[max(attempts)].phase is AttemptPhase.SUCCEEDED
            retried += 1
    report(
        {
            "scenario": "kill_9_tasks",
            "runs": runs,
            "task_processes": tasks,
            "killed": len(killed),
            "retried_under_new_id": retried,
            **figures,
            "seconds": round(time.monotonic() - started, 2),
        },
        capsys,
    )


def test_exit_zero_without_outputs_fails_and_caches_nothing(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    started = time.monotonic()
    with Client(fast_settings(home)) as c:
        rec = c.run(wf.exit_zero_wf, timeout=60)
        assert rec.phase is ExecutionPhase.FAILED
        (node,) = c.store.load_nodes(rec.id)
        assert node.error is not None and node.error.code == "NoOutputs", node.error
        assert c.store.catalog_list(limit=10) == []
        figures = check(c.store, home, [rec.id], expect_phase=ExecutionPhase.FAILED, sqlite_path=home / "setpoint.db")
    report(
        {
            "scenario": "exit_zero_no_outputs",
            "runs": 1,
            "error": node.error.code,
            **figures,
            "seconds": round(time.monotonic() - started, 2),
        },
        capsys,
    )


def test_duplicated_late_and_bogus_notifications_change_nothing(home: Path, reference: Any, capsys: pytest.CaptureFixture[str]) -> None:
    started = time.monotonic()
    sent = 0
    with Client(fast_settings(home)) as c:
        ctl = c.start_controller()
        eid = c.create_execution(wf.small, {"n": 1})
        stop = threading.Event()

        def spam() -> None:  # during the run: duplicates of every attempt, future and foreign ids
            nonlocal sent
            while not stop.is_set():
                for a in c.store.load_attempts(eid):
                    for aid in (a.id, a.id, f"{eid}/{a.node_id}/{a.number + 1}", f"zzzzzz/{a.node_id}/1"):
                        ctl._on_attempt_event(aid)
                        sent += 1
                time.sleep(0.005)

        t = threading.Thread(target=spam, daemon=True)
        t.start()
        assert c.wait(eid, timeout=60).phase is ExecutionPhase.SUCCEEDED
        stop.set()
        t.join()
        before = snapshot(c, eid)
        stale = [a.id for a in c.store.load_attempts(eid)]
        for _ in range(20):  # late: the execution is over
            for aid in stale:
                ctl._on_attempt_event(aid)
                sent += 1
        for _ in range(3):
            assert ctl.reconcile_once(eid) is None  # terminal: not ours to touch
        time.sleep(3 * c.settings.poll_interval_s + 0.5)
        assert snapshot(c, eid) == before
        figures = check(c.store, home, [eid], reference={eid: reference["small"]}, sqlite_path=home / "setpoint.db")
    report(
        {
            "scenario": "duplicate_late_notifications",
            "runs": 1,
            "notifications_sent": sent,
            "state_changes_after_terminal": 0,
            **figures,
            "seconds": round(time.monotonic() - started, 2),
        },
        capsys,
    )


def test_aborting_a_task_with_a_daemonised_grandchild_leaves_nothing(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    started = time.monotonic()
    pidfile = tmp_path / "daemon.pid"
    with Client(fast_settings(home)) as c:
        c.start_controller()
        eid = c.create_execution(wf.daemon_wf, {"pidfile": str(pidfile)})
        wait_until(pidfile.exists, 60, "the daemon to start")
        daemon = psutil.Process(int(pidfile.read_text()))
        assert daemon.is_running() and daemon.status() != psutil.STATUS_ZOMBIE
        assert len(leftover_processes(home)) >= 2  # the task and its escaped daemon
        aborted_at = time.monotonic()
        c.terminate(eid)
        assert c.wait(eid, timeout=60).phase is ExecutionPhase.ABORTED
        wait_until(
            lambda: not daemon.is_running() or daemon.status() == psutil.STATUS_ZOMBIE, 15, "the daemon to be killed"
        )
        cleaned = time.monotonic() - aborted_at
        figures = check(c.store, home, [eid], expect_phase=ExecutionPhase.ABORTED, sqlite_path=home / "setpoint.db")
    report(
        {
            "scenario": "daemonised_grandchild_abort",
            "runs": 1,
            "orphans": 0,
            "kill_seconds": round(cleaned, 2),
            **figures,
            "seconds": round(time.monotonic() - started, 2),
        },
        capsys,
    )


def test_terminate_racing_success(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    iterations = 1000 if FULL else 100
    batch = 20
    started = time.monotonic()
    rng = random.Random()
    ends: Counter[str] = Counter()
    ids: list[str] = []
    terminated: dict[str, bool] = {}  # execution id -> did the request land before the end?
    errors: list[BaseException] = []

    with Client(fast_settings(home)) as c:
        c.start_controller()

        def terminate(eid: str) -> None:
            try:
                terminated[eid] = not c.terminate(eid).phase.is_terminal
            except BaseException as exc:  # surfaced below: a terminate must never fail
                errors.append(exc)

        for first in range(0, iterations, batch):
            created, timers = [], []
            for k in range(batch):  # each terminate lands 0-80 ms after its creation: mid-run or at the end
                created.append(c.create_execution(wf.quick_wf, {"x": first + k}))
                timers.append(threading.Timer(rng.uniform(0.0, 0.08), terminate, args=(created[-1],)))
                timers[-1].start()
            for t in timers:
                t.join()
            for k, eid in enumerate(created):
                rec = c.wait(eid, timeout=60)
                assert rec.phase in (ExecutionPhase.SUCCEEDED, ExecutionPhase.ABORTED), rec
                if rec.phase is ExecutionPhase.SUCCEEDED:
                    assert rec.outputs == {"o0": first + k + 1}
                else:
                    assert terminated[eid] and rec.abort_reason, rec  # only a landed request aborts
                landed = "request_landed" if terminated[eid] else "request_after_end"
                ends[f"{rec.phase.value}/{landed}"] += 1
            ids += created
        expect = None  # SUCCEEDED or ABORTED; the oracle checks each agrees with its own history
        figures = check(c.store, home, ids, expect_phase=expect, sqlite_path=home / "setpoint.db")
    assert errors == []
    assert sum(ends.values()) == iterations
    report(
        {
            "scenario": "terminate_vs_succeed",
            "iterations": iterations,
            "ends": dict(ends),
            **figures,
            "seconds": round(time.monotonic() - started, 2),
        },
        capsys,
    )
