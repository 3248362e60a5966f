"""The auth matrix over every route of the app's route table: no token, another project's token, each role.

The table is read from the app itself, so a route added later is covered (or this test fails). The
same matrix runs again with the console's session cookies in place of bearer tokens, where a
request that writes also needs the session's CSRF header.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from setpoint.client.embedded import Client
from setpoint.ports import ROLES
from setpoint.server.app import PREFIX, Route, create_app
from setpoint.server.console import SESSION_PATH
from setpoint.server.sessions import COOKIE, CSRF_HEADER, MUTATING
from setpoint.server.tokens import allows, create_token

pytestmark = pytest.mark.timeout(120)


def fill(route: Route, project: str, execution_id: str, version: str) -> str:
    name = "pipeline"
    if "/tasks/" in route.path:
        name = "tests.server.wf_registry.add"
    elif "/launchplans/" in route.path:
        name = "nightly"
    values = {
        "project": project,
        "execution_id": execution_id,
        "name": name,
        "version": version,
        "digest": "0" * 64,
        "node": "add",
    }
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], route.path)


def call(http: TestClient, route: Route, path: str, token: str | None, headers: dict[str, str] | None = None) -> int:
    headers = dict(headers or {})
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    body: dict[str, Any] | None = {} if route.method == "POST" else None
    # An event stream of a live execution would stay open: ask for what there is now, then the end.
    params = {"timeout": 0, "node": "add"} if route.path.endswith("/stream") else None
    status: int = http.request(route.method, path, headers=headers, json=body, params=params).status_code
    return status


def test_every_route_checks_the_token(client: Client, version: str) -> None:
    eid = client.create_registered("workflow", "gated", inputs={"a": 1}, project="team")
    tokens = {role: create_token(client.store, "team", role) for role in ROLES}
    outsider = create_token(client.store, "other", "admin")
    app = create_app(client, auth=True)
    table: list[Route] = app.state.routes
    paths = app.openapi()["paths"]
    # Every operation of the schema is a row of the table, but the console's own session routes.
    assert set(paths) - {p for p in paths if p.startswith(PREFIX)} == {SESSION_PATH}
    assert len(table) == sum(len(ops) for p, ops in paths.items() if p.startswith(PREFIX))
    with TestClient(app) as http:
        for route in table:
            path = fill(route, "team", eid, version)
            where = f"{route.method} {route.path}"
            assert call(http, route, path, None) == 401, where
            assert call(http, route, path, "sp_not-a-real-token") == 401, where
            scoped = "{project}" in route.path
            if scoped:
                assert call(http, route, path, outsider) == 404, f"{where}: another project's token"
                assert call(http, route, fill(route, "nowhere", eid, version), tokens["admin"]) == 404, where
            for role, token in tokens.items():
                status = call(http, route, path, token)
                if allows(role, route.role):
                    # outputs of an unfinished execution and the deck of a task without decks are real 404s
                    missing = route.path.endswith(("/outputs", "/deck"))
                    assert status not in (401, 403, 404) or missing, f"{where} as {role}"
                    assert status < 500, f"{where} as {role}"
                else:
                    assert status == 403, f"{where} as {role}: {status}"


def test_a_token_sees_only_its_project(client: Client, version: str) -> None:
    viewer = create_token(client.store, "team", "viewer")
    outsider = create_token(client.store, "other", "admin")
    with TestClient(create_app(client, auth=True)) as http:
        seen = http.get("/api/v1/projects", headers={"Authorization": f"Bearer {outsider}"}).json()
        assert seen == {"projects": [{"name": "other"}]}
        mine = http.get("/api/v1/projects", headers={"Authorization": f"Bearer {viewer}"}).json()
        assert mine == {"projects": [{"name": "team"}]}
        hidden = http.get("/api/v1/projects/team/workflows", headers={"Authorization": f"Bearer {outsider}"})
        missing = http.get("/api/v1/projects/none/workflows", headers={"Authorization": f"Bearer {outsider}"})
        assert hidden.status_code == missing.status_code == 404
        assert hidden.json()["error"]["code"] == missing.json()["error"]["code"] == "not_found"
        # Creating a project answers the same whether or not it exists.
        a = http.post("/api/v1/projects", json={"name": "team"}, headers={"Authorization": f"Bearer {outsider}"})
        b = http.post("/api/v1/projects", json={"name": "fresh"}, headers={"Authorization": f"Bearer {outsider}"})
        assert (a.status_code, b.status_code) == (201, 201)


def test_tokens_are_stored_hashed_and_never_echoed(client: Client, version: str) -> None:
    token = create_token(client.store, "team", "editor")
    assert token.startswith("sp_")
    assert len(token) > 40
    import hashlib

    stored = client.store.get_token(hashlib.sha256(token.encode()).hexdigest())
    assert stored is not None
    assert (stored.project, stored.role) == ("team", "editor")
    assert token not in repr(stored)
    with TestClient(create_app(client, auth=True)) as http:
        bad = token[:-2] + "xx"
        resp = http.get("/api/v1/projects/team/workflows", headers={"Authorization": f"Bearer {bad}"})
        assert resp.status_code == 401
        assert bad not in resp.text
        assert resp.headers["www-authenticate"] == "Bearer"
        viewer_made = http.post(
            "/api/v1/projects/team/executions",
            json={"workflow": "pipeline", "inputs": {"a": 1}},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert viewer_made.status_code == 201


def test_admin_creates_tokens_for_its_own_project(client: Client, version: str) -> None:
    admin = create_token(client.store, "team", "admin")
    with TestClient(create_app(client, auth=True)) as http:
        made = http.post(
            "/api/v1/projects/team/tokens", json={"role": "viewer"}, headers={"Authorization": f"Bearer {admin}"}
        )
        assert made.status_code == 201
        new = made.json()["token"]
        assert (
            http.get("/api/v1/projects/team/workflows", headers={"Authorization": f"Bearer {new}"}).status_code == 200
        )
        denied = http.post(
            "/api/v1/projects/team/executions",
            json={"workflow": "pipeline", "inputs": {"a": 1}},
            headers={"Authorization": f"Bearer {new}"},
        )
        assert denied.status_code == 403
        assert denied.json()["error"]["code"] == "forbidden"


def sign_in(http: TestClient, token: str) -> dict[str, str]:
    """The headers a console page sends after signing in with ``token``: its cookie and CSRF token."""
    resp = http.post(SESSION_PATH, json={"token": token})
    assert resp.status_code == 200, resp.text
    cookie = resp.cookies[COOKIE]
    assert token not in cookie
    return {"Cookie": f"{COOKIE}={cookie}", CSRF_HEADER: resp.json()["csrf"]}


def test_every_route_accepts_a_session_cookie_with_the_same_roles(client: Client, version: str) -> None:
    eid = client.create_registered("workflow", "gated", inputs={"a": 1}, project="team")
    app = create_app(client, auth=True)
    table: list[Route] = app.state.routes
    with TestClient(app) as http:
        sessions = {role: sign_in(http, create_token(client.store, "team", role)) for role in ROLES}
        outsider = sign_in(http, create_token(client.store, "other", "admin"))
        http.cookies.clear()
        for route in table:
            path = fill(route, "team", eid, version)
            where = f"{route.method} {route.path}"
            forged = {"Cookie": f"{COOKIE}=v1.e30.AAAA", CSRF_HEADER: "x"}
            assert call(http, route, path, None, forged) == 401, where
            if "{project}" in route.path:
                assert call(http, route, path, None, outsider) == 404, f"{where}: another project's cookie"
            for role, headers in sessions.items():
                if route.method in MUTATING:
                    without = {k: v for k, v in headers.items() if k != CSRF_HEADER}
                    assert call(http, route, path, None, without) == 403, f"{where} as {role} without CSRF"
                    wrong = {**headers, CSRF_HEADER: sessions["admin" if role != "admin" else "viewer"][CSRF_HEADER]}
                    assert call(http, route, path, None, wrong) == 403, f"{where} as {role}, another session's CSRF"
                status = call(http, route, path, None, headers)
                if allows(role, route.role):
                    # outputs of an unfinished execution and the deck of a task without decks are real 404s
                    missing = route.path.endswith(("/outputs", "/deck"))
                    assert status not in (401, 403, 404) or missing, f"{where} as {role}"
                    assert status < 500, f"{where} as {role}"
                else:
                    assert status == 403, f"{where} as {role}: {status}"


def test_a_viewer_cookie_cannot_write_and_a_missing_csrf_header_is_refused(client: Client, version: str) -> None:
    with TestClient(create_app(client, auth=True)) as http:
        viewer = sign_in(http, create_token(client.store, "team", "viewer"))
        editor = sign_in(http, create_token(client.store, "team", "editor"))
        http.cookies.clear()
        launch = {"workflow": "pipeline", "inputs": {"a": 1}}
        denied = http.post("/api/v1/projects/team/executions", json=launch, headers=viewer)
        assert (denied.status_code, denied.json()["error"]["code"]) == (403, "forbidden")
        no_csrf = {k: v for k, v in editor.items() if k != CSRF_HEADER}
        refused = http.post("/api/v1/projects/team/executions", json=launch, headers=no_csrf)
        assert (refused.status_code, refused.json()["error"]["code"]) == (403, "csrf")
        assert http.get("/api/v1/projects/team/executions", headers=no_csrf).status_code == 200  # reads need none
        made = http.post("/api/v1/projects/team/executions", json=launch, headers=editor)
        assert made.status_code == 201


def test_a_project_cookie_sees_nothing_of_another_project(client: Client, version: str) -> None:
    eid = client.create_registered("workflow", "pipeline", inputs={"a": 1}, project="team")
    with TestClient(create_app(client, auth=True)) as http:
        other = sign_in(http, create_token(client.store, "other", "admin"))
        http.cookies.clear()
        assert http.get("/api/v1/projects", headers=other).json() == {"projects": [{"name": "other"}]}
        for path in ("/workflows", "/executions", f"/executions/{eid}", f"/executions/{eid}/graph"):
            resp = http.get(f"/api/v1/projects/team{path}", headers=other)
            assert resp.status_code == 404, path
            assert eid not in resp.text
        session = http.get(SESSION_PATH, headers=other).json()
        assert (session["project"], session["role"], session["auth"]) == ("other", "admin", True)
