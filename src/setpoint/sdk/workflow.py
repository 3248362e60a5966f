"""`@workflow`: a typed DAG declared as a Python function body.

The body is compiled once into a `WorkflowSpec` (see `setpoint.sdk.compiler`). Calling the
decorated function directly runs the body in-process with real values — every task call simply
runs its function — which is the quickest check that user code works before it is orchestrated.
A body that uses ``>>`` or ``with_overrides`` runs under `LocalRun`, whose calls return values
that carry those; ``conditional`` runs only the chosen case (see `setpoint.sdk.conditional`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import functools
import inspect
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar, overload

from setpoint.errors import InputError, SpecError
from setpoint.sdk.compiler import LocalRun, compile_workflow, plain
from setpoint.sdk.context import building, current_builder
from setpoint.sdk.promise import LocalNode, Node
from setpoint.sdk.task import Task, module_name_of
from setpoint.spec.workflow import FAILURE_POLICIES, FailurePolicy, Interface, TaskSpec, WorkflowSpec

F = TypeVar("F", bound=Callable[..., Any])


class WorkflowFailurePolicy(enum.StrEnum):
    """flytekit's names for the failure policies (``failure_policy=WorkflowFailurePolicy.X``).

    Each member is the spec's JSON spelling of the matching `FailurePolicy`, so either is accepted.
    """

    FAIL_IMMEDIATELY = FailurePolicy.FAIL_FAST.value
    FAIL_AFTER_EXECUTABLE_NODES_COMPLETE = FailurePolicy.FINISH_RUNNABLE.value


@dataclasses.dataclass
class WorkflowError:
    """What an ``on_failure`` task receives in a parameter named ``err`` or ``error`` typed this way.

    flytekit's ``FlyteError``: ``message`` is the execution's error, ``failed_node_id`` the node
    that failed ("" when no node did, e.g. a passed deadline). A parameter typed ``str`` receives
    the message alone.
    """

    message: str
    failed_node_id: str = ""


class Workflow:
    def __init__(
        self,
        function: Callable[..., Any],
        *,
        max_parallelism: int = 0,
        failure_policy: str | FailurePolicy | WorkflowFailurePolicy = FailurePolicy.FAIL_FAST,
        deadline: timedelta | float | None = None,
        on_failure: Any = None,
    ) -> None:
        if not callable(function):
            raise SpecError(f"@workflow must decorate a function, got {type(function).__name__}")
        self.function = function
        self.module = module_name_of(function)
        self.name = function.__name__
        if failure_policy not in FAILURE_POLICIES:
            flyte = ", ".join(f"WorkflowFailurePolicy.{p.name}" for p in WorkflowFailurePolicy)
            raise SpecError(
                f"workflow '{self.name}': failure_policy must be one of {list(FAILURE_POLICIES)} "
                f"(or {flyte}), got {failure_policy!r}"
            )
        if not isinstance(max_parallelism, int) or max_parallelism < 0:
            raise SpecError(f"workflow '{self.name}': max_parallelism must be a non-negative integer")
        self.max_parallelism = max_parallelism
        self.failure_policy = FailurePolicy(failure_policy)
        if isinstance(deadline, timedelta):
            deadline = deadline.total_seconds()
        if deadline is not None and deadline <= 0:
            raise SpecError(f"workflow '{self.name}': deadline must be positive, got {deadline!r}")
        self.deadline_s = float(deadline) if deadline is not None else None
        if on_failure is not None and not isinstance(on_failure, Task | Workflow):
            raise SpecError(
                f"workflow '{self.name}': on_failure must be a @task or a @workflow, got {type(on_failure).__name__}"
            )
        self.on_failure = on_failure
        self._interface: Interface | None = None
        self._spec: WorkflowSpec | None = None
        self.runs_locally_with_promises = False  # set by compiling: the body uses >> or with_overrides
        functools.update_wrapper(self, function)

    @property
    def interface(self) -> Interface:
        if self._interface is None:
            from setpoint.types import function_interface  # lazily: start-up cost, see sdk/binding.py

            self._interface = function_interface(self.function, where=f"workflow '{self.name}'")
        return self._interface

    def compile(self) -> WorkflowSpec:
        """The compiled spec (compiled once, then reused: a spec is immutable)."""
        if self._spec is None:
            self._spec = compile_workflow(self)
        return self._spec

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        builder = current_builder()
        if builder is not None:
            return builder.add_subworkflow(self, args, kwargs)
        try:
            bound = inspect.signature(self.function).bind(*args, **kwargs)
        except TypeError as e:
            raise InputError(f"workflow '{self.name}': {e}") from None
        bound.apply_defaults()
        # flytekit compiles a workflow before running it locally, and so do we; a body that does not
        # compile may still run with real values (e.g. a reference task with a local stand-in)
        with contextlib.suppress(SpecError):
            self.compile()
        if not self.runs_locally_with_promises:
            return self.function(*bound.args, **bound.kwargs)
        with building(LocalRun(self.name)):  # `>>` and with_overrides need call results that carry them
            return plain(self.function(*bound.args, **bound.kwargs))

    @functools.cached_property
    def failure_handler(self) -> FailureHandler:
        """This workflow as another workflow's ``on_failure`` handler (see `FailureHandler`)."""
        return FailureHandler(self)

    def __repr__(self) -> str:
        return f"<workflow {self.module}.{self.name}>"


class FailureHandler:
    """A workflow used as ``on_failure``: run in-process, in the one attempt of the handler node.

    The handler node is a task node, so a workflow handler runs as a task whose function calls the
    workflow directly (its steps run as in any in-process call, in that attempt: they are not nodes
    of their own). The executor finds it as ``<module>.<workflow>.failure_handler``.
    """

    def __init__(self, wf: Workflow) -> None:
        self.workflow = wf

        @functools.wraps(wf.function)
        def run(*args: Any, **kwargs: Any) -> None:
            wf(*args, **kwargs)

        run.__annotations__ = {k: v for k, v in getattr(wf.function, "__annotations__", {}).items() if k != "return"}
        params = list(inspect.signature(wf.function).parameters.values())
        run.__signature__ = inspect.Signature(params, return_annotation=None)  # type: ignore[attr-defined]
        self.function = run

    def spec(self) -> TaskSpec:
        wf = self.workflow
        qualname = getattr(wf.function, "__qualname__", wf.name)
        if "<locals>" in qualname:
            raise SpecError(f"workflow '{wf.name}': an on_failure workflow must be defined at module level")
        return TaskSpec(
            name=f"{wf.module}.{qualname}.failure_handler",
            module=wf.module,
            qualname=f"{qualname}.failure_handler",
            interface=Interface(wf.interface.inputs, ()),
        )


def create_node(entity: Any, *args: Any, **kwargs: Any) -> Any:
    """Call a task, subworkflow or launch plan and get its node (flytekit's ``create_node``).

    Inside a workflow body the node's outputs are ``node.outputs[name]`` or ``node.<name>``, and
    the node orders with ``>>`` like any call's result. Called directly, the call runs and the
    node holds its values.
    """
    if not callable(entity):
        raise SpecError(f"create_node: expected a task, workflow or launch plan, got {type(entity).__name__}")
    builder = current_builder()
    result = entity(*args, **kwargs)
    if builder is None or builder.in_process:
        return LocalNode(plain(result))
    return Node(result, builder)


@overload
def workflow(fn: F, /) -> Workflow: ...


@overload
def workflow(
    *,
    max_parallelism: int = 0,
    failure_policy: str | FailurePolicy | WorkflowFailurePolicy = FailurePolicy.FAIL_FAST,
    deadline: timedelta | float | None = None,
    on_failure: Any = None,
) -> Callable[[F], Workflow]: ...


def workflow(fn: Any = None, /, **options: Any) -> Any:
    """Declare a workflow: ``@workflow`` or ``@workflow(max_parallelism=8, failure_policy="finish_runnable")``."""
    if fn is not None:
        return Workflow(fn, **options)

    def wrap(f: Callable[..., Any]) -> Workflow:
        return Workflow(f, **options)

    return wrap
