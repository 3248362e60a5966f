"""`task_mock` and `patch`: replace what a task does while a test calls code that uses it.

    with task_mock(fetch) as m:
        m.return_value = [1, 2, 3]
        assert pipeline(n=3) == 6       # the workflow, called in-process, gets the mock's value

    @patch(fetch)
    def test_pipeline(m: MagicMock) -> None:
        m.return_value = [1, 2, 3]
        ...

As in flytekit: the mock is a `MagicMock` called with the task's inputs *by name* (so
``m.assert_called_once_with(n=3)``), it acts only where the task runs in-process (a workflow called
directly, the task called directly), and the task is restored when the block or test ends. It
works for ``@task``, task objects (``ShellTask``, ``SQLite3Task``), references (which cannot run
locally otherwise) and workflows used as subworkflows. ``patch`` hands the mock to the test as its
first argument; pytest fixtures still fill the others.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any, TypeVar
from unittest import mock

from setpoint.sdk.shell import MOCK_ATTRIBUTE

R = TypeVar("R")


def _check(target: Any) -> None:
    if not callable(getattr(target, "function", None)):
        raise TypeError(
            f"task_mock and patch take a @task, a task object, a reference or a @workflow, got {type(target).__name__}"
        )


@contextmanager
def task_mock(target: Any) -> Iterator[mock.MagicMock]:
    """Within the block, calls of ``target`` run a `MagicMock` (yielded) with the inputs by name."""
    _check(target)
    m = mock.MagicMock(name=getattr(target, "name", "task"))
    saved = target.__dict__.get("function")
    signature = inspect.signature(saved)

    def by_name(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs)
        return m(**bound.arguments)

    by_name.__name__ = saved.__name__  # a workflow compiled inside the block names nodes alike
    target.function = by_name
    setattr(target, MOCK_ATTRIBUTE, by_name)
    try:
        yield m
    finally:
        target.function = saved
        delattr(target, MOCK_ATTRIBUTE)


def patch(target: Any) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """Decorate a test: it receives the mock of ``target`` as its first argument."""
    _check(target)

    def decorate(test: Callable[..., R]) -> Callable[..., R]:
        @functools.wraps(test)
        def run(*args: Any, **kwargs: Any) -> R:
            with task_mock(target) as m:
                return test(m, *args, **kwargs)

        # pytest leaves as many leading parameters to the decorator as there are `unittest.mock`
        # patchings with no attribute name: the first parameter is the mock, the rest are fixtures.
        run.patchings = [SimpleNamespace(attribute_name=None, new=mock.DEFAULT)]  # type: ignore[attr-defined]
        return run

    return decorate
