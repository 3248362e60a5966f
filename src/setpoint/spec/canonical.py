"""Canonical JSON: one byte string per value, so digests are stable across processes and machines."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(value: Any) -> str:
    """Serialise with sorted keys, no whitespace and no NaN, so equal values give equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def digest(value: Any) -> str:
    """The SHA-256 hex digest of a value's canonical JSON."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


REF_TAGS = frozenset({"$ref", "$file", "$dir"})


def content_form(lit: Any) -> Any:
    """A literal with every blob reference replaced by ``{"$sha256": <digest>}``."""
    if isinstance(lit, dict):
        if len(lit) == 1:
            ((tag, body),) = lit.items()
            if tag in REF_TAGS and isinstance(body, dict) and isinstance(body.get("sha256"), str):
                return {"$sha256": body["sha256"]}
        return {k: content_form(v) for k, v in lit.items()}
    if isinstance(lit, list):
        return [content_form(v) for v in lit]
    return lit


def literal_hash(lit: Any) -> str:
    """SHA-256 hex of a literal's content: the same data hashes the same wherever its blobs live."""
    return digest(content_form(lit))
