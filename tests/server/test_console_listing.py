"""The executions list as the console pages it: filters, search, cursors, and the index behind them."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from fastapi.testclient import TestClient

from setpoint.adapters.store.sql.queries import RAW_QUERIES, list_params
from setpoint.client.embedded import Client
from setpoint.ports import ExecutionFilter

pytestmark = pytest.mark.timeout(180)

T = "/api/v1/projects/team/executions"


def every_page(api: TestClient, **params: Any) -> list[list[str]]:
    pages: list[list[str]] = []
    before = None
    while True:
        got = api.get(T, params={**params, **({"before": before} if before else {})})
        assert got.status_code == 200, got.text
        body = got.json()
        pages.append([e["id"] for e in body["executions"]])
        before = body["next"]
        if before is None:
            return pages


def test_paging_filters_and_search(api: TestClient, client: Client) -> None:
    made = [
        client.create_registered("workflow", "pipeline" if i % 3 else "gated", inputs={"a": i}, project="team")
        for i in range(120)
    ]
    client.register(["tests/server/wf_registry.py"], project="other")
    elsewhere = client.create_registered("workflow", "pipeline", inputs={"a": 1}, project="other")
    newest_first = [r.id for r in client.executions(ExecutionFilter(project="team", limit=1000))]
    assert sorted(newest_first) == sorted(made)

    pages = every_page(api, limit=25)
    assert [len(p) for p in pages] == [25, 25, 25, 25, 20]
    assert [i for p in pages for i in p] == newest_first  # each once, newest first, none of "other"
    assert elsewhere not in {i for p in pages for i in p}

    gated = [i for p in every_page(api, workflow=client.get(made[0]).workflow, limit=7) for i in p]
    assert gated == [i for i in newest_first if i in made[::3]]
    # Search: a part of the workflow name or of the id, in any case.
    assert [i for p in every_page(api, search="GATED", limit=13) for i in p] == gated
    target = made[57]
    assert [i for p in every_page(api, search=target[2:9].upper()) for i in p] == [target]
    # LIKE's wildcards are plain characters in a search.
    for wild in ("%", "_", "!", "%gated"):
        assert api.get(T, params={"search": wild}).json()["executions"] == [], wild
    assert api.get(T, params={"search": "gated", "phase": "SUCCEEDED"}).json()["executions"] == []
    assert len(api.get(T, params={"search": "gated", "phase": "QUEUED", "limit": 1000}).json()["executions"]) == 40
    # A cursor from another project is not found, like any id of it.
    assert api.get(T, params={"before": elsewhere}).status_code == 404


def test_a_projects_list_is_read_through_its_index(client: Client) -> None:
    """Any page of a project is an index search from its cursor, never a scan of the table."""
    con = sqlite3.connect(client.settings.db_path)
    try:
        for flt in (
            ExecutionFilter(project="team"),
            ExecutionFilter(project="team", before="x", search="pipe"),
            ExecutionFilter(project="team", workflow="w", phases=()),
        ):
            params = list_params(flt)
            if flt.before is not None:
                params.update(has_cursor=True, cursor_created_at=1.0, cursor_id="x")
            plan = " ".join(
                row[3] for row in con.execute(f"EXPLAIN QUERY PLAN {RAW_QUERIES['list_project_executions']}", params)
            )
            assert "SEARCH executions USING INDEX executions_by_project_created" in plan, plan
            assert "(created_at,id)<(?,?)" in plan and "TEMP B-TREE" not in plan, plan
        everywhere = " ".join(
            row[3]
            for row in con.execute(
                f"EXPLAIN QUERY PLAN {RAW_QUERIES['list_executions']}", list_params(ExecutionFilter())
            )
        )
        assert "SEARCH executions USING INDEX executions_by_created" in everywhere, everywhere
    finally:
        con.close()
