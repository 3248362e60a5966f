"""The port for payloads, code bundles and files: a local folder by default, fsspec URLs otherwise."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True, slots=True)
class BlobRef:
    uri: str
    sha256: str
    size: int


class BlobStore(Protocol):
    """Payloads, code bundles and files. Content-addressed, written atomically, verified on read."""

    def put_bytes(self, data: bytes) -> BlobRef: ...
    def get_bytes(self, ref: BlobRef) -> bytes: ...
    def put_file(self, path: Path) -> BlobRef: ...
    def get_file(self, ref: BlobRef, dest: Path) -> Path: ...
    def exists(self, ref: BlobRef) -> bool: ...
    def verify(self, ref: BlobRef) -> bool: ...
