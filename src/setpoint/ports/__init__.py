"""The small interfaces between the controller and the outside world.

The controller shell talks to storage, executors, blobs and time only through these protocols, so
the same controller runs on SQLite or PostgreSQL, local processes or Ray, and under a fake clock in
tests. Each adapter translates its driver's exceptions into `setpoint.errors` at this boundary.
One module per port (`store` split further by role); this package re-exports them all.
"""

from setpoint.ports.blobs import BlobRef, BlobStore
from setpoint.ports.clock import Clock, SystemClock
from setpoint.ports.executor import Executor, LaunchRequest
from setpoint.ports.store import (
    ENTITY_KINDS,
    ROLES,
    Activation,
    CatalogStore,
    ExecutionFilter,
    ExecutionReader,
    ExecutionStore,
    ExecutionView,
    LineageReader,
    LineageStore,
    NodeReader,
    NodeStateStore,
    RegisteredEntity,
    RegistryStore,
    RoundWrite,
    ScheduleStore,
    SpecStore,
    Store,
    TickRecord,
    TokenRecord,
    TokenStore,
)

__all__ = [
    "ENTITY_KINDS",
    "ROLES",
    "Activation",
    "BlobRef",
    "BlobStore",
    "CatalogStore",
    "Clock",
    "ExecutionFilter",
    "ExecutionReader",
    "ExecutionStore",
    "ExecutionView",
    "Executor",
    "LaunchRequest",
    "LineageReader",
    "LineageStore",
    "NodeReader",
    "NodeStateStore",
    "RegisteredEntity",
    "RegistryStore",
    "RoundWrite",
    "ScheduleStore",
    "SpecStore",
    "Store",
    "SystemClock",
    "TickRecord",
    "TokenRecord",
    "TokenStore",
]
