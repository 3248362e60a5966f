"""Reading literal tags is `setpoint.types`' business: plain JSON for people, offloaded JSON inlined."""

from __future__ import annotations

import json
from pathlib import Path

from setpoint.adapters.blobs.local import LocalBlobStore
from setpoint.types import LiteralContext, inline_json, literal_to_plain, to_literal


def test_plain_json_unwraps_tags_and_fetches_offloaded_values(tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path)
    ref = blobs.put_bytes(json.dumps([1, 2, 3]).encode())
    offloaded = {"$ref": {"uri": ref.uri, "sha256": ref.sha256, "size": ref.size, "format": "json"}}
    lit = {"when": {"$datetime": "2024-01-01T00:00:00"}, "gap": {"$timedelta": 1_500_000}, "xs": offloaded}
    assert literal_to_plain(lit, blobs) == {"when": "2024-01-01T00:00:00", "gap": 1.5, "xs": [1, 2, 3]}
    assert literal_to_plain(offloaded) == {"uri": ref.uri, "sha256": ref.sha256, "size": ref.size, "format": "json"}


def test_inline_json_follows_an_offloaded_list_and_leaves_inline_values(tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path)
    big = list(range(20_000))
    lit = to_literal(big, list[int], LiteralContext(blobs=blobs, workdir=None), where="xs")
    assert set(lit) == {"$ref"}  # offloaded: too large to travel inline
    assert inline_json(lit, blobs, "map input 'xs'") == big
    assert inline_json([1, 2], blobs, "map input 'xs'") == [1, 2]
