"""Registered tasks, workflows and launch plans: list, read, register one, or register a batch.

A batch (``POST .../registrations``) is what `setpoint --server URL register` sends after
uploading its code bundle (`setpoint.server.routes.bundles`): all or nothing, a conflict writes
nothing. The handlers translate requests; registering is `setpoint.service.registration`'s.
"""

# No ``from __future__ import annotations`` in route modules: FastAPI reads the handlers' parameter
# types through `setpoint.server.routing.with_auth`, so they must be real objects.

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Query

from setpoint.client.wire import to_wire
from setpoint.server import models as m
from setpoint.server.context import Api
from setpoint.server.routing import PROJECT, Principal, Route
from setpoint.service import registration
from setpoint.service.registration import LaunchPlanDraft
from setpoint.service.registry import Registered

KINDS = (("tasks", "task"), ("workflows", "workflow"), ("launchplans", "launchplan"))


class RegistryRoutes:
    def __init__(self, api: Api) -> None:
        self.api = api
        self.store = api.client.store
        self.clock = api.client.clock

    # -- reading ----------------------------------------------------------------------------------
    def list_entities(self, kind: str) -> Callable[..., Any]:
        def handler(who: Principal, project: str, limit: Annotated[int, Query(ge=1, le=1000)] = 1000) -> Any:
            return {"entities": [to_wire(e) for e in self.store.list_entities(kind, project, limit)]}

        return handler

    def get_entity(self, kind: str) -> Callable[..., Any]:
        def handler(who: Principal, project: str, name: str) -> Any:
            return to_wire(self.store.get_entity(kind, project, name))

        return handler

    def get_entity_version(self, kind: str) -> Callable[..., Any]:
        def handler(who: Principal, project: str, name: str, version: str) -> Any:
            return to_wire(self.store.get_entity(kind, project, name, version))

        return handler

    def list_versions(self, kind: str) -> Callable[..., Any]:
        def handler(who: Principal, project: str, name: str, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> Any:
            versions = self.store.list_entity_versions(kind, project, name, limit)
            if not versions:
                self.store.get_entity(kind, project, name)  # raises the not-found error
            return {"entities": [to_wire(e) for e in versions]}

        return handler

    # -- registering (the checks and the versioning are the service's: `setpoint.service.registration`) --
    @staticmethod
    def _registered(done: Registered) -> dict[str, Any]:
        return {"entity": to_wire(done.entity), "created": done.created}

    def register_workflow(self, who: Principal, project: str, req: m.RegisterWorkflow) -> dict[str, Any]:
        done = registration.register_workflow(
            self.store, self.clock, project, req.spec, req.code_digest, req.version, self.api.check_bundle
        )
        return self._registered(done)

    def register_task(self, who: Principal, project: str, req: m.RegisterTask) -> dict[str, Any]:
        done = registration.register_task(
            self.store, self.clock, project, req.spec, req.code_digest, req.version, self.api.check_bundle
        )
        return self._registered(done)

    def register_launchplan(self, who: Principal, project: str, req: m.RegisterLaunchPlan) -> dict[str, Any]:
        done = registration.register_launchplan(
            self.store,
            self.clock,
            project,
            name=req.name,
            workflow=req.workflow,
            workflow_version=req.workflow_version,
            version=req.version,
            default_inputs=req.default_inputs,
            fixed_inputs=req.fixed_inputs,
            schedule=req.schedule,
        )
        return self._registered(done)

    def register_batch(self, who: Principal, project: str, req: m.RegisterBatch) -> dict[str, Any]:
        """Register what `setpoint register` found, all or nothing (a conflict writes nothing)."""
        self.api.check_bundle(req.code_digest)
        done = registration.register_batch(
            self.store,
            self.clock,
            project,
            code_digest=req.code_digest,
            version=req.version,
            tasks=req.tasks,
            workflows=req.workflows,
            launchplans=[
                LaunchPlanDraft(lp.name, lp.workflow, lp.default_inputs, lp.fixed_inputs, lp.schedule)
                for lp in req.launchplans
            ],
        )
        return {"version": req.version, "entities": [self._registered(r) for r in done]}


def routes(api: Api) -> list[Route]:
    r = RegistryRoutes(api)
    register: dict[str, Callable[..., Any]] = {
        "tasks": r.register_task,
        "workflows": r.register_workflow,
        "launchplans": r.register_launchplan,
    }
    table: list[Route] = []
    for plural, kind in KINDS:
        named = f"{PROJECT}/{plural}/{{name}}"
        table += [
            Route("GET", f"{PROJECT}/{plural}", r.list_entities(kind), "viewer", response_model=m.EntityList),
            Route("POST", f"{PROJECT}/{plural}", register[plural], "editor", 201, m.Registration),
            Route("GET", named, r.get_entity(kind), "viewer", response_model=m.Entity),
            Route("GET", f"{named}/versions", r.list_versions(kind), "viewer", response_model=m.EntityList),
            Route(
                "GET", f"{named}/versions/{{version}}", r.get_entity_version(kind), "viewer", response_model=m.Entity
            ),
        ]
    table.append(Route("POST", f"{PROJECT}/registrations", r.register_batch, "editor", 201, m.BatchRegistration))
    return table
