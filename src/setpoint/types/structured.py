"""`StructuredDataset`: a table that travels as Parquet, decoded into whichever library asks.

flytekit's ``StructuredDataset`` wraps a dataframe (or names stored data by ``uri``) and lets the
receiver choose how to read it: ``sd.open(pd.DataFrame).all()`` or ``sd.open(pa.Table).all()``.
Here it shares the literal of setpoint's dataframes (a ``parquet`` blob reference), so a pandas or
pyarrow output can be read as a `StructuredDataset` and the other way round, with no conversion
stored twice.

Columns are declared as flytekit does, in ``Annotated``: ``Annotated[StructuredDataset,
kwtypes(a=int, b=str)]``. On the producing side the declared columns must exist in the table; on
the consuming side only the declared columns are read (Parquet reads just those columns). The
columns are part of the Python annotation, not of the stored type: two datasets with different
columns have the same setpoint type, so a consumer may ask for a subset of what was produced.

Like `setpoint.types.dataframes`, nothing here imports pandas or pyarrow until a table is actually
converted.
"""

from __future__ import annotations

import io
import os
import re
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from setpoint.errors import BlobError, TypeMismatchError, UserError
from setpoint.ports import BlobRef, BlobStore
from setpoint.spec.types import TypeKind, TypeRef
from setpoint.types.codecs import Codec
from setpoint.types.context import JSON, LiteralContext, bad_literal, mismatch, parse_ref, ref_literal, tagged

BLOB_URI = re.compile(r"^sha256:([0-9a-f]{64})$")  # how the blob store names a blob (see adapters/blobs)
STRUCTURED = "structured"  # the TypeRef name of a StructuredDataset (pandas/pyarrow name their flavour)
PARQUET = "parquet"


def columns_of(metadata: tuple[Any, ...]) -> tuple[str, ...] | None:
    """The column names declared in ``Annotated`` metadata (a ``kwtypes(...)`` mapping), if any."""
    for m in metadata:
        if isinstance(m, Mapping) and m and all(isinstance(k, str) for k in m):
            return tuple(m)
    return None


def table_library(t: object) -> str | None:
    """ "pandas", "pyarrow" or "polars" for their table classes (only if already imported), else None."""
    if not isinstance(t, type):
        return None
    pandas = sys.modules.get("pandas")
    if pandas is not None and issubclass(t, pandas.DataFrame):
        return "pandas"
    pyarrow = sys.modules.get("pyarrow")
    if pyarrow is not None and issubclass(t, pyarrow.Table):
        return "pyarrow"
    polars = sys.modules.get("polars")
    if polars is not None and issubclass(t, polars.DataFrame):
        return "polars"
    return None


def to_arrow(df: Any, where: str) -> Any:
    """A pandas / pyarrow / polars table as a ``pyarrow.Table`` (`TypeMismatchError` for anything else)."""
    library = table_library(type(df))
    if library is None:
        raise TypeMismatchError(
            f"{where}: expected a dataframe (pandas.DataFrame, pyarrow.Table or polars.DataFrame), "
            f"got {type(df).__name__}"
        )
    import pyarrow as pa

    if library == "pandas":
        return pa.Table.from_pandas(df)
    if library == "polars":
        return df.to_arrow()
    return df


def from_arrow(table: Any, wanted: object, where: str) -> Any:
    """A ``pyarrow.Table`` as the table class ``wanted`` (pandas when ``wanted`` is None)."""
    if wanted is None:
        import pandas as pd

        wanted = pd.DataFrame
    library = table_library(wanted)
    if library == "pandas":
        return table.to_pandas()
    if library == "pyarrow":
        return table
    if library == "polars":
        return sys.modules["polars"].from_arrow(table)  # imported by whoever named its class
    raise UserError(
        f"{where}: cannot open a StructuredDataset as {getattr(wanted, '__qualname__', wanted)!r}; "
        "use pandas.DataFrame, pyarrow.Table or polars.DataFrame"
    )


def select_columns(table: Any, columns: tuple[str, ...] | None, where: str) -> Any:
    """Only ``columns`` of an Arrow table, in that order; `TypeMismatchError` naming any missing."""
    if columns is None:
        return table
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise TypeMismatchError(
            f"{where}: the dataset has no column {', '.join(repr(c) for c in missing)} "
            f"(its columns: {', '.join(table.column_names) or 'none'})"
        )
    return table.select(list(columns))


def parquet_bytes(table: Any, where: str) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    try:
        pq.write_table(table, buf)
    except (pa.ArrowException, ValueError, TypeError) as e:
        raise UserError(f"{where}: cannot store the table as Parquet: {e}") from e
    return buf.getvalue()


def read_parquet(data: bytes, columns: tuple[str, ...] | None, where: str) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(io.BytesIO(data))
    except (pa.ArrowException, OSError) as e:
        raise BlobError(f"{where}: the stored dataset is not valid Parquet: {e}") from e
    return select_columns(table, columns, where)


def stored_table(uri: str, blobs: BlobStore, where: str) -> JSON:
    """The literal of a Parquet blob already in the store, named by its URI (``sha256:<hex>``)."""
    m = BLOB_URI.match(uri)
    assert m is not None
    probe = BlobRef(uri, m.group(1), -1)  # size unknown: read and verified by content
    try:
        data = blobs.get_bytes(probe)
    except BlobError:
        raise UserError(f"{where}: no blob {uri} in the blob store (or it does not match its hash)") from None
    read_parquet(data, None, where)  # it must be a table
    return ref_literal(blobs.put_bytes(data), PARQUET)  # content-addressed: no second copy


def _local_path(uri: str) -> Path | None:
    path = uri[len("file://") :] if uri.startswith("file://") else uri
    return Path(path) if "://" not in path else None


def table_from_local_file(path: Path, where: str) -> Any:
    """A Parquet or CSV file (by extension; Parquet otherwise) as an Arrow table."""
    import pyarrow as pa

    try:
        if path.suffix.lower() in (".csv", ".tsv"):
            import pyarrow.csv as pcsv

            opts = pcsv.ParseOptions(delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
            return pcsv.read_csv(path, parse_options=opts)
        import pyarrow.parquet as pq

        return pq.read_table(path)
    except (pa.ArrowException, OSError) as e:
        raise UserError(f"{where}: cannot read {str(path)!r} as a table: {e}") from e


class StructuredDataset:
    """A table: made from a dataframe (``StructuredDataset(dataframe=df)``) or stored data (``uri=``).

    A task receiving one reads it with ``sd.open(pd.DataFrame).all()`` (or ``pa.Table``, or
    ``polars.DataFrame`` if polars is installed); ``sd.all()`` alone gives pandas.
    """

    def __init__(
        self,
        dataframe: Any = None,
        uri: str | os.PathLike[str] | None = None,
        metadata: Any = None,
        file_format: str = PARQUET,
        **kwargs: Any,
    ) -> None:
        if dataframe is not None and uri is not None:
            raise UserError("StructuredDataset: give dataframe= or uri=, not both")
        if file_format not in (PARQUET, "csv"):
            raise UserError(f"StructuredDataset: file_format {file_format!r} is not supported (parquet or csv)")
        if kwargs:
            raise UserError(f"StructuredDataset: unknown arguments {', '.join(sorted(kwargs))}")
        self._dataframe = dataframe
        self.uri: str | None = os.fspath(uri) if uri is not None else None
        self.metadata = metadata  # accepted for flytekit's signature; the type comes from the annotation
        self.file_format = file_format
        self._columns: tuple[str, ...] | None = None
        self._ref: BlobRef | None = None
        self._blobs: BlobStore | None = None
        self._where = "StructuredDataset"
        self._open_as: object = None

    @classmethod
    def _from_blob(
        cls, ref: BlobRef, blobs: BlobStore, columns: tuple[str, ...] | None, where: str
    ) -> StructuredDataset:
        sd = cls(uri=ref.uri)
        sd._ref, sd._blobs, sd._columns, sd._where = ref, blobs, columns, where
        return sd

    @property
    def dataframe(self) -> Any:
        """The dataframe this dataset was made from (None for one read from storage)."""
        return self._dataframe

    @property
    def columns(self) -> tuple[str, ...] | None:
        """The columns the receiving annotation asked for (None: all)."""
        return self._columns

    def open(self, dataframe_type: object) -> StructuredDataset:
        """Choose the table class `all` returns (``pd.DataFrame``, ``pa.Table``, ``polars.DataFrame``)."""
        self._open_as = dataframe_type
        return self

    def _arrow(self) -> Any:
        if self._dataframe is not None:
            return select_columns(to_arrow(self._dataframe, self._where), self._columns, self._where)
        if self._ref is not None and self._blobs is not None:
            return read_parquet(self._blobs.get_bytes(self._ref), self._columns, self._where)
        assert self.uri is not None
        local = _local_path(self.uri)
        if local is None:
            raise UserError(
                f"{self._where}: cannot read {self.uri!r}: only local paths and stored datasets are readable"
            )
        return select_columns(table_from_local_file(local, self._where), self._columns, self._where)

    def all(self) -> Any:
        """The whole table, as the class given to `open` (pandas by default)."""
        return from_arrow(self._arrow(), self._open_as, self._where)

    def iter(self) -> Iterator[Any]:
        """The table in one piece, as an iterator (flytekit streams in chunks; here there is one)."""
        yield self.all()

    def __repr__(self) -> str:
        where = self.uri if self.uri is not None else f"dataframe {type(self._dataframe).__name__}"
        return f"StructuredDataset({where!r})"


class StructuredDatasetCodec(Codec):
    """`StructuredDataset` values: a ``parquet`` blob reference, like pandas and pyarrow tables."""

    def __init__(self, columns: tuple[str, ...] | None = None) -> None:
        self.columns = columns
        self.ref = TypeRef(TypeKind.DATAFRAME, name=STRUCTURED)

    def encode(self, value: Any, ctx: LiteralContext, where: str, strict: bool) -> JSON:
        blobs = ctx.need_blobs(where, "a StructuredDataset")
        if isinstance(value, StructuredDataset):
            if value._ref is not None and value._dataframe is None and value._columns is None:
                return ref_literal(value._ref, PARQUET)  # passed through unchanged: no copy
            if value._dataframe is None and value._ref is None:
                assert value.uri is not None
                if BLOB_URI.match(value.uri):
                    return stored_table(value.uri, blobs, where)
                local = _local_path(value.uri)
                if local is None or not local.is_file():
                    raise UserError(
                        f"{where}: StructuredDataset(uri={value.uri!r}): not a local file; "
                        "give a local Parquet or CSV path, or a stored blob's sha256:<hex> URI"
                    )
                table = table_from_local_file(local, where)
            else:
                table = value._arrow()
        elif table_library(type(value)) is not None and not strict:
            table = to_arrow(value, where)
        else:
            raise mismatch(where, self.ref, value)
        table = select_columns(table, self.columns, where) if self.columns else table
        return ref_literal(blobs.put_bytes(parquet_bytes(table, where)), PARQUET)

    def decode_inline(self, lit: JSON, ctx: LiteralContext, where: str) -> Any:
        if not tagged(lit, "$ref") or parse_ref(lit, where)[1] != PARQUET:
            raise bad_literal(where, self.ref, lit)
        ref, _ = parse_ref(lit, where)
        blobs = ctx.need_blobs(where, "a StructuredDataset")
        if not blobs.exists(ref):
            raise BlobError(f"{where}: dataset blob {ref.uri} is missing from the blob store")
        return StructuredDataset._from_blob(ref, blobs, self.columns, where)


def is_structured_dataset(t: object) -> bool:
    return isinstance(t, type) and issubclass(t, StructuredDataset)
