"""`reference_task` and `reference_launch_plan`: use an entity someone registered, by name and version.

    @reference_task(project="ml", domain="development", name="ml.prep.clean", version="v3")
    def clean(raw: str) -> str: ...

The decorated function is a stub: its signature states the interface the caller expects, its body
never runs. When a workflow that calls it is compiled, the reference is looked up in the registry
(`setpoint register` put it there) and the registered spec is used — a task's module, qualname
and options, or a launch plan's workflow, default and fixed inputs. A reference that is not
registered, or whose registered interface differs from the stub's, is a compile error naming
both. The registry is whatever the compiling code names with `references_from` (``setpoint run``
names the home's store); there is no global one.

Called outside a workflow a reference cannot run (its code is not here): mock it with
`setpoint.testing.task_mock` / `patch`, as in flytekit. Flyte's ``domain`` has no counterpart in
setpoint (projects hold everything): it is accepted, and resolving the reference warns that it is
not used.

Registered code runs from the calling execution's code bundle (a child execution of a launch plan
runs with its parent's code too): the referenced code must be importable where the workflow is
compiled, and resolving imports it so the bundle holds it. Referencing what the project itself
registered, at a pinned version, is the supported case; code registered from elsewhere is not.
"""

from __future__ import annotations

import contextvars
import importlib
import json
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

from setpoint.errors import NotFoundError, SpecError
from setpoint.sdk.context import current_builder
from setpoint.sdk.shell import mock_of
from setpoint.sdk.task import Task
from setpoint.spec.workflow import Interface, TaskSpec, WorkflowSpec

if TYPE_CHECKING:
    from setpoint.ports import RegisteredEntity


class Registry(Protocol):
    """What resolving a reference reads (a `RegistryStore` is one)."""

    def get_entity(self, kind: str, project: str, name: str, version: str | None = None) -> RegisteredEntity: ...
    def get_spec(self, digest: str) -> str: ...


_REGISTRY: contextvars.ContextVar[Registry | None] = contextvars.ContextVar("setpoint_registry", default=None)


@contextmanager
def references_from(registry: Registry) -> Iterator[Registry]:
    """Resolve references compiled in this block against ``registry``."""
    token = _REGISTRY.set(registry)
    try:
        yield registry
    finally:
        _REGISTRY.reset(token)


def _lookup(kind: str, project: str, name: str, version: str, where: str) -> RegisteredEntity:
    registry = _REGISTRY.get()
    if registry is None:
        raise SpecError(
            f"{where}: cannot resolve the reference here: no registry to look it up in "
            "(compile with `references_from(store)`, or run with `setpoint run`, which uses the home's registry)"
        )
    try:
        return registry.get_entity(kind, project, name, version)
    except NotFoundError:
        raise SpecError(
            f"{where}: no {kind.replace('launchplan', 'launch plan')} '{name}' version '{version}' is registered "
            f"in project '{project}' (register it with `setpoint register`)"
        ) from None


def _check_interface(expected: Interface, registered: Interface, where: str) -> None:
    """Same input and output names and types (defaults and order may differ); else name what differs."""

    def shape(iface: Interface) -> tuple[dict[str, str], dict[str, str]]:
        return {n: str(v.type) for n, v in iface.inputs}, {n: str(t) for n, t in iface.outputs}

    (want_in, want_out), (got_in, got_out) = shape(expected), shape(registered)
    problems = []
    for what, want, got in (("input", want_in, got_in), ("output", want_out, got_out)):
        for n in sorted(set(want) | set(got)):
            if n not in got:
                problems.append(f"the registered entity has no {what} '{n}'")
            elif n not in want:
                problems.append(f"the signature lacks the registered {what} '{n}' ({got[n]})")
            elif want[n] != got[n]:
                problems.append(f"{what} '{n}' is {got[n]} when registered, {want[n]} in the signature")
    if problems:
        raise SpecError(f"{where}: the signature does not match the registered interface: {'; '.join(problems)}")


def _import_code(modules: set[str], where: str) -> None:
    """Import the registered code's modules, so the execution's code bundle holds them."""
    for module in sorted(modules):
        try:
            importlib.import_module(module)
        except Exception as e:
            raise SpecError(
                f"{where}: its code (module '{module}') cannot be imported here ({type(e).__name__}: {e}); "
                "setpoint runs registered code from the calling project's code bundle, so reference what this "
                "project defines"
            ) from None


def _warn_domain(domain: str, where: str) -> None:
    if domain:
        warnings.warn(
            f"{where}: domain={domain!r} is accepted but not used (setpoint has projects, no domains)", stacklevel=4
        )


class ReferenceTask(Task):
    """A registered task used by name: resolved when a workflow calling it is compiled."""

    def __init__(self, function: Callable[..., Any], *, project: str, domain: str, name: str, version: str) -> None:
        super().__init__(function)
        self.reference = (project, name, version)
        self.name = name
        self.domain = domain

    def spec(self) -> TaskSpec:
        """The registered spec, looked up in the current registry (each compile looks again)."""
        project, name, version = self.reference
        where = f"reference_task '{name}' (project '{project}', version '{version}')"
        entity = _lookup("task", project, name, version, where)
        spec = TaskSpec.from_json(entity.body["spec"], where)
        _check_interface(self.interface, spec.interface, where)
        _import_code({spec.module}, where)
        _warn_domain(self.domain, where)
        return spec

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        stand_in = mock_of(self)
        if stand_in is not None and current_builder() is None:
            return stand_in(*args, **kwargs)
        if current_builder() is None:
            raise SpecError(
                f"reference_task '{self.name}' cannot run locally (its code is registered, not here); "
                "mock it with setpoint.testing.task_mock or patch"
            )
        return super().__call__(*args, **kwargs)

    def __repr__(self) -> str:
        project, name, version = self.reference
        return f"<reference task {project}/{name}@{version}>"


def reference_task(
    *, project: str, domain: str = "", name: str, version: str
) -> Callable[[Callable[..., Any]], ReferenceTask]:
    """Declare a reference to a registered task; the decorated stub gives its signature."""

    def wrap(fn: Callable[..., Any]) -> ReferenceTask:
        return ReferenceTask(fn, project=project, domain=domain, name=name, version=version)

    return wrap


class ReferenceLaunchPlan:
    """A registered launch plan used by name: a child execution of its registered workflow."""

    def __init__(self, function: Callable[..., Any], *, project: str, domain: str, name: str, version: str) -> None:
        self.function = function
        self.reference = (project, name, version)
        self.name = name
        self.domain = domain

    def resolve(self) -> Any:
        """A `LaunchPlan`-shaped object for the registered plan (looked up in the current registry)."""
        from setpoint.sdk.launchplan import RegisteredPlan
        from setpoint.types import function_interface

        project, name, version = self.reference
        where = f"reference_launch_plan '{name}' (project '{project}', version '{version}')"
        entity = _lookup("launchplan", project, name, version, where)
        registry = _REGISTRY.get()
        assert registry is not None  # _lookup checked
        spec = WorkflowSpec.from_json(json.loads(registry.get_spec(entity.spec_digest)))
        expected = function_interface(self.function, where=where)
        _check_interface(expected, spec.interface, where)
        _import_code({t.module for t in spec.tasks.values()}, where)
        _warn_domain(self.domain, where)
        return RegisteredPlan(
            name, spec, entity.body.get("default_inputs") or {}, entity.body.get("fixed_inputs") or {}
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        stand_in = mock_of(self)
        if stand_in is not None and current_builder() is None:
            return stand_in(*args, **kwargs)
        if current_builder() is None:
            raise SpecError(
                f"reference_launch_plan '{self.name}' cannot run locally (it is registered, not here); "
                "mock it with setpoint.testing.patch"
            )
        return self.resolve()(*args, **kwargs)

    def __repr__(self) -> str:
        project, name, version = self.reference
        return f"<reference launch plan {project}/{name}@{version}>"


def reference_launch_plan(
    *, project: str, domain: str = "", name: str, version: str
) -> Callable[[Callable[..., Any]], ReferenceLaunchPlan]:
    """Declare a reference to a registered launch plan; the decorated stub gives its signature."""

    def wrap(fn: Callable[..., Any]) -> ReferenceLaunchPlan:
        return ReferenceLaunchPlan(fn, project=project, domain=domain, name=name, version=version)

    return wrap
