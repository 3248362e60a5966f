"""`File` and `Directory`: paths that travel between tasks through the blob store.

In user code they are just paths (``File("model.pkl")``, ``os.fspath(f)``, ``f.open()``), shaped
like flytekit's ``FlyteFile`` / ``FlyteDirectory`` so ports only change imports. When a task
returns one, its content is uploaded by hash; when a task receives one, it is downloaded into the
attempt's work directory the first time its path is used (lazily: an unused input costs nothing).

A directory is stored as a JSON manifest (relative path -> file blob). Paths are checked in both
directions: symlinks that leave the directory are refused on upload, and a manifest entry that is
absolute or climbs with ``..`` is refused on download, so a tampered manifest cannot write outside
the destination.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import typing
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from setpoint.errors import BlobError, UserError
from setpoint.ports import BlobRef, BlobStore
from setpoint.spec.canonical import canonical_json
from setpoint.types.context import LiteralContext, parse_blob_ref

MANIFEST_KIND = "setpoint.directory"
MANIFEST_VERSION = 1
_DRIVE_RE = re.compile(r"^[A-Za-z]:")


def _display_name(path: Path) -> str:
    return path.name or Path(os.path.abspath(path)).name or "root"


def safe_name(name: object) -> str:
    """A file name from a literal, reduced to one harmless path component."""
    base = os.path.basename(str(name).replace("\\", "/"))
    return base if base not in ("", ".", "..") and "\x00" not in base else "file"


_formats: dict[tuple[type, str], type] = {}


def _format_name(item: object) -> str:
    if isinstance(item, typing.TypeVar):
        return item.__name__
    if isinstance(item, str):
        return item
    raise TypeError(f"a file format is a string or a TypeVar, e.g. File['csv'], got {item!r}")


class _BlobPath(os.PathLike[str]):
    """Shared behaviour: a local path, or a blob reference fetched on first use."""

    __slots__ = ("_fetch", "_name", "_path", "_ref")
    extension: typing.ClassVar[str] = ""  # the format of File["csv"] (flytekit's format annotation)

    def __init__(self, path: str | os.PathLike[str], remote_path: object = None, **kwargs: object) -> None:
        if remote_path is not None or kwargs:
            extra = ", ".join(["remote_path", *sorted(kwargs)] if remote_path is not None else sorted(kwargs))
            warnings.warn(
                f"{type(self).__name__}({extra}=...) is accepted and not used: setpoint stores content by "
                "its hash in the configured blob store",
                stacklevel=2,
            )
        self._path: Path | None = Path(os.fspath(path))
        self._name = _display_name(self._path)
        self._ref: BlobRef | None = None
        self._fetch: Callable[[], Path] | None = None

    def __class_getitem__(cls, item: object) -> type:
        """``File["csv"]`` / ``File[TypeVar("csv")]``: the same type, with a format name recorded.

        The format is documentation (flytekit uses it to choose a MIME type): it is kept on the
        class as ``extension`` and does not change the stored type, so ``File["csv"]`` and ``File``
        connect to each other.
        """
        fmt = _format_name(item)
        key = (cls, fmt)
        if key not in _formats:
            _formats[key] = type(
                cls.__name__, (cls,), {"__slots__": (), "extension": fmt, "__module__": cls.__module__}
            )
        return _formats[key]

    @classmethod
    def _from_blob(cls, ref: BlobRef, name: str, fetch: Callable[[], Path]) -> Any:
        obj = cls.__new__(cls)
        obj._path, obj._name, obj._ref, obj._fetch = None, name, ref, fetch
        return obj

    def _local(self) -> Path:
        if self._path is None:
            assert self._fetch is not None  # set by _from_blob whenever _path is None
            self._path = self._fetch()
        return self._path

    @property
    def name(self) -> str:
        """The base name (kept across uploads, so a downloaded ``model.pkl`` is still ``model.pkl``)."""
        return self._name

    @property
    def path(self) -> str:
        """The local path, downloading the content first if it came from the blob store."""
        return os.fspath(self._local())

    def download(self) -> str:
        """flytekit spelling of `path`: make the content local and return where it is."""
        return self.path

    @property
    def remote_source(self) -> str | None:
        """Where the content is stored (its blob URI), if it came from the blob store."""
        return self._ref.uri if self._ref is not None else None

    @property
    def ref(self) -> BlobRef | None:
        """The blob this value came from, if it came from the blob store."""
        return self._ref

    @property
    def is_local(self) -> bool:
        return self._path is not None

    def __fspath__(self) -> str:
        return self.path

    def __repr__(self) -> str:
        where = str(self._path) if self._path is not None else f"{self._ref.uri if self._ref else '?'}"
        return f"{type(self).__name__}({where!r})"


class File(_BlobPath):
    """A single file passed between tasks."""

    __slots__ = ()

    def open(self, mode: str = "r", **kwargs: Any) -> IO[Any]:
        """Open the (downloaded) file, like the built-in ``open``."""
        return open(self._local(), mode, **kwargs)


class Directory(_BlobPath):
    """A directory tree passed between tasks (regular files only; empty folders are not kept)."""

    __slots__ = ()

    def files(self) -> list[str]:
        """Relative POSIX paths of every file in the (downloaded) directory, sorted."""
        return [rel for rel, _ in walk_directory(self._local(), "directory")]

    def crawl(self) -> Iterator[tuple[str, str]]:
        """flytekit's ``crawl``: ``(base directory, relative path)`` of every file, sorted."""
        base = os.fspath(self._local())
        for rel in self.files():
            yield base, rel

    @staticmethod
    def listdir(directory: Directory) -> list[File | Directory]:
        """The top-level entries of a directory: a `File` per file, a `Directory` per folder."""
        root = directory._local()
        out: list[File | Directory] = []
        for entry in sorted(os.scandir(root), key=lambda e: e.name):
            if entry.is_dir(follow_symlinks=True):
                out.append(Directory(entry.path))
            elif entry.is_file(follow_symlinks=True):
                out.append(File(entry.path))
        return out


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------


def _scratch(ctx: LiteralContext, kind: str, prefix: str) -> Path:
    assert ctx.workdir is not None
    parent = ctx.workdir / kind
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix + "-", dir=parent))


def store_file(value: File, ctx: LiteralContext, where: str) -> dict[str, Any]:
    ref = value.ref
    if ref is None or value.is_local:
        path = Path(value.path)
        if not path.is_file():
            raise UserError(f"{where}: file {str(path)!r} does not exist or is not a regular file")
        ref = ctx.need_blobs(where, "a File").put_file(path)
    return {"$file": {"uri": ref.uri, "sha256": ref.sha256, "size": ref.size, "name": value.name}}


def load_file(body: object, ctx: LiteralContext, where: str, cls: type[File] = File) -> File:
    ref, name = parse_blob_ref(body, where, extra="name")
    name = safe_name(name)
    blobs = ctx.need_blobs(where, "a File")
    if not blobs.exists(ref):
        raise BlobError(f"{where}: file blob {ref.uri} ({name}) is missing from the blob store")

    def fetch() -> Path:
        if ctx.workdir is not None:
            return blobs.get_file(ref, _scratch(ctx, "files", ref.sha256[:12]) / name)
        local_path = getattr(blobs, "local_path", None)
        if callable(local_path):
            path: Path = local_path(ref)
            return path
        raise BlobError(f"{where}: no work directory to download file {name} ({ref.uri}) into")

    file: File = cls._from_blob(ref, name, fetch)
    return file


# ---------------------------------------------------------------------------------------------
# Directories
# ---------------------------------------------------------------------------------------------


def walk_directory(root: Path, where: str) -> list[tuple[str, Path]]:
    """Every regular file under ``root`` as (relative POSIX path, path), sorted.

    Symlinks are followed only while they stay inside ``root``; a link that leaves it, a link
    cycle, or a special file (socket, fifo, broken link) is an error naming the entry.
    """
    real_root = Path(os.path.realpath(root))
    if not real_root.is_dir():
        raise UserError(f"{where}: directory {str(root)!r} does not exist or is not a directory")
    out: list[tuple[str, Path]] = []
    stack: list[tuple[Path, str, frozenset[Path]]] = [(Path(root), "", frozenset({real_root}))]
    while stack:
        folder, prefix, ancestors = stack.pop()
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
        for entry in entries:
            rel = prefix + entry.name
            real = Path(os.path.realpath(entry.path))
            if entry.is_symlink() and not real.is_relative_to(real_root):
                raise UserError(
                    f"{where}: {rel!r} in directory {str(root)!r} is a symlink to {str(real)!r}, "
                    "outside the directory; copy the file in instead"
                )
            if entry.is_dir(follow_symlinks=True):
                if real in ancestors:
                    raise UserError(f"{where}: {rel!r} in directory {str(root)!r} is a symlink cycle")
                stack.append((Path(entry.path), rel + "/", ancestors | {real}))
            elif entry.is_file(follow_symlinks=True):
                out.append((rel, Path(entry.path)))
            else:
                raise UserError(
                    f"{where}: {rel!r} in directory {str(root)!r} is not a regular file (or is a broken link)"
                )
    out.sort()
    return out


def check_relative_path(rel: object, where: str) -> str:
    """A manifest path must be relative, POSIX, and never climb out of its directory."""
    if (
        not isinstance(rel, str)
        or not rel
        or rel.startswith("/")
        or "\\" in rel
        or "\x00" in rel
        or _DRIVE_RE.match(rel)
        or any(part in ("", ".", "..") for part in rel.split("/"))
    ):
        raise BlobError(f"{where}: directory manifest contains an unsafe path {str(rel)[:200]!r}")
    return rel


def store_directory(value: Directory, ctx: LiteralContext, where: str) -> dict[str, Any]:
    ref = value.ref
    if ref is None or value.is_local:
        blobs = ctx.need_blobs(where, "a Directory")
        files: dict[str, dict[str, Any]] = {}
        for rel, path in walk_directory(Path(value.path), where):
            r = blobs.put_file(path)
            files[rel] = {"uri": r.uri, "sha256": r.sha256, "size": r.size}
        manifest = {"kind": MANIFEST_KIND, "version": MANIFEST_VERSION, "files": files}
        ref = blobs.put_bytes(canonical_json(manifest).encode())
    return {"$dir": {"uri": ref.uri, "sha256": ref.sha256, "size": ref.size, "name": value.name}}


def read_manifest(blobs: BlobStore, ref: BlobRef, where: str) -> dict[str, BlobRef]:
    """Load and validate a directory manifest: relative path -> file blob."""
    try:
        manifest = json.loads(blobs.get_bytes(ref))
    except ValueError as e:
        raise BlobError(f"{where}: directory manifest {ref.uri} is not valid JSON: {e}") from e
    if not (
        isinstance(manifest, dict)
        and manifest.get("kind") == MANIFEST_KIND
        and manifest.get("version") == MANIFEST_VERSION
        and isinstance(manifest.get("files"), dict)
    ):
        raise BlobError(f"{where}: blob {ref.uri} is not a setpoint directory manifest")
    out: dict[str, BlobRef] = {}
    for rel, body in manifest["files"].items():
        check_relative_path(rel, where)
        out[rel] = parse_blob_ref({**body, "name": ""} if isinstance(body, dict) else body, where, extra="name")[0]
    return out


def materialise_directory(blobs: BlobStore, ref: BlobRef, dest: Path, where: str) -> Path:
    """Download every file of a manifest under ``dest`` (verifying each), refusing escapes."""
    entries = read_manifest(blobs, ref, where)
    dest.mkdir(parents=True, exist_ok=True)
    real_dest = Path(os.path.realpath(dest))
    for rel, file_ref in entries.items():
        target = dest.joinpath(*rel.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        if not Path(os.path.realpath(target.parent)).is_relative_to(real_dest):
            raise BlobError(f"{where}: directory manifest path {rel!r} leaves the destination")
        blobs.get_file(file_ref, target)
    return dest


def load_directory(body: object, ctx: LiteralContext, where: str, cls: type[Directory] = Directory) -> Directory:
    ref, name = parse_blob_ref(body, where, extra="name")
    name = safe_name(name)
    blobs = ctx.need_blobs(where, "a Directory")
    if not blobs.exists(ref):
        raise BlobError(f"{where}: directory manifest {ref.uri} ({name}) is missing from the blob store")

    def fetch() -> Path:
        if ctx.workdir is None:
            raise BlobError(f"{where}: no work directory to download directory {name} ({ref.uri}) into")
        return materialise_directory(blobs, ref, _scratch(ctx, "dirs", ref.sha256[:12]) / name, where)

    directory: Directory = cls._from_blob(ref, name, fetch)
    return directory
