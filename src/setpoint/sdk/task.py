"""`@task`: a typed Python function that setpoint runs in isolation, retries, times out and caches.

The decorator attaches a frozen definition to the function and registers nothing globally.
Called inside a `@workflow` body being compiled, a task adds a node and returns promises of its
outputs; called anywhere else it simply runs the function (a quick local check of user code).
"""

from __future__ import annotations

import enum
import functools
import hashlib
import inspect
import json
import re
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar, TypeVar, overload

from setpoint.errors import SpecError
from setpoint.sdk.context import current_builder
from setpoint.spec.model import SECRET_NAME_RE
from setpoint.spec.workflow import CachePolicy, Interface, TaskSpec

F = TypeVar("F", bound=Callable[..., Any])


class TaskOptionWarning(UserWarning):
    """An option a task declares that setpoint records but does not act on (said once, at compile time)."""


_QUANTITY = re.compile(r"([0-9]+(?:\.[0-9]+)?)([KMGTkmgt]i?)?[bB]?")
_CPU = re.compile(r"([0-9]+(?:\.[0-9]+)?)(m?)")


@dataclass(frozen=True, slots=True)
class Resources:
    """What one attempt needs (``requests=``) or may use at most (``limits=``).

    ``cpu``: cores (``2``, ``0.5``, ``"500m"``); ``mem`` and ``ephemeral_storage``: quantities
    (``"512Mi"``, ``"2Gi"``, ``"1G"``, or bytes); ``gpu``: a count. Checked when a task uses them.
    """

    cpu: float | int | str | None = None
    mem: str | int | None = None
    gpu: int | str | None = None
    ephemeral_storage: str | int | None = None

    def items(self) -> tuple[tuple[str, str], ...]:
        """The spec's form: only the fields given, as strings (``cpu`` normalised to cores)."""
        out = []
        for key in ("cpu", "mem", "gpu", "ephemeral_storage"):
            value = getattr(self, key)
            if value is not None:
                out.append((key, _cpu_text(value) if key == "cpu" else str(value)))
        return tuple(out)

    def check(self, where: str) -> None:
        """SpecError naming ``where`` for any field that is not a valid quantity."""
        cpu, gpu = self.cpu, self.gpu
        if cpu is not None:
            ok = isinstance(cpu, str) and _CPU.fullmatch(cpu.strip()) is not None
            ok = ok or (isinstance(cpu, int | float) and not isinstance(cpu, bool))
            if not ok or float(_cpu_text(cpu)) <= 0:
                raise SpecError(f"{where}: cpu={cpu!r} is not a positive number of cores (2, 0.5 or '500m')")
        for key in ("mem", "ephemeral_storage"):
            value = getattr(self, key)
            if value is None:
                continue
            ok = isinstance(value, int) and not isinstance(value, bool) and value > 0
            ok = ok or (isinstance(value, str) and _QUANTITY.fullmatch(value.strip()) is not None)
            if not ok:
                raise SpecError(f"{where}: {key}={value!r} is not a quantity like '512Mi', '2Gi' or '1G'")
        if gpu is not None:
            text = str(gpu).strip()
            if isinstance(gpu, bool) or not text.isdigit():
                raise SpecError(f"{where}: gpu={gpu!r} is not a whole number of GPUs")


def _cpu_text(value: float | int | str) -> str:
    if isinstance(value, str):
        m = _CPU.fullmatch(value.strip())
        if m is None:
            return value
        cores = float(m.group(1)) / (1000 if m.group(2) else 1)
        return str(int(cores)) if cores.is_integer() and not m.group(2) and "." not in m.group(1) else str(cores)
    return str(value)


class SecretMountType(enum.Enum):
    """flytekit's ``Secret.MountType``: how Flyte mounts a secret into a pod. setpoint hands every
    requested secret to the task through `current_context().secrets` (and hides its variables from
    the environment), so the choice is accepted and recorded nowhere (docs/secrets.md)."""

    ANY = 0
    ENV_VAR = 1
    FILE = 2


@dataclass(frozen=True, slots=True)
class Secret:
    """A secret a task asks for: ``current_context().secrets.get(group, key)`` reads it (docs/secrets.md).

    ``key`` may be omitted for a secret that is a whole group (one value). Only the secrets a task
    requests are visible to it; their values never enter a spec, an event, a log or the store.
    """

    group: str
    key: str | None = None
    group_version: str | None = None  # flytekit's; secret stores here are not versioned
    mount_requirement: SecretMountType = SecretMountType.ANY

    MountType: ClassVar[type[SecretMountType]] = SecretMountType

    def spec_pair(self, where: str) -> tuple[str, str]:
        for what, value in (("group", self.group), ("key", self.key or "")):
            required = what == "group"
            if not isinstance(value, str) or ((value or required) and not SECRET_NAME_RE.match(value)):
                raise SpecError(f"{where}: secret {what} {str(value)[:60]!r} must be letters, digits, '_', '-' or '.'")
        return (self.group, self.key or "")


@dataclass(frozen=True, slots=True)
class TaskMetadata:
    """The run-time options of a task in one object, as flytekit's ``metadata=`` takes them."""

    retries: int = 0
    timeout: timedelta | float | None = None
    cache: bool = False
    cache_version: str = ""
    cache_serialize: bool = False
    deprecated: str = ""
    interruptible: bool | None = None

    def options(self) -> dict[str, Any]:
        return {
            "retries": self.retries,
            "timeout": self.timeout,
            "cache": self.cache,
            "cache_version": self.cache_version,
            "cache_serialize": self.cache_serialize,
            "deprecated": self.deprecated,
            "interruptible": bool(self.interruptible),
        }


@dataclass(frozen=True)
class ImageSpec:
    """A container image described by its contents; recorded in the task's spec as its name.

    The local executor runs tasks in the current environment and does not build or use images.
    """

    name: str = "setpoint-task"
    base_image: str = ""
    python_version: str = ""
    packages: tuple[str, ...] | list[str] = ()
    apt_packages: tuple[str, ...] | list[str] = ()
    registry: str = ""
    env: Mapping[str, str] = field(default_factory=dict)

    def image_name(self) -> str:
        """``[registry/]name:tag``, the tag a digest of everything that goes into the image."""
        content = json.dumps(
            [self.base_image, self.python_version, list(self.packages), list(self.apt_packages), dict(self.env)],
            sort_keys=True,
        )
        tag = hashlib.sha256(content.encode()).hexdigest()[:16]
        return f"{self.registry.rstrip('/') + '/' if self.registry else ''}{self.name}:{tag}"


def image_text(image: object, where: str) -> str:
    """The spec's string for ``container_image=``: a string as given, or an image spec's name."""
    if image is None or image == "":
        return ""
    if isinstance(image, str):
        return image
    name = getattr(image, "image_name", None)
    if callable(name):
        return str(name())
    raise SpecError(f"{where}: container_image must be a string or an ImageSpec, got {type(image).__name__}")


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
        limits: Resources | None = None,
        secret_requests: Sequence[Secret] = (),
        enable_deck: bool = False,
        container_image: str | ImageSpec | None = None,
        metadata: TaskMetadata | None = None,
        interruptible: bool = False,
        deprecated: str = "",
    ) -> None:
        if metadata is not None:
            if not isinstance(metadata, TaskMetadata):
                raise SpecError(f"@task metadata= must be a TaskMetadata, got {type(metadata).__name__}")
            given = {"retries": retries, "timeout": timeout, "cache": cache, "cache_version": cache_version}
            clash = [k for k, v in given.items() if v not in (0, None, False, "")]
            if clash or cache_serialize or interruptible or deprecated:
                raise SpecError(
                    f"task '{getattr(function, '__qualname__', function)}': give the options in metadata= or as "
                    f"keywords, not both ({', '.join(clash) or 'cache_serialize/interruptible/deprecated'})"
                )
            meta = metadata.options()
            retries, timeout, cache = meta["retries"], meta["timeout"], meta["cache"]
            cache_version, cache_serialize = meta["cache_version"], meta["cache_serialize"]
            interruptible, deprecated = meta["interruptible"], meta["deprecated"]
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
        self.limits = limits or Resources()
        for what, res in (("requests", self.requests), ("limits", self.limits)):
            if not isinstance(res, Resources):
                raise SpecError(f"task '{self.name}': {what}= must be a Resources, got {type(res).__name__}")
            res.check(f"task '{self.name}', {what}")
        if isinstance(secret_requests, Secret) or not all(isinstance(x, Secret) for x in secret_requests):
            raise SpecError(f"task '{self.name}': secret_requests must be a list of Secret(group, key)")
        self.secret_requests = tuple(secret_requests)
        self._secrets = tuple(dict.fromkeys(x.spec_pair(f"task '{self.name}'") for x in self.secret_requests))
        self.enable_deck = bool(enable_deck)
        self.container_image = image_text(container_image, f"task '{self.name}'")
        self.interruptible = bool(interruptible)
        self.deprecated = str(deprecated or "")
        self._warned = False
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
            from setpoint.types.engine import function_hints  # lazily: start-up cost, see sdk/binding.py

            cached = function_hints(self.function, where=where)  # SpecError naming where; reads `-> (a, b)` too
            self.__dict__["_hints"] = cached
        return dict(cached)

    def unused_options(self) -> list[str]:
        """What this task declares that setpoint records but does not act on, one sentence each."""
        notes = []
        if self.container_image:
            notes.append(
                f"container_image={self.container_image!r} is recorded in the spec; the local executor runs "
                "the task in the current environment and does not use it"
            )
        if self.limits.items():
            notes.append("limits= are recorded in the spec; no executor enforces them")
        if self.requests.ephemeral_storage is not None:
            notes.append("requests= ephemeral_storage is recorded in the spec; no executor reserves it")
        if self.interruptible:
            notes.append("interruptible=True is recorded in the spec; setpoint runs no spot/preemptible capacity")
        return notes

    def warn_unused(self) -> None:
        """Say once (at compile time) what this task declares but setpoint will not act on."""
        if self._warned:
            return
        self._warned = True
        for note in self.unused_options():
            warnings.warn(f"task '{self.name}': {note}", TaskOptionWarning, stacklevel=5)
        if self.deprecated:
            warnings.warn(f"task '{self.name}' is deprecated: {self.deprecated}", DeprecationWarning, stacklevel=5)

    def spec(self) -> TaskSpec:
        self.warn_unused()
        return TaskSpec(
            name=self.name,
            module=self.module,
            qualname=self.qualname,
            interface=self.interface,
            retries=self.retries,
            timeout_s=self.timeout_s,
            cache=self.cache,
            executor=self.executor,
            resources=tuple(sorted(kv for kv in self.requests.items() if kv[0] != "ephemeral_storage")),
            ephemeral_storage=str(self.requests.ephemeral_storage or ""),
            unsafe_pickle=self.unsafe_pickle,
            kind=self.kind,
            deadline_s=self.deadline_s,
            limits=tuple(sorted(self.limits.items())),
            secrets=self._secrets,
            enable_deck=self.enable_deck,
            container_image=self.container_image,
            interruptible=self.interruptible,
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
    limits: Resources | None = None,
    secret_requests: Sequence[Secret] = (),
    enable_deck: bool = False,
    container_image: str | ImageSpec | None = None,
    metadata: TaskMetadata | None = None,
    interruptible: bool = False,
    deprecated: str = "",
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
