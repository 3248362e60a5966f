"""An execution's graph as the console draws it, and the pages of a map or dynamic node's expansion.

Both answers are built by `setpoint.service.graph` (the CLI can read the same view); this module
only scopes them to the project and writes them out. The execution inside the graph is the
record's one wire form, exactly as ``GET .../executions/{id}`` returns it.
"""

# No ``from __future__ import annotations`` in route modules: FastAPI reads the handlers' parameter
# types through `setpoint.server.routing.with_auth`, so they must be real objects.

import dataclasses
from typing import Annotated, Any

from fastapi import Query

from setpoint.client.wire import plain, to_wire
from setpoint.server import models as m
from setpoint.server.context import Api
from setpoint.server.routing import EXECUTION, Principal, Route
from setpoint.service import graph as views


class GraphRoutes:
    def __init__(self, api: Api) -> None:
        self.api = api
        self.store = api.client.store

    def graph(self, who: Principal, project: str, execution_id: str) -> dict[str, Any]:
        self.api.execution(project, execution_id)
        g = views.execution_graph(self.store, execution_id)
        return {
            "execution": plain(to_wire(g.execution), self.api.client.blobs),
            "nodes": [dataclasses.asdict(n) for n in g.nodes],
            "edges": [list(e) for e in g.edges],
        }

    def children(
        self,
        who: Principal,
        project: str,
        execution_id: str,
        node: Annotated[str, Query(min_length=1, max_length=1000, description="an expanded map or dynamic node")],
        cursor: Annotated[str | None, Query(max_length=40, description="the `next` of the previous page")] = None,
        limit: Annotated[int, Query(ge=1, le=views.MAX_PAGE)] = 200,
    ) -> dict[str, Any]:
        self.api.execution(project, execution_id)
        page = views.expansion_page(self.store, execution_id, node, cursor, limit)
        return {
            "items": [dataclasses.asdict(n) for n in page.items],
            "edges": [list(e) for e in page.edges],
            "next": page.next,
        }


def routes(api: Api) -> list[Route]:
    r = GraphRoutes(api)
    return [
        Route("GET", f"{EXECUTION}/graph", r.graph, "viewer", response_model=m.Graph),
        Route("GET", f"{EXECUTION}/graph/children", r.children, "viewer", response_model=m.GraphChildren),
    ]
