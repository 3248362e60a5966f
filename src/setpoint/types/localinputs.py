"""Local paths as inputs: ``setpoint run wf.py:wf --f data.csv --d ./images --df in.parquet``.

A `File`, `Directory` or dataframe / `StructuredDataset` input given as a path on the user's
machine is uploaded to the blob store (content-addressed: giving the same file twice stores it
once) and becomes the same literal a task output would be. A CSV given for a dataframe is read
and stored as Parquet; a Parquet file is checked to be readable and stored as it is.
"""

from __future__ import annotations

import os
from pathlib import Path

from setpoint.errors import BlobError, InputError, UserError
from setpoint.ports import BlobStore
from setpoint.spec.types import TypeKind, TypeRef
from setpoint.types.context import JSON, LiteralContext, ref_literal
from setpoint.types.files import Directory, File, store_directory, store_file
from setpoint.types.structured import BLOB_URI, PARQUET, parquet_bytes, stored_table, table_from_local_file

PATH_KINDS = (TypeKind.FILE, TypeKind.DIRECTORY, TypeKind.DATAFRAME)


def path_kind(t: TypeRef) -> TypeRef | None:
    """The file-like type ``t`` is (looking inside ``Optional[...]``), or None."""
    if t.kind in PATH_KINDS:
        return t
    if t.kind is TypeKind.UNION:
        inner = [a for a in t.args if a.kind is not TypeKind.NONE]
        if len(inner) == 1 and len(t.args) == 2 and inner[0].kind in PATH_KINDS:
            return inner[0]
    return None


def looks_like_path(text: str, t: TypeRef) -> bool:
    """Should ``text`` (a CLI value for an input of type ``t``) be read as a local path?"""
    s = text.strip()
    return path_kind(t) is not None and bool(s) and not s.startswith("{") and s != "null"


def literal_from_local_path(text: str, t: TypeRef, blobs: BlobStore | None, *, where: str) -> JSON:
    """Upload the local file or directory ``text`` names and return its literal (`InputError` if it cannot)."""
    kind = path_kind(t)
    assert kind is not None  # callers check looks_like_path first
    if kind.kind is TypeKind.DATAFRAME and BLOB_URI.match(text.strip()):  # a table already stored
        if blobs is None:
            raise InputError(f"{where}: with --server, give the JSON `outputs` prints for the stored table")
        try:
            return stored_table(text.strip(), blobs, where)
        except (UserError, BlobError) as e:
            raise InputError(str(e)) from None
    path = Path(os.path.expanduser(text.strip().removeprefix("file://")))
    if not path.exists():
        raise InputError(f"{where}: {str(path)!r} does not exist (give a local path, or the JSON of a stored value)")
    if blobs is None:
        raise InputError(
            f"{where}: a local path can only be uploaded to a local store; with --server, give the JSON of a "
            "value already stored there"
        )
    ctx = LiteralContext(blobs=blobs, workdir=None)
    if kind.kind is TypeKind.FILE:
        if not path.is_file():
            raise InputError(f"{where}: {str(path)!r} is not a regular file")
        return store_file(File(path), ctx, where)
    if kind.kind is TypeKind.DIRECTORY:
        if not path.is_dir():
            raise InputError(f"{where}: {str(path)!r} is not a directory")
        return store_directory(Directory(path), ctx, where)
    if not path.is_file():
        raise InputError(f"{where}: {str(path)!r} is not a file (give a .parquet or .csv file for a table)")
    try:
        table = table_from_local_file(path, where)  # also checks a Parquet file is readable
    except UserError as e:
        raise InputError(str(e)) from None
    if path.suffix.lower() in (".csv", ".tsv"):
        return ref_literal(blobs.put_bytes(parquet_bytes(table, where)), PARQUET)
    return ref_literal(blobs.put_file(path), PARQUET)
