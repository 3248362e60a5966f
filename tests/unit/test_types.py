"""The type engine: Python annotations -> TypeRef, and task functions -> Interface."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import subprocess
import sys
import typing
from typing import Annotated, Any, NamedTuple, NewType, Optional, Union

import pandas as pd
import pyarrow as pa
import pydantic
import pytest

from setpoint.errors import SpecError, TypeMismatchError, UnsupportedTypeError
from setpoint.spec.types import TypeKind, TypeRef
from setpoint.spec.workflow import Interface, Variable
from setpoint.types import Directory, File, function_interface, type_ref

INT, FLOAT, STR, BOOL, NONE = (
    TypeRef(k) for k in (TypeKind.INT, TypeKind.FLOAT, TypeKind.STR, TypeKind.BOOL, TypeKind.NONE)
)
W = "task 'train', input 'model'"


class Color(enum.Enum):
    RED = "red"
    GREEN = 2


@dataclasses.dataclass
class Point:
    x: float
    y: float


@dataclasses.dataclass
class Shape:
    name: str
    points: list[Point]
    color: Color
    note: str | None = None
    computed: int = dataclasses.field(default=0, init=False)


class Settings(pydantic.BaseModel):
    lr: float
    layers: list[int]
    origin: Point


@dataclasses.dataclass
class Node:
    value: int
    children: list[Node]


@pytest.fixture(autouse=True)
def _pickling_opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests were written for the opt-in policy (a plain class needs @task(unsafe_pickle=True));
    the default policy, which pickles plain classes, is tested in tests/unit/test_flyte_data.py."""
    monkeypatch.setenv("SETPOINT_PICKLE", "opt-in")


class Opaque:
    pass


UserId = NewType("UserId", int)


def ref(t: object, *, allow_pickle: bool = False) -> TypeRef:
    return type_ref(t, where=W, allow_pickle=allow_pickle)


# ---------------------------------------------------------------------------------------------
# type_ref
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("py", "kind"),
    [
        (int, TypeKind.INT),
        (float, TypeKind.FLOAT),
        (str, TypeKind.STR),
        (bool, TypeKind.BOOL),
        (bytes, TypeKind.BYTES),
        (dt.datetime, TypeKind.DATETIME),
        (dt.timedelta, TypeKind.TIMEDELTA),
        (None, TypeKind.NONE),
        (type(None), TypeKind.NONE),
        (File, TypeKind.FILE),
        (Directory, TypeKind.DIRECTORY),
    ],
)
def test_scalars(py: object, kind: TypeKind) -> None:
    assert ref(py) == TypeRef(kind)


@pytest.mark.parametrize(
    ("py", "expected"),
    [
        (list[int], TypeRef.list_of(INT)),
        (typing.List[int], TypeRef.list_of(INT)),  # noqa: UP006 (the typing spelling is what is tested)
        (dict[str, float], TypeRef.dict_of(FLOAT)),
        (typing.Dict[str, list[str]], TypeRef.dict_of(TypeRef.list_of(STR))),  # noqa: UP006
        (Optional[int], TypeRef(TypeKind.UNION, (INT, NONE))),  # noqa: UP045
        (int | None, TypeRef(TypeKind.UNION, (INT, NONE))),
        (Union[int, str], TypeRef(TypeKind.UNION, (INT, STR))),  # noqa: UP007
        (int | str | None, TypeRef(TypeKind.UNION, (INT, STR, NONE))),
        (Optional[Union[int, str]], TypeRef(TypeKind.UNION, (INT, STR, NONE))),  # noqa: UP007, UP045
        (Annotated[int, "meters"], INT),
        (list[Annotated[float, "x"]], TypeRef.list_of(FLOAT)),
        (UserId, INT),
        (dict[str, int | None], TypeRef.dict_of(TypeRef.optional(INT))),
    ],
)
def test_collections_unions_and_wrappers(py: object, expected: TypeRef) -> None:
    assert ref(py) == expected


def test_enum_lists_member_values_as_strings_under_its_qualified_name() -> None:
    t = ref(Color)
    assert t == TypeRef(TypeKind.ENUM, name=f"{__name__}.Color", values=("red", "2"))


def test_enum_whose_values_collide_as_strings_is_refused() -> None:
    class Clash(enum.Enum):
        A = 1
        B = "1"

    with pytest.raises(
        UnsupportedTypeError, match=r"task 'train', input 'model': enum .*Clash .*distinct as strings"
    ):
        ref(Clash)


def test_dataclass_is_a_struct_with_nested_fields_in_declaration_order() -> None:
    t = ref(Shape)
    point = TypeRef(
        TypeKind.STRUCT, name=f"{__name__}.Point", fields=(("x", FLOAT), ("y", FLOAT)), variant="dataclass"
    )
    assert t.kind is TypeKind.STRUCT
    assert t.variant == "dataclass"
    assert t.name == f"{__name__}.Shape"
    assert t.fields == (
        ("name", STR),
        ("points", TypeRef.list_of(point)),
        ("color", ref(Color)),
        ("note", TypeRef.optional(STR)),
    )  # ``computed`` is init=False: not part of the value


def test_pydantic_model_is_a_struct_of_variant_pydantic() -> None:
    t = ref(Settings)
    assert t.kind is TypeKind.STRUCT
    assert t.variant == "pydantic"
    assert [n for n, _ in t.fields] == ["lr", "layers", "origin"]
    assert t.fields[2][1] == ref(Point)


def test_dataframes() -> None:
    assert ref(pd.DataFrame) == TypeRef(TypeKind.DATAFRAME, name="pandas")
    assert ref(pa.Table) == TypeRef(TypeKind.DATAFRAME, name="pyarrow")


def test_type_refs_survive_json() -> None:
    for py in (Shape, Settings, int | str | None, dict[str, list[Color]], pd.DataFrame):
        t = ref(py)
        assert TypeRef.from_json(t.to_json()) == t


@pytest.mark.parametrize(
    ("py", "shown", "advice"),
    [
        (Any, "Any", "declare a concrete type"),
        (
            Opaque,
            "Opaque",
            "use a dataclass or a pydantic model, or opt in to pickling with @task(unsafe_pickle=True)",
        ),
        (tuple[int, str], "tuple[int, str]", "use list[T] or a dataclass"),
        (set[int], "set[int]", "use list[T]"),
        (frozenset[str], "frozenset[str]", "use list[T]"),
        (
            dict[tuple[int, int], str],
            "dict[tuple[int, int], str]",
            "dict keys must be str, int, float, bool or an enum",
        ),
        (dt.date, "date", "use datetime.datetime"),
        (list[Opaque], "Opaque", "use a dataclass"),
    ],
)
def test_unsupported_types_name_where_the_type_and_what_to_do(py: object, shown: str, advice: str) -> None:
    with pytest.raises(UnsupportedTypeError) as info:
        ref(py)
    msg = str(info.value)
    assert msg.startswith(f"{W}: type {shown} cannot be represented as a setpoint literal; ")
    assert advice in msg


def test_unsupported_field_names_the_field() -> None:
    @dataclasses.dataclass
    class Holder:
        thing: Opaque

    with pytest.raises(UnsupportedTypeError, match=r"input 'model', field 'thing': type Opaque cannot"):
        ref(Holder)


def test_recursive_dataclass_is_refused_clearly() -> None:
    with pytest.raises(UnsupportedTypeError, match="Node refers to itself"):
        ref(Node)


def test_pickle_opt_in_turns_unsupported_classes_into_pickle() -> None:
    assert ref(Opaque, allow_pickle=True) == TypeRef(TypeKind.PICKLE, name=f"{__name__}.Opaque")
    assert ref(Any, allow_pickle=True) == TypeRef(TypeKind.PICKLE, name="typing.Any")
    assert ref(list[Opaque], allow_pickle=True) == TypeRef.list_of(
        TypeRef(TypeKind.PICKLE, name=f"{__name__}.Opaque")
    )
    assert ref(int, allow_pickle=True) == INT  # supported types are never pickled


# ---------------------------------------------------------------------------------------------
# function_interface
# ---------------------------------------------------------------------------------------------


class TrainResult(NamedTuple):
    model: File
    accuracy: float


def test_inputs_in_signature_order_with_defaults_as_literals() -> None:
    def train(data: list[float], lr: float = 1, color: Color = Color.GREEN, note: str | None = None) -> float:
        return 0.0

    iface = function_interface(train, where="task 'train'")
    assert iface.inputs == (
        ("data", Variable(TypeRef.list_of(FLOAT))),
        ("lr", Variable(FLOAT, 1.0, True)),  # the int default is widened to the declared float
        ("color", Variable(ref(Color), "2", True)),
        ("note", Variable(TypeRef.optional(STR), None, True)),
    )
    assert iface.outputs == (("o0", FLOAT),)
    assert Interface.from_json(iface.to_json(), "x") == iface


def test_named_tuple_return_gives_one_output_per_field() -> None:
    def train() -> TrainResult:
        raise NotImplementedError

    assert function_interface(train, where="task 'train'").outputs == (
        ("model", TypeRef(TypeKind.FILE)),
        ("accuracy", FLOAT),
    )


def test_none_return_gives_no_outputs() -> None:
    def side_effect(x: int) -> None:
        return None

    assert function_interface(side_effect, where="task 's'").outputs == ()


def test_missing_return_annotation_means_no_outputs() -> None:  # as flytekit reads it
    def f(x: int):  # type: ignore[no-untyped-def]
        return x

    assert function_interface(f, where="task 'f'").outputs == ()


def test_missing_parameter_annotation_names_the_parameter() -> None:
    def f(x: int, y) -> None:  # type: ignore[no-untyped-def]
        return None

    with pytest.raises(SpecError, match=r"task 'f', input 'y': parameter 'y' has no type annotation"):
        function_interface(f, where="task 'f'")


@pytest.mark.parametrize("signature", ["*args: int", "**kwargs: int"])
def test_var_args_are_rejected(signature: str) -> None:
    namespace: dict[str, Any] = {}
    exec(f"def f(x: int, {signature}) -> None: ...", namespace)
    with pytest.raises(SpecError, match=r"task 'f': \*args|task 'f': \*kwargs"):
        function_interface(namespace["f"], where="task 'f'")


def test_default_of_the_wrong_type_names_parameter_expected_and_actual() -> None:
    def f(epochs: int = "ten") -> None:  # type: ignore[assignment]
        return None

    with pytest.raises(TypeMismatchError) as info:
        function_interface(f, where="task 'f'")
    msg = str(info.value)
    assert "task 'f', input 'epochs'" in msg
    assert "expected int" in msg
    assert "got str ('ten')" in msg
    assert "default" in msg


def test_none_default_requires_optional() -> None:
    def f(x: int = None) -> None:  # type: ignore[assignment]  # noqa: RUF013 (the mistake under test)
        return None

    with pytest.raises(TypeMismatchError, match=r"input 'x': expected int, got None"):
        function_interface(f, where="task 'f'")


def test_file_default_cannot_live_in_the_spec() -> None:
    def f(x: File = File("model.pkl")) -> None:  # noqa: B008 (the point of the test)
        return None

    with pytest.raises(
        SpecError, match=r"task 'f', input 'x': a default of type file cannot be stored in the spec"
    ):
        function_interface(f, where="task 'f'")


def test_unsupported_input_type_names_task_and_input() -> None:
    def train(model: Opaque) -> None:
        return None

    with pytest.raises(
        UnsupportedTypeError, match=r"^task 'train', input 'model': type Opaque cannot be represented"
    ):
        function_interface(train, where="task 'train'")
    pickled = function_interface(train, where="task 'train'", allow_pickle=True)
    assert pickled.inputs[0][1].type.kind is TypeKind.PICKLE


def test_unsupported_output_type_names_the_output() -> None:
    def train() -> set[int]:
        return {1, 2}

    with pytest.raises(UnsupportedTypeError, match=r"^task 'train', output 'o0': type set\[int\]"):
        function_interface(train, where="task 'train'")


def test_importing_the_engine_and_runtime_does_not_import_pandas_or_pydantic() -> None:
    code = (
        "import sys, setpoint.types, setpoint.adapters.executor.runtime, setpoint.adapters.blobs.local\n"
        "heavy = [m for m in ('pandas', 'pyarrow', 'pydantic', 'numpy') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
