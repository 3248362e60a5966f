"""Which workflow body is being compiled right now, if any.

A `@task`, a `@workflow`, `map_task`, `conditional`, a launch plan and the gates all behave two
ways: called inside a workflow body that is being compiled they add a node to the body's
`Builder`; called anywhere else they run (or refuse to). They tell the two apart by asking this
module. It sits below everything else in `setpoint.sdk` and imports none of it, so every SDK
module can ask without importing the compiler (which would close a circle back to them).
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from setpoint.sdk.compiler import Builder

_BUILDER: contextvars.ContextVar[Builder | None] = contextvars.ContextVar("setpoint_builder", default=None)


def current_builder() -> Builder | None:
    """The builder of the workflow body being compiled in this context (None when none is)."""
    return _BUILDER.get()


@contextmanager
def building(builder: Builder) -> Iterator[Builder]:
    """Make ``builder`` the current one while the body runs (nested bodies restore the outer one)."""
    token = _BUILDER.set(builder)
    try:
        yield builder
    finally:
        _BUILDER.reset(token)
