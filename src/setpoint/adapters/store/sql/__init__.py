"""The `Store` port written once in SQL (`SqlStore`) over a small `Connector` each backend provides."""

from setpoint.adapters.store.sql.connector import Connector, Session
from setpoint.adapters.store.sql.store import SqlStore

__all__ = ["Connector", "Session", "SqlStore"]
