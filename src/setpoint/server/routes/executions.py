"""Executions: create, list, read, terminate, relaunch, recover, signal; their nodes, spec and outputs.

Every execution and node answer is the record's one wire form (`setpoint.client.wire`). Its
literal values are plain JSON by default (``values=plain``: what people, scripts and the console
read); ``values=literal`` keeps them as stored — tags and blob references intact — which is what
the remote client asks for so it can rebuild the very records the embedded client returns.
"""

# No ``from __future__ import annotations`` in route modules: FastAPI reads the handlers' parameter
# types through `setpoint.server.routing.with_auth`, so they must be real objects.

from typing import Annotated, Any

from fastapi import Query

from setpoint.client.wire import plain, to_wire
from setpoint.core.model import ExecutionRecord
from setpoint.core.phases import ExecutionPhase
from setpoint.errors import InputError
from setpoint.ports import ExecutionFilter
from setpoint.server import models as m
from setpoint.server.context import Api, Values
from setpoint.server.errors import INVALID_REQUEST, ApiError
from setpoint.server.routing import EXECUTION, PROJECT, Principal, Route
from setpoint.spec.workflow import WorkflowSpec

VALUES = Query(description="literal values as plain JSON, or as stored literals (tags and blob references)")


def execution_page(
    api: Api,
    project: str,
    phase: list[str] | None,
    workflow: str | None,
    search: str | None,
    limit: int,
    before: str | None,
) -> tuple[list[ExecutionRecord], str | None]:
    """One page of a project's executions, newest first, and the cursor of the next page (or None).

    Every filter is the store's (indexed within the project), so any page costs about what the first does.
    """
    phases = []
    for p in phase or ():
        try:
            phases.append(ExecutionPhase(p))
        except ValueError:
            known = ", ".join(x.value for x in ExecutionPhase)
            raise InputError(f"unknown phase {p[:40]!r} (phases: {known})") from None
    if before is not None:
        api.execution(project, before)  # a cursor from another project is not found, like any id
    flt = ExecutionFilter(
        tuple(phases), project=project, workflow=workflow, limit=limit + 1, before=before, search=search
    )
    records = api.client.executions(flt)
    more = len(records) > limit
    records = records[:limit]
    return records, records[-1].id if more and records else None


class ExecutionRoutes:
    def __init__(self, api: Api) -> None:
        self.api = api
        self.client = api.client

    def view(self, rec: ExecutionRecord, values: Values = "plain") -> dict[str, Any]:
        data = to_wire(rec)
        return data if values == "literal" else plain(data, self.client.blobs)

    def create(self, who: Principal, project: str, req: m.CreateExecution) -> dict[str, Any]:
        if sum(x is not None for x in (req.workflow, req.launchplan, req.spec)) != 1:
            raise ApiError(*INVALID_REQUEST, "give exactly one of 'workflow', 'launchplan' or 'spec'")
        opts: dict[str, Any] = {
            "project": project,
            "max_parallelism": req.max_parallelism,
            "overwrite_cache": req.overwrite_cache,
        }
        if req.spec is not None:  # compiled by the caller (setpoint run --server), its bundle uploaded
            if req.code_digest is None:
                raise ApiError(*INVALID_REQUEST, "an execution from a 'spec' needs its 'code_digest'")
            spec = WorkflowSpec.from_json(req.spec)
            self.api.check_bundle(req.code_digest)
            eid = self.client.create_from_spec(spec, req.code_digest, req.inputs, **opts)
        else:
            kind, name = ("workflow", req.workflow) if req.workflow is not None else ("launchplan", req.launchplan)
            assert name is not None
            eid = self.client.create_registered(kind, name, req.version, req.inputs, **opts)
        return self.view(self.client.get(eid))

    def list(
        self,
        who: Principal,
        project: str,
        phase: Annotated[list[str] | None, Query(description="repeat to allow several phases")] = None,
        workflow: str | None = None,
        search: Annotated[
            str | None,
            Query(min_length=1, max_length=200, description="a part of the id or the workflow name (any case)"),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 50,
        before: Annotated[str | None, Query(description="the `next` of the previous page")] = None,
        values: Annotated[Values, VALUES] = "plain",
    ) -> dict[str, Any]:
        records, nxt = execution_page(self.api, project, phase, workflow, search, limit, before)
        return {"executions": [self.view(r, values) for r in records], "next": nxt}

    def get(
        self, who: Principal, project: str, execution_id: str, values: Annotated[Values, VALUES] = "plain"
    ) -> dict[str, Any]:
        return self.view(self.api.execution(project, execution_id), values)

    def terminate(self, who: Principal, project: str, execution_id: str, req: m.Terminate) -> dict[str, Any]:
        self.api.execution(project, execution_id)
        return self.view(self.client.terminate(execution_id, req.reason or "terminated through the API"))

    def relaunch(self, who: Principal, project: str, execution_id: str, req: m.Relaunch) -> dict[str, Any]:
        self.api.execution(project, execution_id)
        return self.view(self.client.get(self.client.relaunch(execution_id, req.inputs)))

    def recover(self, who: Principal, project: str, execution_id: str) -> dict[str, Any]:
        self.api.execution(project, execution_id)
        return self.view(self.client.get(self.client.recover(execution_id)))

    def recovery_plan(self, who: Principal, project: str, execution_id: str) -> dict[str, Any]:
        self.api.execution(project, execution_id)
        return {"plan": [to_wire(i) for i in self.client.recover_plan(execution_id)]}

    def outputs(self, who: Principal, project: str, execution_id: str) -> dict[str, Any]:
        self.api.execution(project, execution_id)
        return {"outputs": self.client.outputs(execution_id)}

    def nodes(
        self,
        who: Principal,
        project: str,
        execution_id: str,
        children: Annotated[bool, Query(description="also the nodes map and dynamic nodes expanded into")] = True,
        values: Annotated[Values, VALUES] = "plain",
    ) -> dict[str, Any]:
        self.api.execution(project, execution_id)
        views = [to_wire(v) for v in self.client.nodes(execution_id, children=children)]
        return {"nodes": views if values == "literal" else [plain(v) for v in views]}

    def spec(self, who: Principal, project: str, execution_id: str) -> dict[str, Any]:
        self.api.execution(project, execution_id)
        return {"spec": self.client.spec(execution_id).to_json()}

    def signal(self, who: Principal, project: str, execution_id: str, req: m.Signal) -> dict[str, Any]:
        self.api.execution(project, execution_id)
        self.client.signal(execution_id, req.name, req.value)
        return {"sent": True}


def routes(api: Api) -> list[Route]:
    r = ExecutionRoutes(api)
    E = EXECUTION
    return [
        Route("POST", f"{PROJECT}/executions", r.create, "editor", 201, m.Execution),
        Route("GET", f"{PROJECT}/executions", r.list, "viewer", response_model=m.ExecutionList),
        Route("GET", E, r.get, "viewer", response_model=m.Execution),
        Route("POST", f"{E}/terminate", r.terminate, "editor", response_model=m.Execution),
        Route("POST", f"{E}/relaunch", r.relaunch, "editor", 201, m.Execution),
        Route("POST", f"{E}/recover", r.recover, "editor", 201, m.Execution),
        Route("GET", f"{E}/recovery-plan", r.recovery_plan, "viewer", response_model=m.RecoveryPlan),
        Route("GET", f"{E}/outputs", r.outputs, "viewer", response_model=m.Outputs),
        Route("GET", f"{E}/nodes", r.nodes, "viewer", response_model=m.NodeList),
        Route("GET", f"{E}/spec", r.spec, "viewer", response_model=m.SpecOut),
        Route("POST", f"{E}/signals", r.signal, "editor", response_model=m.Sent),
    ]
