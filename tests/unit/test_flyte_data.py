"""Data types as flytekit users write them: StructuredDataset, FlyteFile semantics, pickles, HashMethod."""

from __future__ import annotations

import os
import typing
import warnings
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import pyarrow as pa
import pytest

from setpoint.adapters.blobs import open_blob_store
from setpoint.core.cachekey import input_hash
from setpoint.errors import InputError, TypeMismatchError, UnsupportedTypeError, UserError
from setpoint.sdk.shell import kwtypes
from setpoint.spec.canonical import literal_hash
from setpoint.spec.types import TypeKind, TypeRef
from setpoint.types import LiteralContext, from_literal, to_literal
from setpoint.types.codecs import PickleCodec
from setpoint.types.engine import function_interface, output_types, type_ref
from setpoint.types.files import Directory, File
from setpoint.types.hashing import HashMethod
from setpoint.types.jsonvalues import literal_from_json_value, validate_literal
from setpoint.types.localinputs import literal_from_local_path, looks_like_path
from setpoint.types.pickling import BatchSize, BatchSizeWarning
from setpoint.types.structured import StructuredDataset

ABC = kwtypes(a=int, b=str, c=float)


@pytest.fixture
def ctx(tmp_path: Path) -> LiteralContext:
    return LiteralContext(open_blob_store(tmp_path / "blobs"), tmp_path / "work")


def frame() -> pd.DataFrame:
    return pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"], "c": [0.5, 1.5, 2.5]})


# -- StructuredDataset ----------------------------------------------------------------------------------


def test_a_structured_dataset_is_parquet_read_as_pandas_or_arrow(ctx: LiteralContext) -> None:
    lit = to_literal(StructuredDataset(dataframe=frame()), Annotated[StructuredDataset, ABC], ctx, where="o")
    assert lit["$ref"]["format"] == "parquet"
    sd = from_literal(lit, StructuredDataset, ctx, where="i")
    assert isinstance(sd, StructuredDataset) and sd.dataframe is None
    assert sd.open(pd.DataFrame).all().equals(frame())
    table = sd.open(pa.Table).all()
    assert isinstance(table, pa.Table) and table.column_names == ["a", "b", "c"]
    assert sd.open(pd.DataFrame).all().shape == (3, 3) and len(list(sd.iter())) == 1
    assert type_ref(StructuredDataset, where="t") == TypeRef(TypeKind.DATAFRAME, name="structured")
    assert type_ref(Annotated[StructuredDataset, ABC], where="t") == type_ref(StructuredDataset, where="t")


def test_the_consumers_columns_select_a_subset(ctx: LiteralContext) -> None:
    lit = to_literal(frame(), Annotated[StructuredDataset, ABC], ctx, where="o")  # a bare dataframe is fine
    subset = from_literal(lit, Annotated[StructuredDataset, kwtypes(c=float, a=int)], ctx, where="i")
    assert list(subset.open(pd.DataFrame).all().columns) == ["c", "a"]
    as_pandas = from_literal(lit, Annotated[pd.DataFrame, kwtypes(b=str)], ctx, where="i")
    assert list(as_pandas.columns) == ["b"]
    with pytest.raises(TypeMismatchError, match=r"^i: the dataset has no column 'zzz' \(its columns: a, b, c\)"):
        from_literal(lit, Annotated[StructuredDataset, kwtypes(zzz=int)], ctx, where="i").all()


def test_a_producer_must_have_its_declared_columns_and_stores_only_them(ctx: LiteralContext) -> None:
    with pytest.raises(TypeMismatchError, match=r"^o: the dataset has no column 'd'"):
        to_literal(frame(), Annotated[StructuredDataset, kwtypes(a=int, d=int)], ctx, where="o")
    lit = to_literal(frame(), Annotated[pd.DataFrame, kwtypes(a=int)], ctx, where="o")
    assert list(from_literal(lit, pd.DataFrame, ctx, where="i").columns) == ["a"]


def test_a_structured_dataset_from_a_uri_of_a_local_file(ctx: LiteralContext, tmp_path: Path) -> None:
    frame().to_csv(tmp_path / "t.csv", index=False)
    frame().to_parquet(tmp_path / "t.parquet")
    for path in (tmp_path / "t.csv", tmp_path / "t.parquet"):
        lit = to_literal(StructuredDataset(uri=str(path)), StructuredDataset, ctx, where="o")
        back = from_literal(lit, pd.DataFrame, ctx, where="i")  # a pandas input reads it too
        assert list(back["a"]) == [1, 2, 3]
    stored = to_literal(frame(), pd.DataFrame, ctx, where="o")["$ref"]
    by_uri = to_literal(StructuredDataset(uri=stored["uri"]), StructuredDataset, ctx, where="o")
    assert by_uri["$ref"] == stored  # a blob already in the store, named by its URI: no copy
    with pytest.raises(UserError, match=r"^o: no blob sha256:0+ in the blob store"):
        to_literal(StructuredDataset(uri="sha256:" + "0" * 64), StructuredDataset, ctx, where="o")
    with pytest.raises(UserError, match="not a local file"):
        to_literal(StructuredDataset(uri="s3://bucket/x.parquet"), StructuredDataset, ctx, where="o")
    with pytest.raises(UserError, match="dataframe= or uri=, not both"):
        StructuredDataset(dataframe=frame(), uri="x")


def test_a_received_dataset_passes_through_without_a_copy(ctx: LiteralContext) -> None:
    lit = to_literal(frame(), StructuredDataset, ctx, where="o")
    sd = from_literal(lit, StructuredDataset, ctx, where="i")
    assert to_literal(sd, StructuredDataset, ctx, where="o2") == lit


def test_only_tables_are_structured_datasets(ctx: LiteralContext) -> None:
    with pytest.raises(TypeMismatchError, match=r"^o: expected dataframe\[structured\], got list"):
        to_literal([1, 2], StructuredDataset, ctx, where="o")
    with pytest.raises(UserError, match="cannot open a StructuredDataset as 'dict'"):
        from_literal(to_literal(frame(), StructuredDataset, ctx, where="o"), StructuredDataset, ctx, where="i").open(
            dict
        ).all()


# -- FlyteFile / FlyteDirectory --------------------------------------------------------------------------


def test_file_format_annotations_keep_the_type_and_record_the_format(ctx: LiteralContext, tmp_path: Path) -> None:
    csv: type[File] = File[typing.TypeVar("csv")]  # type: ignore[misc]
    assert csv is File["csv"] and issubclass(csv, File) and csv.extension == "csv" and File.extension == ""  # type: ignore[misc]
    assert type_ref(csv, where="t") == type_ref(File, where="t")
    (tmp_path / "d.csv").write_text("1,2\n")
    lit = to_literal(File(tmp_path / "d.csv"), csv, ctx, where="o")
    back = from_literal(lit, csv, ctx, where="i")
    assert isinstance(back, csv) and back.extension == "csv"
    local = back.download()
    assert os.fspath(back) == back.path == local and Path(local).read_text() == "1,2\n"
    with back.open("rb") as fh:
        assert fh.read() == b"1,2\n"
    assert back.remote_source == lit["$file"]["uri"]
    with pytest.raises(TypeError, match="a file format is a string or a TypeVar"):
        File[3]  # type: ignore[misc]


def test_remote_path_is_accepted_and_says_it_is_not_used(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match=r"File\(remote_path=...\) is accepted and not used"):
        f = File(tmp_path / "x", remote_path="s3://bucket/x")
    assert f.name == "x"


def test_directory_listdir_and_crawl(ctx: LiteralContext, tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("a")
    (root / "sub" / "b.txt").write_text("b")
    back = from_literal(to_literal(Directory(root), Directory, ctx, where="o"), Directory, ctx, where="i")
    entries = Directory.listdir(back)
    assert [(type(e).__name__, e.name) for e in entries] == [("File", "a.txt"), ("Directory", "sub")]
    crawled = list(back.crawl())
    assert [rel for _, rel in crawled] == ["a.txt", "sub/b.txt"]
    assert all(Path(base, rel).is_file() for base, rel in crawled)


# -- HashMethod -------------------------------------------------------------------------------------------


def first_column(df: pd.DataFrame) -> str:
    return ",".join(str(v) for v in df.iloc[:, 0])


HASHED = Annotated[pd.DataFrame, HashMethod(first_column)]


def test_a_hash_method_rides_beside_the_value_and_keys_the_cache(ctx: LiteralContext) -> None:
    one = to_literal(frame(), HASHED, ctx, where="o")
    two = to_literal(frame().assign(b=["p", "q", "r"]), HASHED, ctx, where="o")
    assert one["$hashed"]["hash"] == two["$hashed"]["hash"] == "1,2,3"
    assert one["$hashed"]["value"] != two["$hashed"]["value"]  # different bytes ...
    assert input_hash(one) == input_hash(two)  # ... same key part
    assert input_hash([one]) == input_hash([two]) != input_hash(one)
    assert from_literal(one, pd.DataFrame, ctx, where="i").equals(frame())  # consumers see the value
    plain = to_literal(frame(), pd.DataFrame, ctx, where="o")
    assert input_hash(plain) == literal_hash(plain)  # no HashMethod: the key is what it always was
    assert input_hash({"x": [1, 2]}) == literal_hash({"x": [1, 2]})
    assert type_ref(HASHED, where="t") == type_ref(pd.DataFrame, where="t")


def test_a_hash_method_is_kept_on_a_single_output_and_checked(ctx: LiteralContext) -> None:
    def produce() -> Annotated[int, HashMethod(lambda v: "h")]:
        return 1

    ((name, t),) = output_types(produce, where="task 'p'")
    assert name == "o0" and typing.get_origin(t) is Annotated
    assert function_interface(produce, where="task 'p'").outputs == (("o0", TypeRef(TypeKind.INT)),)
    assert to_literal(1, t, ctx, where="o") == {"$hashed": {"hash": "h", "value": 1}}
    with pytest.raises(TypeMismatchError, match="must return a str, got int"):
        to_literal(1, Annotated[int, HashMethod(lambda v: 7)], ctx, where="o")  # type: ignore[arg-type, return-value]


def test_clients_cannot_supply_hashes(ctx: LiteralContext) -> None:
    lit = to_literal(5, Annotated[int, HashMethod(lambda v: "h")], ctx, where="o")
    assert literal_from_json_value(lit, TypeRef(TypeKind.INT), where="input 'x'") == 5  # the hash is dropped
    with pytest.raises(TypeMismatchError, match="written by tasks only"):
        validate_literal(lit, TypeRef(TypeKind.INT), where="input 'x'")


def test_a_hashed_value_is_offloaded_inside_its_wrapper(tmp_path: Path) -> None:
    small = LiteralContext(open_blob_store(tmp_path / "b"), tmp_path / "w", offload_threshold=16)
    lit = to_literal(list(range(100)), Annotated[list[int], HashMethod(lambda v: "h")], small, where="o")
    assert lit["$hashed"]["hash"] == "h" and lit["$hashed"]["value"]["$ref"]["format"] == "json"
    assert from_literal(lit, list[int], small, where="i") == list(range(100))


# -- Pickle ------------------------------------------------------------------------------------------------


class Opaque:
    def __init__(self, v: int) -> None:
        self.v = v


def test_pickling_needs_an_opt_in_unless_the_deployment_allows_it(
    ctx: LiteralContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SETPOINT_PICKLE", "opt-in")
    with pytest.raises(UnsupportedTypeError, match=r"unsafe_pickle=True"):
        type_ref(Opaque, where="t")
    assert type_ref(Opaque, where="t", allow_pickle=True).kind is TypeKind.PICKLE
    lit = to_literal(Opaque(3), Opaque, LiteralContext(ctx.blobs, ctx.workdir, allow_pickle=True), where="o")
    with pytest.raises(UserError, match="unpickling is disabled here"):
        from_literal(lit, Opaque, ctx, where="i")
    monkeypatch.setenv("SETPOINT_PICKLE", "allow")
    assert type_ref(Opaque, where="t").kind is TypeKind.PICKLE
    assert from_literal(lit, Opaque, ctx, where="i").v == 3


def test_by_default_a_plain_class_travels_pickled_between_tasks_only(
    ctx: LiteralContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SETPOINT_PICKLE", raising=False)
    assert type_ref(Opaque, where="t").kind is TypeKind.PICKLE  # a plain class: pickled, as flytekit does
    with pytest.raises(UnsupportedTypeError, match="declare a concrete type"):
        type_ref(Any, where="t")  # a typing construct with a better spelling stays an error
    with pytest.raises(UnsupportedTypeError, match=r"use list\[T\]"):
        type_ref(set[int], where="t")
    in_attempt = LiteralContext(ctx.blobs, ctx.workdir)
    lit = to_literal(Opaque(3), Opaque, in_attempt, where="o")
    assert from_literal(lit, Opaque, in_attempt, where="i").v == 3  # a task reads what a task wrote
    with pytest.raises(UserError, match="unpickling is disabled here"):
        from_literal(lit, Opaque, LiteralContext(ctx.blobs, None), where="i")  # a client never unpickles


def test_a_deployment_can_forbid_pickling(ctx: LiteralContext, monkeypatch: pytest.MonkeyPatch) -> None:
    lit = to_literal(Opaque(3), Opaque, LiteralContext(ctx.blobs, ctx.workdir, allow_pickle=True), where="o")
    monkeypatch.setenv("SETPOINT_PICKLE", "forbid")
    with pytest.raises(
        UnsupportedTypeError, match=r"a pydantic model \(pickled values are forbidden here: SETPOINT_PICKLE=forbid\)$"
    ):
        type_ref(Opaque, where="t", allow_pickle=True)
    allowed = LiteralContext(ctx.blobs, ctx.workdir, allow_pickle=True)
    with pytest.raises(UnsupportedTypeError, match="forbidden here"):
        from_literal(lit, Opaque, allowed, where="i")
    with pytest.raises(UserError, match=r"^i: this deployment forbids pickled values \(SETPOINT_PICKLE=forbid\)"):
        PickleCodec(Opaque, TypeRef(TypeKind.PICKLE, name="Opaque")).decode(lit, allowed, "i")  # the codec too
    with pytest.raises(UserError, match=r"^o: this deployment forbids pickled values"):
        PickleCodec(Opaque, TypeRef(TypeKind.PICKLE, name="Opaque")).encode(Opaque(1), allowed, "o", False)
    monkeypatch.setenv("SETPOINT_PICKLE", "sometimes")
    with pytest.raises(UserError, match="not a pickling policy"):
        type_ref(int, where="t")


def test_a_pickled_value_is_never_accepted_from_a_client(ctx: LiteralContext, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SETPOINT_PICKLE", "allow")
    client_side = LiteralContext(ctx.blobs, None, allow_pickle=True)  # no attempt work directory: a client
    with pytest.raises(UserError, match=r"^input 'o': a pickled value is only ever produced by a task"):
        to_literal(Opaque(1), Opaque, client_side, where="input 'o'")
    lit = to_literal(Opaque(3), Opaque, LiteralContext(ctx.blobs, ctx.workdir, allow_pickle=True), where="o")
    frame_type = TypeRef(TypeKind.DATAFRAME, name="structured")
    with pytest.raises(InputError, match=r"^input 'df': a pickled value cannot be given as an input"):
        literal_from_json_value(lit, frame_type, where="input 'df'")
    with pytest.raises(InputError, match="a pickled value cannot be given"):
        literal_from_json_value([lit], TypeRef.list_of(TypeRef(TypeKind.PICKLE, name="m.Opaque")), where="input 'x'")
    with pytest.raises(TypeMismatchError, match="a pickled value cannot be given"):
        validate_literal(lit, TypeRef(TypeKind.PICKLE, name="m.Opaque"), where="input 'o'")


def test_batch_size_is_accepted_and_says_it_is_not_used() -> None:
    with pytest.warns(BatchSizeWarning, match=r"BatchSize\(10\) is accepted and not used"):
        t = type_ref(Annotated[list[Opaque], BatchSize(10)], where="task 't', output 'o0'", allow_pickle=True)
    assert t == TypeRef.list_of(TypeRef(TypeKind.PICKLE, name=f"{__name__}.Opaque"))
    with pytest.raises(UserError, match="positive int"):
        BatchSize(0)


# -- Local paths as inputs ---------------------------------------------------------------------------------


def test_local_paths_become_stored_literals(ctx: LiteralContext, tmp_path: Path) -> None:
    assert ctx.blobs is not None
    table = TypeRef(TypeKind.DATAFRAME, name="structured")
    frame().to_csv(tmp_path / "t.csv", index=False)
    lit: Any = literal_from_local_path(str(tmp_path / "t.csv"), table, ctx.blobs, where="input 'df'")
    assert from_literal(lit, pd.DataFrame, ctx, where="i").equals(frame())
    (tmp_path / "f.txt").write_text("hi")
    file_type = TypeRef.optional(TypeRef(TypeKind.FILE))
    assert looks_like_path("f.txt", file_type) and not looks_like_path('{"$file": {}}', file_type)
    one = literal_from_local_path(str(tmp_path / "f.txt"), file_type, ctx.blobs, where="input 'f'")
    two = literal_from_local_path(f"file://{tmp_path / 'f.txt'}", file_type, ctx.blobs, where="input 'f'")
    assert one == two and one["$file"]["name"] == "f.txt"
    with pytest.raises(InputError, match=r"^input 'f': .* does not exist"):
        literal_from_local_path(str(tmp_path / "nope"), file_type, ctx.blobs, where="input 'f'")
    with pytest.raises(InputError, match="can only be uploaded to a local store"):
        literal_from_local_path(str(tmp_path / "f.txt"), file_type, None, where="input 'f'")
    with pytest.raises(InputError, match="is not a directory"):
        literal_from_local_path(str(tmp_path / "f.txt"), TypeRef(TypeKind.DIRECTORY), ctx.blobs, where="input 'd'")
    with pytest.raises(InputError, match="cannot read"):
        literal_from_local_path(str(tmp_path / "f.txt"), table, ctx.blobs, where="input 'df'")
    assert not looks_like_path("x.parquet", TypeRef(TypeKind.STR))
    assert literal_from_local_path(lit["$ref"]["uri"], table, ctx.blobs, where="input 'df'") == lit
    with pytest.raises(InputError, match=r"^input 'df': no blob sha256:"):
        literal_from_local_path("sha256:" + "1" * 64, table, ctx.blobs, where="input 'df'")
    with pytest.raises(InputError, match="with --server"):
        literal_from_local_path(lit["$ref"]["uri"], table, None, where="input 'df'")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        literal_from_local_path(str(tmp_path), TypeRef(TypeKind.DIRECTORY), ctx.blobs, where="input 'd'")
