"""Request bodies and response envelopes of the API (pydantic models, so the OpenAPI schema is exact).

Records inside the envelopes are never described here: their models are generated from each
record's one wire form (`setpoint.server.schema`). What is left is what only the API has: the
bodies a client sends and the lists and cursors records travel in.
"""

# No ``from __future__ import annotations``: the generated record models are runtime values used
# as field types, which pydantic must see as objects.

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from setpoint.core.model import CatalogEntry, Event, ExecutionRecord, LineageRow
from setpoint.core.recovery import PlanItem as PlanItemRecord
from setpoint.ports import RegisteredEntity
from setpoint.server.routing import ErrorBody, ErrorDetail
from setpoint.server.schema import record_model
from setpoint.service.inspect import NodeView
from setpoint.service.lineage import Consumer as ConsumerRecord

__all__ = ["ErrorBody", "ErrorDetail"]

NAME = Field(min_length=1, max_length=200)
DIGEST = Field(pattern=r"^[0-9a-f]{64}$")

Execution = record_model(ExecutionRecord)
Node = record_model(NodeView)
EventOut = record_model(Event)
CatalogRecord = record_model(CatalogEntry)
Entity = record_model(RegisteredEntity)
LineageEdge = record_model(LineageRow)
PlanItem = record_model(PlanItemRecord)
Consumer = record_model(ConsumerRecord)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- projects and tokens ------------------------------------------------------------------------------


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


# -- registry and code bundles ------------------------------------------------------------------------


class EntityList(BaseModel):
    entities: list[Entity]  # type: ignore[valid-type]


class Registration(BaseModel):
    entity: Entity  # type: ignore[valid-type]
    created: bool


class RegisterWorkflow(Strict):
    spec: dict[str, Any]
    code_digest: str = DIGEST
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


class BatchLaunchPlan(Strict):
    name: str = NAME
    workflow: str = NAME
    default_inputs: dict[str, Any] = Field(default_factory=dict, description="literals")
    fixed_inputs: dict[str, Any] = Field(default_factory=dict, description="literals")
    schedule: dict[str, Any] | None = Field(default=None, description="as in a launch plan's body (docs/schedules.md)")


class RegisterBatch(Strict):
    code_digest: str = DIGEST
    version: str = Field(min_length=1, max_length=100)
    tasks: list[dict[str, Any]] = Field(default_factory=list, max_length=10_000, description="task specs")
    workflows: list[dict[str, Any]] = Field(default_factory=list, max_length=10_000, description="workflow specs")
    launchplans: list[BatchLaunchPlan] = Field(default_factory=list, max_length=10_000)


class BatchRegistration(BaseModel):
    version: str
    entities: list[Registration]


class BundleStatus(BaseModel):
    digest: str
    present: bool


class BundleUpload(BaseModel):
    digest: str
    size: int
    created: bool = Field(description="false when the server already had this bundle")


# -- executions ---------------------------------------------------------------------------------------


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


class ExecutionList(BaseModel):
    executions: list[Execution]  # type: ignore[valid-type]
    next: str | None = Field(description="pass as `before` for the next (older) page; null on the last page")


class Outputs(BaseModel):
    outputs: dict[str, Any]


class NodeList(BaseModel):
    nodes: list[Node]  # type: ignore[valid-type]


class EventList(BaseModel):
    events: list[EventOut]  # type: ignore[valid-type]
    next_after: int


class Sent(BaseModel):
    sent: bool


class SpecOut(BaseModel):
    spec: dict[str, Any]


class RecoveryPlan(BaseModel):
    plan: list[PlanItem]  # type: ignore[valid-type]


class LogEntry(BaseModel):
    attempt_id: str
    stream: str
    text: str


class LogNote(BaseModel):
    """Why a node asked for has no logs of its own, or where they are (`setpoint.service.logs`)."""

    node: str
    message: str


class LogEntries(BaseModel):
    logs: list[LogEntry]
    notes: list[LogNote]


# -- catalog and lineage ------------------------------------------------------------------------------


class CacheList(BaseModel):
    entries: list[CatalogRecord]  # type: ignore[valid-type]


class CacheEvict(Strict):
    keys: list[str] = Field(default_factory=list, max_length=10_000)
    task: str | None = Field(default=None, min_length=1, max_length=500)
    execution: str | None = Field(default=None, min_length=1, max_length=100)


class Evicted(BaseModel):
    evicted: int


class Explanation(BaseModel):
    explanation: dict[str, Any]


class LineageList(BaseModel):
    rows: list[LineageEdge]  # type: ignore[valid-type]


class LineageTrees(BaseModel):
    lineage: list[dict[str, Any]] = Field(description="upstream trees (`LineageNode` in docs/server.md)")


class ConsumerList(BaseModel):
    consumers: list[Consumer]  # type: ignore[valid-type]


# -- the console: sessions and the graph view ---------------------------------------------------------


class ConsoleSession(BaseModel):
    auth: bool = Field(description="false when the server runs without tokens (`setpoint ui`)")
    project: str | None = Field(description="the project the session's token is for; null without auth")
    role: str = Field(pattern=r"^(viewer|editor|admin)$")
    csrf: str | None = Field(description="send as X-CSRF-Token on every request that writes; null without auth")


class SignIn(Strict):
    token: str = Field(min_length=1, max_length=500)


class ChildCounts(BaseModel):
    total: int
    succeeded: int
    running: int
    failed: int
    queued: int
    skipped: int


class GraphNode(BaseModel):
    id: str
    parent: str | None
    kind: str = Field(description="task, map, dynamic, branch, gate, launchplan or on_failure")
    label: str
    task: str | None
    phase: str
    cache: str | None = Field(description="hit, miss, put or skipped; null when the node is not cacheable")
    recovered_from: str | None = Field(description="the execution whose outputs a recovered node reused")
    attempts: int
    queued_at: float | None
    started_at: float | None
    ended_at: float | None
    error: str | None
    children: ChildCounts | None = Field(description="an expanded map or dynamic node: its nodes, counted")
    gate: str | None = Field(description="a gate: sleep, approve or signal")
    case: int | None = Field(description="a decided branch: the case it took (-1: none matched)")
    case_of: tuple[str, int] | None = Field(description="a node under a case: the branch and the case")
    child: str | None = Field(description="a launch-plan node: the execution it started")


class Graph(BaseModel):
    execution: Execution  # type: ignore[valid-type]
    nodes: list[GraphNode]
    edges: list[tuple[str, str]]


class GraphChildren(BaseModel):
    items: list[GraphNode]
    edges: list[tuple[str, str]] = Field(description="edges between the items of this page")
    next: str | None = Field(description="pass as `cursor` for the next page; null on the last page")
