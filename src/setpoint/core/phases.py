"""Phases of executions, nodes and attempts, with the transitions each may legally make.

Strings appear only where phases are stored or printed; everywhere else they are these enums. The
transition tables are the single source of truth for "legal": the store refuses an illegal
transition, and the fault-injection invariants check recorded histories against the same tables.
"""

from __future__ import annotations

import enum


class ExecutionPhase(enum.Enum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    ABORTED = "ABORTED"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL_EXECUTION


_TERMINAL_EXECUTION = frozenset({ExecutionPhase.SUCCEEDED, ExecutionPhase.FAILED, ExecutionPhase.ABORTED})

EXECUTION_TRANSITIONS: dict[ExecutionPhase, frozenset[ExecutionPhase]] = {
    ExecutionPhase.QUEUED: frozenset(
        {ExecutionPhase.RUNNING, ExecutionPhase.SUCCEEDED, ExecutionPhase.FAILED, ExecutionPhase.ABORTED}
    ),
    ExecutionPhase.RUNNING: frozenset({ExecutionPhase.SUCCEEDED, ExecutionPhase.FAILED, ExecutionPhase.ABORTED}),
    ExecutionPhase.SUCCEEDED: frozenset(),
    ExecutionPhase.FAILED: frozenset(),
    ExecutionPhase.ABORTED: frozenset(),
}


class NodePhase(enum.Enum):
    """A node's phase. PENDING nodes have no row in the store: absence means "not started"."""

    PENDING = "PENDING"
    QUEUED = "QUEUED"  # an attempt is recorded and being launched
    RUNNING = "RUNNING"  # the executor confirmed the attempt runs
    RETRYING = "RETRYING"  # the last attempt failed; waiting out the backoff before the next one
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"
    ABORTED = "ABORTED"
    RECOVERED = "RECOVERED"  # outputs reused from the execution this one recovers

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL_NODE

    @property
    def is_success(self) -> bool:
        return self in (NodePhase.SUCCEEDED, NodePhase.RECOVERED)


_TERMINAL_NODE = frozenset(
    {NodePhase.SUCCEEDED, NodePhase.FAILED, NodePhase.SKIPPED, NodePhase.ABORTED, NodePhase.RECOVERED}
)

_ACTIVE_NODE = frozenset({NodePhase.QUEUED, NodePhase.RUNNING, NodePhase.RETRYING})

NODE_TRANSITIONS: dict[NodePhase, frozenset[NodePhase]] = {
    NodePhase.PENDING: frozenset(
        {
            NodePhase.QUEUED,
            NodePhase.RUNNING,  # a node that runs no attempt of its own (an expanded map)
            NodePhase.SUCCEEDED,  # cache hit
            NodePhase.RECOVERED,
            NodePhase.SKIPPED,
            NodePhase.ABORTED,
            NodePhase.FAILED,  # inputs could not be resolved
        }
    ),
    NodePhase.QUEUED: frozenset(
        {NodePhase.RUNNING, NodePhase.SUCCEEDED, NodePhase.FAILED, NodePhase.ABORTED, NodePhase.RETRYING}
    ),
    # RUNNING -> QUEUED is a retry with no backoff: RETRYING and the next attempt in one round
    NodePhase.RUNNING: frozenset(
        {NodePhase.SUCCEEDED, NodePhase.FAILED, NodePhase.ABORTED, NodePhase.RETRYING, NodePhase.QUEUED}
    ),
    NodePhase.RETRYING: frozenset({NodePhase.QUEUED, NodePhase.FAILED, NodePhase.ABORTED}),
    NodePhase.SUCCEEDED: frozenset(),
    NodePhase.FAILED: frozenset(),
    NodePhase.SKIPPED: frozenset(),
    NodePhase.ABORTED: frozenset(),
    NodePhase.RECOVERED: frozenset(),
}


def is_active(phase: NodePhase) -> bool:
    return phase in _ACTIVE_NODE


class AttemptPhase(enum.Enum):
    LAUNCHING = "LAUNCHING"  # intent recorded; launch may or may not have happened
    RUNNING = "RUNNING"
    ABORTING = "ABORTING"  # kill requested; waiting to observe the process gone
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    ABORTED = "ABORTED"

    @property
    def is_terminal(self) -> bool:
        return self in (AttemptPhase.SUCCEEDED, AttemptPhase.FAILED, AttemptPhase.ABORTED)


ATTEMPT_TRANSITIONS: dict[AttemptPhase, frozenset[AttemptPhase]] = {
    AttemptPhase.LAUNCHING: frozenset(
        {AttemptPhase.RUNNING, AttemptPhase.ABORTING, AttemptPhase.SUCCEEDED, AttemptPhase.FAILED, AttemptPhase.ABORTED}
    ),
    AttemptPhase.RUNNING: frozenset(
        {AttemptPhase.ABORTING, AttemptPhase.SUCCEEDED, AttemptPhase.FAILED, AttemptPhase.ABORTED}
    ),
    AttemptPhase.ABORTING: frozenset({AttemptPhase.ABORTED, AttemptPhase.FAILED, AttemptPhase.SUCCEEDED}),
    AttemptPhase.SUCCEEDED: frozenset(),
    AttemptPhase.FAILED: frozenset(),
    AttemptPhase.ABORTED: frozenset(),
}


class ErrorKind(enum.Enum):
    """Who is to blame: the user's code or input, or the system. Each has its own retry budget."""

    USER = "USER"
    SYSTEM = "SYSTEM"


def legal(table: dict[enum.Enum, frozenset[enum.Enum]], old: enum.Enum, new: enum.Enum) -> bool:
    return old == new or new in table[old]
