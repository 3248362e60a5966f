"""Tasks declared as module-level instances rather than decorated functions, and `ShellTask`.

flytekit has tasks that are objects (``ShellTask(name=..., script=...)``, ``SQLite3Task(...)``): no
Python function of the user's carries the interface, the options do. `InstanceTask` turns such an
object into an ordinary `Task` by synthesising the function the rest of setpoint expects — a
signature and annotations built from ``inputs``, a NamedTuple return built from the outputs, and a
body that calls the instance's `execute`. The synthesised function is named by the task's name
and claims the module that created the instance, so a worker finds it again by importing that
module and looking for the module-level instance of that name (see
`setpoint.adapters.executor.runtime.resolve_task_function`).

`ShellTask` runs a bash script after filling ``{inputs.x}`` and ``{outputs.y}`` in with
`str.format` (files and directories become local paths, datetimes ISO 8601), as flytekit does;
each `OutputLocation` is an output file or directory found at its (templated) location once the
script exits 0. A non-zero exit fails the attempt with the exit code and the tail of stderr.
"""

from __future__ import annotations

import datetime as dt
import inspect
import os
import string
import subprocess
import sys
import typing
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, NamedTuple

from setpoint.errors import SpecError, TaskError
from setpoint.sdk.context import current_builder
from setpoint.sdk.promise import Outputs
from setpoint.sdk.task import Task

STDERR_TAIL_LINES = 20

# `setpoint.testing.task_mock` puts its stand-in here: task objects whose ``__call__`` does more
# than call ``.function`` (a reference refuses to run locally) call the stand-in instead.
MOCK_ATTRIBUTE = "_setpoint_mock"


def mock_of(target: object) -> Callable[..., Any] | None:
    """The test's stand-in for ``target``, while `setpoint.testing.task_mock` is active."""
    value = vars(target).get(MOCK_ATTRIBUTE)
    return value if callable(value) else None


def kwtypes(**kw: Any) -> dict[str, Any]:
    """An ordered mapping of names to types: ``kwtypes(x=int, path=File)`` (flytekit's spelling)."""
    return dict(kw)


def _caller_module(skip: tuple[str, ...] = ("setpoint.sdk.", "setpoint.flytekit.")) -> str:
    """The module whose code created the instance: the first frame outside setpoint's SDK."""
    frame = sys._getframe(1)
    while frame is not None:
        name = str(frame.f_globals.get("__name__", ""))
        if not name.startswith(skip) and name != "typing":
            return name
        frame = frame.f_back  # type: ignore[assignment]
    return "__main__"


def _outputs_type(name: str, outputs: Sequence[tuple[str, Any]]) -> Any:
    if not outputs:
        return None
    return NamedTuple(f"{name}_outputs", list(outputs))


class InstanceTask(Task):
    """A task declared as an object: subclasses give the interface and implement `execute`."""

    def __init__(
        self,
        name: str,
        inputs: Mapping[str, Any] | None,
        outputs: Sequence[tuple[str, Any]],
        *,
        module: str | None = None,
        **options: Any,
    ) -> None:
        if not isinstance(name, str) or not name.isidentifier():
            raise SpecError(
                f"{type(self).__name__} name must be a Python identifier (it names the node and the task), got {name!r}"
            )
        inputs = dict(inputs or {})
        self._outputs_type = _outputs_type(name, outputs)
        self._output_names = tuple(n for n, _ in outputs)
        instance = self

        def function(**kwargs: Any) -> Any:
            values = instance.execute(**kwargs)
            if instance._outputs_type is None:
                return None
            return instance._outputs_type(*values)

        params = [
            inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=t) for n, t in inputs.items()
        ]
        function.__signature__ = inspect.Signature(params, return_annotation=self._outputs_type)  # type: ignore[attr-defined]
        function.__annotations__ = {**inputs, "return": self._outputs_type}
        function.__module__ = module or _caller_module()
        function.__qualname__ = name
        function.__name__ = name
        function.__doc__ = f"{type(self).__name__} {name}"
        super().__init__(function, **options)

    def execute(self, **kwargs: Any) -> tuple[Any, ...]:
        """Run the task with its Python inputs; return one value per declared output, in order."""
        raise NotImplementedError

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """In a workflow body: a node (a single output is its promise); elsewhere: run the task here."""
        stand_in = mock_of(self)
        if stand_in is not None and current_builder() is None:
            return stand_in(*args, **kwargs)
        if current_builder() is not None:
            result = super().__call__(*args, **kwargs)
            if isinstance(result, Outputs) and len(result) == 1:
                return result[0]
            return result
        bound = self.signature.bind(*args, **kwargs)
        out = self.function(**bound.arguments)
        if out is not None and len(self._output_names) == 1:
            return out[0]
        return out


# -- ShellTask --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutputLocation:
    """An output of a `ShellTask`: ``var`` of type ``var_type`` (a file or directory) found at ``location``.

    ``location`` is templated like the script (``"{inputs.out_dir}/result.csv"``).
    """

    var: str
    var_type: Any
    location: str | os.PathLike[str]


class _Formatter(string.Formatter):
    def format_field(self, value: Any, format_spec: str) -> str:
        from setpoint.types.files import Directory, File

        if isinstance(value, File | Directory):
            return format(value.download(), format_spec)
        if isinstance(value, dt.datetime):
            return format(value.isoformat(), format_spec)
        return str(super().format_field(value, format_spec))


def interpolate(template: str, inputs: Mapping[str, Any], outputs: Mapping[str, Any], where: str) -> str:
    """``template`` with ``{inputs.x}``, ``{outputs.y}`` and ``{ctx.working_directory}`` filled in."""
    from setpoint.sdk.current import current_context

    ctx = current_context()
    try:
        return _Formatter().format(
            template, inputs=SimpleNamespace(**inputs), outputs=SimpleNamespace(**outputs), ctx=ctx
        )
    except (AttributeError, KeyError, IndexError, ValueError) as e:
        raise SpecError(
            f"{where}: cannot fill in the template: {e} (it may use {{inputs.NAME}}, {{outputs.NAME}})"
        ) from None


def _file_kind(t: Any) -> str | None:
    from setpoint.types.files import Directory, File

    if isinstance(t, type) and issubclass(t, File):
        return "file"
    if isinstance(t, type) and issubclass(t, Directory):
        return "directory"
    return None


class ShellTask(InstanceTask):
    """A bash script as a task: ``ShellTask(name=, script=, inputs=kwtypes(...), output_locs=[...])``."""

    def __init__(
        self,
        name: str,
        debug: bool = False,
        script: str | None = None,
        script_file: str | None = None,
        task_config: Any = None,
        inputs: Mapping[str, Any] | None = None,
        output_locs: Sequence[OutputLocation] | None = None,
        shell: str = "bash",
        **options: Any,
    ) -> None:
        where = f"ShellTask '{name}'"
        if (script is None) == (script_file is None):
            raise SpecError(f"{where}: give either script= or script_file=, not both and not neither")
        if script_file is not None:
            path = Path(script_file)
            if not path.is_file():
                raise SpecError(f"{where}: script_file {script_file!r} does not exist")
            script_file = str(path.resolve())
        if task_config is not None:
            warnings.warn(
                f"{where}: task_config is accepted but not used (setpoint runs the script in the worker process)",
                stacklevel=2,
            )
        locs = list(output_locs or [])
        outputs = []
        for loc in locs:
            if not isinstance(loc, OutputLocation):
                raise SpecError(f"{where}: output_locs takes OutputLocation objects, got {type(loc).__name__}")
            if _file_kind(loc.var_type) is None:
                raise SpecError(
                    f"{where}: output '{loc.var}' must be a File or Directory (FlyteFile/FlyteDirectory), "
                    f"got {getattr(loc.var_type, '__name__', loc.var_type)}"
                )
            outputs.append((loc.var, loc.var_type))
        self.script = script
        self.script_file = script_file
        self.debug = debug
        self.shell = shell
        self.output_locs = tuple(locs)
        super().__init__(name, inputs, outputs, **options)

    def execute(self, **kwargs: Any) -> tuple[Any, ...]:
        where = f"shell task '{self.name}'"
        script = self.script if self.script is not None else Path(str(self.script_file)).read_text()
        locations = {loc.var: interpolate(str(loc.location), kwargs, {}, where) for loc in self.output_locs}
        text = interpolate(script, kwargs, locations, where)
        if self.debug:
            print(f"--- {where}: script ---\n{text}\n---", file=sys.stderr, flush=True)
        proc = subprocess.run([self.shell, "-c", text], capture_output=True, text=True, check=False)
        if proc.stdout:
            sys.stdout.write(proc.stdout)
        if proc.stderr:
            sys.stderr.write(proc.stderr)
        if proc.returncode != 0:
            tail = "\n".join(proc.stderr.rstrip().splitlines()[-STDERR_TAIL_LINES:])
            raise TaskError(
                f"{where}: the script exited with code {proc.returncode}" + (f"; stderr:\n{tail}" if tail else "")
            )
        return tuple(self._output_value(loc, locations[loc.var], where) for loc in self.output_locs)

    @staticmethod
    def _output_value(loc: OutputLocation, location: str, where: str) -> Any:
        path = Path(location)
        kind = _file_kind(loc.var_type)
        if kind == "file" and not path.is_file():
            raise TaskError(f"{where}: output '{loc.var}': the script wrote no file at {location}")
        if kind == "directory" and not path.is_dir():
            raise TaskError(f"{where}: output '{loc.var}': the script made no directory at {location}")
        return typing.cast(Callable[[str], Any], loc.var_type)(str(path.resolve()))
