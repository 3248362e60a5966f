"""What a route is, who calls it, and how a route table is mounted with auth on every route.

Every route is one `Route` row (method, path, handler, the role it needs). The route modules
(`setpoint.server.routes`) each return their rows; `setpoint.server.app` lists the modules and
mounts the table with `mount`, so the auth matrix test walks the same table and a new route
cannot escape the bearer check. This module imports no route and no handler: the route modules
import it, never the other way round.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

PREFIX = "/api/v1"
PROJECT = f"{PREFIX}/projects/{{project}}"
EXECUTION = f"{PROJECT}/executions/{{execution_id}}"

bearer = HTTPBearer(auto_error=False, description="A token from `setpoint token create`.")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a token's project and role, or everyone (``project=None``) without auth."""

    project: str | None
    role: str

    def sees(self, project: str) -> bool:
        return self.project is None or self.project == project


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    handler: Callable[..., Any]
    role: str  # viewer | editor | admin
    status: int = 200
    response_model: Any = None
    text: bool = False  # text/plain (as well as JSON when the route negotiates) instead of only JSON
    responses: dict[int | str, dict[str, Any]] | None = None  # other success responses (event streams)
    openapi_extra: dict[str, Any] | None = None  # a request body the handler reads itself


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in (
        (400, "Bad request"),
        (401, "No or invalid token"),
        (403, "The token's role is not enough"),
        (404, "Not found (or not visible to the token)"),
        (409, "Conflict"),
        (413, "Too large"),
        (422, "Invalid input"),
        (503, "Store unavailable"),
    )
}

TEXT_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"description": "Plain text", "content": {"text/plain": {"schema": {"type": "string"}}}}
}

SSE_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Server-Sent Events (text/event-stream)",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}

# Who is calling, given the request, its bearer credentials and the role the route needs.
Authorize = Callable[[Request, HTTPAuthorizationCredentials | None, str], Principal]


def with_auth(authorize: Authorize, route: Route) -> Callable[..., Any]:
    """``route.handler`` with its first parameter (``who``) filled by the auth check."""
    sig = inspect.signature(route.handler)
    params = list(sig.parameters.values())[1:]

    def who(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
    ) -> Principal:
        return authorize(request, credentials, route.role)

    def endpoint(*args: Any, **kwargs: Any) -> Any:
        principal = kwargs.pop("_who")
        return route.handler(principal, *args, **kwargs)

    dep = inspect.Parameter("_who", inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[Principal, Depends(who)])
    ordered = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in params]
    endpoint.__signature__ = sig.replace(parameters=[dep, *ordered])  # type: ignore[attr-defined]
    endpoint.__name__ = route.handler.__name__ if route.handler.__name__ != "handler" else route.path
    return endpoint


def mount(app: FastAPI, authorize: Authorize, table: list[Route]) -> None:
    for route in table:
        app.add_api_route(
            route.path,
            with_auth(authorize, route),
            methods=[route.method],
            status_code=route.status,
            response_model=route.response_model,
            response_class=JSONResponse,
            responses={**ERROR_RESPONSES, **(route.responses or {}), **(_text(route) if route.text else {})},
            openapi_extra=route.openapi_extra,
        )


def _text(route: Route) -> dict[int | str, dict[str, Any]]:
    """A route that answers text by default and JSON on ``Accept: application/json`` documents both."""
    if route.response_model is None:
        return TEXT_RESPONSE
    return {
        200: {
            "description": "Plain text, or JSON when the request accepts application/json",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    }
