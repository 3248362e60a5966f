"""Node kinds and one frozen config type per kind, with their JSON form and its parsing.

`NodeKind` says what a node does; a `MAP` node carries a `MapConfig`, a `BRANCH` a `BranchConfig`,
a `GATE` one of `SleepGate`, `ApproveGate`, `SignalGate`, a `LAUNCHPLAN` a `LaunchPlanConfig`, and
a `TASK` none. Each config's `to_json` writes exactly the keys the compiler always wrote (spec
digests are of the JSON form); `parse_config` checks the JSON types once when a spec is read, and
each config's `check` holds the value rules that `setpoint.spec.validate` applies to every spec,
compiled or read.

Adding a node kind: a `NodeKind` member; its config type here (`to_json`, `check`), its branch in
`parse_config` and its entry in `CONFIG_TYPES`; its whole-spec checks in `validate.validate` and
its outputs in `WorkflowSpec.node_outputs`; the SDK call that builds it; and what the core does
when it is ready (`core/reconcile/driver.py`).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from setpoint.errors import SpecError
from setpoint.spec.branch import Otherwise
from setpoint.spec.model import SIGNAL_NAME_RE, check_name
from setpoint.spec.types import TypeRef


class NodeKind(enum.StrEnum):
    """What a node does (the value is the spec's JSON form)."""

    TASK = "task"
    BRANCH = "branch"
    MAP = "map"
    GATE = "gate"
    LAUNCHPLAN = "launchplan"


class GateKind(enum.StrEnum):
    """What a gate waits for (the value is the config's ``"gate"`` key)."""

    SLEEP = "sleep"
    APPROVE = "approve"
    SIGNAL = "signal"


NODE_KINDS = frozenset(NodeKind)
GATES = tuple(GateKind)


class ConfigView(Mapping[str, Any]):
    """Read access by JSON key (``config["otherwise"]``, ``config.get("name")``).

    Code outside the spec read configs as dicts before they were typed; this keeps it working
    while it moves to the attributes. New code reads the attributes.
    """

    __slots__ = ()

    def to_json(self) -> dict[str, Any]:
        raise NotImplementedError

    def __getitem__(self, key: str) -> Any:
        return self.to_json()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_json())

    def __len__(self) -> int:
        return len(self.to_json())


@dataclass(frozen=True, slots=True)
class MapConfig(ConfigView):
    """Run the node's task once per element of the ``over`` inputs (lists of equal length)."""

    over: tuple[str, ...]
    concurrency: int = 0  # at most this many elements run at once; 0 = no limit of its own
    min_success_ratio: float = 1.0  # below 1, failed elements give None and the node may succeed

    def to_json(self) -> dict[str, Any]:
        return {"over": list(self.over), "concurrency": self.concurrency, "min_success_ratio": self.min_success_ratio}

    def check(self, where: str) -> None:
        if not self.over:
            raise SpecError(f"{where}: a map node needs the inputs it maps over ('over')")
        if not isinstance(self.concurrency, int) or isinstance(self.concurrency, bool) or self.concurrency < 0:
            raise SpecError(f"{where}: concurrency must be a non-negative integer, got {self.concurrency!r}")
        if not 0.0 < float(self.min_success_ratio) <= 1.0:
            raise SpecError(f"{where}: min_success_ratio must be in (0, 1], got {self.min_success_ratio!r}")


@dataclass(frozen=True, slots=True)
class BranchConfig(ConfigView):
    """The cases of a branch, as expressions of `setpoint.spec.branch`, and what happens when none holds."""

    conditions: tuple[Mapping[str, Any], ...]
    otherwise: Otherwise
    message: str = ""  # the failure reason when no case matches and ``otherwise`` is FAIL

    def to_json(self) -> dict[str, Any]:
        return {"conditions": list(self.conditions), "otherwise": self.otherwise.value, "message": self.message}

    def check(self, where: str) -> None:
        if not self.conditions:
            raise SpecError(f"{where}: a branch needs at least one condition")


@dataclass(frozen=True, slots=True)
class SleepGate(ConfigView):
    """Wait this long after the gate starts."""

    seconds: float

    @property
    def gate(self) -> GateKind:
        return GateKind.SLEEP

    def to_json(self) -> dict[str, Any]:
        return {"gate": GateKind.SLEEP.value, "seconds": self.seconds}

    def check(self, where: str) -> None:
        if not _number(self.seconds) or self.seconds < 0:
            raise SpecError(f"{where}: sleep needs a non-negative number of seconds, got {self.seconds!r}")


@dataclass(frozen=True, slots=True)
class ApproveGate(ConfigView):
    """Let the node's ``value`` input through once signal ``name`` approves it."""

    name: str
    timeout_s: float | None = None

    @property
    def gate(self) -> GateKind:
        return GateKind.APPROVE

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"gate": GateKind.APPROVE.value, "name": self.name}
        if self.timeout_s is not None:
            out["timeout_s"] = self.timeout_s
        return out

    def check(self, where: str) -> None:
        _check_timeout(self.timeout_s, where)


@dataclass(frozen=True, slots=True)
class SignalGate(ConfigView):
    """A value of ``type`` sent from outside as signal ``name``."""

    name: str
    type: TypeRef
    timeout_s: float | None = None

    @property
    def gate(self) -> GateKind:
        return GateKind.SIGNAL

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"gate": GateKind.SIGNAL.value, "name": self.name, "type": self.type.to_json()}
        if self.timeout_s is not None:
            out["timeout_s"] = self.timeout_s
        return out

    def check(self, where: str) -> None:
        _check_timeout(self.timeout_s, where)


GateConfig = SleepGate | ApproveGate | SignalGate


@dataclass(frozen=True, slots=True)
class LaunchPlanConfig(ConfigView):
    """Start launch plan ``launchplan`` (a child execution of ``workflow``, a spec's JSON form)."""

    launchplan: str
    workflow: Mapping[str, Any]  # parsed once per spec: `WorkflowSpec.launchplans`
    defaults: Mapping[str, Any] = field(default_factory=dict)  # literals the caller may override
    fixed: Mapping[str, Any] = field(default_factory=dict)  # literals the caller may not set

    def to_json(self) -> dict[str, Any]:
        return {
            "launchplan": self.launchplan,
            "workflow": dict(self.workflow),
            "defaults": dict(self.defaults),
            "fixed": dict(self.fixed),
        }

    def check(self, where: str) -> None:
        pass


NodeConfig = MapConfig | BranchConfig | SleepGate | ApproveGate | SignalGate | LaunchPlanConfig

CONFIG_TYPES: dict[NodeKind, tuple[type, ...]] = {
    NodeKind.TASK: (type(None),),
    NodeKind.MAP: (MapConfig,),
    NodeKind.BRANCH: (BranchConfig,),
    NodeKind.GATE: (SleepGate, ApproveGate, SignalGate),
    NodeKind.LAUNCHPLAN: (LaunchPlanConfig,),
}


def _check_timeout(timeout: Any, where: str) -> None:
    if timeout is not None and (not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0):
        raise SpecError(f"{where}: timeout_s must be a positive number of seconds, got {timeout!r}")


def _number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse_config(kind: NodeKind, raw: Mapping[str, Any] | None, where: str) -> NodeConfig | None:
    """The typed config of a node of ``kind`` from its JSON (a task node has none: what it has is ignored)."""
    if kind is NodeKind.TASK:
        return None
    config: Mapping[str, Any] = raw or {}
    if kind is NodeKind.MAP:
        over = config.get("over")
        if not isinstance(over, list) or not over:
            raise SpecError(f"{where}: a map node needs the inputs it maps over ('over')")
        concurrency = config.get("concurrency", 0)
        if not isinstance(concurrency, int) or isinstance(concurrency, bool) or concurrency < 0:
            raise SpecError(f"{where}: concurrency must be a non-negative integer, got {concurrency!r}")
        ratio = config.get("min_success_ratio", 1.0)
        if not _number(ratio) or not 0.0 < float(ratio) <= 1.0:
            raise SpecError(f"{where}: min_success_ratio must be in (0, 1], got {ratio!r}")
        return MapConfig(tuple(str(n) for n in over), concurrency, float(ratio))
    if kind is NodeKind.BRANCH:
        conditions = config.get("conditions")
        if not isinstance(conditions, list) or not conditions:
            raise SpecError(f"{where}: a branch needs at least one condition")
        otherwise = config.get("otherwise")
        if otherwise not in tuple(Otherwise):
            raise SpecError(f"{where}: 'otherwise' must be '{Otherwise.FAIL}' or '{Otherwise.NONE}'")
        return BranchConfig(tuple(conditions), Otherwise(otherwise), str(config.get("message") or ""))
    if kind is NodeKind.GATE:
        return _parse_gate(config, where)
    workflow = config.get("workflow")
    if not isinstance(workflow, Mapping):
        raise SpecError(f"{where}: a launch plan node needs the child workflow's spec ('workflow')")
    defaults, fixed = config.get("defaults") or {}, config.get("fixed") or {}
    if not isinstance(defaults, Mapping) or not isinstance(fixed, Mapping):
        raise SpecError(f"{where}: a launch plan's 'defaults' and 'fixed' must be objects")
    return LaunchPlanConfig(str(config.get("launchplan")), workflow, defaults, fixed)


def _parse_gate(config: Mapping[str, Any], where: str) -> GateConfig:
    gate = config.get("gate")
    if gate not in GATES:
        raise SpecError(f"{where}: a gate is one of {', '.join(GATES)}, got {gate!r}")
    timeout = config.get("timeout_s")
    _check_timeout(timeout, where)
    timeout_s = float(timeout) if timeout is not None else None
    if gate == GateKind.SLEEP:
        seconds = config.get("seconds")
        if not _number(seconds) or seconds < 0:
            raise SpecError(f"{where}: sleep needs a non-negative number of seconds, got {seconds!r}")
        return SleepGate(float(seconds))
    name = check_name(config.get("name"), f"signal name in {where}", pattern=SIGNAL_NAME_RE)
    if gate == GateKind.APPROVE:
        return ApproveGate(name, timeout_s)
    try:
        t = TypeRef.from_json(config.get("type"), f"{where}: type")
    except ValueError as e:
        raise SpecError(str(e)) from None
    return SignalGate(name, t, timeout_s)
