"""Builders for the core's table tests: a run of `reconcile` driven by hand, and observations.

`Run` holds an `ExecutionState` built from a compiled spec and calls `reconcile` directly, the
way the controller shell does — but every answer the shell would fetch (catalog entries, child
specs, child executions, signals, what executors report) is given by the test. Nothing runs: no
processes, no store, no clock. States are reached by driving rounds from the start, not by
writing rows by hand, so the tables do not depend on how a record spells its details.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from setpoint.config.settings import Settings
from setpoint.controller.expansion import child_spec
from setpoint.core.model import (
    AttemptObservation,
    CatalogAnswer,
    ErrorInfo,
    ExecutionConfig,
    ExecutionRecord,
    NodeRecord,
    Observed,
)
from setpoint.core.phases import AttemptPhase, ErrorKind, ExecutionPhase, NodePhase
from setpoint.core.reconcile import ReconcileConfig, reconcile
from setpoint.core.state import Abort, AbortChild, Decision, ExecutionState, Launch, StartChild
from setpoint.ports import BlobStore
from setpoint.sdk.compiler import compile_dynamic
from setpoint.sdk.task import Task
from setpoint.sdk.workflow import Workflow
from setpoint.spec.workflow import WorkflowSpec
from setpoint.types.context import LiteralContext

T0 = 1000.0  # the tests' clock starts here
NO_BLOBS = cast(BlobStore, None)  # map inputs in these tables are inline lists: no blob is read
SETTINGS = Settings(home=Path("/nonexistent"))  # only the expansion limits are read


def launches(d: Decision) -> list[str]:
    """The attempt ids a decision launches, in order."""
    return [a.attempt_id for a in d.actions if isinstance(a, Launch)]


def launched_nodes(d: Decision) -> list[str]:
    return [a.node_id for a in d.actions if isinstance(a, Launch)]


def aborts(d: Decision) -> list[str]:
    return [a.attempt_id for a in d.actions if isinstance(a, Abort)]


def child_starts(d: Decision) -> list[StartChild]:
    return [a for a in d.actions if isinstance(a, StartChild)]


def child_aborts(d: Decision) -> list[AbortChild]:
    return [a for a in d.actions if isinstance(a, AbortChild)]


# -- observations: what an executor reports about an attempt -----------------------------------


def running(started_at: float | None = None) -> AttemptObservation:
    return AttemptObservation(Observed.RUNNING, started_at=started_at)


def succeeded(outputs: Mapping[str, Any]) -> AttemptObservation:
    return AttemptObservation(Observed.SUCCEEDED, outputs=dict(outputs))


def failed(
    code: str = "TaskRaised", kind: ErrorKind = ErrorKind.USER, *, retryable: bool = True, message: str = "boom"
) -> AttemptObservation:
    return AttemptObservation(Observed.FAILED, error=ErrorInfo(kind, code, message, retryable))


def built(dynamic_task: Task, **kwargs: Any) -> AttemptObservation:
    """A dynamic task's attempt as a worker reports it: the sub-workflow its body built."""
    sub = compile_dynamic(dynamic_task.spec(), dynamic_task.function, kwargs, LiteralContext(blobs=None, workdir=None))
    return succeeded({"$dynamic": sub})


def child_execution(child_id: str, phase: ExecutionPhase, **changes: Any) -> ExecutionRecord:
    """A launch-plan node's child execution, as the shell would read it from the store."""
    return ExecutionRecord(
        id=child_id,
        project="p",
        workflow="child",
        spec_digest="0" * 64,
        code_digest="0" * 64,
        inputs={},
        phase=phase,
    ).evolve(**changes)


# -- the run -------------------------------------------------------------------------------------


@dataclass
class Run:
    spec: WorkflowSpec
    state: ExecutionState
    cfg: ReconcileConfig
    now: float = T0

    @staticmethod
    def of(
        wf: Workflow,
        inputs: Mapping[str, Any] | None = None,
        *,
        eid: str = "exec1",
        config: ExecutionConfig | None = None,
        cfg: ReconcileConfig | None = None,
    ) -> Run:
        """A QUEUED execution of ``wf`` (defaults filled in), before its first round."""
        spec = wf.compile()
        given = dict(inputs or {})
        filled = {
            name: given.get(name, var.default)
            for name, var in spec.interface.inputs
            if name in given or var.has_default
        }
        ex = ExecutionRecord(
            id=eid,
            project="p",
            workflow=spec.name,
            spec_digest=spec.digest,
            code_digest="0" * 64,
            inputs=filled,
            created_at=T0,
            config=config or ExecutionConfig(),
            version=1,
        )
        state = ExecutionState.build(spec, ex, [], [])
        return Run(spec, state, cfg or ReconcileConfig(backoff_base_s=0.0))

    # -- reading ------------------------------------------------------------------------------
    @property
    def execution(self) -> ExecutionRecord:
        return self.state.execution

    def node(self, node_id: str) -> NodeRecord:
        return self.state.node(node_id)

    def phase(self, node_id: str) -> NodePhase:
        return self.state.phase(node_id)

    def attempt(self, node_id: str) -> str:
        """The id of the node's current attempt."""
        return self.node(node_id).attempt_id

    # -- rounds --------------------------------------------------------------------------------
    def decide(
        self,
        observations: Mapping[str, AttemptObservation] | None = None,
        *,
        catalog: Mapping[str, CatalogAnswer] | None = None,
        expanded: Mapping[str, tuple[str, WorkflowSpec] | str] | None = None,
        children: Mapping[str, ExecutionRecord] | None = None,
    ) -> Decision:
        """One call of `reconcile` on the current state; the state is not changed."""
        return reconcile(self.state, observations or {}, self.now, self.cfg, catalog, expanded, children)

    def step(
        self,
        observations: Mapping[str, AttemptObservation] | None = None,
        *,
        catalog: Mapping[str, CatalogAnswer] | None = None,
        expanded: Mapping[str, tuple[str, WorkflowSpec] | str] | None = None,
        children: Mapping[str, ExecutionRecord] | None = None,
    ) -> Decision:
        """Decide, then fold the decision into the state (as if it was persisted)."""
        d = self.decide(observations, catalog=catalog, expanded=expanded, children=children)
        self.state.apply(d)
        return d

    def step_expanding(self, observations: Mapping[str, AttemptObservation] | None = None) -> Decision:
        """A round in which the shell answers the child specs the core asks for (as the controller does)."""
        d = self.decide(observations)
        if d.expand_requests:
            d = self.decide(observations, expanded=self.expansions(d))
        self.state.apply(d)
        return d

    def expansions(self, d: Decision, settings: Settings = SETTINGS) -> dict[str, tuple[str, WorkflowSpec] | str]:
        """The shell's answers to a decision's expand requests, built by the controller's own builder."""
        answers: dict[str, tuple[str, WorkflowSpec] | str] = {}
        for req in d.expand_requests:
            child = child_spec(self.state, req, NO_BLOBS, settings)
            answers[req.node_id] = child if isinstance(child, str) else (child.digest, child)
        return answers

    def finish(self, node_id: str, outputs: Mapping[str, Any]) -> Decision:
        """The node's current attempt succeeded with ``outputs``."""
        return self.step_expanding({self.attempt(node_id): succeeded(outputs)})

    def confirm_aborts(self) -> Decision:
        """The executors report every attempt being killed as gone."""
        gone = AttemptObservation(Observed.UNKNOWN)
        return self.step(
            {aid: gone for aid, att in self.state.live_attempts.items() if att.phase is AttemptPhase.ABORTING}
        )

    def advance(self, seconds: float) -> None:
        self.now += seconds
