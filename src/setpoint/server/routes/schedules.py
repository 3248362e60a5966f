"""Routes for launch plan schedules: activate or deactivate a version, and see what the scheduler will do.

A launch plan name has at most one active version; the scheduler in `setpoint server` (or
`setpoint scheduler`) starts an execution on every tick of the active version's schedule
(docs/schedules.md). Activation is an editor's act, reading the schedule a viewer's.
"""

# No ``from __future__ import annotations`` in route modules: FastAPI reads the handlers' parameter
# types through `setpoint.server.routing.with_auth`, so they must be real objects.

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from setpoint.server.context import Api
from setpoint.server.routing import PROJECT, Principal, Route
from setpoint.service import scheduler


class Activate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: str | None = Field(
        default=None, min_length=1, max_length=100, description="the version to activate (default: the latest)"
    )


class Tick(BaseModel):
    tick: str
    version: str
    execution_id: str
    fired_at: float


class ScheduleStatus(BaseModel):
    project: str
    name: str
    latest_version: str
    active_version: str | None
    activated_at: float | None
    schedule: dict[str, Any] | None
    schedule_text: str | None
    next_ticks: list[str] = Field(description="the next nominal ticks of the active version (ISO 8601, UTC)")
    recent_ticks: list[Tick] = Field(description="the ticks fired most recently, newest first")


class ScheduleList(BaseModel):
    launchplans: list[ScheduleStatus]


class ScheduleRoutes:
    def __init__(self, api: Api) -> None:
        self.store = api.client.store
        self.clock = api.client.clock

    def status(self, who: Principal, project: str, name: str) -> dict[str, Any]:
        return scheduler.status(self.store, project, name, self.clock.now())

    def activate(self, who: Principal, project: str, name: str, req: Activate) -> dict[str, Any]:
        return scheduler.activate(self.store, self.clock, project, name, req.version)

    def deactivate(self, who: Principal, project: str, name: str) -> dict[str, Any]:
        return scheduler.deactivate(self.store, self.clock, project, name)

    def active(self, who: Principal, project: str) -> dict[str, Any]:
        return {"launchplans": scheduler.active_statuses(self.store, self.clock, project)}


def routes(api: Api) -> list[Route]:
    s = ScheduleRoutes(api)
    L = f"{PROJECT}/launchplans/{{name}}"
    return [
        Route("GET", f"{PROJECT}/schedules", s.active, "viewer", response_model=ScheduleList),
        Route("GET", f"{L}/schedule", s.status, "viewer", response_model=ScheduleStatus),
        Route("POST", f"{L}/activate", s.activate, "editor", response_model=ScheduleStatus),
        Route("POST", f"{L}/deactivate", s.deactivate, "editor", response_model=ScheduleStatus),
    ]
