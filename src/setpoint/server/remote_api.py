"""Routes for the remote CLI and client: full records, code bundle upload, batch registration, streams.

``setpoint --server URL ...`` compiles and captures code on the user's machine and talks only
HTTP, so the server has to take what the embedded client would have written locally:

- **Code bundles** (``PUT .../bundles/{digest}``): the raw zip, verified before it is kept — its
  SHA-256 must be the digest in the path, its size within the bundle limit, and every member a
  plain relative file (no absolute paths, no ``..``, no links): a hostile archive is refused
  whole. Uploading is idempotent, so clients just upload (after an optional presence check).
- **Records** (``.../records/...``): executions, nodes and catalog entries as the embedded client
  returns them, literals intact (`setpoint.client.wire`), so one rendering path serves both modes.
- **Streams** (Server-Sent Events): an execution's events until it ends, and a node's attempt
  logs as they grow. Each message carries an ``id:`` to resume from (``Last-Event-ID``); a stream
  ends with an ``end`` event when there will be nothing more, closes after ``timeout`` seconds
  otherwise (the client reconnects), and stops at once when the server shuts down.
"""

# No ``from __future__ import annotations`` here: FastAPI reads the handlers' parameter types
# through `setpoint.server.app`'s wrapper, so they must be real objects, not names to resolve.

import hashlib
import io
import json
import stat
import zipfile
from collections.abc import AsyncIterator, Callable
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Annotated, Any

import anyio
from fastapi import Header, Query, Request
from fastapi.responses import StreamingResponse

from setpoint.adapters.bundle import MAX_BUNDLE_BYTES
from setpoint.client import wire
from setpoint.errors import InputError, NotFoundError, SetpointError
from setpoint.ports import BlobRef, RegisteredEntity, SystemClock
from setpoint.server import models as m
from setpoint.server import remote_models as rm
from setpoint.server.errors import ApiError, classify
from setpoint.service.follow import EventFollower, LogFollower

if TYPE_CHECKING:
    from setpoint.server.app import Api, Principal, Route

MAX_BUNDLE_FILES = 20_000
EVENT_POLL_S = 0.1
LOG_POLL_S = 0.2
PING_S = 1.0  # an idle stream sends a comment this often, so either side notices a dead peer
DEFAULT_STREAM_TIMEOUT_S = 300.0

SSE_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Server-Sent Events (text/event-stream)",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}
BUNDLE_BODY = {
    "requestBody": {
        "required": True,
        "description": "the code bundle: a zip archive, as `setpoint run` / `setpoint register` capture it",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


def sse(event: str, data: Any, event_id: str | None = None) -> bytes:
    """One Server-Sent Event; ``data`` is JSON on a single line."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def check_bundle_archive(digest: str, data: bytes) -> None:
    """Refuse an upload unless it is the zip the digest names, made only of plain relative files."""
    actual = hashlib.sha256(data).hexdigest()
    if actual != digest:
        raise ApiError(422, "digest_mismatch", f"the uploaded bundle's sha256 is {actual}, not {digest}")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError) as e:
        raise ApiError(422, "invalid_bundle", f"code bundle {digest[:12]} is not a zip archive: {e}") from None
    if len(infos) > MAX_BUNDLE_FILES:
        raise ApiError(422, "invalid_bundle", f"code bundle {digest[:12]} holds over {MAX_BUNDLE_FILES} files")
    total = 0
    for info in infos:
        name = info.filename
        rel = PurePosixPath(name)
        mode = info.external_attr >> 16
        if (
            not name
            or "\\" in name
            or "\x00" in name
            or rel.is_absolute()
            or ".." in rel.parts
            or (len(name) > 1 and name[1] == ":")
            or stat.S_ISLNK(mode)
        ):
            raise ApiError(
                422,
                "invalid_bundle",
                f"code bundle {digest[:12]} holds an unsafe path {name[:200]!r}; nothing was kept",
            )
        total += info.file_size
        if total > MAX_BUNDLE_BYTES:
            raise ApiError(
                413, "too_large", f"code bundle {digest[:12]} unpacks to over {MAX_BUNDLE_BYTES // (1 << 20)} MiB"
            )


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "too_large", f"a code bundle may be at most {limit // (1 << 20)} MiB; got {declared} bytes")
    buf = bytearray()
    async for chunk in request.stream():
        buf += chunk
        if len(buf) > limit:
            raise ApiError(413, "too_large", f"a code bundle may be at most {limit // (1 << 20)} MiB")
    return bytes(buf)


def _path_id(value: str, what: str) -> str:
    if not value or "/" in value or value in (".", ".."):
        raise NotFoundError(f"{what} {value!r} not found")
    return value


class RemoteApi:
    """The handlers; bound to the `Api` (and so to its client and auth) that owns the route table."""

    def __init__(self, api: "Api") -> None:
        self.api = api
        self.client = api.client

    # -- code bundles ---------------------------------------------------------------------------
    def bundle_status(
        self, who: "Principal", project: str, digest: str, size: Annotated[int, Query(ge=0, le=MAX_BUNDLE_BYTES)]
    ) -> dict[str, Any]:
        """Whether the server has this bundle (``size``: its length in bytes, as the client captured it)."""
        digest = self._digest(digest)
        present = self.client.blobs.exists(BlobRef(f"sha256:{digest}", digest, size))
        return {"digest": digest, "present": present}

    def upload_bundle(self, who: "Principal", project: str, digest: str, request: Request) -> dict[str, Any]:
        digest = self._digest(digest)
        data = anyio.from_thread.run(_read_limited, request, MAX_BUNDLE_BYTES)
        check_bundle_archive(digest, data)
        if self.client.blobs.exists(BlobRef(f"sha256:{digest}", digest, len(data))):
            return {"digest": digest, "size": len(data), "created": False}
        stored = self.client.blobs.put_bytes(data)
        if stored.sha256 != digest:  # put_bytes hashes again; cannot differ after the check above
            raise ApiError(500, "internal", f"code bundle {digest[:12]} was stored under another digest")
        return {"digest": digest, "size": len(data), "created": True}

    @staticmethod
    def _digest(digest: str) -> str:
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise InputError(f"a bundle digest is 64 lowercase hex digits (sha256); got {digest[:80]!r}")
        return digest

    # -- registration and ad-hoc executions ----------------------------------------------------------
    def register_batch(self, who: "Principal", project: str, req: rm.RegisterBatch) -> dict[str, Any]:
        """Register what `setpoint register` found, all or nothing (a conflict writes nothing)."""
        from setpoint.service import registry
        from setpoint.spec.canonical import canonical_json
        from setpoint.spec.workflow import NODE_ID_RE, TaskSpec, WorkflowSpec, check_name
        from setpoint.types import validate_literal

        self.api._check_bundle(req.code_digest)
        now = SystemClock().now()
        entities: list[RegisteredEntity] = []
        for i, body in enumerate(req.tasks):
            task = TaskSpec.from_json(body, f"tasks[{i}]")
            entities.append(registry.task_entity(project, req.version, task, req.code_digest, now))
        specs: dict[str, str] = {}
        workflows: dict[str, RegisteredEntity] = {}
        for body in req.workflows:
            spec = WorkflowSpec.from_json(body)
            specs[spec.digest] = canonical_json(spec.to_json())
            if spec.name in workflows:
                raise InputError(f"two workflows are named '{spec.name}'; workflow names must be unique")
            workflows[spec.name] = registry.workflow_entity(project, req.version, spec, req.code_digest, now)
            interface = spec.interface
            for lp in req.launchplans:
                if lp.workflow != spec.name:
                    continue
                check_name(lp.name, "launch plan name", pattern=NODE_ID_RE)
                declared = interface.input_map
                for what, values in (("default", lp.default_inputs), ("fixed", lp.fixed_inputs)):
                    for k, v in values.items():
                        if k not in declared:
                            raise InputError(f"launch plan '{lp.name}': workflow '{spec.name}' has no input '{k}'")
                        validate_literal(v, declared[k].type, where=f"launch plan '{lp.name}', {what} input '{k}'")
        entities.extend(sorted(workflows.values(), key=lambda e: e.name))
        for lp in req.launchplans:
            wf = workflows.get(lp.workflow)
            if wf is None:
                raise InputError(f"launch plan '{lp.name}' names workflow '{lp.workflow}', which is not in this batch")
            spec = WorkflowSpec.from_json(json.loads(specs[wf.spec_digest]))
            schedule = registry.checked_schedule(
                lp.schedule, spec.interface, lp.default_inputs, lp.fixed_inputs, lp.name
            )
            entities.append(
                registry.launchplan_entity(
                    project, req.version, lp.name, wf, lp.default_inputs, lp.fixed_inputs, now, schedule
                )
            )
        if not entities:
            raise InputError("nothing to register: give at least one task, workflow or launch plan")
        done = registry.register_entities(self.client.store, project, entities, specs, now)
        return {
            "version": req.version,
            "entities": [{"entity": self.api.entity_json(r.entity), "created": r.created} for r in done],
        }

    def create_from_spec(self, project: str, req: m.CreateExecution) -> dict[str, Any]:
        """An execution of a workflow compiled by the caller (``setpoint run --server``)."""
        from setpoint.spec.workflow import WorkflowSpec

        if req.code_digest is None:
            raise ApiError(422, "invalid_request", "an execution from a 'spec' needs its 'code_digest'")
        assert req.spec is not None
        spec = WorkflowSpec.from_json(req.spec)
        self.api._check_bundle(req.code_digest)
        eid = self.client.create_from_spec(
            spec,
            req.code_digest,
            req.inputs,
            project=project,
            max_parallelism=req.max_parallelism,
            overwrite_cache=req.overwrite_cache,
        )
        return self.api.execution_json(self.client.get(eid))

    # -- records --------------------------------------------------------------------------------
    def list_records(
        self,
        who: "Principal",
        project: str,
        phase: Annotated[list[str] | None, Query(description="repeat to allow several phases")] = None,
        workflow: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 20,
        before: str | None = None,
    ) -> dict[str, Any]:
        records, nxt = self.api.execution_page(project, phase, workflow, limit, before)
        return {"executions": [wire.execution_to_wire(r) for r in records], "next": nxt}

    def record(self, who: "Principal", project: str, execution_id: str) -> dict[str, Any]:
        return wire.execution_to_wire(self.api.execution(project, execution_id))

    def node_records(self, who: "Principal", project: str, execution_id: str, children: bool = False) -> dict[str, Any]:
        self.api.execution(project, execution_id)
        return {
            "nodes": [
                {
                    "node_id": v.node_id,
                    "task": v.task,
                    "upstream": list(v.upstream),
                    "record": wire.node_to_wire(v.record),
                    "attempts": [wire.attempt_to_wire(a) for a in v.attempts],
                }
                for v in self.client.nodes(execution_id, children=children)
            ]
        }

    def spec(self, who: "Principal", project: str, execution_id: str) -> dict[str, Any]:
        self.api.execution(project, execution_id)
        return {"spec": self.client.spec(execution_id).to_json()}

    def cache_records(
        self,
        who: "Principal",
        project: str,
        task: str | None = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    ) -> dict[str, Any]:
        entries = self.client.cache_entries(project=project, task=task, limit=limit)
        return {"entries": [wire.catalog_entry_to_wire(e) for e in entries]}

    def cache_evict(self, who: "Principal", project: str, req: rm.CacheEvict) -> dict[str, Any]:
        if not (req.keys or req.task or req.execution):
            raise InputError("say what to evict: 'keys', 'task' or 'execution'")
        n = self.client.cache_evict(project=project, keys=req.keys, task=req.task, execution=req.execution)
        return {"evicted": n}

    def cache_explain(self, who: "Principal", project: str, execution_id: str, node: str) -> dict[str, Any]:
        self.api.execution(project, execution_id)
        return {"explanation": self.client.cache_explain(execution_id, node)}

    def recovery_plan(self, who: "Principal", project: str, execution_id: str) -> dict[str, Any]:
        self.api.execution(project, execution_id)
        return {"plan": [wire.as_dict(i) for i in self.client.recover_plan(execution_id)]}

    def lineage_upstream(
        self, who: "Principal", project: str, execution_id: str, node: str | None = None
    ) -> dict[str, Any]:
        self.api.execution(project, execution_id)
        return {"lineage": [t.to_json() for t in self.client.lineage(execution_id, node)]}

    def lineage_consumers(
        self, who: "Principal", project: str, execution_id: str, node: str, output: str | None = None
    ) -> dict[str, Any]:
        self.api.execution(project, execution_id)
        found = self.client.consumers(execution_id, node, output)
        # Consumers may be in any execution: show only those of the caller's projects.
        visible = {c.execution for c in found if who.sees(self.client.get(c.execution).project)}
        return {"consumers": [wire.as_dict(c) for c in found if c.execution in visible]}

    def log_entries(
        self,
        who: "Principal",
        project: str,
        execution_id: str,
        node: str | None = None,
        attempt: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
    ) -> dict[str, Any]:
        self.api.execution(project, execution_id)
        rows = self.client.logs(execution_id, node, attempt)
        return {"logs": [{"attempt_id": a, "stream": s, "text": t} for a, s, t in rows]}

    # -- streams ----------------------------------------------------------------------------------
    def events_stream(
        self,
        who: "Principal",
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
            out = [sse("event", wire.event_to_wire(e), str(e.seq)) for e in follower.poll()]
            if follower.ended is not None:
                out.append(sse("end", {"phase": follower.ended.value}))
            return out

        return self._stream(poll, lambda: follower.ended is not None, timeout, EVENT_POLL_S)

    def logs_stream(
        self,
        who: "Principal",
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


def remote_routes(api: "Api", prefix: str, project_prefix: str) -> "list[Route]":
    from setpoint.server.app import Route

    r = RemoteApi(api)
    P = project_prefix
    E = f"{P}/executions/{{execution_id}}"
    R = f"{P}/records/executions"
    return [
        Route("GET", f"{P}/bundles/{{digest}}", r.bundle_status, "viewer", response_model=rm.BundleStatus),
        Route(
            "PUT",
            f"{P}/bundles/{{digest}}",
            r.upload_bundle,
            "editor",
            response_model=rm.BundleUpload,
            openapi_extra=BUNDLE_BODY,
        ),
        Route("POST", f"{P}/registrations", r.register_batch, "editor", 201, rm.BatchRegistration),
        Route("GET", R, r.list_records, "viewer", response_model=rm.RecordList),
        Route("GET", f"{R}/{{execution_id}}", r.record, "viewer", response_model=rm.ExecutionRecordOut),
        Route("GET", f"{R}/{{execution_id}}/nodes", r.node_records, "viewer", response_model=rm.NodeRecordList),
        Route("GET", f"{P}/records/cache", r.cache_records, "viewer", response_model=rm.CatalogRecordList),
        Route("POST", f"{P}/cache/evict", r.cache_evict, "editor", response_model=rm.Evicted),
        Route("GET", f"{E}/spec", r.spec, "viewer", response_model=rm.SpecOut),
        Route("GET", f"{E}/cache-explain", r.cache_explain, "viewer", response_model=rm.Explanation),
        Route("GET", f"{E}/recovery-plan", r.recovery_plan, "viewer", response_model=rm.RecoveryPlan),
        Route("GET", f"{E}/lineage/upstream", r.lineage_upstream, "viewer", response_model=rm.LineageTrees),
        Route("GET", f"{E}/lineage/consumers", r.lineage_consumers, "viewer", response_model=rm.ConsumerList),
        Route("GET", f"{E}/log-entries", r.log_entries, "viewer", response_model=rm.LogEntries),
        Route("GET", f"{E}/events/stream", r.events_stream, "viewer", responses=SSE_RESPONSE),
        Route("GET", f"{E}/logs/stream", r.logs_stream, "viewer", responses=SSE_RESPONSE),
    ]
