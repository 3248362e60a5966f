"""Values to literals and back, plus the two things everyone else does with literals: hash and show.

A literal is the JSON form of a typed value; it is what the store keeps, the catalog hashes and
bindings move between nodes. Large values are *offloaded*: a top-level input or output whose
canonical JSON exceeds the context's threshold goes to the blob store and is replaced by a
``{"$ref": ...}`` so rows stay small. Decoding resolves references anywhere, because a literal can
be assembled from several upstream outputs (a list binding of refs), and verifies their checksums.

`literal_hash` hashes *content*: every reference is replaced by its SHA-256, so the same data has
the same hash wherever it is stored. Note that ``1`` (an int) and ``1.0`` (a float) have different
canonical text and therefore different hashes: the hash includes the type's encoding.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from setpoint.spec.canonical import canonical_json
from setpoint.types.codecs import HASHED
from setpoint.types.context import JSON, REF_TAGS, LiteralContext, ref_literal, tagged
from setpoint.types.engine import codec_for


def to_literal(value: Any, py_type: object, ctx: LiteralContext, *, where: str) -> JSON:
    """The literal of ``value`` as a ``py_type``; `TypeMismatchError` naming ``where`` if it is not one.

    Values larger than ``ctx.offload_threshold`` (as canonical JSON) are offloaded to the blob store
    when there is one; without a blob store everything stays inline.
    """
    codec = codec_for(py_type, where=where, allow_pickle=ctx.allow_pickle)
    lit = codec.encode(value, ctx, where, False)
    if tagged(lit, HASHED):  # offload the value, keep the HashMethod hash beside it (see types.hashing)
        return {HASHED: {"hash": lit[HASHED]["hash"], "value": offload(lit[HASHED]["value"], ctx)}}
    return offload(lit, ctx)


def offload(lit: JSON, ctx: LiteralContext) -> JSON:
    """Move a large top-level literal to the blob store, leaving a ``$ref`` in its place."""
    if ctx.blobs is None or tagged(lit, "$ref"):
        return lit
    text = canonical_json(lit).encode()
    if len(text) <= ctx.offload_threshold:
        return lit
    return ref_literal(ctx.blobs.put_bytes(text), "json")


def from_literal(lit: JSON, py_type: object, ctx: LiteralContext, *, where: str) -> Any:
    """The Python value of a literal, rebuilt as ``py_type`` (dataclass, model, enum, File, ...).

    Pickled values are decoded only if ``ctx.allow_pickle``; otherwise the error says why not.
    """
    return codec_for(py_type, where=where, allow_pickle=True).decode(lit, ctx, where)


# ---------------------------------------------------------------------------------------------
# Hashing
# ---------------------------------------------------------------------------------------------


# content_form and literal_hash live in setpoint.spec.canonical: they are pure, and the core hashes
# cache keys with them. setpoint.types re-exports literal_hash.


# ---------------------------------------------------------------------------------------------
# Display
# ---------------------------------------------------------------------------------------------


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            if unit == "B":
                return f"{n} B"
            text = f"{size:.1f}" if size < 10 else f"{size:.0f}"
            return f"{text.removesuffix('.0')} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def _is_variant(lit: dict[str, Any]) -> bool:
    return len(lit) == 2 and set(lit) == {"$variant", "value"}


def _tag_text(lit: dict[str, Any]) -> str | None:
    """Display text of a tagged scalar, or None if ``lit`` is not one."""
    if len(lit) != 1:
        return None
    ((tag, body),) = lit.items()
    if tag in REF_TAGS and isinstance(body, dict):
        size = human_size(body.get("size", 0)) if isinstance(body.get("size"), int) else "?"
        if tag == "$file":
            return f"File({body.get('name', '?')}, {size})"
        if tag == "$dir":
            return f"Directory({body.get('name', '?')})"
        return f"<ref {size} {body.get('format', '?')}>"
    if tag == "$bytes" and isinstance(body, str):
        return f"<{len(body) * 3 // 4 - body[-2:].count('=')} bytes>"
    if tag == "$datetime" and isinstance(body, str):
        return body
    if tag == "$timedelta" and isinstance(body, int) and not isinstance(body, bool):
        try:
            return str(dt.timedelta(microseconds=body))
        except OverflowError:
            return f"{body} µs"
    if tag == "$float" and isinstance(body, str):
        return body
    return None


def _render(lit: JSON, budget: int) -> str | None:
    """Full display text if it fits in ``budget`` characters, else None."""
    if isinstance(lit, dict):
        if _is_variant(lit):
            return _render(lit["value"], budget)
        tag = _tag_text(lit)
        if tag is not None:
            return tag if len(tag) <= budget else None
        parts: list[str] = []
        used = 2
        for k, v in lit.items():
            inner = _render(v, budget - used - len(k) - 4)
            if inner is None:
                return None
            parts.append(f"{k}: {inner}")
            used += len(parts[-1]) + 2
        return "{" + ", ".join(parts) + "}" if used - 2 <= budget else None
    if isinstance(lit, list):
        items: list[str] = []
        used = 2
        for v in lit:
            inner = _render(v, budget - used)
            if inner is None:
                return None
            items.append(inner)
            used += len(inner) + 2
        return "[" + ", ".join(items) + "]" if used - 2 <= budget else None
    text = json.dumps(lit, ensure_ascii=False)
    return text if len(text) <= budget else None


def summarize_literal(lit: JSON, max_len: int = 80) -> str:
    """A short human rendering for tables: the value if it fits, else its shape (``[1000 items]``)."""
    if tagged(lit, HASHED) and isinstance(lit[HASHED], dict):
        return summarize_literal(lit[HASHED].get("value"), max_len)
    if isinstance(lit, dict) and _is_variant(lit):
        return summarize_literal(lit["value"], max_len)
    text = _render(lit, max_len)
    if text is not None:
        return text
    if isinstance(lit, list):
        return f"[{len(lit)} items]"
    if isinstance(lit, dict):
        tag = _tag_text(lit)
        return tag[: max_len - 1] + "…" if tag is not None else f"{{{len(lit)} keys}}"
    return json.dumps(lit, ensure_ascii=False)[: max(max_len - 1, 1)] + "…"
