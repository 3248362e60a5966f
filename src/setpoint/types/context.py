"""What converting a value needs besides its type, and the small helpers every codec shares.

A `LiteralContext` says where large payloads go (a blob store), where files are materialised (a
work directory) and whether unpickling is allowed. The helpers here give every codec the same
vocabulary for blob references (``{"$ref": {...}}``) and the same shape of error message:
*where* it happened, the type that was expected and what was found instead.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from setpoint.errors import BlobError, TypeMismatchError
from setpoint.ports import BlobRef, BlobStore
from setpoint.spec.types import TypeRef

JSON = Any  # a value made of dict/list/str/int/float/bool/None only

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
REF_FORMATS = frozenset({"json", "parquet", "pickle"})
# Single-key objects with these keys are tags, never user data (see `escape_key`).
REF_TAGS = ("$ref", "$file", "$dir")

DEFAULT_OFFLOAD_THRESHOLD = 64 * 1024


@dataclass(frozen=True, slots=True)
class LiteralContext:
    """Where literal payloads live while converting values.

    ``blobs`` None means "everything stays inline": nothing is offloaded, and values that can only
    live in a blob store (files, dataframes, pickles) cannot be converted.
    """

    blobs: BlobStore | None
    workdir: Path | None
    offload_threshold: int = DEFAULT_OFFLOAD_THRESHOLD
    allow_pickle: bool = False

    def need_blobs(self, where: str, what: str) -> BlobStore:
        if self.blobs is None:
            raise BlobError(f"{where}: {what} is stored in the blob store, and none is configured here")
        return self.blobs


# ---------------------------------------------------------------------------------------------
# Error messages
# ---------------------------------------------------------------------------------------------


def describe(value: object) -> str:
    """A value's type, plus a short repr for small scalars: ``str ('abc')``."""
    name = type(value).__name__
    if value is None:
        return "None"
    if isinstance(value, bool | int | float | str | bytes):
        shown = repr(value)
        if len(shown) > 40:
            shown = shown[:37] + "..."
        return f"{name} ({shown})"
    return name


def mismatch(where: str, expected: TypeRef | str, value: object) -> TypeMismatchError:
    return TypeMismatchError(f"{where}: expected {expected}, got {describe(value)}")


def json_kind(lit: object) -> str:
    """How a piece of JSON looks, for messages about malformed literals."""
    if lit is None:
        return "null"
    if isinstance(lit, bool):
        return f"boolean ({json.dumps(lit)})"
    if isinstance(lit, int | float):
        return f"number ({lit!r})"
    if isinstance(lit, str):
        return f"string ({lit[:40]!r})"
    if isinstance(lit, list):
        return f"array of {len(lit)}"
    if isinstance(lit, dict):
        keys = ", ".join(sorted(str(k) for k in lit)[:5])
        return f"object {{{keys}}}"
    return type(lit).__name__


def bad_literal(where: str, expected: TypeRef | str, lit: object) -> TypeMismatchError:
    return TypeMismatchError(f"{where}: expected a literal of type {expected}, got {json_kind(lit)}")


# ---------------------------------------------------------------------------------------------
# Tags and references
# ---------------------------------------------------------------------------------------------


def tagged(lit: object, tag: str) -> bool:
    """Is ``lit`` the single-key object ``{tag: ...}``?"""
    return isinstance(lit, dict) and len(lit) == 1 and tag in lit


def escape_key(key: str) -> str:
    """Dict keys starting with ``$`` get one more ``$`` so user data never looks like a tag."""
    return "$" + key if key.startswith("$") else key


def unescape_key(key: str) -> str:
    return key[1:] if key.startswith("$$") else key


def ref_literal(ref: BlobRef, fmt: str) -> dict[str, Any]:
    return {"$ref": {"uri": ref.uri, "sha256": ref.sha256, "size": ref.size, "format": fmt}}


def parse_blob_ref(body: object, where: str, *, extra: str) -> tuple[BlobRef, str]:
    """Check the body of a ``$ref`` / ``$file`` / ``$dir`` and return the reference and ``extra``."""
    if not isinstance(body, dict):
        raise TypeMismatchError(f"{where}: a blob reference must be an object, got {json_kind(body)}")
    uri, sha, size, ext = body.get("uri"), body.get("sha256"), body.get("size"), body.get(extra)
    if (
        not isinstance(uri, str)
        or not isinstance(sha, str)
        or not SHA256_RE.match(sha)
        or not isinstance(size, int)
        or isinstance(size, bool)
        or size < 0
        or not isinstance(ext, str)
        or set(body) != {"uri", "sha256", "size", extra}
    ):
        raise TypeMismatchError(
            f"{where}: malformed blob reference {json.dumps(body)[:200]}: "
            f"expected keys uri, sha256 (64 hex digits), size (integer >= 0) and {extra}"
        )
    return BlobRef(uri, sha, size), ext


def parse_ref(lit: dict[str, Any], where: str) -> tuple[BlobRef, str]:
    ref, fmt = parse_blob_ref(lit["$ref"], where, extra="format")
    if fmt not in REF_FORMATS:
        raise TypeMismatchError(
            f"{where}: unknown blob format {fmt!r} (known: {', '.join(sorted(REF_FORMATS))})"
        )
    return ref, fmt


def resolve_json(lit: JSON, ctx: LiteralContext, where: str) -> JSON:
    """Follow ``{"$ref": {..., "format": "json"}}`` until an inline literal remains (verified)."""
    while tagged(lit, "$ref"):
        ref, fmt = parse_ref(lit, where)
        if fmt != "json":
            return lit  # parquet and pickle references are decoded by their own codecs
        data = ctx.need_blobs(where, "an offloaded value").get_bytes(ref)
        try:
            lit = json.loads(data)
        except ValueError as e:
            raise BlobError(f"{where}: blob {ref.uri} is not valid JSON: {e}") from e
    return lit
