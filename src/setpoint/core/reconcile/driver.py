"""One reconcile round: the order of its steps, and which ready nodes start.

`reconcile` runs the concern modules' steps in a fixed order (observe attempts, deadlines, stop
or start retries / gates / children / ready nodes / settle parents, then finish) over one `Round`.
Starting a ready node dispatches on its kind to the module that owns it, under the parallelism
limit; when a parent settles in this round, what its completion made ready starts in the same round.
"""

from __future__ import annotations

from collections.abc import Mapping

from setpoint.core.model import AttemptObservation, CatalogAnswer, ErrorInfo, ExecutionRecord, NodeDetail
from setpoint.core.phases import ErrorKind, ExecutionPhase, NodePhase, is_active
from setpoint.core.reconcile.attempts import observe, start_retries
from setpoint.core.reconcile.branches import decide, not_taken
from setpoint.core.reconcile.cache import start_cached
from setpoint.core.reconcile.children import check_children, start_child
from setpoint.core.reconcile.deadlines import check_deadlines, check_execution_deadline
from setpoint.core.reconcile.expansions import check_parent, expand_map, parent_saturated
from setpoint.core.reconcile.finish import finish, stop
from setpoint.core.reconcile.gates import check_gates, start_gate
from setpoint.core.reconcile.nodes import new_attempt, node_failed, node_inputs
from setpoint.core.reconcile.overlay import ReconcileConfig, Round
from setpoint.core.state import Decision, ExecutionState, counts_as_success
from setpoint.spec.bindings import PathError
from setpoint.spec.workflow import FailurePolicy, NodeKind, WorkflowSpec


def reconcile(
    state: ExecutionState,
    observations: Mapping[str, AttemptObservation],
    now: float,
    cfg: ReconcileConfig = ReconcileConfig(),  # noqa: B008  (frozen: one shared default is safe)
    catalog: Mapping[str, CatalogAnswer] | None = None,
    expanded: Mapping[str, tuple[str, WorkflowSpec] | str] | None = None,
    child_executions: Mapping[str, ExecutionRecord] | None = None,
) -> Decision:
    """Decide the next step for one execution. Pure: no I/O, no clock, no randomness.

    ``catalog`` holds the answers the shell fetched for cache keys this round asked about; a
    decision with ``lookups`` says which answers are still missing (fetch them, call again).
    """
    ex = state.execution
    if ex.phase.is_terminal:
        return Decision()
    r = Round(state, now, catalog or {}, expanded or {})
    r.child_executions = child_executions or {}
    if ex.phase is ExecutionPhase.QUEUED:
        r.set_execution(ex.evolve(phase=ExecutionPhase.RUNNING, started_at=now))

    observe(r, observations, cfg)
    check_execution_deadline(r)
    check_deadlines(r)
    stopping = r.execution.abort_reason is not None or (
        r.execution.error is not None
        and (state.spec.failure_policy == FailurePolicy.FAIL_FAST or r.execution.error.code == "DeadlineExceeded")
    )
    if stopping:
        stop(r)
    else:
        start_retries(r, cfg)
        check_gates(r, cfg)
        check_children(r)
        _start_ready(r, cfg)
        _settle_parents(r, cfg)
        if r.execution.error is not None and state.spec.failure_policy == FailurePolicy.FAIL_FAST:
            stop(r)
    finish(r)
    return r.decision()


def _start_ready(r: Round, cfg: ReconcileConfig) -> None:
    spec = r.state.spec
    graph = r.state.graph
    limit = r.execution.config.max_parallelism or spec.max_parallelism or cfg.default_max_parallelism
    # Ready nodes stay in `state.ready` until they start, so the front of it is always fresh;
    # iterate it lazily (it can hold a whole 10,000-element map) and stop at the capacity limit.
    # Nodes made ready during this round are appended to r.ready_list and walked by index, so a
    # cascade (a failure skipping thousands of dependents) stays linear.
    ready_iter = iter(r.state.ready)  # the overlay never mutates the state, so this is safe
    i = 0
    while True:
        node_id = next(ready_iter, None)
        if node_id is None:
            if i >= len(r.ready_list):
                break
            node_id = r.ready_list[i]
            i += 1
        node = r.node(node_id)
        if node.phase is not NodePhase.PENDING:
            continue
        spec_node = graph.node_map[node_id]
        if spec_node.case_of is not None and not_taken(r, spec_node.case_of):
            branch_id, case = spec_node.case_of
            r.set_node(
                node.evolve(phase=NodePhase.SKIPPED, finished_at=r.now, detail=NodeDetail(not_taken=True).to_json()),
                f"branch '{branch_id}' did not take case {case}",
            )
            continue
        ups = graph.upstream[node_id]
        if any(not counts_as_success(r.node(u)) for u in ups):
            r.set_node(node.evolve(phase=NodePhase.SKIPPED, finished_at=r.now), "an upstream node did not succeed")
            continue
        try:  # a path into an upstream value (make().name, xs[0]) may not exist: the node fails
            if spec_node.kind is NodeKind.BRANCH:
                decide(r, node, spec_node)
                continue
            if spec_node.kind is NodeKind.GATE:  # waiting costs nothing: gates do not take parallelism slots
                start_gate(r, node, spec_node)
                continue
            if spec_node.kind is NodeKind.LAUNCHPLAN:  # a separate execution: it has its own parallelism
                start_child(r, node, spec_node)
                continue
            if r.active_count >= limit:
                break
            parent = graph.parent_of.get(node_id)
            if parent is not None and parent_saturated(r, parent):
                continue
            inputs = node_inputs(r, spec_node)
            if spec_node.kind is NodeKind.MAP:
                expand_map(r, node, spec_node, inputs)
                continue
            task = graph.tasks[spec_node.task]
            if not task.cache.enabled:
                new_attempt(r, node, inputs)
                continue
            start_cached(r, node, task, inputs, cfg)
        except PathError as e:
            message = f"node '{node_id}': an input could not be resolved: {e}"
            node_failed(r, node, ErrorInfo(ErrorKind.USER, "BadInputPath", message, False, node_id))


def _settle_parents(r: Round, cfg: ReconcileConfig) -> None:
    """Expanded parents whose children changed this round (and parents of parents, as they settle)."""
    for parent in r.state.graph.children:
        if r.state.open_children.get(parent, 0) == 0 and is_active(r.node(parent).phase):
            r.pending_parents[parent] = None  # every child was settled before this round (recovered)
    seen: set[str] = set()
    while r.pending_parents:
        parent = next(iter(r.pending_parents))
        del r.pending_parents[parent]
        if parent in seen:
            continue
        seen.add(parent)
        was_active = is_active(r.node(parent).phase)
        check_parent(r, parent)
        if was_active and not is_active(r.node(parent).phase) and r.newly_ready:
            _start_ready(r, cfg)  # what the parent's completion made ready starts in this round
