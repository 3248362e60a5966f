"""Code bundles: a remote client uploads the zip its workflow's code was captured into.

``setpoint --server URL ...`` compiles and captures code on the user's machine, so the server has
to take the bundle the embedded client would have stored locally (``PUT .../bundles/{digest}``):
the raw zip, verified before it is kept — its SHA-256 must be the digest in the path, its size
within the bundle limit, and every member a plain relative file (no absolute paths, no ``..``, no
links): a hostile archive is refused whole. Uploading is idempotent, so clients just upload (after
an optional presence check).
"""

# No ``from __future__ import annotations`` in route modules: FastAPI reads the handlers' parameter
# types through `setpoint.server.routing.with_auth`, so they must be real objects.

import hashlib
import io
import stat
import zipfile
from pathlib import PurePosixPath
from typing import Annotated, Any

import anyio
from fastapi import Query, Request

from setpoint.adapters.bundle import MAX_BUNDLE_BYTES
from setpoint.errors import InputError
from setpoint.ports import BlobRef
from setpoint.server import models as m
from setpoint.server.context import Api
from setpoint.server.errors import ApiError
from setpoint.server.routing import PROJECT, Principal, Route

MAX_BUNDLE_FILES = 20_000

BUNDLE_BODY = {
    "requestBody": {
        "required": True,
        "description": "the code bundle: a zip archive, as `setpoint run` / `setpoint register` capture it",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


def check_bundle_archive(digest: str, data: bytes) -> None:
    """Refuse an upload unless it is the zip the digest names, made only of plain relative files."""
    actual = hashlib.sha256(data).hexdigest()
    if actual != digest:
        raise ApiError(422, "digest_mismatch", f"the uploaded bundle's sha256 is {actual}, not {digest}")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError) as e:
        raise ApiError(422, "invalid_bundle", f"code bundle {digest[:12]} is not a zip archive: {e}") from None
    if len(infos) > MAX_BUNDLE_FILES:
        raise ApiError(422, "invalid_bundle", f"code bundle {digest[:12]} holds over {MAX_BUNDLE_FILES} files")
    total = 0
    for info in infos:
        name = info.filename
        rel = PurePosixPath(name)
        mode = info.external_attr >> 16
        if (
            not name
            or "\\" in name
            or "\x00" in name
            or rel.is_absolute()
            or ".." in rel.parts
            or (len(name) > 1 and name[1] == ":")
            or stat.S_ISLNK(mode)
        ):
            raise ApiError(
                422,
                "invalid_bundle",
                f"code bundle {digest[:12]} holds an unsafe path {name[:200]!r}; nothing was kept",
            )
        total += info.file_size
        if total > MAX_BUNDLE_BYTES:
            raise ApiError(
                413, "too_large", f"code bundle {digest[:12]} unpacks to over {MAX_BUNDLE_BYTES // (1 << 20)} MiB"
            )


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "too_large", f"a code bundle may be at most {limit // (1 << 20)} MiB; got {declared} bytes")
    buf = bytearray()
    async for chunk in request.stream():
        buf += chunk
        if len(buf) > limit:
            raise ApiError(413, "too_large", f"a code bundle may be at most {limit // (1 << 20)} MiB")
    return bytes(buf)


def _digest(digest: str) -> str:
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise InputError(f"a bundle digest is 64 lowercase hex digits (sha256); got {digest[:80]!r}")
    return digest


def routes(api: Api) -> list[Route]:
    blobs = api.client.blobs

    def bundle_status(
        who: Principal, project: str, digest: str, size: Annotated[int, Query(ge=0, le=MAX_BUNDLE_BYTES)]
    ) -> dict[str, Any]:
        """Whether the server has this bundle (``size``: its length in bytes, as the client captured it)."""
        digest = _digest(digest)
        return {"digest": digest, "present": blobs.exists(BlobRef(f"sha256:{digest}", digest, size))}

    def upload_bundle(who: Principal, project: str, digest: str, request: Request) -> dict[str, Any]:
        digest = _digest(digest)
        data = anyio.from_thread.run(_read_limited, request, MAX_BUNDLE_BYTES)
        check_bundle_archive(digest, data)
        if blobs.exists(BlobRef(f"sha256:{digest}", digest, len(data))):
            return {"digest": digest, "size": len(data), "created": False}
        stored = blobs.put_bytes(data)
        if stored.sha256 != digest:  # put_bytes hashes again; cannot differ after the check above
            raise ApiError(500, "internal", f"code bundle {digest[:12]} was stored under another digest")
        return {"digest": digest, "size": len(data), "created": True}

    path = f"{PROJECT}/bundles/{{digest}}"
    return [
        Route("GET", path, bundle_status, "viewer", response_model=m.BundleStatus),
        Route("PUT", path, upload_bundle, "editor", response_model=m.BundleUpload, openapi_extra=BUNDLE_BODY),
    ]
