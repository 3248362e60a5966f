"""current_context(), checkpoints, decks and task options: through `setpoint run` and an in-process client."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from setpoint.client.embedded import Client
from setpoint.config.settings import Settings
from setpoint.core.phases import ExecutionPhase
from tests.e2e import wf_flyte_context as wfc
from tests.e2e.cli_util import setpoint, setpoint_json

pytestmark = pytest.mark.timeout(180)

WF = "tests/e2e/wf_flyte_context.py"


@pytest.mark.remote
def test_a_task_reads_its_context_through_the_cli(home: Path) -> None:
    out = setpoint_json(home, "run", f"{WF}:context_wf", "--note", "from-cli")
    ex = out["execution"]
    assert ex["phase"] == "SUCCEEDED", ex
    assert ex["outputs"]["o0"] == {
        "project": ex["outputs"]["o0"]["project"],
        "domain": "development",
        "name": ex["id"],
        "workdir_ok": "True",
        "node": "where_am_i",
    }
    logs = setpoint_json(home, "logs", ex["id"], "where_am_i")["logs"]
    stderr = "".join(row["text"] for row in logs if row["stream"] == "stderr")
    assert "INFO context-log-line from-cli" in stderr  # current_context().logging goes to the attempt's log


@pytest.mark.remote
def test_a_retried_attempt_resumes_from_its_checkpoint_through_the_cli(home: Path) -> None:
    out = setpoint_json(home, "run", f"{WF}:checkpoint_wf", "--start", "5")
    assert out["execution"]["phase"] == "SUCCEEDED"
    assert out["execution"]["outputs"] == {"o0": 47}  # 5 + 40 checkpointed by attempt 1, + 2 by attempt 2
    assert out["nodes"][0]["attempts"] == 2


def test_checkpoint_and_context_in_process(client: Client) -> None:
    rec = client.run(wfc.checkpoint_wf, {"start": 1}, timeout=60)
    assert rec.phase == ExecutionPhase.SUCCEEDED
    assert client.outputs(rec.id) == {"o0": 43}
    rec = client.run(wfc.context_wf, {}, timeout=60)
    got = client.outputs(rec.id)["o0"]
    assert (got["name"], got["node"], got["workdir_ok"]) == (rec.id, "where_am_i", "True")


def test_decks_are_rendered_per_attempt_and_found_by_setpoint_deck(home: Path) -> None:
    out = setpoint_json(home, "run", f"{WF}:deck_wf", "--x", "5")
    eid = out["execution"]["id"]
    assert out["execution"]["outputs"] == {"o0": 10}
    shown = setpoint(home, "deck", eid, "report", check=True).stdout.strip()
    path = Path(shown)
    assert path == home / "attempts" / eid / "report" / "1" / "deck.html"
    page = path.read_text()
    assert "plot-of-x" in page and "x is 5" in page and "default-deck-text" in page and "Outputs" in page
    as_json = setpoint_json(home, "deck", eid, "report", "--attempt", "1")
    assert as_json == {"execution_id": eid, "node_id": "report", "path": shown}

    plain = setpoint_json(home, "run", f"{WF}:context_wf")["execution"]["id"]
    missing = setpoint(home, "deck", plain, "where_am_i")
    assert missing.returncode != 0 and "enable_deck=True" in missing.stderr
    unknown = setpoint(home, "deck", eid, "nope")
    assert unknown.returncode != 0 and "has no node 'nope'" in unknown.stderr


def test_unused_task_options_are_said_at_compile_time_and_recorded(home: Path) -> None:
    proc = setpoint(home, "run", f"{WF}:imaged_wf", "--output", "json", check=True)
    assert "container_image='ghcr.io/acme/train:1.2' is recorded" in proc.stderr
    assert "limits= are recorded in the spec" in proc.stderr
    assert "wf_flyte_context.py" in proc.stderr  # the warning points at the workflow's code
    eid = json.loads(proc.stdout)["execution"]["id"]
    spec = setpoint_json(home, "describe", eid)  # the pinned spec carries the recorded options
    assert spec["execution"]["phase"] == "SUCCEEDED"
    with Client(Settings(home=home)) as c:
        task = c.spec(eid).tasks["tests.e2e.wf_flyte_context.imaged"]
    assert task.container_image == "ghcr.io/acme/train:1.2"
    assert dict(task.limits) == {"cpu": "2", "mem": "1Gi"}
    assert (task.retries, task.cache.enabled, task.cache.version) == (1, True, "1")  # from TaskMetadata


def test_the_deck_route_serves_the_page_sandboxed(client: Client) -> None:
    from fastapi.testclient import TestClient

    from setpoint.server import app as server_app
    from setpoint.server.routes import decks

    assert decks in server_app.ROUTE_MODULES
    rec = client.run(wfc.deck_wf, {"x": 3}, timeout=60)
    assert rec.phase == ExecutionPhase.SUCCEEDED
    with TestClient(server_app.create_app(client, auth=False)) as api:
        base = f"/api/v1/projects/{rec.project}/executions/{rec.id}/nodes"
        page = api.get(f"{base}/report/deck")
        assert page.status_code == 200, page.text
        assert page.headers["content-type"].startswith("text/html")
        # sandboxed (its scripts cannot reach the console's session), framable only by the console itself
        assert page.headers["content-security-policy"] == "sandbox allow-scripts; frame-ancestors 'self'"
        assert page.headers["x-frame-options"] == "SAMEORIGIN"
        assert "x is 3" in page.text
        assert api.get(f"{base}/report/deck", params={"attempt": 9}).status_code == 404
        assert api.get(f"{base}/nope/deck").status_code == 404
        other = f"/api/v1/projects/elsewhere/executions/{rec.id}/nodes/report/deck"
        assert api.get(other).status_code == 404
