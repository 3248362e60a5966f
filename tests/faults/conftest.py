"""Fixtures of the fault-injection suite: homes, PostgreSQL databases, replica processes, and the
fault-free reference runs every faulty run is compared with."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.faults import wf_faults as wf
from tests.faults.harness import Replica, fast_settings
from tests.faults.invariants import leftover_processes
from tests.support import pg


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    h = tmp_path / "home"
    h.mkdir()
    yield h
    for proc in leftover_processes(h):  # never leak attempt processes past a failed test
        with contextlib.suppress(psutil.Error):
            proc.kill()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL database of this test's own, as a ``postgresql://`` URL (skipped without a
    server; a failure under CI=true)."""
    pg.require_psycopg()
    from psycopg.conninfo import conninfo_to_dict

    with pg.fresh_database() as conninfo:
        yield pg.uri(str(conninfo_to_dict(conninfo)["dbname"]))


@pytest.fixture
def replicas() -> Iterator[list[Replica]]:
    """Replica processes a test starts; whatever is left is killed by pid at the end."""
    started: list[Replica] = []
    yield started
    for r in started:
        r.kill()


def node_outputs(client: Any, eid: str) -> dict[str, Any]:
    return {n.node_id: n.outputs for n in client.store.load_nodes(eid) if n.phase.is_success}


@pytest.fixture(scope="session")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Fault-free runs, one per workflow the scenarios compare with: {"big": {...}, "small": {...}}."""
    from setpoint.client.embedded import Client

    home = tmp_path_factory.mktemp("reference") / "home"
    out: dict[str, dict[str, Any]] = {}
    with Client(fast_settings(home)) as c:
        for name, workflow, inputs in (("big", wf.big, {}), ("small", wf.small, {"n": 1})):
            rec = c.run(workflow, inputs, timeout=300)
            assert rec.phase.value == "SUCCEEDED", rec
            out[name] = {"outputs": rec.outputs, "nodes": node_outputs(c, rec.id)}
    return out
