"""Blob stores: where literal payloads, files and code bundles live, and how to open one by location.

`open_blob_store` is what settings and workers use: a plain path or a ``file://`` URL opens the
local store (same layout and guarantees as fsspec's ``file://``, with fsync and no fsspec
overhead); any other URL (``s3://``, ``gs://``, ...) opens the fsspec store. fsspec is imported
only then, so the local default stays cheap to import in warm workers.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from setpoint.adapters.blobs.local import LocalBlobStore
from setpoint.errors import BlobError
from setpoint.ports import BlobStore

__all__ = ["open_blob_store", "preload_modules"]

# fsspec protocol -> the package that implements it (importing s3fs alone takes most of a second)
_BACKENDS = {
    "s3": "s3fs",
    "s3a": "s3fs",
    "gs": "gcsfs",
    "gcs": "gcsfs",
    "az": "adlfs",
    "abfs": "adlfs",
    "abfss": "adlfs",
}


def preload_modules(location: str | Path) -> tuple[str, ...]:
    """Modules a warm worker should import before forking attempts that open the store at ``location``."""
    text = str(location)
    if isinstance(location, Path) or "://" not in text:
        return ()
    scheme = urlsplit(text).scheme.lower()
    if scheme in ("file", "local"):
        return ()
    backend = _BACKENDS.get(scheme)
    return ("setpoint.adapters.blobs.fsspec_store", "fsspec", *((backend,) if backend else ()))


def open_blob_store(location: str | Path, *, storage_options: Mapping[str, Any] | None = None) -> BlobStore:
    """The blob store at ``location``: a path, ``file:///abs/path``, or an fsspec URL.

    No I/O happens here; a missing bucket or missing credentials are reported by the first call.
    """
    if isinstance(location, Path):
        return LocalBlobStore(location)
    text = str(location).strip()
    if not text:
        raise BlobError("the blob store location is empty: give a folder, or a URL such as s3://bucket/prefix")
    if "://" not in text:
        return LocalBlobStore(Path(text).expanduser())
    parts = urlsplit(text)
    if parts.scheme.lower() in ("file", "local"):
        if parts.netloc not in ("", "localhost"):
            raise BlobError(
                f"blob store {text[:200]!r}: a file:// URL names a path on this machine "
                "(file:///shared/path); mount a remote folder and name its path"
            )
        if parts.query or parts.fragment:
            raise BlobError(f"blob store {text[:200]!r}: a file:// URL takes no query or fragment")
        path = unquote(parts.path)
        if not path:
            raise BlobError(f"blob store {text[:200]!r}: the file:// URL names no folder")
        return LocalBlobStore(Path(path).expanduser())
    from setpoint.adapters.blobs.fsspec_store import FsspecBlobStore

    return FsspecBlobStore(text, storage_options=storage_options)
