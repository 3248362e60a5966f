"""An execution as a graph to draw: its spec's nodes and edges, each node with its live state.

What the console's DAG page (and any other front end) needs in one read, compact enough for an
execution of tens of thousands of nodes: the nodes of the pinned spec, each with its phase, cache
status, recovery source, attempt count and times, and the spec's edges. A map or dynamic node's
expansion is not listed, only counted (``children``: total and how many are in each phase group),
so a 10,000-element map is one node; `expansion_page` pages through an expansion's nodes, each
drawn the same way, so an expanded node can be opened in place (and nested ones opened in turn).

It reads the store only: the node rows once, the attempts once, the child spec of an expansion
when it is paged. No `NodeView`s are built and no graph is grown, which is what makes it cheaper
than listing the nodes with their children.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from setpoint.core.model import AttemptRecord, ExecutionRecord, NodeRecord
from setpoint.core.phases import NodePhase
from setpoint.errors import InputError, NotFoundError
from setpoint.ports import ExecutionReader, NodeReader
from setpoint.spec.configs import GateKind, NodeKind
from setpoint.spec.nodes import NodeSpec
from setpoint.spec.workflow import ON_FAILURE_NODE, TaskSpec, WorkflowSpec

MAX_PAGE = 1000

# How the phases of an expansion's nodes are counted on its parent.
_GROUPS: dict[NodePhase, str] = {
    NodePhase.PENDING: "queued",
    NodePhase.QUEUED: "queued",
    NodePhase.RETRYING: "running",
    NodePhase.RUNNING: "running",
    NodePhase.SUCCEEDED: "succeeded",
    NodePhase.RECOVERED: "succeeded",
    NodePhase.FAILED: "failed",
    NodePhase.ABORTED: "failed",
    NodePhase.SKIPPED: "skipped",
}


class GraphStore(ExecutionReader, NodeReader, Protocol):
    """What drawing an execution reads: its record and specs, node rows and attempts."""


@dataclass(frozen=True, slots=True)
class ChildCounts:
    total: int
    succeeded: int = 0
    running: int = 0
    failed: int = 0
    queued: int = 0
    skipped: int = 0


@dataclass(frozen=True, slots=True)
class GraphNode:
    id: str
    parent: str | None
    kind: str  # task | map | dynamic | branch | gate | launchplan | on_failure
    label: str
    task: str | None
    phase: str
    cache: str | None  # hit | miss | put | skipped; None when the node is not cacheable
    recovered_from: str | None  # the execution whose outputs a recovered node reused
    attempts: int
    queued_at: float | None
    started_at: float | None
    ended_at: float | None
    error: str | None
    children: ChildCounts | None  # map and dynamic nodes (once expanded)
    gate: str | None = None  # a gate: sleep, approve or signal
    case: int | None = None  # a decided branch: the case it took (-1: none matched)
    case_of: tuple[str, int] | None = None  # a node under a branch's case: (branch, case)
    child: str | None = None  # a launch-plan node: the execution it started


@dataclass(frozen=True, slots=True)
class ExecutionGraph:
    execution: ExecutionRecord
    nodes: tuple[GraphNode, ...]
    edges: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class ChildPage:
    items: tuple[GraphNode, ...]
    edges: tuple[tuple[str, str], ...]  # between the items of this page (a dynamic sub-workflow's)
    next: str | None


class _Rows:
    """An execution's node rows and first-attempt times, read once."""

    def __init__(self, store: GraphStore, execution_id: str) -> None:
        self.records: dict[str, NodeRecord] = {n.node_id: n for n in store.load_nodes(execution_id)}
        self.queued: dict[str, float] = {}
        for a in store.load_attempts(execution_id):
            self._first(a)
        # Expansion nodes by their parent, for counting (a child's id is "<parent>.<id in its spec>").
        self.by_parent: dict[str, list[NodeRecord]] = defaultdict(list)
        expanded = {r.node_id: r for r in self.records.values() if r.typed_detail.expanded}
        for rec in self.records.values():
            parent = _parent_of(rec.node_id, expanded)
            if parent is not None:
                self.by_parent[parent].append(rec)

    def _first(self, a: AttemptRecord) -> None:
        at = self.queued.get(a.node_id)
        if at is None or a.created_at < at:
            self.queued[a.node_id] = a.created_at


def _parent_of(node_id: str, expanded: Mapping[str, NodeRecord]) -> str | None:
    """The longest expanded node whose id prefixes ``node_id`` (the innermost expansion)."""
    at = node_id.rfind(".")
    while at > 0:
        if node_id[:at] in expanded:
            return node_id[:at]
        at = node_id.rfind(".", 0, at)
    return None


def _counts(rec: NodeRecord, rows: _Rows) -> ChildCounts | None:
    detail = rec.typed_detail
    if not detail.expanded:
        return None
    groups: dict[str, int] = defaultdict(int)
    direct = rows.by_parent.get(rec.node_id, ())
    for child in direct:
        groups[_GROUPS[child.phase]] += 1
    total = max(detail.size or 0, len(direct))
    # Children with no row yet have not started: they count as queued.
    groups["queued"] += max(0, total - sum(groups.values()))
    g = groups
    return ChildCounts(total, g["succeeded"], g["running"], g["failed"], g["queued"], g["skipped"])


def _node(
    tasks: Mapping[str, TaskSpec], n: NodeSpec, node_id: str, parent: str | None, rows: _Rows, execution_id: str
) -> GraphNode:
    rec = rows.records.get(node_id) or NodeRecord(execution_id, node_id, NodePhase.PENDING)
    detail = rec.typed_detail
    task = tasks[n.task] if n.task else None
    kind = n.kind.value
    if node_id == ON_FAILURE_NODE:
        kind = "on_failure"
    elif n.kind is NodeKind.TASK and (detail.expanded or (task is not None and task.kind == "dynamic")):
        kind = "dynamic"
    recovered = detail.recovered_from or {}
    return GraphNode(
        id=node_id,
        parent=parent,
        kind=kind,
        label=n.id if parent is not None else node_id,
        task=task.name if task is not None else None,
        phase=rec.phase.value,
        cache=rec.cache_status.value.lower() if rec.cache_status is not None else None,
        recovered_from=str(recovered["execution"]) if recovered.get("execution") else None,
        attempts=rec.attempt,
        queued_at=rows.queued.get(node_id),
        started_at=rec.started_at,
        ended_at=rec.finished_at,
        error=rec.error.message if rec.error is not None else None,
        children=_counts(rec, rows),
        gate=gate.value if isinstance(gate := getattr(n.config, "gate", None), GateKind) else None,
        case=_case(n, rec),
        case_of=n.case_of,
        child=detail.child,
    )


def _case(n: NodeSpec, rec: NodeRecord) -> int | None:
    if n.kind is not NodeKind.BRANCH or not rec.phase.is_success:
        return None
    chosen = (rec.outputs or {}).get("case")
    return chosen if isinstance(chosen, int) and not isinstance(chosen, bool) else None


def _edges(nodes: Sequence[NodeSpec], prefix: str, *, within: bool = False) -> tuple[tuple[str, str], ...]:
    """(upstream, node) for each dependency; ``within``: only those between ``nodes`` themselves."""
    ids = {n.id for n in nodes}
    return tuple((prefix + up, prefix + n.id) for n in nodes for up in n.upstream if not within or up in ids)


def _spec(store: GraphStore, digest: str) -> WorkflowSpec:
    return WorkflowSpec.from_json(json.loads(store.get_spec(digest)))


def execution_graph(store: GraphStore, execution_id: str) -> ExecutionGraph:
    """The execution's spec nodes with their state, expansions counted not listed, and its edges."""
    rec = store.get_execution(execution_id)
    spec = _spec(store, rec.spec_digest)
    rows = _Rows(store, execution_id)
    nodes = [_node(spec.tasks, n, n.id, None, rows, execution_id) for n in spec.nodes]
    if spec.on_failure is not None:
        handler = NodeSpec(ON_FAILURE_NODE, spec.on_failure)
        nodes.append(_node(spec.tasks, handler, ON_FAILURE_NODE, None, rows, execution_id))
    return ExecutionGraph(rec, tuple(nodes), _edges(spec.nodes, ""))


def expansion_page(
    store: GraphStore, execution_id: str, node_id: str, cursor: str | None = None, limit: int = 200
) -> ChildPage:
    """One page of the nodes a map or dynamic node expanded into, in their spec's order.

    The cursor is the position to start from, as given by the previous page's ``next``.
    """
    if not 1 <= limit <= MAX_PAGE:
        raise InputError(f"limit must be between 1 and {MAX_PAGE}, got {limit}")
    cursor = cursor or "0"
    if not (cursor.isascii() and cursor.isdigit()) or len(cursor) > 12:
        raise InputError(f"not a cursor of this listing: {cursor[:40]!r}")
    start = int(cursor)
    store.get_execution(execution_id)
    rows = _Rows(store, execution_id)
    parent = rows.records.get(node_id)
    if parent is None or not parent.typed_detail.expanded:
        raise NotFoundError(f"execution '{execution_id}' has no expanded map or dynamic node '{node_id}'")
    # The child spec was validated when the controller stored it (content-addressed, so unchanged
    # since): read only this page's nodes and their tasks, not all of a 10,000-node document.
    data = json.loads(store.get_spec(str(parent.typed_detail.expanded)))
    where = f"the expansion of node '{node_id}'"
    raw = data["nodes"]
    page = [NodeSpec.from_json(n, f"{where}: nodes[{start + i}]") for i, n in enumerate(raw[start : start + limit])]
    tasks = {k: TaskSpec.from_json(data["tasks"][k], f"{where}: task '{k}'") for k in {n.task for n in page if n.task}}
    prefix = f"{node_id}."
    items = tuple(_node(tasks, n, prefix + n.id, node_id, rows, execution_id) for n in page)
    end = start + len(page)
    return ChildPage(items, _edges(page, prefix, within=True), str(end) if end < len(raw) else None)
