"""Literals: the canonical JSON encoding, round trips, offloading, files, dataframes, hashing, parsing."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import math
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional, get_args, get_origin

import pandas as pd
import pyarrow as pa
import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from setpoint.adapters.blobs.local import LocalBlobStore
from setpoint.errors import BlobError, InputError, TypeMismatchError, UnsupportedTypeError, UserError
from setpoint.ports import BlobRef
from setpoint.spec.canonical import canonical_json
from setpoint.spec.types import TypeRef
from setpoint.types import (
    Directory,
    File,
    LiteralContext,
    from_literal,
    literal_from_json_value,
    literal_hash,
    parse_cli_value,
    summarize_literal,
    to_literal,
    type_ref,
    validate_literal,
)

W = "task 't', input 'x'"
INLINE = LiteralContext(None, None)


class Color(enum.Enum):
    RED = "red"
    GREEN = 2


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


@dataclasses.dataclass(frozen=True)
class Point:
    x: float
    y: float


@dataclasses.dataclass
class Sample:
    name: str
    when: dt.datetime
    points: list[Point]
    labels: dict[str, Color]
    weight: float | None = None


class Model(pydantic.BaseModel):
    lr: float
    origin: Point
    tags: list[str] = []


class Opaque:
    def __init__(self, v: int) -> None:
        self.v = v

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Opaque) and other.v == self.v

    __hash__ = None  # type: ignore[assignment]


@pytest.fixture
def blobs(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs")


@pytest.fixture
def ctx(blobs: LocalBlobStore, tmp_path: Path) -> LiteralContext:
    return LiteralContext(blobs, tmp_path / "work")


def roundtrip(value: Any, t: object, c: LiteralContext = INLINE) -> tuple[Any, Any]:
    lit = to_literal(value, t, c, where=W)
    reloaded = json.loads(canonical_json(lit))
    assert reloaded == lit  # JSON-only and deterministic
    return lit, from_literal(reloaded, t, c, where=W)


# ---------------------------------------------------------------------------------------------
# Properties: every supported value survives to_literal -> canonical JSON -> from_literal
# ---------------------------------------------------------------------------------------------

UTC_OFFSETS = st.integers(-14 * 60, 14 * 60).map(lambda m: dt.timezone(dt.timedelta(minutes=m)))
DATETIMES = st.one_of(
    st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1)),
    st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1), timezones=UTC_OFFSETS),
)
SCALARS: dict[object, st.SearchStrategy[Any]] = {
    int: st.integers(),
    float: st.floats(allow_nan=False),
    str: st.text(),
    bool: st.booleans(),
    bytes: st.binary(max_size=64),
    dt.datetime: DATETIMES,
    dt.timedelta: st.timedeltas(),
    type(None): st.none(),
    Color: st.sampled_from(Color),
    Level: st.sampled_from(Level),
}
KEYS = st.one_of(st.text(max_size=6), st.sampled_from(["$ref", "$$x", "$float", "$variant", "value"]))
TYPES = st.recursive(
    st.sampled_from(list(SCALARS)),
    lambda inner: st.one_of(
        inner.map(lambda t: list[t]),  # type: ignore[valid-type]
        inner.map(lambda t: dict[str, t]),  # type: ignore[valid-type]
        inner.map(lambda t: Optional[t]),  # noqa: UP045
    ),
    max_leaves=4,
)


def values_of(t: Any) -> st.SearchStrategy[Any]:
    origin, args = get_origin(t), get_args(t)
    if origin is list:
        return st.lists(values_of(args[0]), max_size=4)
    if origin is dict:
        return st.dictionaries(KEYS, values_of(args[1]), max_size=4)
    if args:  # Optional[T]
        return st.one_of(*(values_of(a) for a in args))
    return SCALARS[t]


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_roundtrip_scalars_collections_optionals(data: st.DataObject) -> None:
    t = data.draw(TYPES, label="type")
    value = data.draw(values_of(t), label="value")
    lit, back = roundtrip(value, t)
    assert back == value
    assert to_literal(back, t, INLINE, where=W) == lit  # a canonical fixed point
    validate_literal(lit, type_ref(t, where=W), where=W)


POINTS = st.builds(Point, st.floats(allow_nan=False), st.floats(allow_nan=False))
SAMPLES = st.builds(
    Sample,
    name=st.text(),
    when=DATETIMES,
    points=st.lists(POINTS, max_size=3),
    labels=st.dictionaries(KEYS, st.sampled_from(Color), max_size=3),
    weight=st.none() | st.floats(allow_nan=False, allow_infinity=False),
)


@settings(max_examples=100, deadline=None)
@given(SAMPLES)
def test_roundtrip_nested_dataclasses(sample: Sample) -> None:
    lit, back = roundtrip(sample, Sample)
    assert back == sample
    validate_literal(lit, type_ref(Sample, where=W), where=W)
    if not any(k.startswith("$") for k in sample.labels):  # plain JSON keys "$..." are escaped again
        assert literal_from_json_value(lit, type_ref(Sample, where=W), where=W) == lit


@settings(max_examples=100, deadline=None)
@given(st.builds(Model, lr=st.floats(allow_nan=False), origin=POINTS, tags=st.lists(st.text(), max_size=3)))
def test_roundtrip_pydantic_models(model: Model) -> None:
    _, back = roundtrip(model, Model)
    assert back == model


class Aliased(pydantic.BaseModel):
    learning_rate: float = pydantic.Field(alias="lr")
    n: int

    @pydantic.field_validator("n")
    @classmethod
    def positive(cls, v: int) -> int:
        if v <= 0:
            raise ValueError("n must be positive")
        return v


@dataclasses.dataclass
class Checked:
    x: int

    def __post_init__(self) -> None:
        if self.x < 0:
            raise ValueError("x must be >= 0")


def test_pydantic_fields_use_python_names_and_aliases_still_work() -> None:
    lit, back = roundtrip(Aliased(lr=0.5, n=2), Aliased)
    assert lit == {"learning_rate": 0.5, "n": 2}
    assert back == Aliased(lr=0.5, n=2)


@pytest.mark.parametrize(
    ("lit", "t", "reason"),
    [
        ({"learning_rate": 1.0, "n": -1}, Aliased, "n must be positive"),
        ({"x": -1}, Checked, "x must be >= 0"),
    ],
)
def test_struct_validation_failures_are_type_mismatches(lit: Any, t: Any, reason: str) -> None:
    with pytest.raises(TypeMismatchError) as info:
        from_literal(lit, t, INLINE, where=W)
    assert str(info.value).startswith(f"{W}: cannot construct {__name__}.{t.__name__}: ")
    assert reason in str(info.value)


UNION_CASES = st.sampled_from(
    [
        (int | str, st.one_of(st.integers(), st.text())),
        (int | float, st.one_of(st.integers(), st.floats(allow_nan=False))),
        (bool | int, st.one_of(st.booleans(), st.integers())),
        (
            list[int] | dict[str, int],
            st.one_of(st.lists(st.integers()), st.dictionaries(KEYS, st.integers())),
        ),
        (int | str | None, st.one_of(st.none(), st.integers(), st.text())),
        (Point | Color, st.one_of(POINTS, st.sampled_from(Color))),
    ]
)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_roundtrip_unions_keep_the_exact_variant(data: st.DataObject) -> None:
    t, values = data.draw(UNION_CASES)
    value = data.draw(values)
    lit, back = roundtrip(value, t)
    assert back == value
    assert type(back) is type(value)  # True stays bool, 1 stays int, 1.0 stays float
    validate_literal(lit, type_ref(t, where=W), where=W)


@pytest.fixture(scope="module")
def shared_blobs() -> Iterator[LocalBlobStore]:
    with tempfile.TemporaryDirectory() as root:
        yield LocalBlobStore(Path(root))


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_offloading_is_transparent(shared_blobs: LocalBlobStore, data: st.DataObject) -> None:
    small = LiteralContext(shared_blobs, None, offload_threshold=32)
    t = data.draw(TYPES, label="type")
    value = data.draw(values_of(t), label="value")
    lit = to_literal(value, t, small, where=W)
    inline = to_literal(value, t, INLINE, where=W)
    if len(canonical_json(inline).encode()) > 32:  # the threshold counts UTF-8 bytes
        assert lit["$ref"]["format"] == "json"
        assert lit["$ref"]["size"] == len(canonical_json(inline).encode())
    else:
        assert lit == inline
    assert from_literal(lit, t, small, where=W) == value


# ---------------------------------------------------------------------------------------------
# The exact encoding (it is stored and hashed: it must not drift)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "t", "lit"),
    [
        (3, int, 3),
        (2.5, float, 2.5),
        (2, float, 2.0),
        (math.nan, float, {"$float": "nan"}),
        (math.inf, float, {"$float": "inf"}),
        (-math.inf, float, {"$float": "-inf"}),
        ("hé", str, "hé"),
        (True, bool, True),
        (None, type(None), None),
        (b"\x00\xff", bytes, {"$bytes": "AP8="}),
        (dt.datetime(2024, 5, 1, 12, 0), dt.datetime, {"$datetime": "2024-05-01T12:00:00"}),
        (
            dt.datetime(2024, 5, 1, 14, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            dt.datetime,
            {"$datetime": "2024-05-01T12:00:00+00:00"},
        ),
        (dt.timedelta(hours=1, microseconds=5), dt.timedelta, {"$timedelta": 3_600_000_005}),
        ([1, 2], list[int], [1, 2]),
        ({"a": 1, "$ref": 2}, dict[str, int], {"a": 1, "$$ref": 2}),
        (5, Optional[int], 5),  # noqa: UP045
        (None, int | None, None),
        (5, int | str, {"$variant": 0, "value": 5}),
        ("5", int | str, {"$variant": 1, "value": "5"}),
        (None, int | str | None, {"$variant": 2, "value": None}),
        (True, int | bool, {"$variant": 1, "value": True}),
        (1, float | int, {"$variant": 1, "value": 1}),
        (1, float | str, {"$variant": 0, "value": 1.0}),
        (Color.GREEN, Color, "2"),
        ("red", Color, "red"),  # a member's raw value is accepted
        (Level.HIGH, Level, "2"),
        (Point(1, 2), Point, {"x": 1.0, "y": 2.0}),
    ],
)
def test_encoding(value: Any, t: Any, lit: Any) -> None:
    assert to_literal(value, t, INLINE, where=W) == lit
    assert canonical_json(to_literal(value, t, INLINE, where=W)) == canonical_json(lit)


def test_int_and_float_literals_differ_in_text() -> None:
    assert canonical_json(to_literal(1, int, INLINE, where=W)) == "1"
    assert canonical_json(to_literal(1, float, INLINE, where=W)) == "1.0"


def test_naive_datetimes_stay_naive_and_aware_ones_become_utc() -> None:
    naive = dt.datetime(2024, 1, 1, 8, 30)
    aware = dt.datetime(2024, 1, 1, 8, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    assert roundtrip(naive, dt.datetime)[1].tzinfo is None
    back = roundtrip(aware, dt.datetime)[1]
    assert back == aware
    assert back.utcoffset() == dt.timedelta(0)


# ---------------------------------------------------------------------------------------------
# Errors name where, what was expected and what was found
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "t", "message"),
    [
        ("abc", int, "task 't', input 'x': expected int, got str ('abc')"),
        (True, int, "task 't', input 'x': expected int, got bool (True)"),
        (1, bool, "task 't', input 'x': expected bool, got int (1)"),
        (1.5, int, "task 't', input 'x': expected int, got float (1.5)"),
        (None, int, "task 't', input 'x': expected int, got None"),
        ([1, "a"], list[int], "task 't', input 'x', item 1: expected int, got str ('a')"),
        ({"k": "v"}, dict[str, int], "task 't', input 'x', key 'k': expected int, got str ('v')"),
        ({1: 1}, dict[str, int], "task 't', input 'x': expected dict[str, int] (string keys), got key 1"),
        (
            Point(1, "y"),  # type: ignore[arg-type]
            Point,
            "task 't', input 'x', field 'y': expected float, got str ('y')",
        ),
        ({"x": 1, "y": 2}, Point, "task 't', input 'x': expected Point, got dict"),
        (2.5, int | str, "task 't', input 'x': expected int | str, got float (2.5)"),
        ("blue", Color, "task 't', input 'x': expected Color, got str ('blue')"),
        ("not a file", File, "task 't', input 'x': expected file, got str ('not a file')"),
    ],
)
def test_to_literal_mismatch_messages(value: Any, t: Any, message: str) -> None:
    with pytest.raises(TypeMismatchError) as info:
        to_literal(value, t, INLINE, where=W)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("lit", "t", "words"),
    [
        ("3", int, ["input 'x'", "expected a literal of type int", "string ('3')"]),
        ({"x": 1.0}, Point, ["input 'x'", "does not match Point", "missing fields y"]),
        ({"x": 1.0, "y": 2.0, "z": 3}, Point, ["unknown fields z"]),
        ({"$variant": 5, "value": 1}, int | str, ["expected a literal of type int | str"]),
        ("purple", Color, ["expected one of red, 2", "'purple'"]),
        ({"$bytes": "not base64!"}, bytes, ["expected a literal of type bytes"]),
        ({"$ref": {"uri": "x"}}, int, ["malformed blob reference"]),
        ({"$weird": 1}, dict[str, int], ["expected a literal of type dict[str, int]"]),
    ],
)
def test_from_literal_rejects_malformed_literals(lit: Any, t: Any, words: list[str]) -> None:
    with pytest.raises(TypeMismatchError) as info:
        from_literal(lit, t, INLINE, where=W)
    for word in words:
        assert word in str(info.value)


def test_offloaded_refs_need_a_blob_store_to_decode(ctx: LiteralContext) -> None:
    lit = to_literal(list(range(20_000)), list[int], ctx, where=W)
    with pytest.raises(BlobError, match="input 'x': an offloaded value is stored in the blob store"):
        from_literal(lit, list[int], INLINE, where=W)


# ---------------------------------------------------------------------------------------------
# Offloading and references
# ---------------------------------------------------------------------------------------------


def test_large_values_are_offloaded_only_at_the_top_level(ctx: LiteralContext, blobs: LocalBlobStore) -> None:
    big = ["x" * 100] * 1000
    lit = to_literal(big, list[str], ctx, where=W)
    assert set(lit) == {"$ref"}
    body = lit["$ref"]
    assert body["format"] == "json"
    assert body["uri"] == f"sha256:{body['sha256']}"
    assert blobs.get_bytes(BlobRef(body["uri"], body["sha256"], body["size"])) == canonical_json(big).encode()
    assert from_literal(lit, list[str], ctx, where=W) == big
    assert to_literal(big, list[str], INLINE, where=W) == big  # no blob store: stays inline


def test_refs_are_resolved_anywhere_inside_a_literal(ctx: LiteralContext) -> None:
    a = to_literal(list(range(10_000)), list[int], ctx, where=W)
    b = to_literal(list(range(5, 10_005)), list[int], ctx, where=W)
    assembled = [a, [1, 2], b]  # e.g. a list binding over several upstream outputs
    validate_literal(assembled, type_ref(list[list[int]], where=W), where=W)
    assert from_literal(assembled, list[list[int]], ctx, where=W) == [
        list(range(10_000)),
        [1, 2],
        list(range(5, 10_005)),
    ]


def test_a_corrupt_offloaded_blob_is_detected(ctx: LiteralContext, blobs: LocalBlobStore) -> None:
    lit = to_literal(list(range(20_000)), list[int], ctx, where=W)
    path = blobs.local_path(BlobRef(lit["$ref"]["uri"], lit["$ref"]["sha256"], lit["$ref"]["size"]))
    os.chmod(path, 0o644)
    path.write_bytes(path.read_bytes().replace(b"19999", b"19998"))
    with pytest.raises(BlobError, match="is corrupt"):
        from_literal(lit, list[int], ctx, where=W)


def test_a_missing_offloaded_blob_is_reported(ctx: LiteralContext, blobs: LocalBlobStore) -> None:
    lit = to_literal(list(range(20_000)), list[int], ctx, where=W)
    blobs.delete(BlobRef(lit["$ref"]["uri"], lit["$ref"]["sha256"], lit["$ref"]["size"]))
    with pytest.raises(BlobError, match=rf"blob {lit['$ref']['uri']} is missing"):
        from_literal(lit, list[int], ctx, where=W)


# ---------------------------------------------------------------------------------------------
# Pickle (explicit opt-in only)
# ---------------------------------------------------------------------------------------------


def test_pickle_needs_the_opt_in_to_encode(ctx: LiteralContext, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SETPOINT_PICKLE", "opt-in")  # the default pickles plain classes (flytekit's rule)
    with pytest.raises(UnsupportedTypeError, match="opt in to pickling"):
        to_literal(Opaque(1), Opaque, ctx, where=W)


def test_unpickling_is_refused_without_the_opt_in_and_outside_attempts(
    blobs: LocalBlobStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    allowed = LiteralContext(blobs, tmp_path, allow_pickle=True)
    lit = to_literal(Opaque(7), Opaque, allowed, where=W)
    assert lit["$ref"]["format"] == "pickle"
    assert from_literal(lit, Opaque, allowed, where=W) == Opaque(7)
    with pytest.raises(UserError, match=r"input 'x': unpickling is disabled here"):
        from_literal(lit, Opaque, LiteralContext(blobs, None), where=W)  # no attempt: a client, the server
    monkeypatch.setenv("SETPOINT_PICKLE", "opt-in")
    with pytest.raises(UserError, match=r"input 'x': unpickling is disabled here"):
        from_literal(lit, Opaque, LiteralContext(blobs, tmp_path), where=W)


def test_pickle_checks_the_declared_class(blobs: LocalBlobStore, tmp_path: Path) -> None:
    allowed = LiteralContext(blobs, tmp_path, allow_pickle=True)
    with pytest.raises(TypeMismatchError, match=r"expected Opaque, got int \(3\)"):
        to_literal(3, Opaque, allowed, where=W)


# ---------------------------------------------------------------------------------------------
# DataFrames
# ---------------------------------------------------------------------------------------------


def test_pandas_dataframe_roundtrips_through_parquet(ctx: LiteralContext, blobs: LocalBlobStore) -> None:
    df = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", None], "c": [0.5, math.nan, 2.0]})
    lit = to_literal(df, pd.DataFrame, ctx, where=W)
    body = lit["$ref"]
    assert body["format"] == "parquet"
    assert blobs.get_bytes(BlobRef(body["uri"], body["sha256"], body["size"]))[:4] == b"PAR1"
    back = from_literal(lit, pd.DataFrame, ctx, where=W)
    pd.testing.assert_frame_equal(back, df)
    assert to_literal(df, pd.DataFrame, ctx, where=W) == lit  # deterministic bytes
    validate_literal(lit, type_ref(pd.DataFrame, where=W), where=W)


def test_pyarrow_table_roundtrips_and_flavours_interoperate(ctx: LiteralContext) -> None:
    table = pa.table({"n": [1, 2], "s": ["a", "b"]})
    lit = to_literal(table, pa.Table, ctx, where=W)
    assert from_literal(lit, pa.Table, ctx, where=W).equals(table)
    as_pandas = from_literal(lit, pd.DataFrame, ctx, where=W)
    assert as_pandas["s"].tolist() == ["a", "b"]


def test_dataframes_need_a_blob_store() -> None:
    with pytest.raises(
        BlobError, match="input 'x': a dataframe is stored in the blob store, and none is configured"
    ):
        to_literal(pd.DataFrame({"a": [1]}), pd.DataFrame, INLINE, where=W)


def test_wrong_dataframe_flavour_is_a_mismatch(ctx: LiteralContext) -> None:
    with pytest.raises(TypeMismatchError, match=r"expected dataframe\[pandas\], got Table"):
        to_literal(pa.table({"a": [1]}), pd.DataFrame, ctx, where=W)


# ---------------------------------------------------------------------------------------------
# Files and directories
# ---------------------------------------------------------------------------------------------


def test_file_roundtrip_through_the_blob_store(ctx: LiteralContext, tmp_path: Path) -> None:
    src = tmp_path / "model.pkl"
    src.write_bytes(b"weights" * 100)
    lit = to_literal(File(src), File, ctx, where=W)
    body = lit["$file"]
    assert body["name"] == "model.pkl"
    assert body["size"] == 700
    assert body["uri"] == f"sha256:{body['sha256']}"
    f = from_literal(lit, File, ctx, where=W)
    assert isinstance(f, File)
    assert f.name == "model.pkl"
    assert not f.is_local  # downloaded on first use
    assert Path(f.path).read_bytes() == b"weights" * 100
    assert Path(f.path).is_relative_to(tmp_path / "work")
    assert Path(f.path).name == "model.pkl"
    with f.open("rb") as fh:
        assert fh.read(7) == b"weights"
    assert os.fspath(f) == f.path


def test_an_input_file_passed_on_unchanged_keeps_its_reference(ctx: LiteralContext, tmp_path: Path) -> None:
    src = tmp_path / "data.csv"
    src.write_text("a,b\n")
    lit = to_literal(File(src), File, ctx, where=W)
    again = to_literal(from_literal(lit, File, ctx, where=W), File, ctx, where=W)
    assert again == lit


def test_a_string_path_is_accepted_for_a_file_output(ctx: LiteralContext, tmp_path: Path) -> None:
    src = tmp_path / "out.txt"
    src.write_text("hi")
    assert to_literal(str(src), File, ctx, where=W)["$file"]["name"] == "out.txt"


def test_missing_file_output_is_a_clear_error(ctx: LiteralContext, tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"input 'x': file '.*nope\.txt' does not exist"):
        to_literal(File(tmp_path / "nope.txt"), File, ctx, where=W)


def test_file_literal_whose_blob_is_missing_is_reported(ctx: LiteralContext) -> None:
    lit = {"$file": {"uri": "sha256:" + "0" * 64, "sha256": "0" * 64, "size": 3, "name": "x"}}
    with pytest.raises(BlobError, match=r"input 'x': file blob sha256:0+ \(x\) is missing"):
        from_literal(lit, File, ctx, where=W)


def test_file_names_from_literals_cannot_escape_the_workdir(ctx: LiteralContext, tmp_path: Path) -> None:
    src = tmp_path / "a.txt"
    src.write_text("a")
    lit = to_literal(File(src), File, ctx, where=W)
    lit["$file"]["name"] = "../../../evil.txt"
    f = from_literal(lit, File, ctx, where=W)
    assert f.name == "evil.txt"
    assert Path(f.path).is_relative_to(tmp_path / "work")


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_directory_roundtrip_through_a_manifest(ctx: LiteralContext, tmp_path: Path) -> None:
    root = tmp_path / "dataset"
    (root / "train" / "deep").mkdir(parents=True)
    (root / "train" / "a.csv").write_text("1,2\n")
    (root / "train" / "deep" / "b.bin").write_bytes(os.urandom(1000))
    (root / "README").write_text("hello")
    (root / "link.csv").symlink_to(root / "train" / "a.csv")  # inside: followed
    lit = to_literal(Directory(root), Directory, ctx, where=W)
    assert lit["$dir"]["name"] == "dataset"
    d = from_literal(lit, Directory, ctx, where=W)
    assert isinstance(d, Directory)
    assert Path(d.path).is_relative_to(tmp_path / "work")
    assert _tree(Path(d.path)) == _tree(root)
    assert d.files() == ["README", "link.csv", "train/a.csv", "train/deep/b.bin"]
    assert to_literal(Directory(root), Directory, ctx, where=W) == lit  # same tree, same manifest


def test_directory_with_a_symlink_leaving_it_is_refused(ctx: LiteralContext, tmp_path: Path) -> None:
    root = tmp_path / "d"
    root.mkdir()
    (tmp_path / "secret").write_text("s")
    (root / "leak").symlink_to(tmp_path / "secret")
    with pytest.raises(
        UserError, match=r"input 'x': 'leak' in directory .* is a symlink to .*secret.*outside"
    ):
        to_literal(Directory(root), Directory, ctx, where=W)


@pytest.mark.parametrize(
    "bad", ["../escape.txt", "/etc/passwd", "a/../../b", "a//b", "./a", "C:/x", "a\\..\\b"]
)
def test_directory_manifest_paths_cannot_escape(ctx: LiteralContext, blobs: LocalBlobStore, bad: str) -> None:
    file_ref = blobs.put_bytes(b"payload")
    manifest = {
        "kind": "setpoint.directory",
        "version": 1,
        "files": {bad: {"uri": file_ref.uri, "sha256": file_ref.sha256, "size": file_ref.size}},
    }
    m = blobs.put_bytes(canonical_json(manifest).encode())
    lit = {"$dir": {"uri": m.uri, "sha256": m.sha256, "size": m.size, "name": "d"}}
    d = from_literal(lit, Directory, ctx, where=W)
    with pytest.raises(BlobError, match="directory manifest contains an unsafe path"):
        _ = d.path


# ---------------------------------------------------------------------------------------------
# Hashing and display
# ---------------------------------------------------------------------------------------------


def test_literal_hash_is_pinned() -> None:
    # Digests computed independently (``printf '<canonical json>' | sha256sum``): changing them
    # silently would invalidate every cache key ever stored.
    lit = {"b": [1, 2.5, None, {"$datetime": "2024-01-01T00:00:00"}], "a": "x"}
    assert literal_hash(lit) == "1adefab8b100cc42b7beea81986ffd069eab6e124bae30bd85af349660b57e73"
    sha = "ab" * 32
    with_file = [{"$file": {"uri": "anywhere", "sha256": sha, "size": 1, "name": "n"}}, 1.0]
    # hashed as [{"$sha256":"abab..."},1.0]
    assert literal_hash(with_file) == "82881e5b89c9cb516770c240ff29b457033f1bd1de409f38c75f7f9af16503d2"


def test_literal_hash_is_the_same_in_another_process() -> None:
    code = "from setpoint.types import literal_hash; print(literal_hash({'a': [1, 2.5, 'é']}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == literal_hash({"a": [1, 2.5, "é"]})


def test_literal_hash_depends_on_content_and_type_not_order_or_location() -> None:
    assert literal_hash({"a": 1, "b": 2}) == literal_hash({"b": 2, "a": 1})
    assert literal_hash(1) != literal_hash(1.0)  # "1" vs "1.0": the type's encoding is part of the hash
    assert literal_hash("1") != literal_hash(1)
    sha = "ab" * 32
    here = {"$ref": {"uri": f"sha256:{sha}", "sha256": sha, "size": 3, "format": "json"}}
    there = {"$ref": {"uri": f"s3://bucket/{sha}", "sha256": sha, "size": 3, "format": "json"}}
    assert literal_hash(here) == literal_hash(there)
    f1 = {"$file": {"uri": "a", "sha256": sha, "size": 3, "name": "x"}}
    f2 = {"$file": {"uri": "b", "sha256": sha, "size": 3, "name": "x"}}
    assert literal_hash([f1]) == literal_hash([f2])
    assert literal_hash([f1]) != literal_hash([{"$file": {**f1["$file"], "sha256": "cd" * 32}}])


@pytest.mark.parametrize(
    ("lit", "shown"),
    [
        (3, "3"),
        ("hi", '"hi"'),
        ([1, 2, 3], "[1, 2, 3]"),
        (list(range(1000)), "[1000 items]"),
        ({"$ref": {"uri": "u", "sha256": "s", "size": 1_250_000, "format": "json"}}, "<ref 1.2 MB json>"),
        (
            {"$file": {"uri": "u", "sha256": "s", "size": 3 * 1024, "name": "model.pkl"}},
            "File(model.pkl, 3 KB)",
        ),
        ({"$dir": {"uri": "u", "sha256": "s", "size": 10, "name": "data"}}, "Directory(data)"),
        ({"$bytes": "AP8="}, "<2 bytes>"),
        ({"$datetime": "2024-01-01T00:00:00"}, "2024-01-01T00:00:00"),
        ({"$timedelta": 5_400_000_000}, "1:30:00"),
        ({"$float": "nan"}, "nan"),
        ({"$variant": 1, "value": "x"}, '"x"'),
        ({"lr": 0.1, "n": 3}, "{lr: 0.1, n: 3}"),
        ({f"k{i}": i for i in range(50)}, "{50 keys}"),
    ],
)
def test_summarize_literal(lit: Any, shown: str) -> None:
    assert summarize_literal(lit) == shown


def test_summarize_truncates_long_strings() -> None:
    text = summarize_literal("x" * 500, max_len=20)
    assert len(text) == 20
    assert text.endswith("…")


# ---------------------------------------------------------------------------------------------
# Plain JSON and CLI text typed by a TypeRef only
# ---------------------------------------------------------------------------------------------


def ref(t: object) -> TypeRef:
    return type_ref(t, where=W)


@pytest.mark.parametrize(
    ("value", "t", "lit"),
    [
        (3, int, 3),
        (3, float, 3.0),
        ("nan", float, {"$float": "nan"}),
        ("AP8=", bytes, {"$bytes": "AP8="}),
        ("2024-05-01T14:00:00+02:00", dt.datetime, {"$datetime": "2024-05-01T12:00:00+00:00"}),
        ("2024-05-01T12:00:00Z", dt.datetime, {"$datetime": "2024-05-01T12:00:00+00:00"}),
        (90, dt.timedelta, {"$timedelta": 90_000_000}),
        (1.5, dt.timedelta, {"$timedelta": 1_500_000}),
        ({"$timedelta": 7}, dt.timedelta, {"$timedelta": 7}),
        ([1, 2], list[float], [1.0, 2.0]),
        ({"$price": 1}, dict[str, int], {"$$price": 1}),
        (None, Optional[int], None),  # noqa: UP045
        (4, int | None, 4),
        (4, int | str, {"$variant": 0, "value": 4}),
        ("4", int | str, {"$variant": 1, "value": "4"}),
        (4, float | str, {"$variant": 0, "value": 4.0}),
        ({"$variant": 1, "value": "a"}, int | str, {"$variant": 1, "value": "a"}),
        (2, Color, "2"),
        ("red", Color, "red"),
        ({"x": 1, "y": 2.5}, Point, {"x": 1.0, "y": 2.5}),
    ],
)
def test_literal_from_json_value(value: Any, t: Any, lit: Any) -> None:
    assert literal_from_json_value(value, ref(t), where=W) == lit
    validate_literal(lit, ref(t), where=W)


@pytest.mark.parametrize(
    ("value", "t", "words"),
    [
        ("3", int, ["input 'x'", "expected int", "string ('3')"]),
        (True, int, ["expected int", "boolean (true)"]),
        (1.5, int, ["expected int", "number (1.5)"]),
        ({"x": 1}, Point, ["input 'x'", "does not match Point", "missing fields y"]),
        ({"x": 1, "y": 2, "z": 3}, Point, ["unknown fields z"]),
        ({"x": "a", "y": 2}, Point, ["input 'x', field 'x'", "expected float", "string ('a')"]),
        ("blue", Color, ["expected one of red, 2 (Color)", "string ('blue')"]),
        ("yesterday", dt.datetime, ["expected datetime", "ISO 8601"]),
        ("1h", dt.timedelta, ["expected timedelta", "number of seconds"]),
        ("./model.pkl", File, ["expected file", "upload local paths to the blob store first"]),
        ([1, "a"], list[int], ["input 'x', item 1", "expected int"]),
        (2.5, int | str, ["expected int | str", "number (2.5)"]),
    ],
)
def test_literal_from_json_value_errors(value: Any, t: Any, words: list[str]) -> None:
    with pytest.raises(InputError) as info:
        literal_from_json_value(value, ref(t), where=W)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize(
    ("text", "t", "lit"),
    [
        ("hello world", str, "hello world"),
        ("[1, 2]", str, "[1, 2]"),
        ("42", int, 42),
        (" 42 ", int, 42),
        ("2.5", float, 2.5),
        ("3", float, 3.0),
        ("inf", float, {"$float": "inf"}),
        ("true", bool, True),
        ("Yes", bool, True),
        ("0", bool, False),
        ("no", bool, False),
        ("90", dt.timedelta, {"$timedelta": 90_000_000}),
        ("2024-05-01", dt.datetime, {"$datetime": "2024-05-01T00:00:00"}),
        ("red", Color, "red"),
        ("[1, 2]", list[int], [1, 2]),
        ('{"a": [1]}', dict[str, list[int]], {"a": [1]}),
        ("null", Optional[int], None),  # noqa: UP045
        ("5", int | None, 5),
        ("bob", str | None, "bob"),
        ("5", int | str, {"$variant": 0, "value": 5}),
        ("bob", int | str, {"$variant": 1, "value": "bob"}),
        ('{"x": 1, "y": 2}', Point, {"x": 1.0, "y": 2.0}),
    ],
)
def test_parse_cli_value(text: str, t: Any, lit: Any) -> None:
    assert parse_cli_value(text, ref(t), where="input 'x'") == lit


@pytest.mark.parametrize(
    ("text", "t", "words"),
    [
        ("ten", int, ["input 'x'", "expected int", "'ten'"]),
        ("1.2.3", float, ["input 'x'", "expected float", "'1.2.3'"]),
        ("maybe", bool, ["input 'x'", "expected bool", "'maybe'"]),
        ("[1, 2", list[int], ["input 'x'", "expected list[int] as JSON", "'[1, 2'"]),
        ('["a"]', list[int], ["input 'x', item 0", "expected int", "string ('a')"]),
        ("{}", Point, ["input 'x'", "missing fields x, y"]),
    ],
)
def test_parse_cli_value_errors(text: str, t: Any, words: list[str]) -> None:
    with pytest.raises(InputError) as info:
        parse_cli_value(text, ref(t), where="input 'x'")
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize(
    ("lit", "t", "words"),
    [
        (1, str, ["input 'x'", "expected a literal of type str", "number (1)"]),
        (True, int, ["expected a literal of type int"]),
        ({"x": 1.0}, Point, ["missing fields y"]),
        ({"$variant": 2, "value": 1}, int | str, ["expected a literal of type int | str"]),
        ({"$ref": {"uri": "u", "sha256": "a" * 64, "size": 1, "format": "pickle"}}, pd.DataFrame, ["pickle"]),
        ({"$weird": 1}, dict[str, int], ["expected a literal of type dict[str, int]"]),
        ({"$datetime": "soon"}, dt.datetime, ["expected a literal of type datetime"]),
        ("purple", Color, ["expected one of red, 2"]),
        ({"$file": {"uri": "u"}}, File, ["malformed blob reference"]),
        ([1, "a"], list[int], ["input 'x', item 1"]),
    ],
)
def test_validate_literal_errors(lit: Any, t: Any, words: list[str]) -> None:
    with pytest.raises(TypeMismatchError) as info:
        validate_literal(lit, ref(t), where=W)
    for word in words:
        assert word in str(info.value)


def test_validate_literal_accepts_refs_wherever_a_value_is_expected() -> None:
    sha = "a" * 64
    json_ref = {"$ref": {"uri": f"sha256:{sha}", "sha256": sha, "size": 9, "format": "json"}}
    for t in (int, list[int], Point, int | str, dict[str, Point]):
        validate_literal(json_ref, ref(t), where=W)
    validate_literal([json_ref, [1]], ref(list[list[int]]), where=W)
    validate_literal({"$ref": {**json_ref["$ref"], "format": "parquet"}}, ref(pd.DataFrame), where=W)
