"""The console's assets and headers, its sign-in cookie, and the loopback guard of `setpoint ui`."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from setpoint.client.embedded import Client
from setpoint.server.app import create_app
from setpoint.server.console import CSP, DIST, SESSION_PATH
from setpoint.server.sessions import COOKIE, SECRET_FILE, Sessions, load_secret
from setpoint.server.tokens import create_token

pytestmark = pytest.mark.timeout(120)

HARDENED = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer", "x-frame-options": "DENY"}


def hardened(headers: object) -> dict[str, str]:
    return {k: headers[k] for k in HARDENED}  # type: ignore[index]


def test_the_console_is_served_with_its_policy(client: Client, tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text('<!doctype html><script type="module" src="/assets/app-1a2b.js"></script>')
    (dist / "assets" / "app-1a2b.js").write_text("console.log('hi')")
    (tmp_path / "secret.txt").write_text("not for the browser")
    with TestClient(create_app(client, auth=True, console_dist=dist)) as http:
        index = http.get("/")
        assert index.status_code == 200
        assert "app-1a2b.js" in index.text
        assert index.headers["content-security-policy"] == CSP
        assert "script-src 'self'" in CSP and "unsafe-inline" not in CSP
        assert index.headers["cache-control"] == "no-cache"
        assert hardened(index.headers) == HARDENED
        js = http.get("/assets/app-1a2b.js")
        assert js.status_code == 200 and js.text == "console.log('hi')"
        assert js.headers["content-type"].startswith(("text/javascript", "application/javascript"))
        assert "immutable" in js.headers["cache-control"] and "max-age=31536000" in js.headers["cache-control"]
        assert js.headers["content-security-policy"] == CSP
        for escape in ("/assets/%2e%2e/%2e%2e/secret.txt", "/assets/..%2f..%2fsecret.txt", "/assets/missing.js"):
            resp = http.get(escape)
            assert resp.status_code == 404, escape
            assert "not for the browser" not in resp.text
        api = http.get("/api/v1/projects")
        assert api.status_code == 401
        assert hardened(api.headers) == HARDENED  # every response is hardened; the CSP is the console's


def test_an_unbuilt_console_says_so(client: Client, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    for dist in (tmp_path / "empty", tmp_path / "missing"):
        with TestClient(create_app(client, auth=False, console_dist=dist)) as http:
            page = http.get("/")
            assert page.status_code == 200
            assert "console was not built" in page.text
            assert page.headers["content-type"].startswith("text/html")
            assert page.headers["content-security-policy"] == CSP
            assert "<script" not in page.text and "style=" not in page.text


def test_the_packaged_console_has_an_index() -> None:
    index = DIST / "index.html"
    assert index.is_file()
    assert "<script>" not in index.read_text()  # no inline script: the CSP would block it


def test_sign_in_sets_a_strict_cookie_that_never_holds_the_token(client: Client) -> None:
    token = create_token(client.store, "team", "editor")
    with TestClient(create_app(client, auth=True)) as http:
        assert http.get(SESSION_PATH).status_code == 401
        bad = http.post(SESSION_PATH, json={"token": token[:-3] + "abc"})
        assert (bad.status_code, bad.json()["error"]["code"]) == (401, "unauthenticated")
        assert COOKIE not in bad.cookies
        resp = http.post(SESSION_PATH, json={"token": token})
        assert resp.status_code == 200
        body = resp.json()
        assert (body["auth"], body["project"], body["role"]) == (True, "team", "editor")
        assert body["csrf"] and token not in resp.text
        set_cookie = resp.headers["set-cookie"]
        assert set_cookie.startswith(f"{COOKIE}=")
        attrs = {a.strip().split("=")[0].lower() for a in set_cookie.split(";")[1:]}
        assert {"httponly", "samesite", "path", "max-age"} <= attrs and "secure" not in attrs
        assert "samesite=strict" in set_cookie.lower() and "path=/" in set_cookie.lower()
        cookie = resp.cookies[COOKIE]
        assert token not in cookie and token[3:20] not in cookie
        assert http.get(SESSION_PATH).json() == body  # the cookie jar sends it back
        assert http.get("/api/v1/projects/team/workflows").status_code == 200
        # A tampered cookie is refused.
        head, payload, sig = cookie.split(".")
        http.cookies.set(COOKIE, f"{head}.{payload}.{sig[:-2]}AA")
        assert http.get(SESSION_PATH).status_code == 401
        assert http.get("/api/v1/projects/team/workflows").status_code == 401
        # Signing out ends that session even if the cookie is replayed.
        http.cookies.set(COOKIE, cookie)
        out = http.delete(SESSION_PATH)
        assert out.status_code == 204
        assert f"{COOKIE}=" in out.headers["set-cookie"] and "max-age=0" in out.headers["set-cookie"].lower()
        replay = {"Cookie": f"{COOKIE}={cookie}"}
        http.cookies.clear()
        assert http.get(SESSION_PATH, headers=replay).status_code == 401
        assert http.get("/api/v1/projects/team/workflows", headers=replay).status_code == 401


def test_the_cookie_is_secure_over_https(client: Client) -> None:
    token = create_token(client.store, "team", "viewer")
    with TestClient(create_app(client, auth=True), base_url="https://console.example") as http:
        resp = http.post(SESSION_PATH, json={"token": token})
        assert resp.status_code == 200
        assert "secure" in resp.headers["set-cookie"].lower()


def test_signing_in_from_another_site_is_refused(client: Client) -> None:
    token = create_token(client.store, "team", "viewer")
    with TestClient(create_app(client, auth=True)) as http:
        resp = http.post(SESSION_PATH, json={"token": token}, headers={"Origin": "https://evil.example"})
        assert resp.status_code == 403
        assert COOKIE not in resp.cookies


def test_the_secret_is_private_and_shared_by_servers_of_one_home(client: Client) -> None:
    token = create_token(client.store, "team", "viewer")
    with TestClient(create_app(client, auth=True)) as first:
        cookie = first.post(SESSION_PATH, json={"token": token}).cookies[COOKIE]
    path = client.settings.home / SECRET_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with TestClient(create_app(client, auth=True)) as second:
        assert second.get(SESSION_PATH, headers={"Cookie": f"{COOKIE}={cookie}"}).json()["project"] == "team"
    path.unlink()
    with TestClient(create_app(client, auth=True)) as renewed:  # a new secret ends every session
        assert renewed.get(SESSION_PATH, headers={"Cookie": f"{COOKIE}={cookie}"}).status_code == 401


def test_sessions_expire(client: Client) -> None:
    token = create_token(client.store, "team", "viewer")
    sessions = Sessions(load_secret(client.settings.home), client.store, ttl_s=60)
    record = sessions.sign_in(token)
    assert record is not None
    cookie, session = sessions.issue(record, now=1000.0)
    assert sessions.read(cookie, now=1059.0) == session
    assert sessions.read(cookie, now=1060.0) is None
    other = Sessions(b"x" * 32, client.store)
    assert other.read(cookie, now=1000.0) is None  # signed under another secret
    assert sessions.csrf(session) != other.csrf(session)


def test_without_auth_the_session_says_so(client: Client) -> None:
    with TestClient(create_app(client, auth=False)) as http:
        assert http.get(SESSION_PATH).json() == {"auth": False, "project": None, "role": "admin", "csrf": None}
        assert http.get("/api/v1/projects").status_code == 200
        assert not (client.settings.home / SECRET_FILE).exists()


def test_a_local_server_refuses_other_hosts_and_origins(client: Client, version: str) -> None:
    app = create_app(client, auth=False, local_only=True)
    launch = {"workflow": "pipeline", "inputs": {"a": 1}}
    url = "/api/v1/projects/team/executions"
    with TestClient(app, base_url="http://127.0.0.1:8700") as http:
        assert http.get("/").status_code == 200
        assert http.get(url).status_code == 200
        same = {"Origin": "http://127.0.0.1:8700", "Sec-Fetch-Site": "same-origin"}
        assert http.post(url, json=launch, headers=same).status_code == 201
        assert http.post(url, json=launch).status_code == 201  # a script (no Origin): allowed
        refused = [
            http.get(url, headers={"Host": "rebound.example:8700"}),  # DNS rebinding
            http.post(url, json=launch, headers={"Origin": "http://evil.example"}),
            http.post(url, json=launch, headers={"Origin": "http://127.0.0.1:9999"}),
            http.post(url, json=launch, headers={"Origin": "null"}),
            http.post(url, json=launch, headers={"Sec-Fetch-Site": "cross-site"}),
        ]
        for resp in refused:
            assert resp.status_code == 403, resp.request.headers
            assert resp.json()["error"]["code"] == "forbidden"
            assert resp.headers["x-frame-options"] == "DENY"
    with TestClient(app, base_url="http://localhost:8700") as http:
        assert http.get(url).status_code == 200
    assert len(client.executions()) == 2  # the two allowed launches; the refused ones made nothing


def test_a_server_without_auth_refuses_writes_from_other_sites(client: Client, version: str) -> None:
    launch = {"workflow": "pipeline", "inputs": {"a": 1}}
    url = "/api/v1/projects/team/executions"
    with TestClient(create_app(client, auth=False), base_url="http://setpoint.internal:8800") as http:
        assert http.get(url, headers={"Host": "other.internal"}).status_code == 200  # any name: not loopback-only
        assert http.get(url, headers={"Origin": "http://elsewhere.example"}).status_code == 200  # reads: CORS's job
        for headers in ({"Origin": "http://elsewhere.example"}, {"Sec-Fetch-Site": "cross-site"}, {"Origin": "null"}):
            resp = http.post(url, json=launch, headers=headers)
            assert (resp.status_code, resp.json()["error"]["code"]) == (403, "forbidden"), headers
        same = {"Origin": "http://setpoint.internal:8800", "Sec-Fetch-Site": "same-origin"}
        assert http.post(url, json=launch, headers=same).status_code == 201
    assert len(client.executions()) == 1


def test_servers_starting_together_agree_on_one_secret(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    home = tmp_path / "fresh-home"
    with ThreadPoolExecutor(8) as pool:
        secrets = set(pool.map(lambda _: load_secret(home), range(16)))
    assert len(secrets) == 1 and len(next(iter(secrets))) == 32
    assert sorted(p.name for p in home.iterdir()) == [SECRET_FILE]  # no temporary file left behind
