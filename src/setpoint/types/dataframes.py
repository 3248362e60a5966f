"""DataFrames (pandas, pyarrow) as literals: Parquet files in the blob store.

pandas and pyarrow are optional and slow to import, so this module never imports them at load
time: a type is recognised as a dataframe only by looking at modules the user has *already*
imported (a task annotated with ``pd.DataFrame`` has imported pandas), and the Parquet code runs
only when a dataframe is actually converted. Both flavours share one encoding, so a pandas output
can feed a pyarrow input and the other way round.

``Annotated[pd.DataFrame, kwtypes(a=int)]`` declares columns (see `setpoint.types.structured`):
an output must have them (only they are stored), an input reads only them. The columns are not
part of the type, so existing types (and cache keys) are unchanged.
"""

from __future__ import annotations

import io
from typing import Any

from setpoint.errors import UserError
from setpoint.spec.types import TypeKind, TypeRef
from setpoint.types.codecs import Codec
from setpoint.types.context import JSON, LiteralContext, bad_literal, mismatch, parse_ref, ref_literal, tagged
from setpoint.types.structured import read_parquet, select_columns, table_library

FLAVOURS = ("pandas", "pyarrow")


def dataframe_flavour(t: object) -> str | None:
    """Return "pandas" or "pyarrow" if ``t`` is one of their table classes (without importing either)."""
    library = table_library(t)
    return library if library in FLAVOURS else None


class DataFrameCodec(Codec):
    def __init__(self, flavour: str, columns: tuple[str, ...] | None = None) -> None:
        if flavour not in FLAVOURS:
            raise ValueError(f"unknown dataframe flavour {flavour!r}")
        self.flavour = flavour
        self.columns = columns
        self.ref = TypeRef(TypeKind.DATAFRAME, name=flavour)

    def _is_instance(self, value: Any) -> bool:
        return dataframe_flavour(type(value)) == self.flavour

    def encode(self, value: Any, ctx: LiteralContext, where: str, strict: bool) -> JSON:
        if not self._is_instance(value):
            raise mismatch(where, self.ref, value)
        blobs = ctx.need_blobs(where, "a dataframe")
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            table = pa.Table.from_pandas(value) if self.flavour == "pandas" else value
            table = select_columns(table, self.columns, where)
            buf = io.BytesIO()
            pq.write_table(table, buf)
        except (pa.ArrowException, ValueError, TypeError) as e:
            raise UserError(f"{where}: cannot store the {self.flavour} dataframe as Parquet: {e}") from e
        return ref_literal(blobs.put_bytes(buf.getvalue()), "parquet")

    def decode_inline(self, lit: JSON, ctx: LiteralContext, where: str) -> Any:
        if not tagged(lit, "$ref") or parse_ref(lit, where)[1] != "parquet":
            raise bad_literal(where, self.ref, lit)
        ref, _ = parse_ref(lit, where)
        data = ctx.need_blobs(where, "a dataframe").get_bytes(ref)
        table = read_parquet(data, self.columns, where)
        return table.to_pandas() if self.flavour == "pandas" else table
