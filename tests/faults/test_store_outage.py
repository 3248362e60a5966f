"""Store faults on PostgreSQL, through a TCP proxy between the replica and the server.

R-S1: cut PostgreSQL mid-run through a TCP proxy (every connection closed, new ones refused),
then heal it. The replica rides the outage out; executions complete; while the store is down the
CLI fails with a clear store error (exit code 4, no traceback) and the client raises StoreError.
R-S3: ambiguous commits (applied, reply lost): nothing is done twice, the run completes.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from setpoint.errors import StoreError
from tests.faults import wf_faults as wf
from tests.faults.fault_proxy import FaultProxy
from tests.faults.harness import FULL, REPO, Replica, report, submitter, wait_until
from tests.faults.invariants import VersionWatcher, check
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.timeout(600 if FULL else 180)

OUTAGE_S = 10.0 if FULL else 4.0


def cli(home: Path, db: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SETPOINT_")}
    return subprocess.run(
        [sys.executable, "-m", "setpoint.cli.main", "--home", str(home), "--db", db, *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cut_postgresql_mid_run(home: Path, pg_url: str, replicas: list[Replica], reference: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from psycopg.conninfo import conninfo_to_dict

    parts = conninfo_to_dict(pg_url)
    started = time.monotonic()
    with TcpProxy(str(parts.get("host", "127.0.0.1")), int(str(parts.get("port", 5432)))) as proxy:
        via_proxy = f"postgresql://{parts['user']}@127.0.0.1:{proxy.port}/{parts['dbname']}"
        with submitter(home, pg_url) as direct:
            ids = [direct.create_execution(wf.naps, {"n": i, "seconds": 1.0}) for i in range(3)]
            ids.append(direct.create_execution(wf.big))
            r = Replica(home, db=via_proxy, lease=5.0, exit_when_idle=True, slots=8)
            replicas.append(r)
            with VersionWatcher(direct.store, ids, interval=0.2) as watcher:
                wait_until(lambda: sum(len(direct.store.load_nodes(e)) for e in ids) >= 20, 60, "the run to start")
                proxy.cut()
                cut_at = time.monotonic()
                # while it is down: clear errors, no tracebacks, no hang
                down = cli(home, via_proxy, "get", "executions", "-o", "json")
                cli_seconds = time.monotonic() - cut_at
                with pytest.raises(StoreError) as info, submitter(home, via_proxy) as c:
                    c.get(ids[0])
                client_error = str(info.value)
                time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - cut_at)))
                progress_before_heal = sum(direct.get(e).phase.is_terminal for e in ids)
                proxy.restore()
                healed = time.monotonic()
                code = r.wait(timeout=120)
                assert code == 0, r.output()
                resumed = time.monotonic() - healed
            watcher.assert_ok()
            figures = check(direct.store, home, ids, reference={ids[-1]: reference["big"]})
    assert down.returncode == 4, (down.returncode, down.stdout, down.stderr)
    assert "Traceback" not in down.stderr + down.stdout, down.stderr
    assert "unreachable" in down.stderr or "PostgreSQL" in down.stderr, down.stderr
    assert "Traceback" not in client_error
    assert "Traceback" not in r.output(), r.output()
    report(
        {
            "scenario": "postgres_cut",
            "store": "postgresql",
            "outage_s": OUTAGE_S,
            "runs": len(ids),
            "terminal_at_heal": progress_before_heal,
            "finished_after_heal_s": round(resumed, 2),
            "cli_exit_while_down": down.returncode,
            "cli_seconds_while_down": round(cli_seconds, 2),
            "watcher_read_errors": watcher.read_errors,
            **figures,
            "seconds": round(time.monotonic() - started, 2),
        },
        capsys,
    )
    with capsys.disabled():
        print("CLI while down:", " ".join(down.stderr.split()))


def test_ambiguous_commits(home: Path, pg_url: str, replicas: list[Replica], reference: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """R-S3: 1% of the replica's COMMITs are applied but their reply is lost (plus two forced ones)."""
    from psycopg.conninfo import conninfo_to_dict

    parts = conninfo_to_dict(pg_url)
    seed = random.randrange(2**32)
    started = time.monotonic()
    with FaultProxy(
        str(parts.get("host", "127.0.0.1")),
        int(str(parts.get("port", 5432))),
        ambiguous_rate=0.01,
        ambiguous_at=frozenset({20, 60}),
        seed=seed,
    ) as proxy:
        via_proxy = f"postgresql://{parts['user']}@127.0.0.1:{proxy.port}/{parts['dbname']}?sslmode=disable"
        with submitter(home, pg_url) as direct:
            ids = [direct.create_execution(wf.small, {"n": 1}) for _ in range(20)]
            ids.append(direct.create_execution(wf.big))
            r = Replica(home, db=via_proxy, lease=5.0, exit_when_idle=True)
            replicas.append(r)
            with VersionWatcher(direct.store, ids, interval=0.2) as watcher:
                assert r.wait(timeout=150) == 0, r.output()
            watcher.assert_ok()
            refs = dict.fromkeys(ids[:-1], reference["small"]) | {ids[-1]: reference["big"]}
            figures = check(direct.store, home, ids, reference=refs)
    assert proxy.ambiguous >= 2, proxy.ambiguous
    assert "Traceback" not in r.output(), r.output()
    report(
        {
            "scenario": "ambiguous_commits",
            "store": "postgresql",
            "seed": seed,
            "runs": len(ids),
            "commits": proxy.commits,
            "ambiguous_commits": proxy.ambiguous,
            "ambiguous_errors_logged": r.output(limit=None).count("may or may not have been applied"),
            **figures,
            "seconds": round(time.monotonic() - started, 2),
        },
        capsys,
    )


def test_server_side_disconnects_mid_run(home: Path, pg_url: str, replicas: list[Replica], reference: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """R-S4, the part that leaves the shared server up: pg_terminate_backend on every session of
    the replica (found by its client ports), five times during a run."""
    import psycopg

    started = time.monotonic()
    terminated = 0
    with submitter(home, pg_url) as direct:
        ids = [direct.create_execution(wf.naps, {"n": i, "seconds": 0.5}) for i in range(3)]
        ids.append(direct.create_execution(wf.big))
        r = Replica(home, db=pg_url, lease=5.0, exit_when_idle=True, slots=8)
        replicas.append(r)
        with VersionWatcher(direct.store, ids, interval=0.2) as watcher:
            r.wait_ready()
            for _ in range(5):
                time.sleep(0.7)
                ports = [c.laddr.port for c in psutil.Process(r.pid).net_connections("tcp")]
                with psycopg.connect(pg_url, autocommit=True) as admin:
                    rows = admin.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND client_port = ANY(%s)",
                        (ports,),
                    ).fetchall()
                terminated += len(rows)
            assert r.wait(timeout=150) == 0, r.output()
        watcher.assert_ok()
        figures = check(direct.store, home, ids, reference={ids[-1]: reference["big"]})
    assert terminated >= 5
    assert "Traceback" not in r.output(limit=None), r.output()
    report(
        {
            "scenario": "terminate_backends",
            "store": "postgresql",
            "runs": len(ids),
            "events_injected": 5,
            "sessions_terminated": terminated,
            **figures,
            "seconds": round(time.monotonic() - started, 2),
        },
        capsys,
    )
