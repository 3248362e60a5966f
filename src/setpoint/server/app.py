"""The REST API: one versioned route table (``/api/v1``) over `Client`, with bearer-token auth on every route.

The CLI in remote mode, the remote Python client and the web console all use this one API; every
record in it has the one wire form of `setpoint.client.wire`. `ROUTE_MODULES` is the explicit list
of the route modules (`setpoint.server.routes`), each returning its `Route` rows; `create_app`
mounts them all, so the auth matrix test walks the same table and a new route cannot escape it.
Routes under ``/api/v1/projects/{project}`` are scoped to that project: a token of another project
gets 404, as if the project did not exist. Every route also accepts the web console's session
cookie in place of the bearer token (`setpoint.server.console`), with a CSRF header on writes.
Handlers are plain functions (FastAPI runs them in its thread pool) because the store and the
client are synchronous.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from setpoint.client.embedded import Client
from setpoint.errors import SetpointError
from setpoint.server import console
from setpoint.server.context import Api
from setpoint.server.errors import INVALID_REQUEST, ApiError, body, classify
from setpoint.server.routes import (
    bundles,
    catalog,
    decks,
    executions,
    graph,
    history,
    projects,
    registry,
    schedules,
)
from setpoint.server.routing import PREFIX, Principal, Route, mount
from setpoint.server.sessions import Sessions, load_secret

__all__ = ["PREFIX", "ROUTE_MODULES", "Api", "Principal", "Route", "create_app", "routes"]

# Every route the server has, module by module, in the order the OpenAPI document lists them.
ROUTE_MODULES: tuple[ModuleType, ...] = (
    projects,
    registry,
    bundles,
    executions,
    graph,
    history,
    decks,
    catalog,
    schedules,
)

HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 415: "unsupported_media_type"}


def routes(api: Api) -> list[Route]:
    """The route table: every route the server has, with the role it needs."""
    table: list[Route] = []
    for module in ROUTE_MODULES:
        make: Callable[[Api], list[Route]] = module.routes
        table += make(api)
    return table


def create_app(
    client: Client, *, auth: bool = True, local_only: bool = False, console_dist: Path | None = None
) -> FastAPI:
    """The API and the console over ``client``.

    ``auth=False`` serves without tokens, refusing writes from other sites; ``local_only`` (what
    `setpoint ui` sets, without auth) also refuses requests whose Host or Origin is not a loopback
    address. ``console_dist`` is where the built console
    is (the package's own by default).
    """
    api = Api(client, auth=auth)
    app = FastAPI(
        title="setpoint",
        version="1",
        description="Register versioned workflows, create executions, read their history.",
    )
    app.state.api = api
    app.state.routes = routes(api)

    @app.exception_handler(SetpointError)
    def setpoint_error(request: Request, exc: SetpointError) -> JSONResponse:
        status, code = classify(exc)
        return JSONResponse(body(code, str(exc)), status_code=status)

    @app.exception_handler(ApiError)
    def api_error(request: Request, exc: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(body(exc.code, exc.message), status_code=exc.status, headers=headers)

    @app.exception_handler(StarletteHTTPException)
    def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # Raised by the framework itself (unparsable body, unknown path, wrong method).
        code = HTTP_CODES.get(exc.status_code, "bad_request" if exc.status_code < 500 else "internal")
        return JSONResponse(body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(x) for x in e.get('loc', ()))}: {e.get('msg', '')}" for e in exc.errors()[:5]
        )
        return JSONResponse(body(INVALID_REQUEST[1], problems or "invalid request"), status_code=422)

    sessions = Sessions(load_secret(client.settings.home), client.store) if auth else None
    mount(app, console.authorizer(api.principal, sessions), app.state.routes)
    console.mount_console(app, sessions, console.DIST if console_dist is None else console_dist)
    if not auth:
        app.add_middleware(console.SameOrigin, loopback_only=local_only)
    app.add_middleware(console.SecurityHeaders)
    return app
