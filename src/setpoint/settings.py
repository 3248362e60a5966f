"""One frozen `Settings` object, built once at the composition root and passed down.

Only `Settings.from_env` reads the environment, and only the CLI and the client's entry points
call it; nothing below them looks at ``os.environ``. Everything a process needs to find its state
(the setpoint home, the database, blob and attempt folders) hangs off here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from setpoint.core.reconcile import ReconcileConfig

HOME_ENV = "SETPOINT_HOME"
DB_ENV = "SETPOINT_DB"
DEFAULT_HOME = Path("~/.setpoint")


@dataclass(frozen=True, slots=True)
class Settings:
    home: Path
    executor_mode: str = "fork"  # "fork" (warm path) or "spawn" (a fresh interpreter per attempt)
    executor_slots: int | None = None  # concurrent attempt processes; None: 2 x CPUs (at least 4)
    workers: int = 2  # controller worker threads
    poll_interval_s: float = 1.0  # how often to look for executions needing a controller
    resync_interval_s: float = 10.0  # full re-observation of every live attempt
    lease_ttl_s: float = 15.0
    offload_threshold: int = 64 * 1024
    max_map_size: int = 100_000  # elements one map node may expand into
    max_dynamic_depth: int = 32  # nested dynamic expansions (recursion) before the node fails
    max_nodes: int = 200_000  # nodes one execution may grow to, static and expanded together
    reconcile: ReconcileConfig = field(default_factory=ReconcileConfig)
    crash_at: str | None = None  # test hook: "<crash point>[:<n>]" kills the process there
    project: str = "default"
    # Where declared and observed state lives: None for the SQLite file under ``home``; a
    # ``postgresql://`` URL for a shared PostgreSQL database (blobs, bundles and attempt folders
    # stay under ``home`` either way).
    db_url: str | None = None

    @property
    def db_path(self) -> Path:
        return self.home / "setpoint.db"

    @property
    def blob_root(self) -> Path:
        return self.home / "blobs"

    @property
    def attempts_root(self) -> Path:
        return self.home / "attempts"

    @property
    def bundles_root(self) -> Path:
        return self.home / "bundles"

    def evolve(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @staticmethod
    def from_env(
        home: str | Path | None = None, env: Mapping[str, str] | None = None, *, db_url: str | None = None
    ) -> Settings:
        env = os.environ if env is None else env
        chosen = Path(home) if home else Path(env.get(HOME_ENV, "") or DEFAULT_HOME)
        reconcile = ReconcileConfig()
        backoff = env.get("SETPOINT_RETRY_BACKOFF_S")
        if backoff:
            reconcile = ReconcileConfig(
                reconcile.default_max_parallelism, reconcile.max_system_retries, float(backoff), reconcile.backoff_max_s
            )
        return Settings(
            home=chosen.expanduser().resolve(),
            executor_mode=env.get("SETPOINT_EXECUTOR_MODE", "fork"),
            crash_at=env.get("SETPOINT_CRASH_AT") or None,
            db_url=db_url or env.get(DB_ENV) or None,
            reconcile=reconcile,
        )
