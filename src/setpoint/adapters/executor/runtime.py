"""The worker side of one task attempt: literals in, user function, literals out.

An executor starts (or forks) a worker process, puts the code bundle on ``sys.path`` and calls
`run_attempt` with a plain-JSON payload. This module is the only place where user code meets
setpoint's data model at run time, so it does the conversions with the function's *real* type
hints (it has the classes; the controller never does) and reports any mismatch as a
`TypeMismatchError` naming the task and the input or output. Exceptions raised by user code are
not wrapped: the executor's harness records them as they are.

It stays cheap to import (no pandas, no pydantic): warm workers import it before forking.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from setpoint.adapters import secrets
from setpoint.adapters.blobs import open_blob_store
from setpoint.adapters.executor.attempt_dir import write_atomic
from setpoint.adapters.secrets import hidden_environment
from setpoint.errors import InputError, SpecError
from setpoint.sdk.current import (
    DEFAULT_DOMAIN,
    OLD_CHECKPOINT,
    Checkpoint,
    ExecutionId,
    Secrets,
    TaskContext,
    activated,
    attempt_logger,
    remember_values,
)
from setpoint.sdk.deck import DECK_FILE, literal_table, render_page
from setpoint.spec.workflow import TaskSpec
from setpoint.types.context import DEFAULT_OFFLOAD_THRESHOLD, LiteralContext
from setpoint.types.engine import function_hints, output_values
from setpoint.types.literals import from_literal, to_literal

CHECKPOINT_DIR = "checkpoint"  # in the attempt's folder: what the attempt saved last


def resolve_task_function(module: str, qualname: str) -> Callable[..., Any]:
    """Import ``module`` and follow the dotted ``qualname``; unwrap an SDK task to its function.

    A task declared as an object (``t = ShellTask(name="greet", ...)``) is named by its ``name``,
    not by the variable holding it: when the dotted path finds nothing, the module-level task
    whose ``qualname`` is ``qualname`` is the one.
    """
    if "<locals>" in qualname:
        raise SpecError(
            f"task {module}.{qualname}: define tasks at module level (or in a class), not inside a function"
        )
    mod = importlib.import_module(module)
    obj: Any = mod
    for part in qualname.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            obj = _task_instance_named(mod, qualname)
            if obj is None:
                raise SpecError(
                    f"task {module}.{qualname}: module {module!r} has no attribute {qualname!r} "
                    "(a task object such as a ShellTask must be assigned at module level)"
                ) from None
            break
    fn = getattr(obj, "function", obj)
    if not callable(fn):
        raise SpecError(f"task {module}.{qualname}: {type(fn).__name__} object is not callable")
    return fn  # type: ignore[no-any-return]


def _task_instance_named(module: Any, qualname: str) -> Any:
    """The module-level task object (anything with ``function`` and this ``qualname``), if one."""
    for value in vars(module).values():
        if getattr(value, "qualname", None) == qualname and callable(getattr(value, "function", None)):
            return value
    return None


def load_inputs(
    task: TaskSpec, inputs: Mapping[str, Any], hints: Mapping[str, Any], ctx: LiteralContext, where: str
) -> dict[str, Any]:
    """Python values for every declared input: given literals, else the interface's defaults."""
    declared = task.interface.input_map
    unknown = sorted(set(inputs) - set(declared))
    if unknown:
        raise InputError(f"{where}: unknown inputs {', '.join(unknown)} (takes: {', '.join(declared) or 'none'})")
    kwargs: dict[str, Any] = {}
    for name, var in task.interface.inputs:
        iwhere = f"{where}, input '{name}'"
        if name in inputs:
            lit = inputs[name]
        elif var.has_default:
            lit = var.default
        else:
            raise InputError(f"{iwhere}: missing ({var.type}) and it has no default")
        if name not in hints:
            raise SpecError(
                f"{iwhere}: the function has no parameter annotation for it; its code does not match the spec"
            )
        kwargs[name] = from_literal(lit, hints[name], ctx, where=iwhere)
    return kwargs


def store_outputs(
    task: TaskSpec, fn: Callable[..., Any], result: Any, ctx: LiteralContext, where: str
) -> dict[str, Any]:
    """Literals for every declared output, paired with what the function returned by name."""
    declared = [name for name, _ in task.interface.outputs]
    return {
        name: to_literal(value, t, ctx, where=f"{where}, output '{name}'")
        for name, t, value in output_values(fn, result, declared, where=where)
    }


def attempt_context(task: TaskSpec, payload: Mapping[str, Any], attempt_dir: Path, where: str) -> TaskContext:
    """The `current_context()` of this attempt; resolves the task's secrets (and only those)."""
    execution, node_id, number = attempt_dir.parts[-3:]
    attempts_root = attempt_dir.parent.parent.parent
    secrets_dir = Path(
        payload.get("secrets_dir") or os.environ.get(secrets.DIR_ENV) or attempts_root.parent / "secrets"
    )
    values: dict[tuple[str, str], str] = {}
    if task.secrets:
        provider = secrets.default_provider(secrets_dir, os.environ)
        values = secrets.resolve(task.secrets, provider, where)
        remember_values(list(values.values()))
    return TaskContext(
        working_directory=attempt_dir / "work",
        execution_id=ExecutionId(str(payload.get("project") or "default"), DEFAULT_DOMAIN, execution),
        logger=attempt_logger(task.name),
        checkpoint=Checkpoint(attempt_dir / CHECKPOINT_DIR, previous_checkpoint(attempt_dir), attempt_dir / "work"),
        secrets=Secrets(lambda group, key: values.get((group, key)), frozenset(task.secrets)),
        task_name=task.name,
        node_id=node_id,
        attempt=int(number) if number.isdigit() else 0,
        enable_deck=task.enable_deck,
    )


def previous_checkpoint(attempt_dir: Path) -> Path | None:
    """The checkpoint of the latest earlier attempt of the same node that saved one."""
    name = attempt_dir.name
    if not name.isdigit():
        return None
    for n in range(int(name) - 1, -1, -1):
        # the second name: an attempt stopped between the two renames of Checkpoint.save
        for candidate in (attempt_dir.parent / str(n) / CHECKPOINT_DIR, attempt_dir.parent / str(n) / OLD_CHECKPOINT):
            if candidate.is_dir():
                return candidate
    return None


def write_deck(
    attempt_dir: Path, task: TaskSpec, tctx: TaskContext, inputs: Mapping[str, Any], outputs: Mapping[str, Any] | None
) -> None:
    """Render the attempt's decks (its own, then its inputs and outputs) to ``deck.html``."""
    decks = [*tctx.decks, literal_table("Inputs", inputs)]
    if outputs is not None:
        decks.append(literal_table("Outputs", outputs))
    title = f"{task.name}: {tctx.execution_id.name} / {tctx.node_id} / attempt {tctx.attempt}"
    write_atomic(attempt_dir / DECK_FILE, render_page(title, decks).encode(), durable=True)


def run_attempt(payload: dict[str, Any], attempt_dir: Path) -> dict[str, Any]:
    """Run one task attempt and return ``{"outputs": {name: literal}}``.

    ``payload``: ``task`` (TaskSpec JSON), ``inputs`` (name -> literal), ``blob_root`` (a path or URL),
    ``offload_threshold`` and ``allow_pickle``. Files are materialised under ``attempt_dir/work``.
    """
    task = TaskSpec.from_json(payload["task"], "task")
    where = f"task '{task.name}'"
    fn = resolve_task_function(task.module, task.qualname)
    workdir = Path(attempt_dir) / "work"  # created on first use (files materialise under it)
    ctx = LiteralContext(
        blobs=open_blob_store(payload["blob_root"]),
        workdir=workdir,
        offload_threshold=int(payload.get("offload_threshold", DEFAULT_OFFLOAD_THRESHOLD)),
        allow_pickle=bool(payload.get("allow_pickle", False)),
    )
    try:
        hints = function_hints(fn, where=where)  # also reads `-> (a, b)` under `from __future__ import annotations`
    except Exception as e:  # NameError: an annotation names something the module does not define
        raise SpecError(f"{where}: cannot resolve the function's type annotations: {e}") from e
    tctx = attempt_context(task, payload, Path(attempt_dir), where)  # secrets resolved here, before any input
    kwargs = load_inputs(task, payload.get("inputs", {}), hints, ctx, where)
    outputs: dict[str, Any] | None = None
    try:
        with hidden_environment(), activated(tctx):
            if task.kind == "dynamic":
                from setpoint.sdk.compiler import compile_dynamic

                # the controller grafts this sub-DAG under the node and runs it; see core/graph.py
                return {"outputs": {"$dynamic": compile_dynamic(task, fn, kwargs, ctx)}}
            result = fn(**kwargs)
        outputs = store_outputs(task, fn, result, ctx, where)
        return {"outputs": outputs}
    finally:
        if task.enable_deck:
            write_deck(Path(attempt_dir), task, tctx, payload.get("inputs", {}), outputs)
