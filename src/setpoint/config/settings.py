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
from setpoint.errors import InputError

HOME_ENV = "SETPOINT_HOME"
DB_ENV = "SETPOINT_DB"
BLOBS_ENV = "SETPOINT_BLOBS"
RAY_ADDRESS_ENV = "SETPOINT_RAY_ADDRESS"
DEFAULT_EXECUTOR_ENV = "SETPOINT_DEFAULT_EXECUTOR"
SECRETS_DIR_ENV = "SETPOINT_SECRETS_DIR"
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
    # Testing and escape hatch only (SETPOINT_LEASES=off): controllers take no leases and every
    # one of them acts on every execution; only the row-version compare-and-swap keeps them apart.
    leases: bool = True
    db_timeout_s: float = 30.0  # PostgreSQL statement timeout; a call with no answer by then + 2 s is dropped
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
    # Where blobs (payloads, files, code bundles) live: None for the folder under ``home``; a path
    # or an fsspec URL (``file:///shared``, ``s3://bucket/prefix``) for storage workers elsewhere
    # can reach. Every process of a deployment (clients, controllers, workers) must name the same.
    blobs_url: str | None = None
    # The Ray cluster for tasks with executor="ray" (``head:6379`` or ``ray://head:10001``); None:
    # no Ray executor. The attempts folder must then be on storage the Ray nodes mount at the same path.
    ray_address: str | None = None
    default_executor: str = "local"  # for tasks that name none, unless an execution chooses another
    # For autoscaling Ray clusters: submit requests no current node can satisfy, and fail an attempt
    # that has not started after this many seconds instead (None: refuse such requests at launch).
    ray_pending_timeout_s: float | None = None
    # Where the default secret provider reads files (``<dir>/<group>/<key>``): None for ``home/secrets``.
    # Workers get it with each attempt (the payload's ``secrets_dir``); docs/secrets.md.
    secrets_dir: Path | None = None

    @property
    def db_path(self) -> Path:
        return self.home / "setpoint.db"

    @property
    def blob_root(self) -> Path:
        return self.home / "blobs"

    @property
    def blob_location(self) -> str:
        """The blob store as a path or URL, what `open_blob_store` takes and workers are sent."""
        return self.blobs_url or str(self.blob_root)

    @property
    def attempts_root(self) -> Path:
        return self.home / "attempts"

    @property
    def secrets_root(self) -> Path:
        return self.secrets_dir or self.home / "secrets"

    @property
    def bundles_root(self) -> Path:
        return self.home / "bundles"

    def evolve(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @staticmethod
    def from_env(
        home: str | Path | None = None,
        env: Mapping[str, str] | None = None,
        *,
        db_url: str | None = None,
        blobs_url: str | None = None,
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
            blobs_url=blobs_url or env.get(BLOBS_ENV) or None,
            ray_address=env.get(RAY_ADDRESS_ENV) or None,
            default_executor=env.get(DEFAULT_EXECUTOR_ENV) or "local",
            ray_pending_timeout_s=(
                _positive(env, "SETPOINT_RAY_PENDING_TIMEOUT_S", default=0.0)
                if env.get("SETPOINT_RAY_PENDING_TIMEOUT_S")
                else None
            ),
            reconcile=reconcile,
            leases=_switch(env, "SETPOINT_LEASES", default=True),
            db_timeout_s=_positive(env, "SETPOINT_DB_TIMEOUT_S", default=30.0),
            secrets_dir=Path(env[SECRETS_DIR_ENV]).expanduser() if env.get(SECRETS_DIR_ENV) else None,
        )


def _switch(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("on", "true", "1", "yes"):
        return True
    if raw in ("off", "false", "0", "no"):
        return False
    raise InputError(f"environment variable {name} must be on or off, got {raw[:20]!r}")


def _positive(env: Mapping[str, str], name: str, *, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise InputError(f"environment variable {name} must be a number of seconds > 0, got {raw[:20]!r}")
    return value
