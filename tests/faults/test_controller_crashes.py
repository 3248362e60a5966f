"""R-C1 / R-C2: SIGKILL the controller at every named crash point (occurrences 1-3) and at random
points of a 200-node run (500 with SETPOINT_FAULTS_FULL=1), SQLite store, local executor.

Each crash is followed by a fresh replica process; the last one runs without a crash hook until
the store holds no unfinished execution. Then the oracle checks I1-I9 against the fault-free run.
"""

from __future__ import annotations

import random
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from setpoint.controller.controller import CRASH_POINTS
from setpoint.core.phases import ExecutionPhase
from tests.faults import wf_faults as wf
from tests.faults.harness import FULL, Replica, report, submitter, wait_until
from tests.faults.invariants import VersionWatcher, check

pytestmark = pytest.mark.timeout(600 if FULL else 180)

KILLED = -signal.SIGKILL


def finish(home: Path, replicas: list[Replica]) -> float:
    """Run a replica with no crash hook until nothing is unfinished; return how long it took."""
    started = time.monotonic()
    r = Replica(home, exit_when_idle=True)
    replicas.append(r)
    code = r.wait(timeout=300)
    assert code == 0, r.output()
    return time.monotonic() - started


@pytest.mark.parametrize("point", [p for p in CRASH_POINTS if p != "round.aborted"])
def test_sigkill_at_each_named_crash_point(home: Path, replicas: list[Replica], reference: Any, point: str, capsys: pytest.CaptureFixture[str]) -> None:
    started = time.monotonic()
    with submitter(home) as c:
        eid = c.create_execution(wf.big)
        crashes = 0
        with VersionWatcher(c.store, [eid]) as watcher:
            for nth in (1, 2, 3):
                r = Replica(home, crash_at=f"{point}:{nth}", exit_when_idle=True)
                replicas.append(r)
                code = r.wait(timeout=120)
                assert code == KILLED, f"replica did not die at {point}:{nth} (exit {code}):\n{r.output()}"
                crashes += 1
            finish(home, replicas)
        watcher.assert_ok()
        figures = check(c.store, home, [eid], reference={eid: reference["big"]}, sqlite_path=home / "setpoint.db")
    report(
        {
            "scenario": f"crash_point[{point}]",
            "nodes": len(reference["big"]["nodes"]),
            "crashes": crashes,
            "recovered": 1,
            **figures,
            "seconds": round(time.monotonic() - started, 2),
        },
        capsys,
    )


def test_sigkill_while_aborting(home: Path, replicas: list[Replica], capsys: pytest.CaptureFixture[str]) -> None:
    """round.aborted: crash right after each of the first three kill requests of a terminate."""
    started = time.monotonic()
    with submitter(home) as c:
        eid = c.create_execution(wf.naps, {"seconds": 60.0})
        r = Replica(home, crash_at="round.aborted:1", exit_when_idle=True)
        replicas.append(r)
        wait_until(lambda: sum(a.phase.value == "RUNNING" for a in c.store.load_attempts(eid)) >= 4, 60, "4 naps")
        c.terminate(eid)
        crashes = 0
        for nth in (1, 2, 3):
            if nth > 1:
                r = Replica(home, crash_at=f"round.aborted:{nth}", exit_when_idle=True)
                replicas.append(r)
            code = r.wait(timeout=60)
            if code != KILLED:  # fewer live attempts than crash occurrences: the abort finished
                assert code == 0, r.output()
                break
            crashes += 1
        finish(home, replicas)
        figures = check(c.store, home, [eid], expect_phase=ExecutionPhase.ABORTED, sqlite_path=home / "setpoint.db")
    assert crashes >= 1
    report(
        {
            "scenario": "crash_point[round.aborted]",
            "crashes": crashes,
            "recovered": 1,
            **figures,
            "seconds": round(time.monotonic() - started, 2),
        },
        capsys,
    )


def test_random_sigkill_campaign(home: Path, replicas: list[Replica], reference: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """Half the kills at a random named crash point and occurrence, half at a random time. When a
    run finishes before all kills are spent, the next 200-node (500) run is created."""
    kills = 50 if FULL else 10
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    started = time.monotonic()
    crashes = timed = 0
    with submitter(home) as c:
        ids = [c.create_execution(wf.big)]
        with VersionWatcher(c.store, ids) as watcher:
            while crashes < kills:
                if c.get(ids[-1]).phase.is_terminal:
                    ids.append(c.create_execution(wf.big))
                    watcher.ids.append(ids[-1])
                if crashes % 2 == 0:
                    spec = f"{rng.choice(CRASH_POINTS[:4])}:{rng.randint(1, 30)}"
                    r = Replica(home, crash_at=spec, exit_when_idle=True)
                    replicas.append(r)
                    try:
                        code = r.wait(timeout=rng.uniform(1.5, 4.0))
                    except subprocess.TimeoutExpired:  # not reached in time: kill it ourselves
                        r.kill()
                        code = KILLED
                else:
                    r = Replica(home)
                    replicas.append(r)
                    r.wait_ready()
                    time.sleep(rng.uniform(0.0, 1.5))
                    r.kill()
                    code = r.proc.returncode
                    timed += 1
                if code == KILLED:
                    crashes += 1
                time.sleep(rng.uniform(0.0, 0.5))
            recovery = finish(home, replicas)
        watcher.assert_ok()
        refs = dict.fromkeys(ids, reference["big"])
        figures = check(c.store, home, ids, reference=refs, sqlite_path=home / "setpoint.db")
    report(
        {
            "scenario": "random_sigkill",
            "seed": seed,
            "nodes": len(reference["big"]["nodes"]),
            "runs": len(ids),
            "replica_processes": len(replicas),
            "crashes": crashes,
            "timed_kills": timed,
            "recovered": len(ids),
            **figures,
            "last_replica_seconds": round(recovery, 2),
            "seconds": round(time.monotonic() - started, 2),
        },
        capsys,
    )
