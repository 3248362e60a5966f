"""A node's deck page: the HTML report a task with ``enable_deck=True`` rendered for an attempt.

``GET .../executions/{execution_id}/nodes/{node}/deck[?attempt=N]`` answers the page of the
latest attempt that rendered one (or of attempt N). A deck holds the task's own HTML, scripts
included, so it is served with ``Content-Security-Policy: sandbox allow-scripts``: the browser
runs it in an opaque origin, where it can reach neither the console's session nor the API.
"""

# No ``from __future__ import annotations`` in route modules: FastAPI reads the handlers' parameter
# types through `setpoint.server.routing.with_auth`, so they must be real objects.

from typing import Annotated

from fastapi import Query
from fastapi.responses import HTMLResponse

from setpoint.server.context import Api
from setpoint.server.routing import EXECUTION, Principal, Route
from setpoint.service.inspect import deck_path

DECK_HEADERS = {
    "Content-Security-Policy": "sandbox allow-scripts; frame-ancestors 'self'",
    "Cache-Control": "no-store",
}
HTML_RESPONSE: dict[int | str, dict[str, object]] = {
    200: {"description": "The deck page (text/html)", "content": {"text/html": {"schema": {"type": "string"}}}}
}


class DeckRoutes:
    def __init__(self, api: Api) -> None:
        self.api = api
        self.client = api.client

    def deck(
        self,
        who: Principal,
        project: str,
        execution_id: str,
        node: str,
        attempt: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
    ) -> HTMLResponse:
        self.api.execution(project, execution_id)
        views = self.client.nodes(execution_id, children=True)
        path = deck_path(views, self.client.settings.attempts_root, execution_id, node, attempt)
        return HTMLResponse(path.read_text(errors="replace"), headers=DECK_HEADERS)


def routes(api: Api) -> list[Route]:
    d = DeckRoutes(api)
    return [Route("GET", f"{EXECUTION}/nodes/{{node}}/deck", d.deck, "viewer", responses=HTML_RESPONSE)]
