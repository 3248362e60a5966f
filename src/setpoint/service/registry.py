"""Registration: tasks, workflows and launch plans stored as immutable, versioned entities.

A team shares one setpoint by registering what it wants others (and schedules) to launch: each
``@task``, ``@workflow`` and `LaunchPlan` of a project is compiled, its code bundle captured, and the
result kept under (project, name, version) for good. Registering the same content again is a no-op,
so a CI job can register on every push; the same name and version with other content is refused
with a summary of what differs, because a version must always mean one thing. Executions created
from a registered entity pin its spec digest and code digest, exactly like ``setpoint run`` does.

Pure functions build and compare entities; `register_entities` is the one place that writes, after
checking every entity first, so a conflicting batch writes nothing (barring a concurrent writer).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import pkgutil
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from setpoint.errors import InputError, NotFoundError, RegistrationConflictError, SetpointError
from setpoint.ports import RegisteredEntity, RegistryStore
from setpoint.spec.canonical import canonical_json
from setpoint.spec.workflow import Interface, TaskSpec, WorkflowSpec

VERSION_LENGTH = 12


def content_digest(*parts: Any) -> str:
    """SHA-256 of the parts' canonical JSON: what registrations compare."""
    return hashlib.sha256(canonical_json(list(parts)).encode()).hexdigest()


# -- building entities --------------------------------------------------------------------------


def workflow_entity(project: str, version: str, spec: WorkflowSpec, code_digest: str, now: float) -> RegisteredEntity:
    body = {"interface": spec.interface.to_json(), "tasks": sorted(spec.tasks)}
    return RegisteredEntity(
        "workflow",
        project,
        spec.name,
        version,
        content_digest(spec.digest, code_digest),
        spec.digest,
        code_digest,
        body,
        now,
    )


def task_entity(project: str, version: str, task: TaskSpec, code_digest: str, now: float) -> RegisteredEntity:
    spec = task.to_json()
    return RegisteredEntity(
        "task", project, task.name, version, content_digest(spec, code_digest), "", code_digest, {"spec": spec}, now
    )


def launchplan_entity(
    project: str,
    version: str,
    name: str,
    workflow: RegisteredEntity,
    default_inputs: Mapping[str, Any],
    fixed_inputs: Mapping[str, Any],
    now: float,
    schedule: Mapping[str, Any] | None = None,
) -> RegisteredEntity:
    """A launch plan's entity. Whether a version is active is not part of it: that is state that
    changes (`Store.activate_launchplan`), while a registered version never does."""
    body = {
        "workflow": workflow.name,
        "workflow_version": workflow.version,
        "default_inputs": dict(default_inputs),
        "fixed_inputs": dict(fixed_inputs),
        "schedule": None if schedule is None else dict(schedule),
    }
    digest = content_digest(body, workflow.spec_digest, workflow.code_digest)
    return RegisteredEntity(
        "launchplan", project, name, version, digest, workflow.spec_digest, workflow.code_digest, body, now
    )


def default_version(code_digest: str, specs: Iterable[str]) -> str:
    """The version when none is given: a digest of the code bundle and every compiled spec."""
    return content_digest(code_digest, sorted(specs))[:VERSION_LENGTH]


# -- discovering objects in files and packages --------------------------------------------------


@dataclass
class Found:
    """The module-level tasks, workflows and launch plans of some modules, each once."""

    modules: list[str] = field(default_factory=list)
    tasks: list[Any] = field(default_factory=list)
    workflows: list[Any] = field(default_factory=list)
    launchplans: list[Any] = field(default_factory=list)


def _import(target: str) -> list[ModuleType]:
    from setpoint.adapters.bundle import project_root

    if target.endswith(".py") or "/" in target or Path(target).is_dir():
        path = Path(target).resolve()
        if path.is_dir():
            path = path / "__init__.py"
        if not path.is_file():
            raise InputError(f"no such file or package: {target}")
        root = project_root(path)
        rel = path.relative_to(root).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        name = ".".join(parts)
        if str(root) not in sys.path:
            sys.path.insert(0, str(root))
    else:
        name = target
        if str(Path.cwd()) not in sys.path:
            sys.path.insert(0, str(Path.cwd()))
    try:
        module = importlib.import_module(name)
        modules = [module]
        if hasattr(module, "__path__"):  # a package: every module under it
            for info in pkgutil.walk_packages(module.__path__, prefix=f"{name}."):
                modules.append(importlib.import_module(info.name))
    except SetpointError:
        raise
    except Exception as e:
        raise InputError(f"cannot import {target}: {type(e).__name__}: {e}") from None
    return modules


def discover(targets: Sequence[str]) -> Found:
    from setpoint.sdk.launchplan import LaunchPlan
    from setpoint.sdk.task import Task
    from setpoint.sdk.workflow import Workflow

    found = Found()
    seen: set[int] = set()
    for target in targets:
        for module in _import(target):
            if module.__name__ not in found.modules:
                found.modules.append(module.__name__)
            for value in vars(module).values():
                if id(value) in seen:
                    continue
                if isinstance(value, Task):
                    found.tasks.append(value)
                elif isinstance(value, Workflow):
                    found.workflows.append(value)
                elif isinstance(value, LaunchPlan):
                    found.launchplans.append(value)
                else:
                    continue
                seen.add(id(value))
    if not (found.tasks or found.workflows or found.launchplans):
        raise InputError(f"found no @task, @workflow or LaunchPlan at module level in {', '.join(targets)}")
    return found


def _schedule_json(lp: Any) -> dict[str, Any] | None:
    return None if lp.schedule is None else dict(lp.schedule.to_json())


def checked_schedule(
    data: Mapping[str, Any] | None,
    iface: Interface,
    defaults: Iterable[str],
    fixed: Iterable[str],
    name: str,
) -> dict[str, Any] | None:
    """A schedule sent over the API (JSON) checked as `LaunchPlan` checks it at declaration, normalised."""
    from setpoint.scheduling.ticks import check_for_workflow, schedule_from_json

    where = f"launch plan '{name}'"
    schedule = schedule_from_json(data, where)
    if schedule is None:
        return None
    check_for_workflow(schedule, iface, set(defaults), set(fixed), where)
    return schedule.to_json()


@dataclass(frozen=True, slots=True)
class Planned:
    """What a registration will store: the entities, and the spec bodies they pin."""

    version: str
    entities: tuple[RegisteredEntity, ...]
    specs: Mapping[str, str]  # spec digest -> canonical JSON


def plan(found: Found, project: str, version: str | None, code_digest: str, now: float) -> Planned:
    """Compile everything found into entities (nothing is written)."""
    workflows = {id(w): w for w in found.workflows}
    for lp in found.launchplans:
        workflows.setdefault(id(lp.workflow), lp.workflow)
    specs = {id(w): w.compile() for w in workflows.values()}
    tasks: dict[str, TaskSpec] = {t.name: t.spec() for t in found.tasks}
    for spec in specs.values():
        for task in spec.tasks.values():
            tasks.setdefault(task.name, task)
    names = [s.name for s in specs.values()]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InputError(f"two workflows are named {', '.join(repr(d) for d in dupes)}; workflow names must be unique")
    version = version or default_version(
        code_digest,
        [s.digest for s in specs.values()]
        + [content_digest(t.to_json()) for t in tasks.values()]
        + [canonical_json([lp.name, lp.workflow.name, *lp.literals(), _schedule_json(lp)]) for lp in found.launchplans],
    )
    entities: list[RegisteredEntity] = [
        task_entity(project, version, t, code_digest, now) for _, t in sorted(tasks.items())
    ]
    wf_entities = {key: workflow_entity(project, version, spec, code_digest, now) for key, spec in specs.items()}
    entities.extend(sorted(wf_entities.values(), key=lambda e: e.name))
    for lp in found.launchplans:
        defaults, fixed = lp.literals()
        entities.append(
            launchplan_entity(
                project, version, lp.name, wf_entities[id(lp.workflow)], defaults, fixed, now, _schedule_json(lp)
            )
        )
    bodies = {s.digest: canonical_json(s.to_json()) for s in specs.values()}
    return Planned(version, tuple(entities), bodies)


# -- comparing and writing ----------------------------------------------------------------------


def _differing_keys(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))


def _named_diff(what: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    out = []
    added = sorted(set(new) - set(old))
    removed = sorted(set(old) - set(new))
    changed = sorted(k for k in set(old) & set(new) if old[k] != new[k])
    if added:
        out.append(f"{what} added: {', '.join(added)}")
    if removed:
        out.append(f"{what} removed: {', '.join(removed)}")
    if changed:
        out.append(f"{what} changed: {', '.join(changed)}")
    return out


def diff_summary(old: RegisteredEntity, new: RegisteredEntity, old_spec: Any = None, new_spec: Any = None) -> str:
    """What differs between two registrations of one name and version, in a few words."""
    parts: list[str] = []
    if old_spec is not None and new_spec is not None and old_spec != new_spec:
        if old_spec.get("interface") != new_spec.get("interface"):
            parts.append("interface")
        parts += _named_diff("tasks", old_spec.get("tasks", {}), new_spec.get("tasks", {}))
        old_nodes = {n["id"]: n for n in old_spec.get("nodes", [])}
        new_nodes = {n["id"]: n for n in new_spec.get("nodes", [])}
        parts += _named_diff("nodes", old_nodes, new_nodes)
        rest = _differing_keys(
            {k: v for k, v in old_spec.items() if k not in ("interface", "tasks", "nodes")},
            {k: v for k, v in new_spec.items() if k not in ("interface", "tasks", "nodes")},
        )
        parts += [f"{k} changed" for k in rest]
    elif old.kind == "task":
        parts += [f"{k} changed" for k in _differing_keys(old.body.get("spec", {}), new.body.get("spec", {}))]
    elif old.kind == "launchplan":
        parts += [f"{k} changed" for k in _differing_keys(old.body, new.body)]
    if old.code_digest != new.code_digest:
        parts.append(f"code bundle changed ({old.code_digest[:12]} -> {new.code_digest[:12]})")
    return "; ".join(parts) or "content changed"


def conflict_error(
    store: RegistryStore, old: RegisteredEntity, new: RegisteredEntity, specs: Mapping[str, str]
) -> Exception:
    from setpoint.adapters.store.registry_rows import KIND_NAMES

    old_spec = new_spec = None
    if old.spec_digest and new.spec_digest and old.kind == "workflow":
        try:
            old_spec = json.loads(store.get_spec(old.spec_digest))
        except NotFoundError:
            old_spec = None
        new_body = specs.get(new.spec_digest)
        new_spec = json.loads(new_body) if new_body is not None else None
    return RegistrationConflictError(
        f"{KIND_NAMES[old.kind]} '{old.name}' version '{old.version}' is already registered in project "
        f"'{old.project}' with other content ({diff_summary(old, new, old_spec, new_spec)}); "
        "register under a new version (or omit --version to derive one from the content)"
    )


@dataclass(frozen=True, slots=True)
class Registered:
    entity: RegisteredEntity
    created: bool


def register_entities(
    store: RegistryStore, project: str, entities: Sequence[RegisteredEntity], specs: Mapping[str, str], now: float
) -> list[Registered]:
    """Store ``entities`` (and the spec bodies they pin) unless one conflicts; then nothing is written."""
    for new in entities:
        try:
            old = store.get_entity(new.kind, new.project, new.name, new.version)
        except NotFoundError:
            continue
        if old.digest != new.digest:
            raise conflict_error(store, old, new, specs)
    store.create_project(project, now)
    for digest, body in specs.items():
        store.put_spec(digest, body)
    out = []
    for new in entities:
        stored, created = store.register_entity(new)
        if stored.digest != new.digest:  # registered by someone else since the check
            raise conflict_error(store, stored, new, specs)
        out.append(Registered(stored, created))
    return out


# -- launching ----------------------------------------------------------------------------------


def fill_defaults(iface: Interface, given: Mapping[str, Any], where: str) -> dict[str, Any]:
    """``given`` with the interface's defaults filled in; `InputError` naming every missing input."""
    out: dict[str, Any] = {}
    missing = []
    for name, var in iface.inputs:
        if name in given:
            out[name] = given[name]
        elif var.has_default:
            out[name] = var.default
        else:
            missing.append(f"'{name}' ({var.type})")
    if missing:
        raise InputError(f"{where}: missing input{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    return out


def resolve_inputs(
    iface: Interface,
    given: Mapping[str, Any],
    where: str,
    defaults: Mapping[str, Any] | None = None,
    fixed: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Plain JSON inputs checked against ``iface`` and merged with a launch plan's literals."""
    from setpoint.types import literal_from_json_value

    declared = iface.input_map
    fixed = fixed or {}
    literals: dict[str, Any] = {}
    for name, value in given.items():
        if name not in declared:
            raise InputError(f"{where}: unknown input '{name}' (inputs: {', '.join(declared) or 'none'})")
        if name in fixed:
            raise InputError(f"{where}: input '{name}' is fixed by the launch plan and cannot be set")
        literals[name] = literal_from_json_value(value, declared[name].type, where=f"{where}, input '{name}'")
    return fill_defaults(iface, {**(defaults or {}), **literals, **fixed}, where)


@dataclass(frozen=True, slots=True)
class Launch:
    """A registered entity resolved into what an execution pins."""

    spec: WorkflowSpec
    code_digest: str
    inputs: dict[str, Any]
    entity: RegisteredEntity


def resolve_launch(
    store: RegistryStore, project: str, kind: str, name: str, version: str | None, inputs: Mapping[str, Any]
) -> Launch:
    """The spec, code and validated inputs for an execution of a registered workflow or launch plan."""
    if kind not in ("workflow", "launchplan"):
        raise InputError(f"executions are created from a workflow or a launch plan, not a {kind}")
    entity = store.get_entity(kind, project, name, version)
    spec = WorkflowSpec.from_json(json.loads(store.get_spec(entity.spec_digest)))
    if kind == "workflow":
        where = f"workflow '{name}' version '{entity.version}'"
        return Launch(spec, entity.code_digest, resolve_inputs(spec.interface, inputs, where), entity)
    where = f"launch plan '{name}' version '{entity.version}'"
    resolved = resolve_inputs(
        spec.interface, inputs, where, entity.body.get("default_inputs"), entity.body.get("fixed_inputs")
    )
    return Launch(spec, entity.code_digest, resolved, entity)
