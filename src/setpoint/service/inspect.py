"""Reading an execution as a person sees it: its nodes joined with their spec, attempts and state.

`NodeView` is what ``describe``, the API's node listing and the console show for one node. It
lives with the application services (not in a client) because every front end builds or reads it:
the embedded client joins it from the store, the remote client decodes it from the API, and the
CLI renders it. `node_views` is what ``describe`` reads, `attempt_deck` what the deck route serves
(logs are read by `setpoint.service.logs`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from setpoint.core.graph import Graph
from setpoint.core.model import AttemptRecord, NodeRecord
from setpoint.core.phases import NodePhase
from setpoint.errors import NotFoundError
from setpoint.ports import ExecutionReader, NodeReader, SpecStore
from setpoint.spec.workflow import ON_FAILURE_NODE, WorkflowSpec


@dataclass(frozen=True, slots=True)
class NodeView:
    """A node of an execution as a person sees it: its spec joined with its recorded state."""

    node_id: str
    task: str
    upstream: tuple[str, ...]
    record: NodeRecord
    attempts: tuple[AttemptRecord, ...]

    @property
    def phase(self) -> NodePhase:
        return self.record.phase

    @property
    def duration(self) -> float | None:
        r = self.record
        if r.started_at is None or r.finished_at is None:
            return None
        return r.finished_at - r.started_at


class InspectStore(ExecutionReader, NodeReader, Protocol):
    """What reading an execution needs: its record and pinned spec, its nodes and attempts."""


def execution_graph(
    store: SpecStore, spec: WorkflowSpec, records: Mapping[str, NodeRecord], *, children: bool
) -> tuple[Graph, list[str]]:
    """The execution's graph and node order; with ``children``, grown by every recorded expansion
    (map elements, dynamic sub-workflows), each expansion's nodes right after their parent."""
    graph = Graph(spec)
    order = [n.id for n in spec.nodes]
    if ON_FAILURE_NODE in graph.node_map and ON_FAILURE_NODE in records:
        order.append(ON_FAILURE_NODE)  # the failure handler's run, after the nodes it followed
    if children:
        expanded = sorted((r for r in records.values() if r.typed_detail.expanded), key=lambda r: len(r.node_id))
        for rec in expanded:
            if rec.node_id not in graph.node_map:
                continue
            child = WorkflowSpec.from_json(json.loads(store.get_spec(str(rec.typed_detail.expanded))))
            ids = graph.add_children(rec.node_id, child, rec.inputs or {})
            at = order.index(rec.node_id) + 1
            order[at:at] = ids
    return graph, order


def node_views(store: InspectStore, execution_id: str, *, children: bool = False) -> list[NodeView]:
    """The execution's nodes in spec order, each joined with its record and attempts."""
    rec = store.get_execution(execution_id)
    spec = WorkflowSpec.from_json(json.loads(store.get_spec(rec.spec_digest)))
    records = {n.node_id: n for n in store.load_nodes(execution_id)}
    attempts: dict[str, list[AttemptRecord]] = {}
    for a in store.load_attempts(execution_id):
        attempts.setdefault(a.node_id, []).append(a)
    graph, order = execution_graph(store, spec, records, children=children)
    views = []
    for node_id in order:
        n = graph.node_map[node_id]
        views.append(
            NodeView(
                node_id,
                graph.tasks[n.task].name if n.task else n.kind,
                graph.upstream[node_id],
                records.get(node_id) or NodeRecord(execution_id, node_id, NodePhase.PENDING),
                tuple(attempts.get(node_id, ())),
            )
        )
    return views


DECK_FILE = "deck.html"  # written by the runtime into the attempt's folder (setpoint.sdk.deck)


def deck_path(
    views: list[NodeView], attempts_root: Path, execution_id: str, node_id: str, attempt: int | None = None
) -> Path:
    """The deck page of a node's attempt (the latest one that rendered a deck, unless ``attempt``).

    NotFoundError says why there is none: no such node, no attempt yet, or a task without decks.
    """
    view = next((v for v in views if v.node_id == node_id), None)
    if view is None:
        raise NotFoundError(f"execution '{execution_id}' has no node '{node_id}'")
    numbers = sorted((a.number for a in view.attempts), reverse=True)
    if attempt is not None:
        if attempt not in numbers:
            raise NotFoundError(f"node '{node_id}' of execution '{execution_id}' has no attempt {attempt}")
        numbers = [attempt]
    if not numbers:
        raise NotFoundError(f"node '{node_id}' of execution '{execution_id}' has not run yet")
    for n in numbers:
        path = attempts_root / execution_id / node_id / str(n) / DECK_FILE
        if path.is_file():
            return path
    raise NotFoundError(
        f"node '{node_id}' of execution '{execution_id}' has no deck: its task "
        f"({view.task}) must be declared with enable_deck=True"
    )


def attempt_deck(
    store: InspectStore, attempts_root: Path, execution_id: str, node_id: str, attempt: int | None = None
) -> Path:
    """`deck_path` read from the store: what a server's deck route serves (``text/html``)."""
    return deck_path(node_views(store, execution_id, children=True), attempts_root, execution_id, node_id, attempt)
