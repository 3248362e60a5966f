"""The web console's side of the server: its built assets, its session routes and its headers.

The console is a client of the API like any other; the server only ships it. ``/`` answers the
built ``index.html`` (or a short page saying the console was not built), ``/assets/...`` the
bundle with long cache headers (its file names carry content hashes). Every console response
carries a strict Content-Security-Policy; every response carries the usual hardening headers.

Signing in turns a token into a session cookie (`setpoint.server.sessions`); `authorizer` lets
every API route accept that cookie besides the bearer header. Without auth, `SameOrigin` refuses
writes from other sites; `setpoint ui` listens on a loopback address only, and there it also
refuses requests whose Host or Origin is not that address, so neither a DNS-rebinding page nor a
cross-site form can drive it.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials

from setpoint.server import models as m
from setpoint.server.errors import FORBIDDEN, UNAUTHENTICATED, ApiError, body
from setpoint.server.routing import ERROR_RESPONSES, Authorize, Principal
from setpoint.server.sessions import COOKIE, MUTATING, Sessions

DIST = Path(__file__).parent / "console_dist"

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
HARDENING = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)
CONSOLE_PREFIXES = ("/assets/", "/console/")
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
SESSION_PATH = "/console/session"

NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>setpoint</title></head>
<body><h1>The console was not built</h1>
<p>This setpoint has no console assets. The API is served at <a href="/docs">/docs</a>;
to build the console, run <code>npm ci &amp;&amp; npm run build</code> in <code>console/</code>.</p>
</body></html>
"""

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def is_console(path: str) -> bool:
    return path == "/" or path.startswith(CONSOLE_PREFIXES)


class SecurityHeaders:
    """Adds the hardening headers to every response and the CSP to the console's."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = list(HARDENING)
        if scope["path"].endswith("/deck"):  # a task's report, shown in the console's sandboxed frame
            extra = [h if h[0] != b"x-frame-options" else (b"x-frame-options", b"SAMEORIGIN") for h in extra]
        if is_console(scope["path"]):
            extra.append((b"content-security-policy", CSP.encode()))

        async def with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)


def _host(value: str) -> str | None:
    """The host name of a Host header or an origin's authority ("127.0.0.1:8700" -> "127.0.0.1")."""
    try:
        return urlsplit(f"//{value}").hostname
    except ValueError:
        return None


class SameOrigin:
    """For a server without auth: refuse what a web page of another site could make a browser send.

    A request that writes is refused when its Origin is another origin than the one it is
    addressed to, or when it says it comes from another site (``Sec-Fetch-Site: cross-site``),
    so a page elsewhere cannot launch or terminate through a form or a fetch. With
    ``loopback_only`` (`setpoint ui`), every request must also be addressed to a loopback name
    (a DNS-rebinding page reaches us under its own name) and come from this origin if it says.
    """

    def __init__(self, app: ASGIApp, *, loopback_only: bool) -> None:
        self.app = app
        self.loopback_only = loopback_only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", ())}
        problem = origin_problem(scope["method"], headers, loopback_only=self.loopback_only)
        if problem is None:
            await self.app(scope, receive, send)
            return
        resp = JSONResponse(body(FORBIDDEN[1], problem), status_code=FORBIDDEN[0])
        await resp(scope, receive, send)


def origin_problem(method: str, headers: dict[str, str], *, loopback_only: bool) -> str | None:
    """Why a request must be refused by `SameOrigin`, or None."""
    host = headers.get("host", "")
    writes = method in MUTATING
    if loopback_only and _host(host) not in LOOPBACK:
        return "this server answers only requests addressed to 127.0.0.1 or localhost"
    origin = headers.get("origin")
    if origin is not None and (writes or loopback_only):
        parts = urlsplit(origin)
        if origin == "null" and not writes:
            pass  # a sandboxed frame reading: it learns nothing it could not fetch itself
        elif parts.scheme not in ("http", "https") or parts.netloc != host:
            return "requests from other origins are refused"
    if writes and headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return "requests from other sites are refused"
    return None


def authorizer(bearer: Authorize, sessions: Sessions | None) -> Authorize:
    """The API's auth check: the bearer header when sent, else the console's session cookie."""

    def authorize(request: Request, credentials: HTTPAuthorizationCredentials | None, role: str) -> Principal:
        cookie = request.cookies.get(COOKIE)
        if sessions is not None and credentials is None and cookie:
            return sessions.principal(request, cookie, role)
        return bearer(request, credentials, role)

    return authorize


def _same_origin(request: Request) -> None:
    """Signing in and out from another site's page is refused (login CSRF)."""
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
        raise ApiError(*FORBIDDEN, "requests from other origins are refused")


def mount_console(app: FastAPI, sessions: Sessions | None, dist: Path = DIST) -> None:
    """The console's routes: its assets, and the session routes (in the OpenAPI schema)."""
    local = m.ConsoleSession(auth=False, project=None, role="admin", csrf=None)
    errors: dict[int | str, dict[str, Any]] = {k: v for k, v in ERROR_RESPONSES.items() if k in (401, 403, 422)}

    def get_session(request: Request) -> m.ConsoleSession:
        if sessions is None:
            return local
        cookie = request.cookies.get(COOKIE)
        session = None if not cookie else sessions.read(cookie)
        record = None if session is None else sessions.record(session)
        if session is None or record is None:
            raise ApiError(*UNAUTHENTICATED, "not signed in")
        return m.ConsoleSession(auth=True, project=record.project, role=record.role, csrf=sessions.csrf(session))

    def sign_in(request: Request, response: Response, req: m.SignIn) -> m.ConsoleSession:
        _same_origin(request)
        if sessions is None:
            return local
        record = sessions.sign_in(req.token)
        if record is None:
            raise ApiError(*UNAUTHENTICATED, "the token is not valid")
        cookie, session = sessions.issue(record)
        response.set_cookie(
            COOKIE,
            cookie,
            max_age=int(sessions.ttl_s),
            path="/",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )
        return m.ConsoleSession(auth=True, project=record.project, role=record.role, csrf=sessions.csrf(session))

    def sign_out(request: Request) -> Response:
        _same_origin(request)
        cookie = request.cookies.get(COOKIE)
        if sessions is not None and cookie:
            session = sessions.read(cookie)
            if session is not None:
                sessions.revoke(session)
        response = Response(status_code=204)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return response

    app.add_api_route(
        SESSION_PATH, get_session, methods=["GET"], response_model=m.ConsoleSession, responses=errors, tags=["console"]
    )
    app.add_api_route(
        SESSION_PATH, sign_in, methods=["POST"], response_model=m.ConsoleSession, responses=errors, tags=["console"]
    )
    app.add_api_route(SESSION_PATH, sign_out, methods=["DELETE"], status_code=204, responses=errors, tags=["console"])

    index = dist / "index.html"
    assets = (dist / "assets").resolve()

    def console_index() -> Response:
        if not index.is_file():
            return HTMLResponse(NOT_BUILT, headers={"Cache-Control": "no-cache"})
        return FileResponse(index, media_type="text/html", headers={"Cache-Control": "no-cache"})

    def console_asset(path: str) -> Response:
        target = (assets / path).resolve()
        if not target.is_relative_to(assets) or not target.is_file():
            return JSONResponse(body("not_found", f"no console asset {path[:100]!r}"), status_code=404)
        kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        return FileResponse(target, media_type=kind, headers={"Cache-Control": "public, max-age=31536000, immutable"})

    app.add_api_route("/", console_index, methods=["GET"], include_in_schema=False)
    app.add_api_route("/assets/{path:path}", console_asset, methods=["GET"], include_in_schema=False)
