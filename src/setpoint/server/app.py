"""The REST API: an explicit route table over `Client`, with bearer-token auth on every route.

Every route is one row of `ROUTES` (method, path, handler, the role it needs); `create_app` mounts
them all, so the auth matrix test walks the same table and a new route cannot escape it. Routes
under ``/api/v1/projects/{project}`` are scoped to that project: a token of another project gets
404, as if the project did not exist. Handlers are plain functions (FastAPI runs them in its thread
pool) because the store and the client are synchronous.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

from setpoint.client.embedded import Client, literal_to_plain
from setpoint.core.model import ExecutionRecord
from setpoint.core.phases import ExecutionPhase
from setpoint.errors import InputError, NotFoundError, SetpointError
from setpoint.ports import ExecutionFilter, RegisteredEntity, SystemClock, TokenRecord
from setpoint.server import models as m
from setpoint.server import tokens
from setpoint.server.errors import FORBIDDEN, INVALID_REQUEST, UNAUTHENTICATED, ApiError, body, classify

PREFIX = "/api/v1"
P = f"{PREFIX}/projects/{{project}}"

HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 415: "unsupported_media_type"}

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
    text: bool = False  # text/plain instead of JSON
    responses: dict[int | str, dict[str, Any]] | None = None  # other success responses (event streams)
    openapi_extra: dict[str, Any] | None = None  # a request body the handler reads itself


class Api:
    """The handlers, bound to one client (and so one store, blob store and maybe controller)."""

    def __init__(self, client: Client, *, auth: bool) -> None:
        self.client = client
        self.auth = auth
        # Set by `setpoint server` to its shutdown flag: open streams end when it turns true.
        self.stopping: Callable[[], bool] = lambda: False

    # -- auth ---------------------------------------------------------------------------------
    def principal(self, request: Request, credentials: HTTPAuthorizationCredentials | None, role: str) -> Principal:
        if not self.auth:
            return Principal(None, "admin")
        if credentials is None or not credentials.credentials:
            raise ApiError(*UNAUTHENTICATED, "this route needs a bearer token (Authorization: Bearer <token>)")
        record: TokenRecord | None = tokens.lookup(self.client.store, credentials.credentials)
        if record is None:
            raise ApiError(*UNAUTHENTICATED, "the bearer token is not valid")
        project = request.path_params.get("project")
        if project is not None and project != record.project:
            raise NotFoundError(f"project '{project}' not found")
        if not tokens.allows(record.role, role):
            raise ApiError(*FORBIDDEN, f"this route needs the {role} role; the token has {record.role}")
        return Principal(record.project, record.role)

    # -- views --------------------------------------------------------------------------------
    def execution_json(self, rec: ExecutionRecord) -> dict[str, Any]:
        blobs = self.client.blobs
        return {
            "id": rec.id,
            "project": rec.project,
            "workflow": rec.workflow,
            "phase": rec.phase.value,
            "created_at": rec.created_at,
            "updated_at": rec.updated_at,
            "started_at": rec.started_at,
            "finished_at": rec.finished_at,
            "spec_digest": rec.spec_digest,
            "code_digest": rec.code_digest,
            "mode": rec.mode,
            "source_id": rec.source_id,
            "abort_reason": rec.abort_reason,
            "error": rec.error.to_json() if rec.error is not None else None,
            "inputs": {k: literal_to_plain(v, blobs) for k, v in rec.inputs.items()},
            "outputs": None if rec.outputs is None else {k: literal_to_plain(v, blobs) for k, v in rec.outputs.items()},
        }

    def execution(self, project: str, execution_id: str) -> ExecutionRecord:
        rec = self.client.get(execution_id)
        if rec.project != project:
            raise NotFoundError(f"execution {execution_id!r} not found")
        return rec

    @staticmethod
    def entity_json(e: RegisteredEntity) -> dict[str, Any]:
        return {
            "kind": e.kind,
            "project": e.project,
            "name": e.name,
            "version": e.version,
            "digest": e.digest,
            "spec_digest": e.spec_digest,
            "code_digest": e.code_digest,
            "created_at": e.created_at,
            "body": e.body,
        }

    # -- projects and tokens --------------------------------------------------------------------
    def list_projects(self, who: Principal) -> dict[str, Any]:
        names = self.client.store.list_projects()
        return {"projects": [{"name": n} for n in names if who.sees(n)]}

    def create_project(self, who: Principal, req: m.CreateProject) -> dict[str, Any]:
        # Idempotent, and the same answer whether or not it existed: a token cannot probe for projects.
        self.client.store.create_project(req.name, SystemClock().now())
        return {"name": req.name}

    def create_token(self, who: Principal, project: str, req: m.CreateToken) -> dict[str, Any]:
        return {
            "project": project,
            "role": req.role,
            "token": tokens.create_token(self.client.store, project, req.role),
        }

    # -- registry -----------------------------------------------------------------------------
    def list_entities(self, kind: str) -> Callable[..., Any]:
        def handler(who: Principal, project: str, limit: Annotated[int, Query(ge=1, le=1000)] = 1000) -> Any:
            return {"entities": [self.entity_json(e) for e in self.client.store.list_entities(kind, project, limit)]}

        return handler

    def get_entity(self, kind: str) -> Callable[..., Any]:
        def handler(who: Principal, project: str, name: str) -> Any:
            return self.entity_json(self.client.store.get_entity(kind, project, name))

        return handler

    def get_entity_version(self, kind: str) -> Callable[..., Any]:
        def handler(who: Principal, project: str, name: str, version: str) -> Any:
            return self.entity_json(self.client.store.get_entity(kind, project, name, version))

        return handler

    def list_versions(self, kind: str) -> Callable[..., Any]:
        def handler(who: Principal, project: str, name: str, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> Any:
            versions = self.client.store.list_entity_versions(kind, project, name, limit)
            if not versions:
                self.client.store.get_entity(kind, project, name)  # raises the not-found error
            return {"entities": [self.entity_json(e) for e in versions]}

        return handler

    def _registered(self, project: str, entity: RegisteredEntity, specs: dict[str, str]) -> dict[str, Any]:
        from setpoint.service.registry import register_entities

        (done,) = register_entities(self.client.store, project, [entity], specs, entity.created_at)
        return {"entity": self.entity_json(done.entity), "created": done.created}

    def _check_bundle(self, digest: str) -> None:
        from setpoint.errors import BlobError

        try:
            self.client.bundles.path(digest)
        except BlobError:
            raise InputError(
                f"code bundle {digest[:12]} is not in the blob store; upload it first "
                f"(PUT {PREFIX}/projects/<project>/bundles/<digest>, as `setpoint --server URL register` does)"
            ) from None

    def register_workflow(self, who: Principal, project: str, req: m.RegisterWorkflow) -> dict[str, Any]:
        from setpoint.service import registry
        from setpoint.spec.canonical import canonical_json
        from setpoint.spec.workflow import WorkflowSpec

        spec = WorkflowSpec.from_json(req.spec)
        self._check_bundle(req.code_digest)
        version = req.version or registry.default_version(req.code_digest, [spec.digest])
        entity = registry.workflow_entity(project, version, spec, req.code_digest, SystemClock().now())
        return self._registered(project, entity, {spec.digest: canonical_json(spec.to_json())})

    def register_task(self, who: Principal, project: str, req: m.RegisterTask) -> dict[str, Any]:
        from setpoint.service import registry
        from setpoint.spec.workflow import TaskSpec

        spec = TaskSpec.from_json(req.spec, "task spec")
        self._check_bundle(req.code_digest)
        version = req.version or registry.default_version(req.code_digest, [registry.content_digest(spec.to_json())])
        entity = registry.task_entity(project, version, spec, req.code_digest, SystemClock().now())
        return self._registered(project, entity, {})

    def register_launchplan(self, who: Principal, project: str, req: m.RegisterLaunchPlan) -> dict[str, Any]:
        from setpoint.service import registry
        from setpoint.spec.workflow import NODE_ID_RE, WorkflowSpec, check_name
        from setpoint.types import literal_from_json_value

        check_name(req.name, "launch plan name", pattern=NODE_ID_RE)
        wf = self.client.store.get_entity("workflow", project, req.workflow, req.workflow_version)
        spec = WorkflowSpec.from_json(json.loads(self.client.store.get_spec(wf.spec_digest)))
        declared = spec.interface.input_map
        where = f"launch plan '{req.name}'"
        both = sorted(set(req.default_inputs) & set(req.fixed_inputs))
        if both:
            raise InputError(f"{where}: {', '.join(both)} cannot be both default and fixed")
        literals: list[dict[str, Any]] = []
        for what, values in (("default", req.default_inputs), ("fixed", req.fixed_inputs)):
            out = {}
            for k, v in values.items():
                if k not in declared:
                    raise InputError(f"{where}: workflow '{wf.name}' has no input '{k}'")
                out[k] = literal_from_json_value(v, declared[k].type, where=f"{where}, {what} input '{k}'")
            literals.append(out)
        schedule = registry.checked_schedule(
            req.schedule, spec.interface, req.default_inputs, req.fixed_inputs, req.name
        )
        digest_parts: list[Any] = [req.name, wf.digest, literals] + ([schedule] if schedule is not None else [])
        version = req.version or registry.content_digest(*digest_parts)[: registry.VERSION_LENGTH]
        entity = registry.launchplan_entity(
            project, version, req.name, wf, literals[0], literals[1], SystemClock().now(), schedule
        )
        return self._registered(project, entity, {})

    # -- executions ---------------------------------------------------------------------------
    def create_execution(self, who: Principal, project: str, req: m.CreateExecution) -> dict[str, Any]:
        if sum(x is not None for x in (req.workflow, req.launchplan, req.spec)) != 1:
            raise ApiError(*INVALID_REQUEST, "give exactly one of 'workflow', 'launchplan' or 'spec'")
        if req.spec is not None:
            from setpoint.server.remote_api import RemoteApi

            return RemoteApi(self).create_from_spec(project, req)
        kind, name = ("workflow", req.workflow) if req.workflow is not None else ("launchplan", req.launchplan)
        assert name is not None
        eid = self.client.create_registered(
            kind,
            name,
            req.version,
            req.inputs,
            project=project,
            max_parallelism=req.max_parallelism,
            overwrite_cache=req.overwrite_cache,
        )
        return self.execution_json(self.client.get(eid))

    def list_executions(
        self,
        who: Principal,
        project: str,
        phase: Annotated[list[str] | None, Query(description="repeat to allow several phases")] = None,
        workflow: str | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        before: Annotated[str | None, Query(description="the `next` of the previous page")] = None,
    ) -> dict[str, Any]:
        records, nxt = self.execution_page(project, phase, workflow, limit, before)
        return {"executions": [self.execution_json(r) for r in records], "next": nxt}

    def execution_page(
        self, project: str, phase: list[str] | None, workflow: str | None, limit: int, before: str | None
    ) -> tuple[list[ExecutionRecord], str | None]:
        """One page of a project's executions, newest first, and the cursor of the next page (or None)."""
        phases = []
        for p in phase or ():
            try:
                phases.append(ExecutionPhase(p))
            except ValueError:
                known = ", ".join(x.value for x in ExecutionPhase)
                raise InputError(f"unknown phase {p[:40]!r} (phases: {known})") from None
        if before is not None:
            self.execution(project, before)  # a cursor from another project is not found, like any id
        flt = ExecutionFilter(tuple(phases), project=project, workflow=workflow, limit=limit + 1, before=before)
        records = self.client.executions(flt)
        more = len(records) > limit
        records = records[:limit]
        return records, records[-1].id if more and records else None

    def get_execution(self, who: Principal, project: str, execution_id: str) -> dict[str, Any]:
        return self.execution_json(self.execution(project, execution_id))

    def terminate(self, who: Principal, project: str, execution_id: str, req: m.Terminate) -> dict[str, Any]:
        self.execution(project, execution_id)
        return self.execution_json(self.client.terminate(execution_id, req.reason or "terminated through the API"))

    def relaunch(self, who: Principal, project: str, execution_id: str, req: m.Relaunch) -> dict[str, Any]:
        self.execution(project, execution_id)
        return self.execution_json(self.client.get(self.client.relaunch(execution_id, req.inputs)))

    def recover(self, who: Principal, project: str, execution_id: str) -> dict[str, Any]:
        self.execution(project, execution_id)
        return self.execution_json(self.client.get(self.client.recover(execution_id)))

    def outputs(self, who: Principal, project: str, execution_id: str) -> dict[str, Any]:
        self.execution(project, execution_id)
        return {"outputs": self.client.outputs(execution_id)}

    def nodes(self, who: Principal, project: str, execution_id: str) -> dict[str, Any]:
        self.execution(project, execution_id)
        out = []
        for v in self.client.nodes(execution_id, children=True):
            r = v.record
            out.append(
                {
                    "id": v.node_id,
                    "task": v.task,
                    "upstream": list(v.upstream),
                    "phase": r.phase.value,
                    "cache_status": r.cache_status,
                    "started_at": r.started_at,
                    "finished_at": r.finished_at,
                    "error": r.error.to_json() if r.error is not None else None,
                    "attempts": [
                        {
                            "id": a.id,
                            "number": a.number,
                            "phase": a.phase.value,
                            "started_at": a.started_at,
                            "finished_at": a.finished_at,
                            "error": a.error.to_json() if a.error is not None else None,
                        }
                        for a in v.attempts
                    ],
                }
            )
        return {"nodes": out}

    def logs(
        self,
        who: Principal,
        project: str,
        execution_id: str,
        node: str | None = None,
        attempt: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
    ) -> PlainTextResponse:
        self.execution(project, execution_id)
        parts = []
        for aid, stream, text in self.client.logs(execution_id, node, attempt):
            if text:
                parts.append(f"==> {aid} {stream} <==\n{text}")
        return PlainTextResponse("\n".join(parts))

    def events(
        self,
        who: Principal,
        project: str,
        execution_id: str,
        after: Annotated[int, Query(ge=0, le=2**62)] = 0,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    ) -> dict[str, Any]:
        self.execution(project, execution_id)
        evs = self.client.store.events(execution_id, after, limit)
        return {
            "events": [
                {
                    "seq": e.seq,
                    "ts": e.ts,
                    "kind": e.kind,
                    "phase": e.phase,
                    "node_id": e.node_id,
                    "attempt": e.attempt,
                    "message": e.message,
                }
                for e in evs
            ],
            "next_after": evs[-1].seq if evs else after,
        }

    def signal(self, who: Principal, project: str, execution_id: str, req: m.Signal) -> dict[str, Any]:
        self.execution(project, execution_id)
        self.client.signal(execution_id, req.name, req.value)
        return {"sent": True}

    def cache(
        self,
        who: Principal,
        project: str,
        task: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        entries = self.client.cache_entries(project=project, task=task, limit=limit)
        return {
            "entries": [
                {
                    "key": e.key,
                    "task": e.task,
                    "source_execution": e.source_execution,
                    "source_node": e.source_node,
                    "source_attempt": e.source_attempt,
                    "created_at": e.created_at,
                }
                for e in entries
            ]
        }

    def lineage(self, who: Principal, project: str, execution_id: str) -> dict[str, Any]:
        self.execution(project, execution_id)
        rows = self.client.store.lineage_of(execution_id)
        return {
            "rows": [
                {
                    "execution": r.execution_id,
                    "node": r.node_id,
                    "direction": r.direction,
                    "name": r.name,
                    "value_hash": r.value_hash,
                }
                for r in rows
            ]
        }


KINDS = (("tasks", "task"), ("workflows", "workflow"), ("launchplans", "launchplan"))


def routes(api: Api) -> list[Route]:
    """The route table: every route the server has, with the role it needs."""
    table = [
        Route("GET", f"{PREFIX}/projects", api.list_projects, "viewer", response_model=m.ProjectList),
        Route("POST", f"{PREFIX}/projects", api.create_project, "admin", 201, m.Project),
        Route("POST", f"{P}/tokens", api.create_token, "admin", 201, m.Token),
    ]
    register: dict[str, Callable[..., Any]] = {
        "tasks": api.register_task,
        "workflows": api.register_workflow,
        "launchplans": api.register_launchplan,
    }
    for plural, kind in KINDS:
        table += [
            Route("GET", f"{P}/{plural}", api.list_entities(kind), "viewer", response_model=m.EntityList),
            Route("POST", f"{P}/{plural}", register[plural], "editor", 201, m.Registration),
            Route("GET", f"{P}/{plural}/{{name}}", api.get_entity(kind), "viewer", response_model=m.Entity),
            Route(
                "GET", f"{P}/{plural}/{{name}}/versions", api.list_versions(kind), "viewer", response_model=m.EntityList
            ),
            Route(
                "GET",
                f"{P}/{plural}/{{name}}/versions/{{version}}",
                api.get_entity_version(kind),
                "viewer",
                response_model=m.Entity,
            ),
        ]
    E = f"{P}/executions/{{execution_id}}"
    table += [
        Route("POST", f"{P}/executions", api.create_execution, "editor", 201, m.Execution),
        Route("GET", f"{P}/executions", api.list_executions, "viewer", response_model=m.ExecutionList),
        Route("GET", E, api.get_execution, "viewer", response_model=m.Execution),
        Route("POST", f"{E}/terminate", api.terminate, "editor", response_model=m.Execution),
        Route("POST", f"{E}/relaunch", api.relaunch, "editor", 201, m.Execution),
        Route("POST", f"{E}/recover", api.recover, "editor", 201, m.Execution),
        Route("GET", f"{E}/outputs", api.outputs, "viewer", response_model=m.Outputs),
        Route("GET", f"{E}/nodes", api.nodes, "viewer", response_model=m.NodeList),
        Route("GET", f"{E}/logs", api.logs, "viewer", text=True),
        Route("GET", f"{E}/events", api.events, "viewer", response_model=m.EventList),
        Route("POST", f"{E}/signals", api.signal, "editor", response_model=m.Sent),
        Route("GET", f"{E}/lineage", api.lineage, "viewer", response_model=m.LineageList),
        Route("GET", f"{P}/cache", api.cache, "viewer", response_model=m.CacheList),
    ]
    from setpoint.server.remote_api import remote_routes
    from setpoint.server.schedule_api import schedule_routes

    table += remote_routes(api, PREFIX, P)
    table += schedule_routes(api, P)
    return table


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": m.ErrorBody, "description": description}
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


def _with_auth(api: Api, route: Route) -> Callable[..., Any]:
    """``route.handler`` with its first parameter (``who``) filled by the auth check."""
    import inspect

    sig = inspect.signature(route.handler)
    params = list(sig.parameters.values())[1:]

    def who(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
    ) -> Principal:
        return api.principal(request, credentials, route.role)

    def endpoint(*args: Any, **kwargs: Any) -> Any:
        principal = kwargs.pop("_who")
        return route.handler(principal, *args, **kwargs)

    dep = inspect.Parameter("_who", inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[Principal, Depends(who)])
    ordered = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in params]
    endpoint.__signature__ = sig.replace(parameters=[dep, *ordered])  # type: ignore[attr-defined]
    endpoint.__name__ = route.handler.__name__ if route.handler.__name__ != "handler" else route.path
    return endpoint


def create_app(client: Client, *, auth: bool = True) -> FastAPI:
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

    for route in app.state.routes:
        app.add_api_route(
            route.path,
            _with_auth(api, route),
            methods=[route.method],
            status_code=route.status,
            response_model=route.response_model,
            response_class=JSONResponse,
            responses={**ERROR_RESPONSES, **(TEXT_RESPONSE if route.text else {}), **(route.responses or {})},
            openapi_extra=route.openapi_extra,
        )
    return app
