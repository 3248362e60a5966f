"""Time, injected: the controller and services read the clock only through `Clock`, so tests can
run time-dependent logic (backoff, timeouts, gates, schedules) under a fake one."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float: ...


class SystemClock:
    def now(self) -> float:
        return time.time()
