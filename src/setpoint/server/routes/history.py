"""An execution's history and logs: read once, or followed as Server-Sent Events.

``GET .../logs`` answers plain text for a person with curl, and the log entries as JSON when the
request accepts ``application/json`` (the remote client and the console): one route, two
representations. The streams carry an ``id:`` to resume from (``Last-Event-ID``); a stream ends
with an ``end`` event when there will be nothing more, closes after ``timeout`` seconds otherwise
(the client reconnects), and stops at once when the server shuts down.
"""

# No ``from __future__ import annotations`` in route modules: FastAPI reads the handlers' parameter
# types through `setpoint.server.routing.with_auth`, so they must be real objects.

import json
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import anyio
from fastapi import Header, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse

from setpoint.client.wire import to_wire
from setpoint.errors import InputError, NotFoundError, SetpointError
from setpoint.server import models as m
from setpoint.server.context import Api
from setpoint.server.errors import classify
from setpoint.server.routing import EXECUTION, SSE_RESPONSE, Principal, Route
from setpoint.service import logs as logs_service
from setpoint.service.follow import EventFollower, LogFollower

EVENT_POLL_S = 0.1
LOG_POLL_S = 0.2
PING_S = 1.0  # an idle stream sends a comment this often, so either side notices a dead peer
DEFAULT_STREAM_TIMEOUT_S = 300.0


def sse(event: str, data: Any, event_id: str | None = None) -> bytes:
    """One Server-Sent Event; ``data`` is JSON on a single line."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def _path_id(value: str, what: str) -> str:
    if not value or "/" in value or value in (".", ".."):
        raise NotFoundError(f"{what} {value!r} not found")
    return value


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/plain" not in accept


class HistoryRoutes:
    def __init__(self, api: Api) -> None:
        self.api = api
        self.client = api.client

    def logs(
        self,
        who: Principal,
        project: str,
        execution_id: str,
        request: Request,
        node: str | None = None,
        attempt: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
        texts: bool = True,
    ) -> Any:
        self.api.execution(project, execution_id)
        plan = logs_service.select(self.client.store, execution_id, node, attempt)
        rows = logs_service.read_entries(plan, self.client.log_paths()) if texts else []
        notes = [n.to_json() for n in plan.notes]
        if _wants_json(request):
            return JSONResponse(
                {"logs": [{"attempt_id": a, "stream": s, "text": t} for a, s, t in rows], "notes": notes}
            )
        lines = [f"==> {a} {s} <==\n{t}" for a, s, t in rows if t]
        lines += [f"==> {n['node']} <==\n{n['message']}\n" for n in notes]
        return PlainTextResponse("\n".join(lines))

    def events(
        self,
        who: Principal,
        project: str,
        execution_id: str,
        after: Annotated[int, Query(ge=0, le=2**62)] = 0,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    ) -> dict[str, Any]:
        self.api.execution(project, execution_id)
        evs = self.client.store.events(execution_id, after, limit)
        return {"events": [to_wire(e) for e in evs], "next_after": evs[-1].seq if evs else after}

    def events_stream(
        self,
        who: Principal,
        project: str,
        execution_id: str,
        after: Annotated[int, Query(ge=0, le=2**62)] = 0,
        timeout: Annotated[float, Query(ge=0, le=3600)] = DEFAULT_STREAM_TIMEOUT_S,
        last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=40)] = None,
    ) -> StreamingResponse:
        self.api.execution(project, execution_id)
        if last_event_id:
            if not last_event_id.strip().isdigit():
                raise InputError(f"Last-Event-ID {last_event_id[:40]!r} is not an event sequence number")
            after = max(after, int(last_event_id.strip()))
        follower = EventFollower(self.client.store, execution_id, after)

        def poll() -> list[bytes]:
            out = [sse("event", to_wire(e), str(e.seq)) for e in follower.poll()]
            if follower.ended is not None:
                out.append(sse("end", {"phase": follower.ended.value}))
            return out

        return self._stream(poll, lambda: follower.ended is not None, timeout, EVENT_POLL_S)

    def logs_stream(
        self,
        who: Principal,
        project: str,
        execution_id: str,
        node: Annotated[str, Query(min_length=1, max_length=300)],
        attempt: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
        timeout: Annotated[float, Query(ge=0, le=3600)] = DEFAULT_STREAM_TIMEOUT_S,
        after: Annotated[str | None, Query(max_length=60, description="a cursor: the id of the last message")] = None,
        last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=60)] = None,
    ) -> StreamingResponse:
        self.api.execution(project, execution_id)
        node = _path_id(node, "node")
        if node not in {v.node_id for v in self.client.nodes(execution_id, children=True)}:
            raise NotFoundError(f"execution '{execution_id}' has no node '{node}'")
        follower = LogFollower(
            self.client.store,
            self.client.settings.attempts_root,
            execution_id,
            node,
            attempt,
            last_event_id or after,
        )

        def poll() -> list[bytes]:
            out = [
                sse(
                    "log",
                    {"attempt_id": c.attempt_id, "stream": c.stream, "offset": c.offset, "text": c.text},
                    c.cursor,
                )
                for c in follower.poll()
            ]
            if follower.ended:
                out.append(sse("end", {"cursor": follower.cursor}))
            return out

        return self._stream(poll, lambda: follower.ended, timeout, LOG_POLL_S)

    def _stream(
        self, poll: Callable[[], list[bytes]], ended: Callable[[], bool], timeout: float, every: float
    ) -> StreamingResponse:
        stopping = self.api.stopping

        async def body() -> AsyncIterator[bytes]:
            deadline = anyio.current_time() + timeout
            quiet_since = anyio.current_time()
            yield b"retry: 1000\n\n"
            while True:
                try:
                    messages = await anyio.to_thread.run_sync(poll)
                except SetpointError as e:
                    status, code = classify(e)
                    yield sse("error", {"code": code, "status": status, "message": str(e)})
                    return
                for msg in messages:
                    yield msg
                now = anyio.current_time()
                if messages:
                    quiet_since = now
                if ended() or stopping() or now >= deadline:
                    return
                if now - quiet_since >= PING_S:
                    quiet_since = now
                    yield b": ping\n\n"
                await anyio.sleep(every)

        return StreamingResponse(
            body(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )


def routes(api: Api) -> list[Route]:
    h = HistoryRoutes(api)
    E = EXECUTION
    return [
        Route("GET", f"{E}/logs", h.logs, "viewer", response_model=m.LogEntries, text=True),
        Route("GET", f"{E}/events", h.events, "viewer", response_model=m.EventList),
        Route("GET", f"{E}/events/stream", h.events_stream, "viewer", responses=SSE_RESPONSE),
        Route("GET", f"{E}/logs/stream", h.logs_stream, "viewer", responses=SSE_RESPONSE),
    ]
