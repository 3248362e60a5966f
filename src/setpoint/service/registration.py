"""Registering over the API: one task, workflow or launch plan, or a batch — checked, then stored.

`setpoint register` on the user's machine discovers and compiles (`setpoint.service.registry`);
what reaches the server is compiled specs and launch plan drafts. Turning those into immutable
entities — validating names and inputs against the pinned workflow, choosing a version, refusing
a batch whole on any problem — is application logic, so it lives here, beside the registry, and
the API's routes only translate requests into these calls. The code bundle a registration names
must already be in the blob store; the caller checks that (it owns the blob store).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from setpoint.errors import InputError
from setpoint.ports import Clock, RegisteredEntity, RegistryStore
from setpoint.service import registry
from setpoint.service.registry import Registered
from setpoint.spec.canonical import canonical_json
from setpoint.spec.workflow import NODE_ID_RE, TaskSpec, WorkflowSpec, check_name


@dataclass(frozen=True, slots=True)
class LaunchPlanDraft:
    """A launch plan as a batch carries it: inputs already literals, its workflow in the same batch."""

    name: str
    workflow: str
    default_inputs: Mapping[str, Any] = field(default_factory=dict)
    fixed_inputs: Mapping[str, Any] = field(default_factory=dict)
    schedule: Mapping[str, Any] | None = None


def register_workflow(
    store: RegistryStore,
    clock: Clock,
    project: str,
    spec_json: Mapping[str, Any],
    code_digest: str,
    version: str | None,
    check_code: Callable[[str], None] = lambda digest: None,
) -> Registered:
    """Register one workflow spec; ``check_code`` refuses a bundle the blob store lacks (after the spec is read)."""
    spec = WorkflowSpec.from_json(dict(spec_json))
    check_code(code_digest)
    version = version or registry.default_version(code_digest, [spec.digest])
    now = clock.now()
    entity = registry.workflow_entity(project, version, spec, code_digest, now)
    (done,) = registry.register_entities(store, project, [entity], {spec.digest: canonical_json(spec.to_json())}, now)
    return done


def register_task(
    store: RegistryStore,
    clock: Clock,
    project: str,
    spec_json: Mapping[str, Any],
    code_digest: str,
    version: str | None,
    check_code: Callable[[str], None] = lambda digest: None,
) -> Registered:
    """Register one task spec; ``check_code`` refuses a bundle the blob store lacks (after the spec is read)."""
    spec = TaskSpec.from_json(dict(spec_json), "task spec")
    check_code(code_digest)
    version = version or registry.default_version(code_digest, [registry.content_digest(spec.to_json())])
    now = clock.now()
    entity = registry.task_entity(project, version, spec, code_digest, now)
    (done,) = registry.register_entities(store, project, [entity], {}, now)
    return done


def register_launchplan(
    store: RegistryStore,
    clock: Clock,
    project: str,
    *,
    name: str,
    workflow: str,
    workflow_version: str | None,
    version: str | None,
    default_inputs: Mapping[str, Any],
    fixed_inputs: Mapping[str, Any],
    schedule: Mapping[str, Any] | None,
) -> Registered:
    """A launch plan of a registered workflow version; inputs are plain JSON, checked and made literals."""
    from setpoint.types import literal_from_json_value

    check_name(name, "launch plan name", pattern=NODE_ID_RE)
    wf = store.get_entity("workflow", project, workflow, workflow_version)
    spec = WorkflowSpec.from_json(json.loads(store.get_spec(wf.spec_digest)))
    declared = spec.interface.input_map
    where = f"launch plan '{name}'"
    both = sorted(set(default_inputs) & set(fixed_inputs))
    if both:
        raise InputError(f"{where}: {', '.join(both)} cannot be both default and fixed")
    literals: list[dict[str, Any]] = []
    for what, values in (("default", default_inputs), ("fixed", fixed_inputs)):
        out = {}
        for k, v in values.items():
            if k not in declared:
                raise InputError(f"{where}: workflow '{wf.name}' has no input '{k}'")
            out[k] = literal_from_json_value(v, declared[k].type, where=f"{where}, {what} input '{k}'")
        literals.append(out)
    checked = registry.checked_schedule(
        dict(schedule) if schedule is not None else None, spec.interface, default_inputs, fixed_inputs, name
    )
    digest_parts: list[Any] = [name, wf.digest, literals] + ([checked] if checked is not None else [])
    version = version or registry.content_digest(*digest_parts)[: registry.VERSION_LENGTH]
    now = clock.now()
    entity = registry.launchplan_entity(project, version, name, wf, literals[0], literals[1], now, checked)
    (done,) = registry.register_entities(store, project, [entity], {}, now)
    return done


def register_batch(
    store: RegistryStore,
    clock: Clock,
    project: str,
    *,
    code_digest: str,
    version: str,
    tasks: Sequence[Mapping[str, Any]],
    workflows: Sequence[Mapping[str, Any]],
    launchplans: Sequence[LaunchPlanDraft],
) -> list[Registered]:
    """Register what `setpoint register` found, all or nothing (a conflict writes nothing)."""
    from setpoint.types import validate_literal

    now = clock.now()
    entities: list[RegisteredEntity] = []
    for i, body in enumerate(tasks):
        task = TaskSpec.from_json(dict(body), f"tasks[{i}]")
        entities.append(registry.task_entity(project, version, task, code_digest, now))
    specs: dict[str, str] = {}
    named: dict[str, RegisteredEntity] = {}
    for body in workflows:
        spec = WorkflowSpec.from_json(dict(body))
        specs[spec.digest] = canonical_json(spec.to_json())
        if spec.name in named:
            raise InputError(f"two workflows are named '{spec.name}'; workflow names must be unique")
        named[spec.name] = registry.workflow_entity(project, version, spec, code_digest, now)
        declared = spec.interface.input_map
        for lp in launchplans:
            if lp.workflow != spec.name:
                continue
            check_name(lp.name, "launch plan name", pattern=NODE_ID_RE)
            for what, values in (("default", lp.default_inputs), ("fixed", lp.fixed_inputs)):
                for k, v in values.items():
                    if k not in declared:
                        raise InputError(f"launch plan '{lp.name}': workflow '{spec.name}' has no input '{k}'")
                    validate_literal(v, declared[k].type, where=f"launch plan '{lp.name}', {what} input '{k}'")
    entities.extend(sorted(named.values(), key=lambda e: e.name))
    for lp in launchplans:
        wf = named.get(lp.workflow)
        if wf is None:
            raise InputError(f"launch plan '{lp.name}' names workflow '{lp.workflow}', which is not in this batch")
        spec = WorkflowSpec.from_json(json.loads(specs[wf.spec_digest]))
        schedule = registry.checked_schedule(
            dict(lp.schedule) if lp.schedule is not None else None,
            spec.interface,
            lp.default_inputs,
            lp.fixed_inputs,
            lp.name,
        )
        entities.append(
            registry.launchplan_entity(
                project, version, lp.name, wf, dict(lp.default_inputs), dict(lp.fixed_inputs), now, schedule
            )
        )
    if not entities:
        raise InputError("nothing to register: give at least one task, workflow or launch plan")
    return registry.register_entities(store, project, entities, specs, now)
