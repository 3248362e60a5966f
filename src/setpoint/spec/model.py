"""The parts a spec is made of: names, interfaces, tasks and the workflow-level policies.

`setpoint.spec` is split by concern: this module holds the leaf data (frozen dataclasses, each
with its JSON form beside it, because a spec *is* its JSON: the digest is of `to_json`);
`bindings` the wiring of one value; `nodes` the nodes; `workflow` the whole `WorkflowSpec` and
its loader; `validate` the checks that need the whole spec (types across wires, scopes, cycles).
Parsing here checks the shape of one part only; nothing in this module sees the whole workflow.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from setpoint.errors import SpecError
from setpoint.spec.types import TypeRef

SCHEMA_VERSION = 1

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
NODE_ID_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")  # map elements are "0", "1", ...
QUALNAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.<>-]{0,255}$")
SIGNAL_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,127}$")  # gate signals: Flyte allows hyphens
SECRET_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")  # a secret's group or key


def check_name(name: object, what: str, *, pattern: re.Pattern[str] = NAME_RE) -> str:
    """Validate a user-supplied name; hostile names never reach a path, a query or a log line."""
    if not isinstance(name, str) or not pattern.match(name):
        shown = repr(name)[:80]
        allowed = "letters, digits, '_' and '-'" if pattern is SIGNAL_NAME_RE else "letters, digits and '_'"
        raise SpecError(f"invalid {what} {shown}: use {allowed} (start with a letter)")
    return name


# ---------------------------------------------------------------------------------------------
# Interfaces
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Variable:
    type: TypeRef
    default: Any = None  # the default's literal (JSON), meaningful only when has_default
    has_default: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type.to_json()}
        if self.has_default:
            out["default"] = self.default
        return out

    @staticmethod
    def from_json(data: Any, where: str) -> Variable:
        if not isinstance(data, Mapping) or "type" not in data:
            raise SpecError(f"{where}: expected an object with a 'type'")
        try:
            t = TypeRef.from_json(data["type"], where)
        except ValueError as e:
            raise SpecError(str(e)) from None
        return Variable(t, data.get("default"), "default" in data)


@dataclass(frozen=True)
class Interface:
    inputs: tuple[tuple[str, Variable], ...] = ()
    outputs: tuple[tuple[str, TypeRef], ...] = ()

    @cached_property
    def input_map(self) -> dict[str, Variable]:
        return dict(self.inputs)

    @cached_property
    def output_map(self) -> dict[str, TypeRef]:
        return dict(self.outputs)

    def to_json(self) -> dict[str, Any]:
        return {
            "inputs": {n: v.to_json() for n, v in self.inputs},
            "outputs": {n: t.to_json() for n, t in self.outputs},
        }

    @staticmethod
    def from_json(data: Any, where: str) -> Interface:
        if not isinstance(data, Mapping):
            raise SpecError(f"{where}: expected an object with 'inputs' and 'outputs'")
        ins = data.get("inputs", {})
        outs = data.get("outputs", {})
        if not isinstance(ins, Mapping) or not isinstance(outs, Mapping):
            raise SpecError(f"{where}: 'inputs' and 'outputs' must be objects")
        inputs = tuple(
            (check_name(n, f"input name in {where}"), Variable.from_json(v, f"{where}.inputs.{n}"))
            for n, v in ins.items()
        )
        outputs: list[tuple[str, TypeRef]] = []
        for n, t in outs.items():
            check_name(n, f"output name in {where}")
            try:
                outputs.append((n, TypeRef.from_json(t, f"{where}.outputs.{n}")))
            except ValueError as e:
                raise SpecError(str(e)) from None
        return Interface(inputs, tuple(outputs))


# ---------------------------------------------------------------------------------------------
# Tasks
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CachePolicy:
    enabled: bool = False
    version: str = ""
    serialize: bool = False
    ignore_inputs: tuple[str, ...] = ()
    code_in_key: bool = True  # False: key on cache_version only (Flyte's behaviour)

    def to_json(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "version": self.version,
            "serialize": self.serialize,
            "ignore_inputs": list(self.ignore_inputs),
            "code_in_key": self.code_in_key,
        }

    @staticmethod
    def from_json(data: Any) -> CachePolicy:
        if not isinstance(data, Mapping):
            return CachePolicy()
        return CachePolicy(
            bool(data.get("enabled", False)),
            str(data.get("version", "")),
            bool(data.get("serialize", False)),
            tuple(str(x) for x in data.get("ignore_inputs", ())),
            bool(data.get("code_in_key", True)),
        )


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """A task as the controller and executors see it: where its code is and how to run it."""

    name: str  # unique within a workflow spec: "<module>.<qualname>"
    module: str
    qualname: str
    interface: Interface
    retries: int = 0
    timeout_s: float | None = None
    cache: CachePolicy = field(default_factory=CachePolicy)
    executor: str = ""  # "" means the execution's default executor
    resources: tuple[tuple[str, str], ...] = ()
    kind: str = "python"
    unsafe_pickle: bool = False  # explicit opt-in: values of unsupported types travel pickled
    deadline_s: float | None = None  # all attempts of a node together, retries and backoffs included
    # The fields below appear in the JSON only when set, so the specs (and digests) of tasks that
    # do not use them stay what they were before the fields existed.
    limits: tuple[tuple[str, str], ...] = ()  # recorded; no executor enforces limits
    ephemeral_storage: str = ""  # the request's scratch space; recorded, not reserved
    secrets: tuple[tuple[str, str], ...] = ()  # (group, key) the task may read; key "" for a whole group
    enable_deck: bool = False  # render the task's decks to one HTML file per attempt
    container_image: str = ""  # recorded (and shown); the local executor runs in the current environment
    interruptible: bool = False  # recorded; setpoint has no preemptible capacity

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "module": self.module,
            "qualname": self.qualname,
            "interface": self.interface.to_json(),
            "retries": self.retries,
            "timeout_s": self.timeout_s,
            "cache": self.cache.to_json(),
            "executor": self.executor,
            "resources": dict(self.resources),
            "kind": self.kind,
            "unsafe_pickle": self.unsafe_pickle,
        }
        if self.deadline_s is not None:
            out["deadline_s"] = self.deadline_s
        if self.limits:
            out["limits"] = dict(self.limits)
        if self.ephemeral_storage:
            out["ephemeral_storage"] = self.ephemeral_storage
        if self.secrets:
            out["secrets"] = [{"group": g, "key": k} for g, k in self.secrets]
        if self.enable_deck:
            out["enable_deck"] = True
        if self.container_image:
            out["container_image"] = self.container_image
        if self.interruptible:
            out["interruptible"] = True
        return out

    @staticmethod
    def from_json(data: Any, where: str) -> TaskSpec:
        if not isinstance(data, Mapping):
            raise SpecError(f"{where}: expected an object")
        for key in ("name", "module", "qualname", "interface"):
            if key not in data:
                raise SpecError(f"{where}: missing '{key}'")
        name = data["name"]
        if not isinstance(name, str) or not QUALNAME_RE.match(name):
            raise SpecError(f"{where}: invalid task name {str(name)[:80]!r}")
        for key in ("module", "qualname"):
            if not isinstance(data[key], str) or not QUALNAME_RE.match(data[key]):
                raise SpecError(f"{where}: invalid {key} {str(data[key])[:80]!r}")
        retries = data.get("retries", 0)
        if not isinstance(retries, int) or isinstance(retries, bool) or not 0 <= retries <= 100:
            raise SpecError(f"{where}: retries must be an integer from 0 to 100, got {retries!r}")
        timeout = data.get("timeout_s")
        if timeout is not None and (not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0):
            raise SpecError(f"{where}: timeout_s must be a positive number, got {timeout!r}")
        res = data.get("resources", {})
        limits = data.get("limits", {})
        if not isinstance(res, Mapping) or not isinstance(limits, Mapping):
            raise SpecError(f"{where}: resources and limits must be objects")
        return TaskSpec(
            name=name,
            module=data["module"],
            qualname=data["qualname"],
            interface=Interface.from_json(data["interface"], f"{where}.interface"),
            retries=retries,
            timeout_s=float(timeout) if timeout is not None else None,
            cache=CachePolicy.from_json(data.get("cache")),
            executor=str(data.get("executor", "")),
            resources=tuple(sorted((str(k), str(v)) for k, v in res.items())),
            kind=str(data.get("kind", "python")),
            unsafe_pickle=bool(data.get("unsafe_pickle", False)),
            deadline_s=positive_seconds(data.get("deadline_s"), f"{where}: deadline_s"),
            limits=tuple(sorted((str(k), str(v)) for k, v in limits.items())),
            ephemeral_storage=str(data.get("ephemeral_storage", "")),
            secrets=secret_pairs(data.get("secrets", ()), f"{where}.secrets"),
            enable_deck=bool(data.get("enable_deck", False)),
            container_image=str(data.get("container_image", "")),
            interruptible=bool(data.get("interruptible", False)),
        )


def secret_pairs(data: Any, where: str) -> tuple[tuple[str, str], ...]:
    """The (group, key) pairs of a task's secret requests, checked like every name that may reach a path."""
    if not isinstance(data, list | tuple):
        raise SpecError(f"{where}: expected a list of {{'group', 'key'}} objects")
    out: list[tuple[str, str]] = []
    for item in data:
        if not isinstance(item, Mapping):
            raise SpecError(f"{where}: expected a list of {{'group', 'key'}} objects")
        group, key = item.get("group"), item.get("key", "")
        for what, value in (("group", group), ("key", key)):
            required = what == "group"
            if not isinstance(value, str) or ((value or required) and not SECRET_NAME_RE.match(value)):
                raise SpecError(f"{where}: invalid secret {what} {str(value)[:60]!r}")
        out.append((str(group), str(key)))
    return tuple(out)


class FailurePolicy(enum.StrEnum):
    """What the other nodes do once one node has failed (the value is the spec's JSON form)."""

    FAIL_FAST = "fail_fast"  # start nothing new; the execution fails once what runs has stopped
    FINISH_RUNNABLE = "finish_runnable"  # run every node that does not depend on the failure


# The JSON spellings, for checks and messages ("must be one of ['fail_fast', 'finish_runnable']").
FAILURE_POLICIES: tuple[str, ...] = tuple(p.value for p in FailurePolicy)


# The node id under which the controller runs a workflow's on_failure task (not a valid user id).
ON_FAILURE_NODE = "_on_failure"


def positive_seconds(value: Any, what: str) -> float | None:
    """An optional duration from JSON: None, or a positive number of seconds (booleans are not numbers)."""
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        raise SpecError(f"{what} must be a positive number of seconds, got {value!r}")
    return float(value)
