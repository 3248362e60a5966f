"""The one contract of setpoint's clients: what `Client` (embedded) and `RemoteClient` both offer.

The CLI, scripts and (soon) the console are written against `ClientContract`, never against one
transport: the embedded client runs everything over the local store, the remote one over the
versioned API, and a command works the same with either. ``tests/unit/test_client_contract.py``
pins this list and checks that both clients implement every method with the same parameters, so
the two cannot drift apart; a method that only one transport can offer (``create_from_spec``,
``upload_bundle``, ``create_token``) stays off the contract.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from setpoint.config.settings import Settings
from setpoint.core.model import CatalogEntry, Event, ExecutionRecord
from setpoint.core.recovery import PlanItem
from setpoint.ports import BlobStore, ExecutionFilter
from setpoint.service.inspect import NodeView
from setpoint.service.lineage import Consumer, LineageNode

if TYPE_CHECKING:
    from setpoint.sdk.workflow import Workflow
    from setpoint.service.follow import LogChunk
    from setpoint.service.registry import Registered
    from setpoint.spec.workflow import WorkflowSpec


class ClientContract(Protocol):
    """Create executions and read them, over whichever transport the client has."""

    settings: Settings

    @property
    def blobs(self) -> BlobStore | None:
        """Where literal payloads are (None for a remote client: they stay on the server)."""

    # -- lifecycle ------------------------------------------------------------------------------
    def start_controller(self) -> object: ...
    def close(self) -> None: ...

    # -- creating and registering ---------------------------------------------------------------
    def create_execution(
        self,
        wf: Workflow,
        inputs: Mapping[str, Any] | None = None,
        *,
        literal_inputs: Mapping[str, Any] | None = None,
        project: str | None = None,
        max_parallelism: int = 0,
        overwrite_cache: bool = False,
    ) -> str: ...
    def register(
        self, targets: Sequence[str], *, project: str | None = None, version: str | None = None
    ) -> tuple[str, list[Registered]]: ...
    def create_registered(
        self,
        kind: str,
        name: str,
        version: str | None = None,
        inputs: Mapping[str, Any] | None = None,
        *,
        project: str | None = None,
        max_parallelism: int = 0,
        overwrite_cache: bool = False,
    ) -> str: ...
    def run(
        self, wf: Workflow, inputs: Mapping[str, Any] | None = None, *, timeout: float | None = None, **opts: Any
    ) -> ExecutionRecord: ...
    def relaunch(self, execution_id: str, inputs: Mapping[str, Any] | None = None) -> str: ...
    def recover_plan(self, execution_id: str) -> list[PlanItem]: ...
    def recover(self, execution_id: str) -> str: ...
    def signal(self, execution_id: str, name: str, value: Any = True) -> None: ...
    def terminate(self, execution_id: str, reason: str = "terminated by the user") -> ExecutionRecord: ...

    # -- launch plan schedules ------------------------------------------------------------------
    def activate_launchplan(
        self, name: str, version: str | None = None, *, project: str | None = None
    ) -> dict[str, Any]: ...
    def deactivate_launchplan(self, name: str, *, project: str | None = None) -> dict[str, Any]: ...
    def launchplan_status(self, name: str, *, project: str | None = None) -> dict[str, Any]: ...
    def launchplan_statuses(self, *, project: str | None = None) -> list[dict[str, Any]]: ...

    # -- catalog and lineage --------------------------------------------------------------------
    def cache_entries(
        self, *, project: str | None = None, task: str | None = None, limit: int = 100
    ) -> list[CatalogEntry]: ...
    def cache_evict(
        self,
        *,
        project: str | None = None,
        keys: Sequence[str] = (),
        task: str | None = None,
        execution: str | None = None,
    ) -> int: ...
    def cache_explain(self, execution_id: str, node_id: str) -> dict[str, Any]: ...
    def lineage(self, execution_id: str, node_id: str | None = None) -> list[LineageNode]: ...
    def consumers(self, execution_id: str, node_id: str, output: str | None = None) -> list[Consumer]: ...

    # -- reading --------------------------------------------------------------------------------
    def get(self, execution_id: str) -> ExecutionRecord: ...
    def executions(self, flt: ExecutionFilter | None = None) -> list[ExecutionRecord]: ...
    def spec(self, execution_id: str) -> WorkflowSpec: ...
    def wait(self, execution_id: str, timeout: float | None = None) -> ExecutionRecord: ...
    def nodes(self, execution_id: str, *, children: bool = False) -> list[NodeView]: ...
    def events(self, execution_id: str, after_seq: int = 0) -> list[Event]: ...
    def follow_events(self, execution_id: str, after_seq: int = 0) -> Iterator[Event]: ...
    def changes(self, execution_id: str) -> Iterator[Event | None]: ...
    def follow_logs(self, execution_id: str, node_id: str, attempt: int | None = None) -> Iterator[LogChunk]: ...
    def outputs(self, execution_id: str, wf: Workflow | None = None) -> dict[str, Any]: ...
    def logs(
        self, execution_id: str, node_id: str | None = None, attempt: int | None = None
    ) -> list[tuple[str, str, str]]: ...
    def log_notes(self, execution_id: str, node_id: str | None = None, attempt: int | None = None) -> list[str]: ...


# The contract's methods, pinned (the test compares this with the Protocol and with both clients).
CONTRACT_METHODS = (
    "start_controller", "close", "create_execution", "register", "create_registered", "run", "relaunch",
    "recover_plan", "recover", "signal", "terminate", "activate_launchplan", "deactivate_launchplan",
    "launchplan_status", "launchplan_statuses", "cache_entries", "cache_evict", "cache_explain", "lineage",
    "consumers", "get", "executions", "spec", "wait", "nodes", "events", "follow_events", "changes",
    "follow_logs", "outputs", "logs", "log_notes",
)  # fmt: skip
