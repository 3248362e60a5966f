"""`@task`: a typed Python function that setpoint runs in isolation, retries, times out and caches.

The decorator attaches a frozen definition to the function and registers nothing globally.
Called inside a `@workflow` body being compiled, a task adds a node and returns promises of its
outputs; called anywhere else it simply runs the function (a quick local check of user code).
"""

from __future__ import annotations

import functools
import inspect
import sys
import typing
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar, overload

from setpoint.errors import SpecError
from setpoint.sdk.context import current_builder
from setpoint.spec.workflow import CachePolicy, Interface, TaskSpec

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class Resources:
    """What one attempt needs: ``cpu`` (cores), ``mem`` ("512Mi", "2Gi"), ``gpu`` (count)."""

    cpu: float | None = None
    mem: str | None = None
    gpu: int | None = None

    def items(self) -> tuple[tuple[str, str], ...]:
        out = []
        for key in ("cpu", "mem", "gpu"):
            value = getattr(self, key)
            if value is not None:
                out.append((key, str(value)))
        return tuple(out)


def module_name_of(fn: Callable[..., Any]) -> str:
    """The importable module name of a function (a script run as ``__main__`` is named by its file)."""
    module = fn.__module__
    if module == "__main__":
        main_file = getattr(sys.modules.get("__main__"), "__file__", None)
        if main_file:
            return Path(main_file).stem
    return module


class Task:
    """A function declared as a setpoint task. Use the `task` decorator to make one."""

    def __init__(
        self,
        function: Callable[..., Any],
        *,
        retries: int = 0,
        timeout: timedelta | float | None = None,
        cache: bool = False,
        cache_version: str = "",
        cache_serialize: bool = False,
        cache_ignore_inputs: tuple[str, ...] = (),
        cache_code_in_key: bool = True,
        executor: str = "",
        requests: Resources | None = None,
        unsafe_pickle: bool = False,
        kind: str = "python",
        deadline: timedelta | float | None = None,
    ) -> None:
        if not callable(function):
            raise SpecError(f"@task must decorate a function, got {type(function).__name__}")
        self.function = function
        self.module = module_name_of(function)
        self.qualname = function.__qualname__
        if "<locals>" in self.qualname:
            raise SpecError(
                f"task '{function.__name__}' is defined inside a function; define tasks at module level "
                "so worker processes can import them"
            )
        self.name = f"{self.module}.{self.qualname}"
        if not isinstance(retries, int) or isinstance(retries, bool) or not 0 <= retries <= 100:
            raise SpecError(f"task '{self.name}': retries must be an integer from 0 to 100, got {retries!r}")
        if isinstance(timeout, timedelta):
            timeout = timeout.total_seconds()
        if timeout is not None and timeout <= 0:
            raise SpecError(f"task '{self.name}': timeout must be positive, got {timeout!r}")
        self.retries = retries
        self.timeout_s = float(timeout) if timeout is not None else None
        self.cache = CachePolicy(
            enabled=bool(cache),
            version=cache_version,
            serialize=cache_serialize,
            ignore_inputs=tuple(cache_ignore_inputs),
            code_in_key=cache_code_in_key,
        )
        self.executor = executor
        self.requests = requests or Resources()
        self.unsafe_pickle = unsafe_pickle
        self.kind = kind
        if isinstance(deadline, timedelta):
            deadline = deadline.total_seconds()
        if deadline is not None and deadline <= 0:
            raise SpecError(f"task '{self.name}': deadline must be positive, got {deadline!r}")
        self.deadline_s = float(deadline) if deadline is not None else None
        self._interface: Interface | None = None
        functools.update_wrapper(self, function)

    @property
    def interface(self) -> Interface:
        if self._interface is None:
            from setpoint.types import function_interface  # lazily: start-up cost, see sdk/binding.py

            iface = function_interface(self.function, where=f"task '{self.name}'", allow_pickle=self.unsafe_pickle)
            for ignored in self.cache.ignore_inputs:
                if ignored not in iface.input_map:
                    raise SpecError(f"task '{self.name}': cache_ignore_inputs names unknown input '{ignored}'")
            self._interface = iface
        return self._interface

    @functools.cached_property
    def signature(self) -> inspect.Signature:
        return inspect.signature(self.function)

    def hints(self, where: str) -> dict[str, Any]:
        """The function's resolved annotations (cached: a 10,000-node fan-out calls this per node)."""
        cached = self.__dict__.get("_hints")
        if cached is None:
            try:
                cached = typing.get_type_hints(self.function, include_extras=True)
            except Exception as e:  # a forward reference that does not resolve
                raise SpecError(f"{where}: cannot resolve the type annotations: {e}") from None
            self.__dict__["_hints"] = cached
        return dict(cached)

    def spec(self) -> TaskSpec:
        return TaskSpec(
            name=self.name,
            module=self.module,
            qualname=self.qualname,
            interface=self.interface,
            retries=self.retries,
            timeout_s=self.timeout_s,
            cache=self.cache,
            executor=self.executor,
            resources=self.requests.items(),
            unsafe_pickle=self.unsafe_pickle,
            kind=self.kind,
            deadline_s=self.deadline_s,
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        builder = current_builder()
        if builder is not None:
            return builder.add_task_node(self, args, kwargs)
        return self.function(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<task {self.name}>"


@overload
def task(fn: F, /) -> Task: ...


@overload
def task(
    *,
    retries: int = 0,
    timeout: timedelta | float | None = None,
    cache: bool = False,
    cache_version: str = "",
    cache_serialize: bool = False,
    cache_ignore_inputs: tuple[str, ...] = (),
    cache_code_in_key: bool = True,
    executor: str = "",
    requests: Resources | None = None,
    unsafe_pickle: bool = False,
    deadline: timedelta | float | None = None,
) -> Callable[[F], Task]: ...


def task(fn: Any = None, /, **options: Any) -> Any:
    """Declare a task: ``@task`` or ``@task(retries=2, timeout=timedelta(minutes=5), cache=True)``."""
    if fn is not None:
        return Task(fn, **options)

    def wrap(f: Callable[..., Any]) -> Task:
        return Task(f, **options)

    return wrap


def dynamic(fn: Any = None, /, **options: Any) -> Any:
    """Declare a dynamic task: its body runs when the workflow runs and builds a sub-workflow.

    Inside the body, task calls become nodes (their inputs are the values in hand), so the shape
    of the graph can depend on runtime values: loop over a list an upstream task produced, or
    recurse until a value converges. ``@dynamic`` takes the same options as ``@task``.
    """
    options["kind"] = "dynamic"
    if fn is not None:
        return Task(fn, **options)

    def wrap(f: Callable[..., Any]) -> Task:
        return Task(f, **options)

    return wrap
