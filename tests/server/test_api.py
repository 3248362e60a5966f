"""The REST API end to end, in process: register, create, follow, act on executions, read history."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from setpoint.client.embedded import Client
from setpoint.server.console import SESSION_PATH

pytestmark = pytest.mark.timeout(120)

T = "/api/v1/projects/team"


def error(resp: Any, status: int, code: str) -> str:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    return str(body["error"]["message"])


def test_registered_entities_are_listed_and_versioned(api: TestClient, version: str) -> None:
    names = [e["name"] for e in api.get(f"{T}/workflows").json()["entities"]]
    assert names == ["gated", "pipeline"]
    got = api.get(f"{T}/workflows/pipeline").json()
    assert (got["version"], got["kind"]) == (version, "workflow")
    assert api.get(f"{T}/workflows/pipeline/versions/{version}").json() == got
    assert [e["version"] for e in api.get(f"{T}/launchplans/nightly/versions").json()["entities"]] == [version]
    assert api.get(f"{T}/tasks").json()["entities"]
    assert "not registered" in error(api.get(f"{T}/workflows/nope/versions"), 404, "not_found")


def test_register_over_the_api_is_idempotent_and_conflicts_are_409(
    api: TestClient, client: Client, version: str
) -> None:
    wf = client.store.get_entity("workflow", "team", "pipeline")
    spec = __import__("json").loads(client.store.get_spec(wf.spec_digest))
    body = {"spec": spec, "code_digest": wf.code_digest, "version": "api-1"}
    first = api.post(f"{T}/workflows", json=body)
    assert first.status_code == 201, first.text
    assert first.json()["created"] is True
    assert api.post(f"{T}/workflows", json=body).json()["created"] is False
    gated = client.store.get_entity("workflow", "team", "gated")
    other = __import__("json").loads(client.store.get_spec(gated.spec_digest))
    other["name"] = "pipeline"
    message = error(api.post(f"{T}/workflows", json={**body, "spec": other}), 409, "registration_conflict")
    assert "workflow 'pipeline' version 'api-1'" in message
    assert "interface" in message and "nodes" in message
    lp = {"name": "weekly", "workflow": "pipeline", "workflow_version": "api-1", "default_inputs": {"a": 7}}
    made = api.post(f"{T}/launchplans", json=lp)
    assert made.status_code == 201, made.text
    assert made.json()["entity"]["body"]["default_inputs"] == {"a": 7}
    bad = {**lp, "default_inputs": {"a": "seven"}}
    assert "default input 'a'" in error(api.post(f"{T}/launchplans", json=bad), 422, "invalid_input")
    missing = {**body, "code_digest": "f" * 64}
    assert "code bundle" in error(api.post(f"{T}/workflows", json=missing), 422, "invalid_input")
    assert "schema" in error(api.post(f"{T}/workflows", json={**body, "spec": {}}), 422, "invalid_spec")


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"workflow": "pipeline"}, "missing input 'a'"),
        ({"workflow": "pipeline", "inputs": {"a": 1, "zz": 1}}, "unknown input 'zz'"),
        ({"workflow": "pipeline", "inputs": {"a": "x"}}, "input 'a': expected int"),
        ({"launchplan": "nightly", "inputs": {"a": 1}}, "input 'a' is fixed"),
    ],
)
def test_bad_inputs_are_422_naming_the_input(api: TestClient, payload: dict[str, Any], fragment: str) -> None:
    assert fragment in error(api.post(f"{T}/executions", json=payload), 422, "invalid_input")
    assert api.get(f"{T}/executions").json()["executions"] == []


def test_request_shape_errors_are_422_in_the_error_format(api: TestClient) -> None:
    error(api.post(f"{T}/executions", json={"inputs": {}}), 422, "invalid_request")
    error(api.post(f"{T}/executions", json={"workflow": "pipeline", "bogus": 1}), 422, "invalid_request")
    error(
        api.post(f"{T}/executions", content=b"{not json", headers={"content-type": "application/json"}),
        422,
        "invalid_request",
    )
    error(api.get(f"{T}/executions", params={"limit": 0}), 422, "invalid_request")
    error(api.get(f"{T}/executions", params={"phase": "SLEEPING"}), 422, "invalid_input")


def test_an_execution_through_the_api(api: TestClient, client: Client) -> None:
    client.start_controller()
    made = api.post(f"{T}/executions", json={"launchplan": "nightly"})
    assert made.status_code == 201, made.text
    eid = made.json()["id"]
    assert client.wait(eid, timeout=60).phase.value == "SUCCEEDED"
    got = api.get(f"{T}/executions/{eid}").json()
    assert (got["phase"], got["inputs"], got["outputs"]) == ("SUCCEEDED", {"a": 1, "b": 5}, {"o0": 12})
    assert api.get(f"{T}/executions/{eid}/outputs").json() == {"outputs": {"o0": 12}}
    nodes = api.get(f"{T}/executions/{eid}/nodes").json()["nodes"]
    assert [n["phase"] for n in nodes] == ["SUCCEEDED", "SUCCEEDED"]
    assert nodes[0]["attempts"][0]["id"] == f"{eid}/{nodes[0]['id']}/1"
    assert api.get(f"{T}/executions/{eid}/logs").headers["content-type"].startswith("text/plain")
    events = api.get(f"{T}/executions/{eid}/events").json()
    assert events["events"][0]["message"].startswith("created from launch plan 'nightly'")
    later = api.get(f"{T}/executions/{eid}/events", params={"after": events["next_after"]}).json()
    assert later == {"events": [], "next_after": events["next_after"]}
    assert {r["direction"] for r in api.get(f"{T}/executions/{eid}/lineage").json()["rows"]} == {"in", "out"}

    again = api.post(f"{T}/executions/{eid}/relaunch", json={"inputs": {"b": 0}})
    assert again.status_code == 201, again.text
    assert again.json()["source_id"] == eid
    assert client.wait(again.json()["id"], timeout=60).outputs == {"o0": 2}
    assert "only FAILED or ABORTED" in error(api.post(f"{T}/executions/{eid}/recover"), 400, "bad_request")


def test_gates_terminate_and_pagination(api: TestClient, client: Client) -> None:
    client.start_controller()
    ids = [api.post(f"{T}/executions", json={"workflow": "gated", "inputs": {"a": i}}).json()["id"] for i in range(3)]
    page = api.get(f"{T}/executions", params={"limit": 2}).json()
    assert [e["id"] for e in page["executions"]] == ids[::-1][:2]
    rest = api.get(f"{T}/executions", params={"limit": 2, "before": page["next"]}).json()
    assert ([e["id"] for e in rest["executions"]], rest["next"]) == ([ids[0]], None)
    assert "no gate waiting" in error(
        api.post(f"{T}/executions/{ids[0]}/signals", json={"name": "nope"}), 422, "invalid_input"
    )
    assert api.post(f"{T}/executions/{ids[0]}/signals", json={"name": "go", "value": True}).json() == {"sent": True}
    assert client.wait(ids[0], timeout=60).outputs == {"o0": 1}
    stopped = api.post(f"{T}/executions/{ids[1]}/terminate", json={"reason": "not today"})
    assert stopped.json()["abort_reason"] == "not today"
    assert client.wait(ids[1], timeout=60).phase.value == "ABORTED"
    assert "has no outputs" in error(api.get(f"{T}/executions/{ids[1]}/outputs"), 409, "not_available")
    assert api.post(f"{T}/executions/{ids[1]}/recover").status_code == 201
    filtered = api.get(f"{T}/executions", params={"phase": ["ABORTED"]}).json()["executions"]
    assert [e["id"] for e in filtered] == [ids[1]]
    api.post(f"{T}/executions/{ids[2]}/terminate", json={})


def test_cache_route_lists_the_projects_entries(api: TestClient) -> None:
    assert api.get(f"{T}/cache").json() == {"entries": []}


def test_openapi_lists_every_route(api: TestClient) -> None:
    schema = api.get("/openapi.json").json()
    table = {(r.method.lower(), r.path) for r in api.app.state.routes}  # type: ignore[attr-defined]
    listed = {(method, path) for path, ops in schema["paths"].items() for method in ops}
    # the console's sign-in routes are documented too, but sit outside the token-checked table
    assert listed - {(m, SESSION_PATH) for m in ("get", "post", "delete")} == table


def test_an_unreachable_store_is_503(api: TestClient, client: Client) -> None:
    client.store.close()
    assert "closed" in error(api.get(f"{T}/executions"), 503, "store_unavailable")
    error(api.post(f"{T}/executions", json={"workflow": "pipeline", "inputs": {"a": 1}}), 503, "store_unavailable")
