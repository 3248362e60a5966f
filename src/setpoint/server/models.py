"""Request and response bodies of the API (pydantic models, so the OpenAPI schema is exact)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

NAME = Field(min_length=1, max_length=200)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


class Project(BaseModel):
    name: str


class ProjectList(BaseModel):
    projects: list[Project]


class CreateProject(Strict):
    name: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class CreateToken(Strict):
    role: str = Field(pattern=r"^(viewer|editor|admin)$")


class Token(BaseModel):
    project: str
    role: str
    token: str


class Entity(BaseModel):
    kind: str
    project: str
    name: str
    version: str
    digest: str
    spec_digest: str
    code_digest: str
    created_at: float
    body: dict[str, Any]


class EntityList(BaseModel):
    entities: list[Entity]


class Registration(BaseModel):
    entity: Entity
    created: bool


class RegisterWorkflow(Strict):
    spec: dict[str, Any]
    code_digest: str = Field(pattern=r"^[0-9a-f]{64}$")
    version: str | None = Field(default=None, min_length=1, max_length=100)


class RegisterTask(RegisterWorkflow):
    pass


class RegisterLaunchPlan(Strict):
    name: str = NAME
    workflow: str = NAME
    workflow_version: str | None = Field(default=None, min_length=1, max_length=100)
    version: str | None = Field(default=None, min_length=1, max_length=100)
    default_inputs: dict[str, Any] = Field(default_factory=dict)
    fixed_inputs: dict[str, Any] = Field(default_factory=dict)
    schedule: dict[str, Any] | None = Field(
        default=None,
        description='{"kind": "cron", "cron": "0 3 * * *", "tz": "Europe/Berlin"} or {"kind": "rate", "seconds": 60}; '
        'both take "catch_up" (all | latest | none) and "kickoff_time_input_arg"',
    )


class CreateExecution(Strict):
    workflow: str | None = None
    launchplan: str | None = None
    spec: dict[str, Any] | None = Field(default=None, description="a compiled workflow spec (setpoint run --server)")
    code_digest: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$", description="with 'spec': its bundle")
    version: str | None = Field(default=None, min_length=1, max_length=100)
    inputs: dict[str, Any] = Field(default_factory=dict)
    max_parallelism: int = Field(default=0, ge=0, le=100_000)
    overwrite_cache: bool = False


class Relaunch(Strict):
    inputs: dict[str, Any] = Field(default_factory=dict)


class Terminate(Strict):
    reason: str = Field(default="terminated through the API", max_length=1000)


class Signal(Strict):
    name: str = NAME
    value: Any = True


class Execution(BaseModel):
    id: str
    project: str
    workflow: str
    phase: str
    created_at: float
    updated_at: float
    started_at: float | None
    finished_at: float | None
    spec_digest: str
    code_digest: str
    mode: str
    source_id: str | None
    abort_reason: str | None
    error: dict[str, Any] | None
    inputs: dict[str, Any]
    outputs: dict[str, Any] | None


class ExecutionList(BaseModel):
    executions: list[Execution]
    next: str | None = Field(description="pass as `before` for the next (older) page; null on the last page")


class Outputs(BaseModel):
    outputs: dict[str, Any]


class Attempt(BaseModel):
    id: str
    number: int
    phase: str
    started_at: float | None
    finished_at: float | None
    error: dict[str, Any] | None


class Node(BaseModel):
    id: str
    task: str
    upstream: list[str]
    phase: str
    cache_status: str | None
    started_at: float | None
    finished_at: float | None
    error: dict[str, Any] | None
    attempts: list[Attempt]


class NodeList(BaseModel):
    nodes: list[Node]


class EventOut(BaseModel):
    seq: int
    ts: float
    kind: str
    phase: str
    node_id: str | None
    attempt: int | None = None
    message: str | None


class EventList(BaseModel):
    events: list[EventOut]
    next_after: int


class Sent(BaseModel):
    sent: bool


class CacheEntry(BaseModel):
    key: str
    task: str
    source_execution: str
    source_node: str
    source_attempt: int
    created_at: float


class CacheList(BaseModel):
    entries: list[CacheEntry]


class LineageEdge(BaseModel):
    execution: str
    node: str
    direction: str
    name: str
    value_hash: str


class LineageList(BaseModel):
    rows: list[LineageEdge]
