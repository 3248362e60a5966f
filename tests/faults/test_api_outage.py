"""The REST API while PostgreSQL is unreachable: R-S1 (cut) and R-S2 (blackhole) seen from
`setpoint server`.

A real ``setpoint server --db postgresql://...`` process (API and controller) reaches the
database through `FaultProxy`. While the proxy is cut (connections closed, new ones refused) or
blackholed (connections accepted and held open, nothing forwarded either way), GET execution, list
executions and create execution answer 503 with the stable code ``store_unavailable`` and a message
naming the database — never a 500, never a hang: each answer comes within the bound the store's
timeouts set (``SETPOINT_DB_TIMEOUT_S`` plus a 2 s grace per call, ``connect_timeout`` per new
connection), and the server keeps answering what needs no store (its OpenAPI document) meanwhile.
When the proxy heals, the same routes answer again, and an execution that was running through the
outage and one created after it both complete, with the invariants checked.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from setpoint.core.phases import ExecutionPhase
from tests.faults.fault_proxy import FaultProxy
from tests.faults.harness import FULL, REPO, ApiServer, report, submitter, wait_until
from tests.faults.invariants import VersionWatcher, check

pytestmark = pytest.mark.timeout(600 if FULL else 180)

DB_TIMEOUT_S = 2.0  # the server's statement timeout; its watchdog drops a call after 2 s more
CONNECT_TIMEOUT_S = 2
# The longest a store call may take under these settings: the watchdog (timeout + grace), then
# at most one more attempt (a new connection) before the retry budget runs out.
BOUND_S = DB_TIMEOUT_S + 2.0 + CONNECT_TIMEOUT_S + 1.0
OUTAGE_S = 10.0 if FULL else 3.0


def _requests(base: str, eid: str) -> dict[str, tuple[str, str, dict[str, Any] | None]]:
    return {
        "get_execution": ("GET", f"{base}/executions/{eid}", None),
        "list_executions": ("GET", f"{base}/executions?limit=5", None),
        "create_execution": ("POST", f"{base}/executions", {"workflow": "small", "inputs": {"n": 2}}),
    }


def _call(method: str, url: str, body: dict[str, Any] | None) -> tuple[int, dict[str, Any], float]:
    """One request; a hang shows up as httpx's timeout (a test failure), far above the bound."""
    t = time.monotonic()
    r = httpx.request(method, url, json=body, timeout=10 * BOUND_S)
    return r.status_code, r.json(), time.monotonic() - t


@pytest.mark.parametrize("fault", ["cut", "blackhole"])
def test_api_answers_503_while_postgresql_is_unreachable(home: Path, pg_url: str, fault: str, capsys: pytest.CaptureFixture[str]) -> None:
    from psycopg.conninfo import conninfo_to_dict

    parts = conninfo_to_dict(pg_url)
    started = time.monotonic()
    with FaultProxy(str(parts.get("host", "127.0.0.1")), int(str(parts.get("port", 5432)))) as proxy:
        via_proxy = (
            f"postgresql://{parts['user']}@127.0.0.1:{proxy.port}/{parts['dbname']}"
            f"?sslmode=disable&connect_timeout={CONNECT_TIMEOUT_S}"
        )
        with submitter(home, pg_url) as direct:
            direct.register([str(REPO / "tests" / "faults" / "wf_faults.py")], project="team")
            server = ApiServer(home, via_proxy, env={"SETPOINT_DB_TIMEOUT_S": str(DB_TIMEOUT_S)})
            try:
                server.wait_ready()
                base = f"{server.url}/api/v1/projects/team"
                made = httpx.post(
                    f"{base}/executions", json={"workflow": "naps", "inputs": {"n": 0, "seconds": 1.0}}, timeout=30
                )
                assert made.status_code == 201, made.text
                running = made.json()["id"]
                ids = [running]
                wait_until(lambda: len(direct.store.load_attempts(running)) >= 4, 60, "the tasks to start")
                with VersionWatcher(direct.store, ids, interval=0.2) as watcher:
                    if fault == "cut":
                        proxy.cut()
                    else:
                        proxy.blackhole()
                    fault_at = time.monotonic()
                    answers: dict[str, list[tuple[int, dict[str, Any], float]]] = {}
                    schema_s: list[float] = []
                    for _ in range(2):  # the three routes at once, twice, while what needs no store still answers
                        pending: list[threading.Thread] = []
                        for name, (method, url, body) in _requests(base, running).items():

                            def go(name: str = name, method: str = method, url: str = url, body: Any = body) -> None:
                                answers.setdefault(name, []).append(_call(method, url, body))

                            pending.append(threading.Thread(target=go, daemon=True))
                        for t in pending:
                            t.start()
                        t0 = time.monotonic()
                        schema = httpx.get(f"{server.url}/openapi.json", timeout=10)
                        assert schema.status_code == 200
                        schema_s.append(time.monotonic() - t0)
                        for t in pending:
                            t.join(timeout=20 * BOUND_S)
                    time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - fault_at)))
                    outage = time.monotonic() - fault_at
                    proxy.restore()
                    healed = time.monotonic()
                    first_ok = wait_until(
                        lambda: _call("GET", f"{base}/executions/{running}", None)[0] == 200,
                        60,
                        "the API to answer again",
                        interval=0.1,
                    )
                    recovered_s = time.monotonic() - healed
                    assert first_ok
                    after = httpx.post(f"{base}/executions", json={"workflow": "small", "inputs": {"n": 1}}, timeout=30)
                    assert after.status_code == 201, after.text
                    ids.append(after.json()["id"])
                    listed = httpx.get(f"{base}/executions?limit=50", timeout=30)
                    assert listed.status_code == 200, listed.text
                    assert {running, ids[-1]} <= {e["id"] for e in listed.json()["executions"]}
                    wait_until(
                        lambda: all(direct.get(e).phase.is_terminal for e in ids), 120, "every execution to finish"
                    )
                watcher.assert_ok()
                figures = check(direct.store, home, ids, expect_phase=ExecutionPhase.SUCCEEDED)
                assert direct.get(running).outputs == {"o0": sum(range(10))}
                assert direct.get(ids[-1]).outputs is not None
            finally:
                server.stop()
    log = server.output()
    for name, got in answers.items():
        assert len(got) == 2, (name, got)
        for status, body, _ in got:
            assert status == 503, (name, status, body)
            assert body["error"]["code"] == "store_unavailable", (name, body)
            assert "PostgreSQL" in body["error"]["message"], (name, body)
    assert "Traceback" not in log, log[-4000:]
    seconds = [s for got in answers.values() for _, _, s in got]
    report(
        {
            "scenario": f"api_postgres_{fault}",
            "store": "postgresql",
            "fault": fault,
            "outage_s": round(outage, 2),
            "db_timeout_s": DB_TIMEOUT_S,
            "connect_timeout_s": CONNECT_TIMEOUT_S,
            "requests_while_down": len(seconds),
            "statuses_while_down": sorted({s for got in answers.values() for s, _, _ in got}),
            "answer_s_max": round(max(seconds), 2),
            "answer_s_by_route": {k: [round(s, 2) for _, _, s in v] for k, v in answers.items()},
            "openapi_while_down_s": [round(x, 3) for x in schema_s],
            "api_back_after_heal_s": round(recovered_s, 2),
            "message": answers["get_execution"][0][1]["error"]["message"],
            **figures,
            "seconds": round(time.monotonic() - started, 2),
        },
        capsys,
    )
