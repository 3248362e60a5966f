"""The `setpoint.flytekit` namespace: every mirrored name resolves to setpoint's own object, lazily."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
from types import ModuleType

import pytest

import setpoint.flytekit


def mirror_modules() -> list[ModuleType]:
    out = [setpoint.flytekit]
    for info in pkgutil.walk_packages(setpoint.flytekit.__path__, prefix="setpoint.flytekit."):
        if info.name.rsplit(".", 1)[-1] != "_lazy":
            out.append(importlib.import_module(info.name))
    return out


MODULES = mirror_modules()


def test_the_namespace_mirrors_flytekits_module_paths() -> None:
    names = {m.__name__.removeprefix("setpoint.flytekit").lstrip(".") for m in MODULES}
    for path in (
        "",
        "types.file",
        "types.directory",
        "types.structured",
        "types.error",
        "core.task",
        "core.workflow",
        "core.launch_plan",
        "core.schedule",
        "core.notification",
        "core.testing",
        "extras.tasks.shell",
        "extras.sqlite3.task",
        "testing",
        "exceptions.user",
        "experimental",
        "models.core.execution",
    ):
        assert path in names


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_every_mirrored_name_is_the_native_object(module: ModuleType) -> None:
    table: dict[str, str] = module.NAMES
    assert sorted(module.__all__) == sorted(table) == dir(module)
    for name, target in table.items():
        where, _, attr = target.partition(":")
        native = getattr(importlib.import_module(where), attr)
        assert getattr(module, name) is native, f"{module.__name__}.{name}"
        exec(f"from {module.__name__} import {name}", {})  # the import line a ported program has


def test_the_porting_rule_on_common_imports() -> None:
    from setpoint import LaunchPlan, dynamic, map_task, task, workflow
    from setpoint.flytekit import LaunchPlan as FlyteLaunchPlan
    from setpoint.flytekit import dynamic as flyte_dynamic
    from setpoint.flytekit import map_task as flyte_map_task
    from setpoint.flytekit import task as flyte_task
    from setpoint.flytekit import workflow as flyte_workflow
    from setpoint.flytekit.types.directory import FlyteDirectory
    from setpoint.flytekit.types.file import FlyteFile
    from setpoint.types.files import Directory, File

    assert (flyte_task, flyte_workflow, flyte_dynamic, flyte_map_task) == (task, workflow, dynamic, map_task)
    assert FlyteLaunchPlan is LaunchPlan
    assert (FlyteFile, FlyteDirectory) == (File, Directory)


def test_an_unknown_name_points_at_the_migration_guide() -> None:
    with pytest.raises(AttributeError, match=r"docs/migrating-from-flyte\.md"):
        setpoint.flytekit.FlyteRemote  # noqa: B018 - the attribute access is the test
    with pytest.raises(ImportError):
        exec("from setpoint.flytekit import ContainerTask", {})


def test_importing_the_namespace_loads_only_its_tables() -> None:
    code = (
        "import sys, setpoint; before = set(sys.modules); import setpoint.flytekit, setpoint.flytekit.core.task; "
        "print(sorted(m for m in set(sys.modules) - before if not m.startswith('setpoint.flytekit')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"
