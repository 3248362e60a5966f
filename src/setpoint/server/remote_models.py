"""Bodies of the routes the remote CLI and client use (`setpoint.server.remote_api`).

Records keep literals as stored (tagged JSON, blob references), which is why their value fields are
open JSON here: their shape is `setpoint.client.wire`'s, documented in docs/server.md.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from setpoint.server.models import NAME, Entity, Strict

DIGEST = Field(pattern=r"^[0-9a-f]{64}$")


class BundleStatus(BaseModel):
    digest: str
    present: bool


class BundleUpload(BaseModel):
    digest: str
    size: int
    created: bool = Field(description="false when the server already had this bundle")


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


class BatchEntity(BaseModel):
    entity: Entity
    created: bool


class BatchRegistration(BaseModel):
    version: str
    entities: list[BatchEntity]


class ExecutionRecordOut(BaseModel):
    id: str
    project: str
    workflow: str
    spec_digest: str
    code_digest: str
    inputs: dict[str, Any]
    phase: str
    created_at: float
    updated_at: float
    started_at: float | None
    finished_at: float | None
    outputs: dict[str, Any] | None
    error: dict[str, Any] | None
    abort_reason: str | None
    source_id: str | None
    mode: str
    config: dict[str, Any]


class RecordList(BaseModel):
    executions: list[ExecutionRecordOut]
    next: str | None


class NodeView(BaseModel):
    node_id: str
    task: str
    upstream: list[str]
    record: dict[str, Any]
    attempts: list[dict[str, Any]]


class NodeRecordList(BaseModel):
    nodes: list[NodeView]


class CatalogRecord(BaseModel):
    project: str
    task: str
    key: str
    components: dict[str, Any]
    source_execution: str
    source_node: str
    source_attempt: int
    created_at: float


class CatalogRecordList(BaseModel):
    entries: list[CatalogRecord]


class CacheEvict(Strict):
    keys: list[str] = Field(default_factory=list, max_length=10_000)
    task: str | None = Field(default=None, min_length=1, max_length=500)
    execution: str | None = Field(default=None, min_length=1, max_length=100)


class Evicted(BaseModel):
    evicted: int


class SpecOut(BaseModel):
    spec: dict[str, Any]


class Explanation(BaseModel):
    explanation: dict[str, Any]


class PlanItem(BaseModel):
    node_id: str
    action: str
    reason: str


class RecoveryPlan(BaseModel):
    plan: list[PlanItem]


class LineageTrees(BaseModel):
    lineage: list[dict[str, Any]]


class Consumer(BaseModel):
    value_hash: str
    execution: str
    node: str
    input: str
    depth: int


class ConsumerList(BaseModel):
    consumers: list[Consumer]


class LogEntry(BaseModel):
    attempt_id: str
    stream: str
    text: str


class LogEntries(BaseModel):
    logs: list[LogEntry]
