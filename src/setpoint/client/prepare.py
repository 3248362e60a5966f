"""What both clients do on the user's machine before any transport: compile, convert inputs, capture code.

Creating an execution starts the same way embedded or remote: the workflow is compiled here, its
Python inputs become literals checked against the interface, and the modules of the workflow and
its tasks are captured into a code bundle. Only what follows differs — the embedded client stores
the bundle and the execution itself, the remote client uploads the bundle and asks the server — so
that part is written once, here, and each client keeps only its transport.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from setpoint.adapters.bundle import Bundle, capture
from setpoint.errors import InputError
from setpoint.spec.workflow import WorkflowSpec

if TYPE_CHECKING:
    from setpoint.sdk.workflow import Workflow
    from setpoint.service.registry import Found
    from setpoint.types import LiteralContext


@dataclass(frozen=True, slots=True)
class PreparedRun:
    """A workflow ready to become an execution: its spec, its given inputs as literals, its code."""

    spec: WorkflowSpec
    inputs: dict[str, Any]  # literal per given input (defaults are filled in by whoever creates it)
    bundle: Bundle


def prepare_run(
    wf: Workflow,
    inputs: Mapping[str, Any] | None,
    literal_inputs: Mapping[str, Any] | None,
    ctx: LiteralContext,
) -> PreparedRun:
    """Compile ``wf``, convert and check its inputs (Python values and ready literals), capture its code."""
    from setpoint.types import to_literal, validate_literal

    spec = wf.compile()
    where = f"workflow '{wf.name}'"
    declared = spec.interface.input_map
    hints = typing.get_type_hints(wf.function, include_extras=True)
    given: dict[str, Any] = {}
    for name, value in (inputs or {}).items():
        if name not in declared:
            raise InputError(f"{where}: unknown input '{name}' (inputs: {', '.join(declared) or 'none'})")
        given[name] = to_literal(value, hints[name], ctx, where=f"{where}, input '{name}'")
    for name, lit in (literal_inputs or {}).items():
        if name not in declared:
            raise InputError(f"{where}: unknown input '{name}' (inputs: {', '.join(declared) or 'none'})")
        validate_literal(lit, declared[name].type, where=f"{where}, input '{name}'")
        given[name] = lit
    bundle = capture({wf.module, *(t.module for t in spec.tasks.values())})
    return PreparedRun(spec, given, bundle)


def capture_registration(found: Found) -> Bundle:
    """The code bundle of everything `setpoint register` found: its modules and every task's module."""
    modules = set(found.modules)
    for w in found.workflows:
        modules.update(t.module for t in w.compile().tasks.values())
    for lp in found.launchplans:
        modules.update(t.module for t in lp.workflow.compile().tasks.values())
    return capture(modules)
