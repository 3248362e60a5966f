"""The port through which attempts run: local processes by default, a Ray cluster, or a test fake."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from setpoint.core.model import AttemptObservation


@dataclass(frozen=True, slots=True)
class LaunchRequest:
    """All an executor needs to run one attempt, in plain data."""

    attempt_id: str
    entrypoint: str  # "module:function" the worker calls with (payload, attempt_dir)
    payload: dict[str, Any]  # JSON: the task spec, the input literals, where blobs live, ...
    sys_path: tuple[str, ...] = ()  # prepended to sys.path in the worker (the code bundle)
    preload: tuple[str, ...] = ()  # modules a warm worker may import before forking
    env: tuple[tuple[str, str], ...] = field(default=())


class Executor(Protocol):
    """Runs attempts. Every call is idempotent on the attempt id."""

    name: str

    def launch(self, request: LaunchRequest) -> None: ...
    def observe(self, attempt_id: str) -> AttemptObservation: ...
    def abort(self, attempt_id: str) -> None: ...
    def logs(self, attempt_id: str) -> dict[str, Path]: ...
    def set_listener(self, listener: Callable[[str], None]) -> None: ...
    def close(self) -> None: ...
