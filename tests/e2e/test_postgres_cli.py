"""The CLI on PostgreSQL: ``--db URL`` moves executions into the database, the home keeps the rest."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.cli_util import setpoint, setpoint_json
from tests.support import pg

pytestmark = pytest.mark.timeout(120)

WF = "tests/e2e/wf_basic.py"


def test_run_and_list_through_a_postgres_store(home: Path) -> None:
    pg.require_server()
    name = pg.create_database()
    try:
        url = pg.uri(name)
        ran = setpoint_json(home, "--db", url, "run", f"{WF}:chain", "--n", "3")
        ex = ran["execution"]
        assert ex["phase"] == "SUCCEEDED"
        assert ex["outputs"] == {"o0": 9}
        listed = setpoint_json(home, "--db", url, "get", "executions")
        assert [e["id"] for e in listed["executions"]] == [ex["id"]]
        assert not (home / "setpoint.db").exists()  # the state went to PostgreSQL
        assert (home / "attempts").is_dir()  # attempt folders stay in the home
        # The same home without --db is a different (empty) store.
        assert setpoint_json(home, "get", "executions")["executions"] == []
        # SETPOINT_DB does what --db does.
        via_env = setpoint_json(home, "get", "executions", env={"SETPOINT_DB": url})
        assert [e["id"] for e in via_env["executions"]] == [ex["id"]]
    finally:
        pg.drop_database(name)


def test_an_unreachable_database_exits_4_naming_it_without_the_password(home: Path) -> None:
    pg.require_server()  # only for psycopg; the port below is closed on purpose
    url = "postgresql://someone:hunter2-secret@127.0.0.1:1/nowhere?connect_timeout=2"
    proc = setpoint(home, "--db", url, "get", "executions")
    assert proc.returncode == 4, proc.stderr
    assert "127.0.0.1:1/nowhere" in proc.stderr and "unreachable" in proc.stderr
    assert "hunter2" not in proc.stderr + proc.stdout
