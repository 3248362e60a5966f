"""Task interfaces as flytekit reads them: outputs from return annotations, and the types it allows."""

# ruff: noqa: UP006, UP035  # the typing spellings (Dict, List, Tuple) are what flytekit code uses
from __future__ import annotations

import enum
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Dict, List, NamedTuple, Tuple

import pytest

from setpoint.adapters.blobs import open_blob_store
from setpoint.errors import SpecError, TypeMismatchError, UnsupportedTypeError
from setpoint.spec.types import INT, STR, TypeKind, TypeRef, is_assignable
from setpoint.types import LiteralContext, from_literal, to_literal
from setpoint.types.engine import function_interface, output_types, output_values, type_ref

CTX = LiteralContext(None, None)


def roundtrip(value: Any, t: object) -> Any:
    lit = to_literal(value, t, CTX, where="v")
    return from_literal(lit, t, CTX, where="v")


# -- outputs -----------------------------------------------------------------------------------------


def no_annotation(x: int):  # type: ignore[no-untyped-def]
    return x


def returns_none(x: int) -> None:
    return None


def typing_tuple(x: int) -> Tuple[int, str]:
    return x, "s"


def builtin_tuple(x: int) -> tuple[int, List[float]]:
    return x, [1.0]


def open_tuple(x: int) -> Tuple[int, ...]:
    return (x,)


class Backwards(NamedTuple):
    zeta: int
    alpha: str


def named(x: int) -> Backwards:
    return Backwards(x, "a")


class Single(NamedTuple):
    only: int


def single(x: int) -> Single:
    return Single(x)


def test_no_return_annotation_means_no_outputs() -> None:
    assert output_types(no_annotation, where="t") == []
    assert output_types(returns_none, where="t") == []
    assert function_interface(no_annotation, where="t").outputs == ()


@pytest.mark.parametrize(
    ("fn", "names", "types"),
    [
        (typing_tuple, ["o0", "o1"], [INT, STR]),
        (builtin_tuple, ["o0", "o1"], [INT, TypeRef.list_of(TypeRef(TypeKind.FLOAT))]),
        (named, ["zeta", "alpha"], [INT, STR]),  # field order, not alphabetical
        (single, ["only"], [INT]),
    ],
)
def test_tuples_are_several_outputs(fn: Any, names: list[str], types: list[TypeRef]) -> None:
    iface = function_interface(fn, where="t")
    assert [n for n, _ in iface.outputs] == names
    assert [t for _, t in iface.outputs] == types


def test_a_tuple_of_types_as_the_annotation_is_several_outputs() -> None:
    # written `-> (int, str)` in a module with `from __future__ import annotations` (this one):
    # typing refuses the string "(int, str)", flytekit reads it as two outputs
    def bare(x: int) -> (int, str):  # type: ignore[syntax]
        return x, "s"

    assert bare.__annotations__["return"] == "(int, str)"
    assert [(n, type_ref(t, where="t")) for n, t in output_types(bare, where="t")] == [("o0", INT), ("o1", STR)]
    iface = function_interface(bare, where="t")
    assert [n for n, _ in iface.inputs] == ["x"]
    assert [n for n, _ in iface.outputs] == ["o0", "o1"]


def test_a_tuple_of_unknown_length_is_refused_with_what_to_write() -> None:
    with pytest.raises(SpecError, match=r"does not say how many outputs there are; write Tuple\[a, b\]"):
        output_types(open_tuple, where="task 't'")


def test_output_values_pair_results_with_outputs_by_name() -> None:
    # a spec read back from canonical JSON lists the fields alphabetically
    got = output_values(named, Backwards(zeta=7, alpha="a"), ["alpha", "zeta"], where="t")
    assert [(n, v) for n, _, v in got] == [("alpha", "a"), ("zeta", 7)]
    assert [(n, v) for n, _, v in output_values(single, 5, ["only"], where="t")] == [("only", 5)]
    assert [(n, v) for n, _, v in output_values(typing_tuple, (1, "x"), ["o0", "o1"], where="t")] == [
        ("o0", 1),
        ("o1", "x"),
    ]
    assert output_values(no_annotation, None, [], where="t") == []


def test_output_values_refuse_a_spec_or_a_value_that_does_not_match() -> None:
    with pytest.raises(SpecError, match=r"returns outputs \(zeta, alpha\) but its spec declares \(alpha\)"):
        output_values(named, Backwards(1, "a"), ["alpha"], where="t")
    with pytest.raises(TypeMismatchError, match="expected a tuple of 2 outputs"):
        output_values(typing_tuple, 3, ["o0", "o1"], where="t")
    with pytest.raises(TypeMismatchError, match="declares no outputs"):
        output_values(returns_none, 3, [], where="t")


# -- JSON-like values: bare list and dict --------------------------------------------------------------


def test_bare_list_and_dict_hold_json_like_values() -> None:
    value = [1, "two", 3.5, None, True, {"$tag": [1, {"k": "v"}]}, [float("inf")]]
    assert roundtrip(value, list) == value
    assert roundtrip({"a": [1, 2], "b": {"c": None}}, dict) == {"a": [1, 2], "b": {"c": None}}
    assert roundtrip([1], List) == [1]
    assert type_ref(list, where="t") == TypeRef.list_of(TypeRef(TypeKind.ANY))
    assert type_ref(Dict, where="t") == TypeRef.dict_of(TypeRef(TypeKind.ANY))
    nan = roundtrip([float("nan")], list)[0]
    assert math.isnan(nan)


def test_a_value_that_is_not_json_like_names_where_it_is() -> None:
    with pytest.raises(TypeMismatchError, match=r"v, item 1: \w*Path is not a JSON-like value"):
        to_literal([1, Path("/x")], list, CTX, where="v")
    with pytest.raises(TypeMismatchError, match="a JSON-like dict needs string keys, got key 1"):
        to_literal([{1: "a"}], list, CTX, where="v")


# -- dicts with keys other than str ---------------------------------------------------------------------


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@pytest.mark.parametrize(
    ("t", "value", "shown"),
    [
        (Dict[int, str], {1: "a", -2: "b"}, "dict[int, str]"),
        (dict[float, int], {0.5: 1, float("inf"): 2}, "dict[float, int]"),
        (dict[bool, List[int]], {True: [1], False: []}, "dict[bool, list[int]]"),
        (dict[Color, int], {Color.RED: 1, Color.BLUE: 2}, "dict[Color, int]"),
    ],
)
def test_dicts_with_non_str_keys_round_trip(t: object, value: dict[Any, Any], shown: str) -> None:
    assert roundtrip(value, t) == value
    ref = type_ref(t, where="t")
    assert str(ref) == shown
    assert TypeRef.from_json(ref.to_json()) == ref


def test_a_dict_keyed_by_int_travels_with_text_keys_and_is_not_a_dict_of_str() -> None:
    assert to_literal({1: "a"}, dict[int, str], CTX, where="v") == {"1": "a"}
    ints, strs = type_ref(dict[int, str], where="t"), type_ref(dict[str, str], where="t")
    assert not is_assignable(ints, strs) and not is_assignable(strs, ints)
    assert is_assignable(ints, type_ref(dict[int, str], where="t"))
    with pytest.raises(TypeMismatchError, match="key 'x' is not a int"):
        from_literal({"x": "a"}, dict[int, str], CTX, where="v")


def test_a_key_type_without_a_text_form_is_refused() -> None:
    with pytest.raises(UnsupportedTypeError, match="dict keys must be str, int, float, bool or an enum"):
        type_ref(dict[tuple[int, int], str], where="t")


# -- iterators ----------------------------------------------------------------------------------------


def test_an_iterator_travels_as_a_list_and_arrives_as_an_iterator() -> None:
    def gen() -> Iterator[int]:
        yield from range(3)

    lit = to_literal(gen(), Iterator[int], CTX, where="v")
    assert lit == [0, 1, 2]
    back = from_literal(lit, Iterator[int], CTX, where="v")
    assert not isinstance(back, list) and list(back) == [0, 1, 2]
    assert type_ref(Iterator[int], where="t") == TypeRef.list_of(INT)
    with pytest.raises(TypeMismatchError):
        to_literal("abc", Iterator[str], CTX, where="v")


# -- paths into offloaded values are finished by the decoder ----------------------------------------------


def test_a_path_past_an_offloaded_part_is_finished_when_decoded(tmp_path: Path) -> None:
    ctx = LiteralContext(open_blob_store(tmp_path / "blobs"), tmp_path / "work", offload_threshold=16)
    lit = to_literal({"big": list(range(50)), "small": [1]}, Dict[str, List[int]], ctx, where="v")
    offloaded = {"$at": {"value": lit, "path": ["big", 42]}}
    assert from_literal(offloaded, int, ctx, where="v") == 42
    with pytest.raises(TypeMismatchError, match="has 50 items, so it has no item"):
        from_literal({"$at": {"value": lit, "path": ["big", 99]}}, int, ctx, where="v")
