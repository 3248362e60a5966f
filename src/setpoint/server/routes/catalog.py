"""The cache (catalog entries: list, evict, explain a miss) and lineage (what fed what, who consumed what)."""

# No ``from __future__ import annotations`` in route modules: FastAPI reads the handlers' parameter
# types through `setpoint.server.routing.with_auth`, so they must be real objects.

from typing import Annotated, Any

from fastapi import Query

from setpoint.client.wire import to_wire
from setpoint.errors import InputError
from setpoint.server import models as m
from setpoint.server.context import Api
from setpoint.server.routing import EXECUTION, PROJECT, Principal, Route


class CatalogRoutes:
    def __init__(self, api: Api) -> None:
        self.api = api
        self.client = api.client

    def cache(
        self,
        who: Principal,
        project: str,
        task: str | None = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    ) -> dict[str, Any]:
        entries = self.client.cache_entries(project=project, task=task, limit=limit)
        return {"entries": [to_wire(e) for e in entries]}

    def cache_evict(self, who: Principal, project: str, req: m.CacheEvict) -> dict[str, Any]:
        if not (req.keys or req.task or req.execution):
            raise InputError("say what to evict: 'keys', 'task' or 'execution'")
        n = self.client.cache_evict(project=project, keys=req.keys, task=req.task, execution=req.execution)
        return {"evicted": n}

    def cache_explain(self, who: Principal, project: str, execution_id: str, node: str) -> dict[str, Any]:
        self.api.execution(project, execution_id)
        return {"explanation": self.client.cache_explain(execution_id, node)}

    def lineage(self, who: Principal, project: str, execution_id: str) -> dict[str, Any]:
        self.api.execution(project, execution_id)
        return {"rows": [to_wire(r) for r in self.client.store.lineage_of(execution_id)]}

    def lineage_upstream(
        self, who: Principal, project: str, execution_id: str, node: str | None = None
    ) -> dict[str, Any]:
        self.api.execution(project, execution_id)
        return {"lineage": [to_wire(t) for t in self.client.lineage(execution_id, node)]}

    def lineage_consumers(
        self, who: Principal, project: str, execution_id: str, node: str, output: str | None = None
    ) -> dict[str, Any]:
        self.api.execution(project, execution_id)
        found = self.client.consumers(execution_id, node, output)
        # Consumers may be in any execution: show only those of the caller's projects.
        visible = {c.execution for c in found if who.sees(self.client.get(c.execution).project)}
        return {"consumers": [to_wire(c) for c in found if c.execution in visible]}


def routes(api: Api) -> list[Route]:
    c = CatalogRoutes(api)
    E = EXECUTION
    return [
        Route("GET", f"{PROJECT}/cache", c.cache, "viewer", response_model=m.CacheList),
        Route("POST", f"{PROJECT}/cache/evict", c.cache_evict, "editor", response_model=m.Evicted),
        Route("GET", f"{E}/cache-explain", c.cache_explain, "viewer", response_model=m.Explanation),
        Route("GET", f"{E}/lineage", c.lineage, "viewer", response_model=m.LineageList),
        Route("GET", f"{E}/lineage/upstream", c.lineage_upstream, "viewer", response_model=m.LineageTrees),
        Route("GET", f"{E}/lineage/consumers", c.lineage_consumers, "viewer", response_model=m.ConsumerList),
    ]
