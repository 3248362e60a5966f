"""flytekit.extras.sqlite3.task: `SQLite3Task` and `SQLite3Config` (real SQLite; see setpoint.sdk.sqlite_task)."""

from __future__ import annotations

from setpoint.flytekit._lazy import exports

NAMES: dict[str, str] = {
    "SQLite3Task": "setpoint.sdk.sqlite_task:SQLite3Task",
    "SQLite3Config": "setpoint.sdk.sqlite_task:SQLite3Config",
}

__all__ = sorted(NAMES)  # noqa: PLE0605 - the table above is the list of names
__getattr__, __dir__ = exports(__name__, NAMES)
