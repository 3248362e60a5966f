"""An in-memory `Executor` that completes every attempt the moment it is launched.

It runs no code: ``launch`` records the attempt and tells the listener, and ``observe`` reports it
SUCCEEDED with outputs computed from the attempt's input literals by a function you supply
(``{"o0": 0}`` by default). That isolates the controller — queue, reconcile, store — from process
start-up, which is what the controller benchmarks (``bench/controller.py``) and fast controller
tests need. Every call is idempotent on the attempt id, as the `Executor` protocol requires.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from setpoint.core.model import AttemptObservation, ErrorInfo, Observed
from setpoint.core.phases import ErrorKind
from setpoint.ports import Clock, LaunchRequest, SystemClock

if TYPE_CHECKING:
    from setpoint.ports import Executor

OutputsFn = Callable[[Mapping[str, Any]], dict[str, Any]]

_UNKNOWN = AttemptObservation(Observed.UNKNOWN)


def default_outputs(inputs: Mapping[str, Any]) -> dict[str, Any]:
    return {"o0": 0}


class InstantExecutor:
    """Completes each launched attempt at once; outputs come from ``outputs(inputs)``."""

    def __init__(self, outputs: OutputsFn | None = None, *, name: str = "instant", clock: Clock | None = None) -> None:
        self.name = name
        self._outputs = outputs or default_outputs
        self._clock: Clock = clock or SystemClock()
        self._lock = threading.Lock()
        self._attempts: dict[str, AttemptObservation] = {}
        self._aborted: set[str] = set()
        self._listener: Callable[[str], None] | None = None
        self.launches = 0  # distinct attempts launched (repeated launches of one id count once)

    def set_listener(self, listener: Callable[[str], None]) -> None:
        with self._lock:
            self._listener = listener

    def launch(self, request: LaunchRequest) -> None:
        aid = request.attempt_id
        with self._lock:
            if aid in self._attempts:
                return
        inputs = request.payload.get("inputs", {}) if isinstance(request.payload, Mapping) else {}
        now = self._clock.now()
        try:
            obs = AttemptObservation(Observed.SUCCEEDED, now, now, outputs=dict(self._outputs(inputs)))
        except Exception as exc:  # the outputs function is user code: report it like a task that raised
            error = ErrorInfo(ErrorKind.USER, "TaskRaised", f"{type(exc).__name__}: {exc}")
            obs = AttemptObservation(Observed.FAILED, now, now, error=error)
        with self._lock:
            if aid in self._attempts:
                return
            self._attempts[aid] = obs
            self.launches += 1
            listener = self._listener
        if listener is not None:
            listener(aid)

    def observe(self, attempt_id: str) -> AttemptObservation:
        with self._lock:
            return self._attempts.get(attempt_id, _UNKNOWN)

    def abort(self, attempt_id: str) -> None:
        """Attempts are over as soon as they start, so there is nothing to kill; noted for tests."""
        with self._lock:
            self._aborted.add(attempt_id)
            listener = self._listener
        if listener is not None:
            listener(attempt_id)

    def logs(self, attempt_id: str) -> dict[str, Path]:
        return {}

    def close(self) -> None:
        with self._lock:
            self._listener = None


if TYPE_CHECKING:

    def _conforms(ex: InstantExecutor) -> Executor:
        return ex
