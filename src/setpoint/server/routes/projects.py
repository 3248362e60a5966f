"""Projects and tokens: the admin's routes."""

# No ``from __future__ import annotations`` in route modules: FastAPI reads the handlers' parameter
# types through `setpoint.server.routing.with_auth`, so they must be real objects.

from typing import Any

from setpoint.server import models as m
from setpoint.server import tokens
from setpoint.server.context import Api
from setpoint.server.routing import PREFIX, PROJECT, Principal, Route


def routes(api: Api) -> list[Route]:
    store, clock = api.client.store, api.client.clock

    def list_projects(who: Principal) -> dict[str, Any]:
        return {"projects": [{"name": n} for n in store.list_projects() if who.sees(n)]}

    def create_project(who: Principal, req: m.CreateProject) -> dict[str, Any]:
        # Idempotent, and the same answer whether or not it existed: a token cannot probe for projects.
        store.create_project(req.name, clock.now())
        return {"name": req.name}

    def create_token(who: Principal, project: str, req: m.CreateToken) -> dict[str, Any]:
        return {"project": project, "role": req.role, "token": tokens.create_token(store, project, req.role)}

    return [
        Route("GET", f"{PREFIX}/projects", list_projects, "viewer", response_model=m.ProjectList),
        Route("POST", f"{PREFIX}/projects", create_project, "admin", 201, m.Project),
        Route("POST", f"{PROJECT}/tokens", create_token, "admin", 201, m.Token),
    ]
