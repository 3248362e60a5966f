"""Reading an execution as a person sees it: its nodes joined with their spec, attempts and state.

`NodeView` is what ``describe``, the API's node listing and the console show for one node. It
lives with the application services (not in a client) because every front end builds or reads it:
the embedded client joins it from the store, the remote client decodes it from the API, and the
CLI renders it.
"""

from __future__ import annotations

from dataclasses import dataclass

from setpoint.core.model import AttemptRecord, NodeRecord
from setpoint.core.phases import NodePhase


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
