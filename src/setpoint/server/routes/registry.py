"""Registered tasks, workflows and launch plans: list, read, register one, or register a batch.

A batch (``POST .../registrations``) is what `setpoint --server URL register` sends after
uploading its code bundle (`setpoint.server.routes.bundles`): all or nothing, a conflict writes
nothing.
"""

# No ``from __future__ import annotations`` in route modules: FastAPI reads the handlers' parameter
# types through `setpoint.server.routing.with_auth`, so they must be real objects.

import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Query

from setpoint.client.wire import to_wire
from setpoint.errors import InputError
from setpoint.ports import RegisteredEntity, SystemClock
from setpoint.server import models as m
from setpoint.server.context import Api
from setpoint.server.routing import PROJECT, Principal, Route
from setpoint.service import registry
from setpoint.spec.canonical import canonical_json
from setpoint.spec.workflow import NODE_ID_RE, TaskSpec, WorkflowSpec, check_name
from setpoint.types import literal_from_json_value, validate_literal

KINDS = (("tasks", "task"), ("workflows", "workflow"), ("launchplans", "launchplan"))


class RegistryRoutes:
    def __init__(self, api: Api) -> None:
        self.api = api
        self.store = api.client.store

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

    # -- registering one --------------------------------------------------------------------------
    def _registered(self, project: str, entity: RegisteredEntity, specs: dict[str, str]) -> dict[str, Any]:
        (done,) = registry.register_entities(self.store, project, [entity], specs, entity.created_at)
        return {"entity": to_wire(done.entity), "created": done.created}

    def register_workflow(self, who: Principal, project: str, req: m.RegisterWorkflow) -> dict[str, Any]:
        spec = WorkflowSpec.from_json(req.spec)
        self.api.check_bundle(req.code_digest)
        version = req.version or registry.default_version(req.code_digest, [spec.digest])
        entity = registry.workflow_entity(project, version, spec, req.code_digest, SystemClock().now())
        return self._registered(project, entity, {spec.digest: canonical_json(spec.to_json())})

    def register_task(self, who: Principal, project: str, req: m.RegisterTask) -> dict[str, Any]:
        spec = TaskSpec.from_json(req.spec, "task spec")
        self.api.check_bundle(req.code_digest)
        version = req.version or registry.default_version(req.code_digest, [registry.content_digest(spec.to_json())])
        entity = registry.task_entity(project, version, spec, req.code_digest, SystemClock().now())
        return self._registered(project, entity, {})

    def register_launchplan(self, who: Principal, project: str, req: m.RegisterLaunchPlan) -> dict[str, Any]:
        check_name(req.name, "launch plan name", pattern=NODE_ID_RE)
        wf = self.store.get_entity("workflow", project, req.workflow, req.workflow_version)
        spec = WorkflowSpec.from_json(json.loads(self.store.get_spec(wf.spec_digest)))
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

    # -- registering a batch ------------------------------------------------------------------------
    def register_batch(self, who: Principal, project: str, req: m.RegisterBatch) -> dict[str, Any]:
        """Register what `setpoint register` found, all or nothing (a conflict writes nothing)."""
        self.api.check_bundle(req.code_digest)
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
            declared = spec.interface.input_map
            for lp in req.launchplans:
                if lp.workflow != spec.name:
                    continue
                check_name(lp.name, "launch plan name", pattern=NODE_ID_RE)
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
        done = registry.register_entities(self.store, project, entities, specs, now)
        return {"version": req.version, "entities": [{"entity": to_wire(r.entity), "created": r.created} for r in done]}


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
