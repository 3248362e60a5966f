"""Composing the embedded client: which store a setting names, and whether an execution's executors can run here.

`Client` is the composition root of embedded mode (store, blob store, executors, controller);
these are the decisions it makes from `Settings` before anything is created, kept apart so the
client itself is only its methods.
"""

from __future__ import annotations

from setpoint.config.settings import Settings
from setpoint.errors import InputError, StoreError
from setpoint.ports import Store
from setpoint.spec.workflow import WorkflowSpec

__all__ = ["EXECUTORS", "check_executors", "open_store"]


def open_store(settings: Settings) -> Store:
    """The store ``settings`` name: the SQLite file under the home, or ``settings.db_url``.

    A PostgreSQL store is opened with the database's clock for leases and reservations: it is
    what several controller replicas share, and their own clocks may disagree.
    """
    url = settings.db_url
    if not url:
        from setpoint.adapters.store.sqlite import SqliteStore

        return SqliteStore(settings.db_path)
    scheme = url.split(":", 1)[0].lower() if "://" in url else ""
    if scheme in ("postgresql", "postgres"):
        try:
            from setpoint.adapters.store.postgres import PostgresStore
        except ImportError as exc:
            raise StoreError(f"{exc}; or leave the database setting empty to use SQLite") from None
        return PostgresStore(url, clock="db", statement_timeout=settings.db_timeout_s)
    if scheme == "sqlite":  # sqlite:///absolute/path or sqlite://relative/path
        from setpoint.adapters.store.sqlite import SqliteStore

        return SqliteStore(url.split("://", 1)[1])
    raise StoreError(
        "the database setting must be a postgresql:// URL (or sqlite:///path); got one starting "
        f"{url.split('://', 1)[0][:20]!r}"
    )


EXECUTORS = ("local", "ray")


def check_executors(spec: WorkflowSpec, default: str, settings: Settings) -> None:
    """Refuse, before anything is created, an execution whose tasks name an executor that cannot run here."""
    where = f"workflow '{spec.name}'"
    wanted: dict[str, str] = {}
    for task in spec.tasks.values():
        wanted.setdefault(task.executor or default, f"task '{task.name}'")
    wanted.setdefault(default, "the execution's default executor")
    for name, who in wanted.items():
        if name not in EXECUTORS:
            raise InputError(f"{where}: {who} asks for executor '{name}'; known executors: {', '.join(EXECUTORS)}")
    if "ray" in wanted:
        who = wanted["ray"]
        if not settings.ray_address:
            raise InputError(
                f"{where}: {who} runs on executor 'ray' but no Ray cluster is configured "
                "(set SETPOINT_RAY_ADDRESS to the cluster's address, e.g. 'head-node:6379')"
            )
        import importlib.util

        if importlib.util.find_spec("ray") is None:
            raise InputError(
                f"{where}: {who} runs on executor 'ray' but Ray is not installed: pip install 'setpoint[ray]'"
            )
