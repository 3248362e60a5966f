"""run_attempt: the worker side of one attempt, against a real user module on sys.path."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from setpoint.adapters.blobs.local import LocalBlobStore
from setpoint.adapters.executor.runtime import run_attempt
from setpoint.errors import InputError, SpecError, TypeMismatchError, UserError
from setpoint.spec.workflow import Interface, TaskSpec
from setpoint.types import File, LiteralContext, from_literal, function_interface, to_literal

USER_CODE = textwrap.dedent(
    """
    from __future__ import annotations

    import dataclasses
    import tempfile
    from pathlib import Path
    from typing import NamedTuple

    from setpoint.types import File


    class _Task:  # what the SDK's @task returns: an object holding the undecorated function
        def __init__(self, fn):
            self.function = fn

        def __call__(self, *args, **kwargs):
            raise RuntimeError("the runtime must call .function, not the task object")


    @dataclasses.dataclass
    class Config:
        lr: float
        layers: list[int]


    class Metrics(NamedTuple):
        loss: float
        steps: int


    class Opaque:
        def __init__(self, v: int) -> None:
            self.v = v


    def add(a: int, b: int = 10) -> int:
        return a + b


    def scale(cfg: Config, factor: float = 2.0) -> Config:
        return Config(cfg.lr * factor, [*cfg.layers, len(cfg.layers)])


    def metrics(n: int) -> Metrics:
        return Metrics(loss=1.0 / n, steps=n)


    def plain_tuple(n: int) -> Metrics:
        return (0.5, n)


    def short_tuple(n: int) -> Metrics:
        return (0.5,)


    def nothing(x: int) -> None:
        return None


    def wrong(x: int) -> int:
        return "not an int"


    def boom(x: int) -> int:
        raise ValueError(f"bad x {x}")


    def count(n: int) -> list[int]:
        return list(range(n))


    def upper(f: File) -> File:
        out = Path(tempfile.mkdtemp()) / f"upper-{f.name}"
        out.write_text(Path(f.path).read_text().upper())
        return File(out)


    def bump(o: Opaque) -> Opaque:
        return Opaque(o.v + 1)


    class Outer:
        @staticmethod
        def inner(x: int) -> int:
            return x * 2


    @_Task
    def wrapped(x: int) -> int:
        return x + 1
    """
)


@pytest.fixture(scope="module")
def user_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    root = tmp_path_factory.mktemp("bundle")
    name = f"sp_user_tasks_{uuid.uuid4().hex[:8]}"
    (root / f"{name}.py").write_text(USER_CODE)
    sys.path.insert(0, str(root))
    try:
        import importlib

        yield importlib.import_module(name)
    finally:
        sys.path.remove(str(root))
        sys.modules.pop(name, None)


def spec_for(mod: ModuleType, qualname: str, *, allow_pickle: bool = False) -> TaskSpec:
    obj: Any = mod
    for part in qualname.split("."):
        obj = getattr(obj, part)
    fn = getattr(obj, "function", obj)
    iface = function_interface(fn, where=f"task '{qualname}'", allow_pickle=allow_pickle)
    return TaskSpec(
        name=f"{mod.__name__}.{qualname}", module=mod.__name__, qualname=qualname, interface=iface
    )


def payload(spec: TaskSpec, inputs: dict[str, Any], blob_root: Path, **extra: Any) -> dict[str, Any]:
    return {
        "task": spec.to_json(),
        "inputs": inputs,
        "blob_root": str(blob_root),
        "offload_threshold": 65536,
        "allow_pickle": False,
        **extra,
    }


@pytest.fixture
def blob_root(tmp_path: Path) -> Path:
    return tmp_path / "blobs"


def run(
    mod: ModuleType, qualname: str, inputs: dict[str, Any], tmp_path: Path, **extra: Any
) -> dict[str, Any]:
    spec = spec_for(mod, qualname, allow_pickle=extra.get("allow_pickle", False))
    return run_attempt(payload(spec, inputs, tmp_path / "blobs", **extra), tmp_path / "attempt")


def test_single_output_and_defaults_from_the_interface(user_module: ModuleType, tmp_path: Path) -> None:
    assert run(user_module, "add", {"a": 1}, tmp_path) == {"outputs": {"o0": 11}}
    assert run(user_module, "add", {"a": 1, "b": 2}, tmp_path) == {"outputs": {"o0": 3}}


def test_structs_are_rebuilt_as_the_functions_own_classes(user_module: ModuleType, tmp_path: Path) -> None:
    out = run(user_module, "scale", {"cfg": {"lr": 0.5, "layers": [4, 8]}}, tmp_path)
    assert out == {"outputs": {"o0": {"lr": 1.0, "layers": [4, 8, 2]}}}


def test_named_tuple_outputs_by_field_name(user_module: ModuleType, tmp_path: Path) -> None:
    assert run(user_module, "metrics", {"n": 4}, tmp_path) == {"outputs": {"loss": 0.25, "steps": 4}}
    assert run(user_module, "plain_tuple", {"n": 3}, tmp_path) == {"outputs": {"loss": 0.5, "steps": 3}}


def test_no_outputs(user_module: ModuleType, tmp_path: Path) -> None:
    assert run(user_module, "nothing", {"x": 1}, tmp_path) == {"outputs": {}}


def test_nested_qualname_and_sdk_task_objects(user_module: ModuleType, tmp_path: Path) -> None:
    assert run(user_module, "Outer.inner", {"x": 21}, tmp_path) == {"outputs": {"o0": 42}}
    assert run(user_module, "wrapped", {"x": 1}, tmp_path) == {"outputs": {"o0": 2}}


def test_wrong_return_type_names_task_and_output(user_module: ModuleType, tmp_path: Path) -> None:
    with pytest.raises(TypeMismatchError) as info:
        run(user_module, "wrong", {"x": 1}, tmp_path)
    assert str(info.value) == (
        f"task '{user_module.__name__}.wrong', output 'o0': expected int, got str ('not an int')"
    )


def test_wrong_tuple_length_is_a_mismatch(user_module: ModuleType, tmp_path: Path) -> None:
    with pytest.raises(TypeMismatchError, match=r"expected a tuple of 2 outputs \(loss, steps\), got tuple"):
        run(user_module, "short_tuple", {"n": 1}, tmp_path)


def test_user_exceptions_propagate_unchanged(user_module: ModuleType, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"^bad x 7$") as info:
        run(user_module, "boom", {"x": 7}, tmp_path)
    assert type(info.value) is ValueError


def test_input_errors_name_the_input(user_module: ModuleType, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"input 'a': missing \(int\) and it has no default"):
        run(user_module, "add", {}, tmp_path)
    with pytest.raises(InputError, match=r"unknown inputs zzz \(takes: a, b\)"):
        run(user_module, "add", {"a": 1, "zzz": 2}, tmp_path)
    with pytest.raises(TypeMismatchError, match=r"input 'a': expected a literal of type int, got string"):
        run(user_module, "add", {"a": "1"}, tmp_path)


def test_files_flow_through_the_blob_store(user_module: ModuleType, tmp_path: Path) -> None:
    src = tmp_path / "note.txt"
    src.write_text("hello")
    ctx = LiteralContext(LocalBlobStore(tmp_path / "blobs"), tmp_path / "reader")
    file_lit = to_literal(File(src), File, ctx, where="input")
    out = run(user_module, "upper", {"f": file_lit}, tmp_path)
    result = from_literal(out["outputs"]["o0"], File, ctx, where="output")
    assert result.name == "upper-note.txt"
    assert Path(result.path).read_text() == "HELLO"
    materialised = list((tmp_path / "attempt" / "work").rglob("note.txt"))
    assert [p.read_text() for p in materialised] == ["hello"]


def test_large_outputs_are_offloaded(user_module: ModuleType, tmp_path: Path) -> None:
    out = run(user_module, "count", {"n": 50}, tmp_path, offload_threshold=16)["outputs"]["o0"]
    assert out["$ref"]["format"] == "json"
    store = LocalBlobStore(tmp_path / "blobs")
    assert from_literal(out, list[int], LiteralContext(store, None), where="o") == list(range(50))
    assert run(user_module, "count", {"n": 3}, tmp_path) == {"outputs": {"o0": [0, 1, 2]}}


def test_pickle_is_used_only_when_the_payload_allows_it(
    user_module: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SETPOINT_PICKLE", "opt-in")  # the default lets attempts read plain classes' pickles
    store = LocalBlobStore(tmp_path / "blobs")
    ctx = LiteralContext(store, tmp_path, allow_pickle=True)
    lit = to_literal(user_module.Opaque(1), user_module.Opaque, ctx, where="input")
    out = run(user_module, "bump", {"o": lit}, tmp_path, allow_pickle=True)
    assert from_literal(out["outputs"]["o0"], user_module.Opaque, ctx, where="o").v == 2
    spec = spec_for(user_module, "bump", allow_pickle=True)
    with pytest.raises(UserError, match="unpickling is disabled here"):
        run_attempt(payload(spec, {"o": lit}, tmp_path / "blobs"), tmp_path / "attempt")


def test_code_that_no_longer_matches_its_spec_is_reported(user_module: ModuleType, tmp_path: Path) -> None:
    spec = spec_for(user_module, "metrics")
    drifted = TaskSpec(
        spec.name,
        spec.module,
        "add",
        Interface(spec_for(user_module, "add").interface.inputs, spec.interface.outputs),
    )
    with pytest.raises(SpecError, match=r"returns outputs \(o0\) but its spec declares \(loss, steps\)"):
        run_attempt(payload(drifted, {"a": 1}, tmp_path / "blobs"), tmp_path / "attempt")


def test_local_functions_cannot_be_tasks(tmp_path: Path) -> None:
    spec = TaskSpec("m.f", "json", "f.<locals>.g", Interface())
    with pytest.raises(SpecError, match="define tasks at module level"):
        run_attempt(payload(spec, {}, tmp_path / "blobs"), tmp_path / "attempt")


def test_runs_in_a_fresh_worker_process_with_json_only_payloads(
    user_module: ModuleType, tmp_path: Path
) -> None:
    spec = spec_for(user_module, "scale")
    request = {
        "payload": payload(spec, {"cfg": {"lr": 1.0, "layers": []}}, tmp_path / "blobs"),
        "attempt_dir": str(tmp_path / "attempt"),
        "sys_path": str(Path(user_module.__file__ or "").parent),
    }
    code = textwrap.dedent(
        """
        import json, sys
        request = json.load(sys.stdin)
        sys.path.insert(0, request["sys_path"])
        from pathlib import Path
        from setpoint.adapters.executor.runtime import run_attempt
        print(json.dumps(run_attempt(request["payload"], Path(request["attempt_dir"]))))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], input=json.dumps(request), capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout) == {"outputs": {"o0": {"lr": 2.0, "layers": [0]}}}
