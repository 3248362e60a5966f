"""R-E6 / R-S8: the disk fills up while a task writes its outputs.

The setpoint home (attempt folders, blobs, bundles) lives on a small tmpfs the test mounts (root
only; where mounting is impossible the test is skipped, a failure under CI=true); the store is a
SQLite file on the ordinary disk, so what the disk-full scenario may not lose is the store's.
While the first task of ``disk_wf`` runs, the test fills the small file system:

- ``outputs``: all but 200 KB. The first task's small outputs still fit; the second task's 600 KB
  output does not: its attempt fails ``NoSpace`` (a system error naming ``No space left on
  device``), is retried under the system budget, each retry failing alike, and the execution
  ends FAILED.
- ``full``: every last byte. The running task cannot write its outputs (and maybe not even its
  error): it fails with ENOSPC named (``NoSpace``, a system error, when nothing could be written),
  and the retries fail ``LaunchFailed`` or ``NoSpace`` (the attempt's folder or claim cannot be
  written); the execution ends FAILED after the system retries.

Either way nothing recorded is lost (the first task's outputs in ``outputs``, every attempt and
event), no attempt id runs twice, no process is left; once the ballast is deleted, `recover`
reuses what succeeded and the new execution SUCCEEDS with the right outputs.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from setpoint.core.phases import AttemptPhase, ExecutionPhase, NodePhase
from tests.faults import wf_faults as wf
from tests.faults.harness import report, submitter, wait_until
from tests.faults.invariants import check, leftover_processes
from tests.support import pg

pytestmark = pytest.mark.timeout(180)

SIZE = "8m"
N_BULKY = 300_000  # [1] * n: 600 KB of JSON, stored as a blob


@pytest.fixture
def tiny_home(tmp_path: Path) -> Iterator[Path]:
    """A setpoint home on a tmpfs of SIZE, unmounted afterwards."""
    mount = tmp_path / "small"
    mount.mkdir()
    if os.geteuid() != 0:
        pg.skip_or_fail("mounting a small tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SIZE},mode=0755", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pg.skip_or_fail(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    home = mount / "home"
    home.mkdir()
    try:
        yield home
    finally:
        for proc in leftover_processes(home):
            with contextlib.suppress(psutil.Error):
                proc.kill()
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(mount: Path, leave: int) -> Path:
    """Write a ballast file until only about ``leave`` bytes are free (0: until ENOSPC)."""
    ballast = mount / "ballast"
    chunk = b"\0" * (1 << 16)
    with open(ballast, "wb", buffering=0) as fh:
        while leave == 0 or free_bytes(mount) - len(chunk) > leave:
            try:
                fh.write(chunk)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                break
    return ballast


def free_bytes(mount: Path) -> int:
    st = os.statvfs(mount)
    return st.f_bavail * st.f_frsize


@pytest.mark.parametrize("level", ["outputs", "full"])
def test_disk_full_while_a_task_writes_outputs(tiny_home: Path, tmp_path: Path, level: str, capsys: pytest.CaptureFixture[str]) -> None:
    home = tiny_home
    mount = home.parent
    db = tmp_path / "store" / "setpoint.db"
    db.parent.mkdir()
    started = time.monotonic()
    n = N_BULKY if level == "outputs" else 10
    with submitter(home, f"sqlite:///{db}") as c:
        c.start_controller()
        eid = c.create_execution(wf.disk_wf, {"seconds": 1.0, "n": n})
        wait_until(lambda: any(a.phase is AttemptPhase.RUNNING for a in c.store.load_attempts(eid)), 60, "nap to run")
        ballast = fill(mount, 200_000 if level == "outputs" else 0)
        free_at_fill = free_bytes(mount)
        failed = c.wait(eid, timeout=120)
        attempts = c.store.load_attempts(eid)
        nodes = {x.node_id: x for x in c.store.load_nodes(eid)}
        events_before = len(c.store.events(eid))
        reasons = sorted({f"{a.error.code}: {a.error.message}" for a in attempts if a.error is not None})
        assert failed.phase is ExecutionPhase.FAILED, (failed.phase, failed.error)
        assert failed.error is not None
        assert "No space left on device" in failed.error.message or "ENOSPC" in failed.error.message, failed.error
        if level == "outputs":
            assert nodes["nap"].phase is NodePhase.SUCCEEDED and nodes["nap"].outputs is not None, nodes
            # a full disk is a system error: retried under the system budget, each retry failing alike
            codes = [a.error.code for a in attempts if a.error]
            assert codes and set(codes) <= {"NoSpace", "LaunchFailed"} and codes[0] == "NoSpace", reasons
            assert all(a.error.kind.value == "SYSTEM" for a in attempts if a.error), reasons
            assert len([a for a in attempts if a.node_id != "nap"]) == 4, reasons  # 1 + 3 system retries
        else:
            errors = [a.error for a in attempts if a.error]
            assert {e.code for e in errors} <= {"NoSpace", "LaunchFailed", "TaskRaised"}, reasons
            assert all("ENOSPC" in e.message or "No space left on device" in e.message for e in errors), reasons
        # what was recorded is still there and still says the same after the space comes back
        ballast.unlink()
        assert c.store.get_execution(eid).phase is ExecutionPhase.FAILED
        assert len(c.store.events(eid)) == events_before
        recovered = c.recover(eid)
        done = c.wait(recovered, timeout=120)
        assert done.phase is ExecutionPhase.SUCCEEDED, (done.phase, done.error)
        assert c.outputs(recovered) == {"o0": [1] * n}
        reused = [x.node_id for x in c.store.load_nodes(recovered) if x.phase is NodePhase.RECOVERED]
        assert reused == (["nap"] if level == "outputs" else []), reused
        figures = check(c.store, home, [eid, recovered], expect_phase=None, sqlite_path=db)
    report(
        {
            "scenario": f"disk_full_{level}",
            "store": "sqlite (outside the full file system)",
            "filesystem": f"tmpfs size={SIZE}",
            "free_bytes_after_fill": free_at_fill,
            "failed_phase": failed.phase.value,
            "failed_attempts": len([a for a in attempts if a.phase is AttemptPhase.FAILED]),
            "reasons": reasons,
            "recovered_phase": done.phase.value,
            "nodes_reused_by_recover": reused,
            **figures,
            "seconds": round(time.monotonic() - started, 2),
        },
        capsys,
    )
