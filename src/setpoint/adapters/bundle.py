"""Code bundles: the exact source an execution runs, captured once and addressed by content.

When an execution is created, the user's module and every local module it imported (files under
the same project root, outside site-packages) are packed into a deterministic, uncompressed zip
whose SHA-256 is the execution's code digest. Workers run that snapshot — never the files on
disk — so an execution, and any relaunch of it, runs the code it was created with even after the
files change. Third-party libraries are not captured: they come from the environment.
"""

from __future__ import annotations

import io
import os
import shutil
import sys
import sysconfig
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from types import ModuleType

from setpoint.errors import BlobError, SpecError
from setpoint.ports import BlobRef, BlobStore

_FIXED_TIME = (2020, 1, 1, 0, 0, 0)
MAX_BUNDLE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Bundle:
    digest: str  # sha256 of the zip bytes
    data: bytes
    files: tuple[str, ...]


def _excluded_roots() -> list[Path]:
    roots = set()
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        p = sysconfig.get_paths().get(key)
        if p:
            roots.add(Path(p).resolve())
    roots.add(Path(sys.prefix).resolve())
    roots.add(Path(sys.base_prefix).resolve())
    return sorted(roots)


def project_root(module_file: Path) -> Path:
    """The directory that holds the top-level package (or the module itself) of a user file."""
    directory = module_file.resolve().parent
    while (directory / "__init__.py").exists() and directory.parent != directory:
        directory = directory.parent
    return directory


def _is_under(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def local_modules(root: Path, modules: Iterable[ModuleType]) -> dict[str, Path]:
    """Relative path → file of every loaded module that lives under ``root`` (not in an environment)."""
    excluded = [p for p in _excluded_roots() if not _is_under(root, p)]
    excluded.append(Path(__file__).resolve().parents[1])  # setpoint itself comes from the environment
    found: dict[str, Path] = {}
    for mod in modules:
        file = getattr(mod, "__file__", None)
        if not file or not file.endswith(".py"):
            continue
        path = Path(file).resolve()
        if not _is_under(path, root) or any(_is_under(path, ex) for ex in excluded):
            continue
        if "site-packages" in path.parts or "dist-packages" in path.parts:
            continue
        rel = path.relative_to(root).as_posix()
        found[rel] = path
        # packages need their __init__.py files on the way down
        parent = path.parent
        while parent != root and _is_under(parent, root):
            init = parent / "__init__.py"
            if init.exists():
                found[init.relative_to(root).as_posix()] = init
            parent = parent.parent
    return found


def _source_file(mod: ModuleType | None) -> str | None:
    """The module's source file, or None when it has none on disk (a script read from stdin
    has ``__file__ == "<stdin>"``, one given with ``python -c`` none at all)."""
    file = getattr(mod, "__file__", None) if mod is not None else None
    if not file or not Path(file).is_file():
        return None
    return str(file)


def capture(module_names: Iterable[str]) -> Bundle:
    """Pack the given modules and every local module loaded from the same project roots."""
    roots: set[Path] = set()
    main = sys.modules.get("__main__")
    main_file = _source_file(main)
    for name in module_names:
        mod = sys.modules.get(name)
        file = _source_file(mod)
        main_name = getattr(main, "__file__", None)
        if mod is None and name != "__main__" and main_name and Path(main_name).stem == name:
            mod, file = main, main_file  # the script's module, named by its file
        if not file:
            if mod is not None and mod is main:
                where = getattr(mod, "__file__", None) or "no file"
                raise SpecError(
                    f"cannot capture the code of the tasks defined in the script itself ({where}): "
                    "workers import a task from its source file, and a script read from stdin (python -) has none; "
                    "define the tasks and workflows in a module the script imports, or save the script to a file"
                )
            raise SpecError(f"cannot capture the code of module '{name}': it has no source file")
        roots.add(project_root(Path(file)))
    files: dict[str, Path] = {}
    for root in sorted(roots):
        files.update(local_modules(root, list(sys.modules.values())))
    if main_file:
        # a script run as __main__ is importable in workers under its file name
        mp = Path(main_file).resolve()
        for root in roots:
            if _is_under(mp, root):
                files[mp.relative_to(root).as_posix()] = mp
    return pack(files)


def pack(files: dict[str, Path]) -> Bundle:
    buf = io.BytesIO()
    total = 0
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for rel in sorted(files):
            data = files[rel].read_bytes()
            total += len(data)
            if total > MAX_BUNDLE_BYTES:
                raise SpecError(
                    f"the code bundle exceeds {MAX_BUNDLE_BYTES // (1024 * 1024)} MiB at '{rel}'; "
                    "keep data files out of the project's Python modules"
                )
            info = zipfile.ZipInfo(rel, date_time=_FIXED_TIME)
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    raw = buf.getvalue()
    import hashlib

    return Bundle(hashlib.sha256(raw).hexdigest(), raw, tuple(sorted(files)))


def store(bundle: Bundle, blobs: BlobStore) -> BlobRef:
    ref = blobs.put_bytes(bundle.data)
    if ref.sha256 != bundle.digest:
        raise BlobError(f"code bundle {bundle.digest[:12]} was stored with a different digest")
    return ref


class BundleCache:
    """Extracted bundles on local disk, one directory per digest, created atomically."""

    def __init__(self, root: Path, blobs: BlobStore) -> None:
        self.root = root
        self.blobs = blobs

    def path(self, digest: str) -> Path:
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise BlobError(f"invalid code digest {digest[:80]!r}")
        target = self.root / digest
        if target.is_dir():
            return target
        data = self.blobs.get_bytes(BlobRef(f"sha256:{digest}", digest, -1))
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".extract-", dir=self.root))
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                for info in zf.infolist():
                    rel = PurePosixPath(info.filename)
                    if rel.is_absolute() or ".." in rel.parts:
                        raise BlobError(f"code bundle {digest[:12]} holds an unsafe path {info.filename!r}")
                    dest = tmp.joinpath(*rel.parts)
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    dest.write_bytes(zf.read(info))
            try:
                os.rename(tmp, target)
            except OSError:
                if not target.is_dir():
                    raise
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        return target
