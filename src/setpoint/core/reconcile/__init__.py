"""The reconciler: compare an execution's declared DAG with what is recorded and observed, and decide.

`reconcile` is a pure function. It never asks *why* it was called (which event arrived); it looks
at the whole current state — the pinned spec, the recorded node and attempt rows, what executors
report about live attempts, and the time — and returns a `Decision`: the rows to persist (intent
first), the idempotent actions to take after persisting, and when to look again. Calling it twice
on the same state gives the same decision, so lost, duplicated or late events change nothing.

Cost: a round touches the nodes in flight, the nodes that became ready, and the attempts that
were observed; it never walks the whole DAG (see `ExecutionState`).

The package is split by concern, each module readable (and testable through `reconcile`) alone:

- `overlay`: the round's writes layered over the state, the `Decision` they add up to;
- `driver`: `reconcile` itself — the order of a round's steps, and starting ready nodes;
- `nodes`: the transitions every concern shares (start an attempt, succeed, fail, lineage);
- `attempts`: observations, failed attempts, backoff and retries;
- `deadlines`: execution deadline, node deadlines, attempt timeouts;
- `cache`: catalog lookups, hits, misses and reservations;
- `expansions`: map and dynamic nodes, and settling their parents;
- `gates`, `branches`, `children`: sleep/signal/approve gates, branch cases, launch-plan children;
- `finish`: stopping, the ``on_failure`` handler, the execution's final phase.

The concern modules import `overlay` and `nodes` and not each other (except `attempts`, which
hands a dynamic task's sub-workflow to `expansions` and checks `deadlines`); only `driver` imports
them all. So the imports have no cycle, and each concern can be read with two modules beside it.
The tables in ``tests/unit/core/`` test each concern through `reconcile`.
"""

from setpoint.core.reconcile.attempts import backoff_delay
from setpoint.core.reconcile.children import child_execution_id
from setpoint.core.reconcile.driver import reconcile
from setpoint.core.reconcile.nodes import node_attempt_id
from setpoint.core.reconcile.overlay import ABORT_RECHECK_S, ReconcileConfig, resolve_binding

__all__ = [
    "ABORT_RECHECK_S",
    "ReconcileConfig",
    "backoff_delay",
    "child_execution_id",
    "node_attempt_id",
    "reconcile",
    "resolve_binding",
]
