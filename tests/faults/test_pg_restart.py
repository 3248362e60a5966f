"""R-S4: restart PostgreSQL itself mid-run, on a server of the test's own (`private_pg`).

A controller replica runs executions against a private PostgreSQL server; mid-run the server is
stopped — ``fast`` (every session disconnected, open transactions rolled back, a clean shutdown)
and, with SETPOINT_FAULTS_FULL=1, also ``immediate`` (a crash: the restart replays the WAL) — kept
down for a while, then started again on the same port. The replica rides it out (bounded backoff,
new connections, the wake-up listener reconnects); every execution completes with the outputs of
a fault-free run; no attempt id is launched twice; sampled row versions never go back.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.faults import wf_faults as wf
from tests.faults.harness import FULL, Replica, report, submitter, wait_until
from tests.faults.invariants import VersionWatcher, check
from tests.faults.private_pg import private_postgres

pytestmark = pytest.mark.timeout(600 if FULL else 180)

DOWN_S = 10.0 if FULL else 3.0


@pytest.mark.parametrize("mode", ["fast", "immediate"] if FULL else ["fast"])
def test_restart_postgresql_mid_run(home: Path, replicas: list[Replica], reference: Any, mode: str, capsys: pytest.CaptureFixture[str]) -> None:
    pg_url = ""
    started = time.monotonic()
    with private_postgres() as server:
        pg_url = server.url
        with submitter(home, pg_url) as direct:
            ids = [direct.create_execution(wf.naps, {"n": i, "seconds": 1.0}) for i in range(3)]
            ids.append(direct.create_execution(wf.big))
            r = Replica(home, db=pg_url, lease=5.0, exit_when_idle=True, slots=8)
            replicas.append(r)
            with VersionWatcher(direct.store, ids, interval=0.2) as watcher:
                wait_until(lambda: sum(len(direct.store.load_nodes(e)) for e in ids) >= 20, 60, "the run to start")
                server.stop(mode)
                stopped = time.monotonic()
                time.sleep(DOWN_S)
                server.start()
                restarted = time.monotonic()
                down_s = restarted - stopped
                code = r.wait(timeout=150)
                assert code == 0, r.output()
                finished_after = time.monotonic() - restarted
            watcher.assert_ok()
            figures = check(direct.store, home, ids, reference={ids[-1]: reference["big"]})
            for i, eid in enumerate(ids[:3]):
                assert direct.get(eid).outputs == {"o0": sum(i + k for k in range(10))}
    out = r.output(limit=None)
    assert "Traceback" not in out, out[-4000:]
    report(
        {
            "scenario": f"postgres_restart_{mode}",
            "store": "postgresql (private server)",
            "stop_mode": mode,
            "down_s": round(down_s, 2),
            "runs": len(ids),
            "finished_after_restart_s": round(finished_after, 2),
            "server_starts": server.starts,
            "replica_store_errors_logged": out.count("store "),
            "watcher_read_errors": watcher.read_errors,
            "version_samples": watcher.samples,
            **figures,
            "seconds": round(time.monotonic() - started, 2),
        },
        capsys,
    )
