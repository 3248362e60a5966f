"""Named crash points: a test hook that kills the controller at a chosen step of a round.

The controller's safety argument is that a crash at any point of a round is harmless (intent is
written before actions, every action is idempotent). The fault tests check that argument by
setting ``Settings.crash_at`` to one of these points and restarting a controller afterwards;
naming the points here keeps the list the tests iterate over and the hook in one place.
"""

from __future__ import annotations

import os
import signal

from setpoint.errors import SetpointError

CRASH_POINTS = (
    "round.loaded",  # state loaded, nothing decided
    "round.decided",  # decision computed, nothing written
    "round.committed",  # intent written, no action taken
    "round.launched",  # right after one launch (others of the round not yet)
    "round.aborted",  # right after one abort request
)


class CrashInjector:
    """Kill this process at a named point (test hook); ``spec`` is ``"<point>[:<nth hit>]"``."""

    def __init__(self, spec: str | None) -> None:
        self.point: str | None = None
        self.nth = 1
        self._hits = 0
        if spec:
            point, _, nth = spec.partition(":")
            if point not in CRASH_POINTS:
                raise SetpointError(f"unknown crash point {point!r}; known: {', '.join(CRASH_POINTS)}")
            self.point = point
            self.nth = int(nth) if nth else 1

    def hit(self, point: str) -> None:
        if point != self.point:
            return
        self._hits += 1
        if self._hits >= self.nth:
            os.kill(os.getpid(), signal.SIGKILL)
