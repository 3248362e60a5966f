"""A content-addressed blob store in a local folder: the default home of literal payloads.

Every blob is named by the SHA-256 of its bytes (``sha256:<hex>``), so writing the same content
twice stores it once, a reference can never point at the wrong bytes, and a URI can be checked
for shape before it touches the filesystem (a URI is never a path: nothing can escape ``root``).
Writes go to a temporary file in the same filesystem, are fsynced and then renamed into place,
so a crash leaves either the whole blob or nothing. Reads verify the checksum: a truncated or
tampered blob is reported as a `BlobError`, never handed to a task.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from setpoint.errors import BlobError
from setpoint.ports import BlobRef
from setpoint.spec.canonical import canonical_json

URI_RE = re.compile(r"^sha256:([0-9a-f]{64})$")
_CHUNK = 1 << 20


def hex_of(ref: BlobRef) -> str:
    """The digest named by a reference, after checking that its URI is well formed."""
    m = URI_RE.fullmatch(ref.uri) if isinstance(ref.uri, str) else None  # not match: "$" allows a final newline
    if m is None:
        raise BlobError(f"invalid blob uri {str(ref.uri)[:100]!r}: expected 'sha256:' and 64 hex digits")
    if ref.sha256 != m.group(1):
        raise BlobError(f"blob {ref.uri}: the reference's sha256 {str(ref.sha256)[:70]!r} does not match its uri")
    return m.group(1)


def _fsync_dir(path: Path) -> None:
    # Makes the rename itself durable; not every platform lets a directory be opened.
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class LocalBlobStore:
    """`setpoint.ports.BlobStore` on a local directory: ``root/sha256/<hex[:2]>/<hex>``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalBlobStore({str(self.root)!r})"

    # -- paths --------------------------------------------------------------------------------
    def _path(self, hex_digest: str) -> Path:
        return self.root / "sha256" / hex_digest[:2] / hex_digest

    def local_path(self, ref: BlobRef) -> Path:
        """Where a blob lives on disk (read-only: never write to it). Raises if it is missing."""
        path = self._path(hex_of(ref))
        if not path.is_file():
            raise BlobError(f"blob {ref.uri} is missing from {self.root}")
        return path

    @contextlib.contextmanager
    def _temp(self, directory: Path) -> Iterator[tuple[IO[bytes], Path]]:
        """A temporary file next to its destination; removed unless the caller renamed it."""
        directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=directory, prefix=".tmp-")
        tmp = Path(name)
        try:
            with os.fdopen(fd, "wb") as fh:
                yield fh, tmp
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    def _commit(self, tmp: Path, hex_digest: str, size: int) -> None:
        final = self._path(hex_digest)
        if final.is_file() and self.verify(BlobRef(f"sha256:{hex_digest}", hex_digest, size)):
            return  # same content is already stored intact: writing is idempotent
        # absent, or damaged (wrong size or bytes): the new copy replaces it
        final.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(tmp, 0o444)  # blobs are immutable; this catches accidental writes through local_path
        os.replace(tmp, final)
        _fsync_dir(final.parent)

    # -- writing ------------------------------------------------------------------------------
    def put_bytes(self, data: bytes) -> BlobRef:
        hex_digest = hashlib.sha256(data).hexdigest()
        ref = BlobRef(f"sha256:{hex_digest}", hex_digest, len(data))
        if self.verify(ref):
            return ref
        try:
            with self._temp(self.root / "tmp") as (fh, tmp):
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
                fh.close()
                self._commit(tmp, hex_digest, len(data))
        except OSError as e:
            raise BlobError(f"cannot write blob {ref.uri} under {self.root}: {e}") from e
        return ref

    def put_file(self, path: Path) -> BlobRef:
        """Store a file's content, streaming: hashed while copied, never read whole into memory."""
        h = hashlib.sha256()
        size = 0
        try:
            with open(path, "rb") as src, self._temp(self.root / "tmp") as (fh, tmp):
                while chunk := src.read(_CHUNK):
                    h.update(chunk)
                    size += len(chunk)
                    fh.write(chunk)
                fh.flush()
                os.fsync(fh.fileno())
                fh.close()
                self._commit(tmp, h.hexdigest(), size)
        except OSError as e:
            raise BlobError(f"cannot store file {str(path)!r} under {self.root}: {e}") from e
        return BlobRef(f"sha256:{h.hexdigest()}", h.hexdigest(), size)

    def put_json(self, value: Any) -> BlobRef:
        """Store a JSON value as its canonical text (so equal values are one blob)."""
        return self.put_bytes(canonical_json(value).encode())

    # -- reading ------------------------------------------------------------------------------
    def get_bytes(self, ref: BlobRef) -> bytes:
        path = self._path(hex_of(ref))
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise BlobError(f"blob {ref.uri} is missing from {self.root}") from None
        except OSError as e:
            raise BlobError(f"cannot read blob {ref.uri}: {e}") from e
        if (ref.size >= 0 and len(data) != ref.size) or hashlib.sha256(data).hexdigest() != ref.sha256:
            raise BlobError(
                f"blob {ref.uri} is corrupt: its content does not match its checksum "
                f"({len(data)} bytes, expected {ref.size})"
            )
        return data

    def get_json(self, ref: BlobRef) -> Any:
        data = self.get_bytes(ref)
        try:
            return json.loads(data)
        except ValueError as e:
            raise BlobError(f"blob {ref.uri} is not valid JSON: {e}") from e

    def get_file(self, ref: BlobRef, dest: Path) -> Path:
        """Copy a blob to ``dest`` (atomically, streaming), verifying its checksum on the way."""
        src_path = self._path(hex_of(ref))
        dest = Path(dest)
        h = hashlib.sha256()
        size = 0
        try:
            with open(src_path, "rb") as src, self._temp(dest.parent) as (fh, tmp):
                while chunk := src.read(_CHUNK):
                    h.update(chunk)
                    size += len(chunk)
                    fh.write(chunk)
                fh.close()
                if (ref.size >= 0 and size != ref.size) or h.hexdigest() != ref.sha256:
                    raise BlobError(
                        f"blob {ref.uri} is corrupt: its content does not match its checksum "
                        f"({size} bytes, expected {ref.size})"
                    )
                os.replace(tmp, dest)
        except FileNotFoundError:
            if not src_path.is_file():
                raise BlobError(f"blob {ref.uri} is missing from {self.root}") from None
            raise
        except OSError as e:
            raise BlobError(f"cannot copy blob {ref.uri} to {str(dest)!r}: {e}") from e
        return dest

    # -- checks -------------------------------------------------------------------------------
    def exists(self, ref: BlobRef) -> bool:
        """Present with the right size, or at all when the size is unknown (``ref.size < 0``).

        Cheap; `verify` does the full hash.
        """
        try:
            size = self._path(hex_of(ref)).stat().st_size
        except FileNotFoundError:
            return False
        return ref.size < 0 or size == ref.size

    def verify(self, ref: BlobRef) -> bool:
        """Present and its bytes hash to the reference's digest."""
        path = self._path(hex_of(ref))
        h = hashlib.sha256()
        size = 0
        try:
            with open(path, "rb") as fh:
                while chunk := fh.read(_CHUNK):
                    h.update(chunk)
                    size += len(chunk)
        except FileNotFoundError:
            return False
        return (ref.size < 0 or size == ref.size) and h.hexdigest() == ref.sha256

    def delete(self, ref: BlobRef) -> None:
        """Remove a blob (garbage collection and tests); a missing blob is not an error."""
        with contextlib.suppress(FileNotFoundError):
            self._path(hex_of(ref)).unlink()
