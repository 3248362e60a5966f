"""Literals as plain JSON, for people and scripts (the API's ``values=plain``, the CLI, the clients).

The inverse of `setpoint.types.jsonvalues`, which reads plain JSON into literals: tagged scalars
are unwrapped, blob references become plain objects naming the blob, and offloaded JSON is fetched
when a blob store is at hand. Reading the tags is this package's business, so code above it asks
here instead of looking inside a literal itself.
"""

from __future__ import annotations

import json
from typing import Any

from setpoint.ports import BlobRef, BlobStore
from setpoint.types.codecs import HASHED
from setpoint.types.context import JSON, LiteralContext, resolve_json, unescape_key


def literal_to_plain(lit: JSON, blobs: BlobStore | None = None) -> Any:
    """A literal as plain JSON for scripts: tagged scalars unwrapped, offloaded JSON fetched.

    A value with its `HashMethod` hash (``$hashed``) shows as the value; escaped dict keys
    (``$$k``) show as the user wrote them (``$k``).
    """
    if isinstance(lit, list):
        return [literal_to_plain(x, blobs) for x in lit]
    if not isinstance(lit, dict):
        return lit
    if len(lit) == 1:
        ((key, value),) = lit.items()
        if key in {"$bytes", "$datetime"}:
            return value
        if key == "$timedelta":
            return value / 1_000_000
        if key == "$float":
            return value
        if key == HASHED and isinstance(value, dict) and "value" in value:
            return literal_to_plain(value["value"], blobs)
        if key in ("$file", "$dir"):
            return {"uri": value["uri"], "sha256": value["sha256"], "size": value["size"], "name": value.get("name")}
        if key == "$ref":
            if value.get("format") == "json" and blobs is not None:
                data = blobs.get_bytes(BlobRef(value["uri"], value["sha256"], value["size"]))
                return literal_to_plain(json.loads(data), blobs)
            return {
                "uri": value["uri"],
                "sha256": value["sha256"],
                "size": value["size"],
                "format": value.get("format"),
            }
    if set(lit) == {"$variant", "value"}:
        return literal_to_plain(lit["value"], blobs)
    return {unescape_key(k): literal_to_plain(v, blobs) for k, v in lit.items()}


def inline_json(lit: JSON, blobs: BlobStore, where: str) -> JSON:
    """``lit`` with an offloaded JSON value fetched (and verified) from ``blobs``; other literals as they are."""
    return resolve_json(lit, LiteralContext(blobs=blobs, workdir=None), where)
