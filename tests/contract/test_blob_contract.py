"""Every blob store held to one contract: the local folder, fsspec ``file://``, ``memory://`` and
``s3://`` on a real S3-compatible server (moto's server mode, over HTTP on loopback).

The contract: content addressing on one layout (``<root>/sha256/<hex[:2]>/<hex>``), idempotent
writes that leave nothing half-written, every read checked against the reference's SHA-256, a
damaged blob replaced by writing its content again, concurrent writers of the same content in
agreement, large files streamed, references that cannot name anything outside the store, and, for
remote stores, clear and bounded failures when the storage cannot be reached.
"""

from __future__ import annotations

import hashlib
import os
import socket
import stat
import threading
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from setpoint.adapters.blobs.fsspec_store import FsspecBlobStore
from setpoint.adapters.blobs.local import LocalBlobStore
from setpoint.errors import BlobError
from setpoint.ports import BlobRef, BlobStore
from tests.support.s3 import ACCESS_KEY, SECRET_KEY, S3Server, free_port
from tests.support.s3 import s3_server as s3_server  # noqa: PLC0414 (the session fixture)

pytestmark = pytest.mark.timeout(120)

BACKENDS = ("local", "file", "memory", "s3")
LARGE_MB = int(os.environ.get("SETPOINT_BLOBS_LARGE_MB", "48"))


@dataclass
class Backend:
    """A store plus raw access to where it keeps bytes, to damage them behind its back."""

    name: str
    store: BlobStore
    make: Callable[[], BlobStore]  # another store on the same location (a second writer)
    write_raw: Callable[[str, bytes], None]  # layout path (relative to the root) -> bytes
    list_raw: Callable[[], list[str]]  # every object under the root, relative

    def corrupt(self, ref: BlobRef, data: bytes) -> None:
        self.write_raw(f"sha256/{ref.sha256[:2]}/{ref.sha256}", data)

    def blob_keys(self) -> list[str]:
        return [k for k in self.list_raw() if k.startswith("sha256/")]


def _local_backend(root: Path) -> Backend:
    def write_raw(rel: str, data: bytes) -> None:
        path = root / rel
        os.chmod(path, stat.S_IWUSR | stat.S_IRUSR)  # the local store makes blobs read-only
        path.write_bytes(data)

    def list_raw() -> list[str]:
        return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) if root.exists() else []

    return Backend("local", LocalBlobStore(root), lambda: LocalBlobStore(root), write_raw, list_raw)


def _fsspec_backend(name: str, url: str, **options: object) -> Backend:
    def make() -> FsspecBlobStore:
        return FsspecBlobStore(url, storage_options=dict(options))

    store = make()
    fs, root = store.fs, store.root

    def write_raw(rel: str, data: bytes) -> None:
        fs.pipe_file(f"{root}/{rel}", data)

    def list_raw() -> list[str]:
        fs.invalidate_cache()
        if not fs.exists(root):
            return []
        return sorted(str(p)[len(root) + 1 :] for p in fs.find(root))

    return Backend(name, store, make, write_raw, list_raw)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    name = request.param
    if name == "local":
        yield _local_backend(tmp_path / "blobs")
    elif name == "file":
        yield _fsspec_backend(name, f"file://{tmp_path}/blobs")
    elif name == "memory":
        b = _fsspec_backend(name, f"memory://setpoint-{uuid.uuid4().hex}")
        yield b
        for key in b.list_raw():
            b.store.fs.rm_file(f"{b.store.root}/{key}")  # type: ignore[attr-defined]
    else:
        server: S3Server = request.getfixturevalue("s3_server")
        yield _fsspec_backend(name, f"s3://{server.new_bucket()}/some/prefix", **server.storage_options())


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- round trips and layout ----------------------------------------------------------------------
def test_bytes_round_trip_content_addressed_on_the_shared_layout(backend: Backend) -> None:
    data = b"hello setpoint"
    ref = backend.store.put_bytes(data)
    assert ref == BlobRef(f"sha256:{_digest(data)}", _digest(data), len(data))
    assert backend.store.get_bytes(ref) == data
    assert backend.store.exists(ref) and backend.store.verify(ref)
    assert backend.blob_keys() == [f"sha256/{ref.sha256[:2]}/{ref.sha256}"]


def test_file_round_trip_and_empty_blob(backend: Backend, tmp_path: Path) -> None:
    src = tmp_path / "in.bin"
    src.write_bytes(os.urandom(300_000))
    ref = backend.store.put_file(src)
    assert ref.sha256 == _digest(src.read_bytes()) and ref.size == 300_000
    dest = backend.store.get_file(ref, tmp_path / "out" / "copy.bin")
    assert dest.read_bytes() == src.read_bytes()
    assert backend.store.get_bytes(ref) == src.read_bytes()
    empty = backend.store.put_bytes(b"")
    assert backend.store.get_bytes(empty) == b"" and backend.store.verify(empty)


def test_putting_the_same_content_again_is_idempotent_and_leaves_no_temporaries(
    backend: Backend, tmp_path: Path
) -> None:
    src = tmp_path / "same.bin"
    src.write_bytes(b"abc" * 1000)
    refs = {backend.store.put_bytes(b"abc" * 1000), backend.store.put_bytes(b"abc" * 1000), backend.store.put_file(src)}
    assert len(refs) == 1
    assert (
        backend.list_raw() == backend.blob_keys() == [f"sha256/{next(iter(refs)).sha256[:2]}/{next(iter(refs)).sha256}"]
    )


def test_a_missing_blob_is_an_error_naming_it(backend: Backend, tmp_path: Path) -> None:
    ref = BlobRef(f"sha256:{'ab' * 32}", "ab" * 32, 3)
    assert not backend.store.exists(ref)
    assert not backend.store.verify(ref)
    with pytest.raises(BlobError, match=rf"blob sha256:{'ab' * 32} is missing"):
        backend.store.get_bytes(ref)
    with pytest.raises(BlobError, match="is missing"):
        backend.store.get_file(ref, tmp_path / "nothing")
    assert not (tmp_path / "nothing").exists()


# -- verification and repair ---------------------------------------------------------------------
def test_every_read_verifies_the_checksum(backend: Backend, tmp_path: Path) -> None:
    ref = backend.store.put_bytes(b"original content")
    backend.corrupt(ref, b"tampered content")  # same size: only the hash can tell
    assert backend.store.exists(ref)  # exists is the cheap size check
    assert not backend.store.verify(ref)
    with pytest.raises(BlobError, match=rf"blob {ref.uri} .*corrupt"):
        backend.store.get_bytes(ref)
    with pytest.raises(BlobError, match="corrupt"):
        backend.store.get_file(ref, tmp_path / "out.bin")
    assert not (tmp_path / "out.bin").exists()  # nothing half-verified is left at the destination
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp-")] == []


def test_a_truncated_blob_does_not_exist_and_is_reported_corrupt(backend: Backend) -> None:
    ref = backend.store.put_bytes(b"0123456789")
    backend.corrupt(ref, b"01234")
    assert not backend.store.exists(ref)
    with pytest.raises(BlobError, match="corrupt"):
        backend.store.get_bytes(ref)


def test_a_reference_of_unknown_size_is_checked_by_its_hash_alone(backend: Backend, tmp_path: Path) -> None:
    ref = backend.store.put_bytes(b"sized later")
    unsized = BlobRef(ref.uri, ref.sha256, -1)  # a reference written before its size was known
    assert backend.store.exists(unsized) and backend.store.verify(unsized)
    assert backend.store.get_bytes(unsized) == b"sized later"
    assert backend.store.get_file(unsized, tmp_path / "out.bin").read_bytes() == b"sized later"
    backend.corrupt(ref, b"other bytes")
    assert backend.store.exists(unsized)  # exists is the cheap check; only the hash can tell
    assert not backend.store.verify(unsized)
    missing = BlobRef(f"sha256:{'cd' * 32}", "cd" * 32, -1)
    assert not backend.store.exists(missing) and not backend.store.verify(missing)


def test_writing_the_content_again_repairs_a_damaged_blob(backend: Backend, tmp_path: Path) -> None:
    ref = backend.store.put_bytes(b"precious bytes")
    backend.corrupt(ref, b"garbage bytes!")
    assert backend.store.put_bytes(b"precious bytes") == ref
    assert backend.store.get_bytes(ref) == b"precious bytes"
    src = tmp_path / "f.bin"
    src.write_bytes(b"file bytes")
    fref = backend.store.put_file(src)
    backend.corrupt(fref, b"x")
    assert backend.store.put_file(src) == fref
    assert backend.store.verify(fref)


# -- concurrency ---------------------------------------------------------------------------------
def test_concurrent_writers_of_the_same_content_agree(backend: Backend, tmp_path: Path) -> None:
    data = os.urandom(1 << 20)
    src = tmp_path / "same.bin"
    src.write_bytes(data)
    stores = [backend.make() for _ in range(6)]  # separate clients, as separate workers would be
    refs: list[BlobRef] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(stores))

    def write(i: int, store: BlobStore) -> None:
        try:
            barrier.wait()
            refs.append(store.put_file(src) if i % 2 else store.put_bytes(data))
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=write, args=(i, s)) for i, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(set(refs)) == 1 and len(refs) == len(stores)
    assert backend.store.get_bytes(refs[0]) == data
    assert backend.list_raw() == backend.blob_keys() and len(backend.blob_keys()) == 1


# -- large values --------------------------------------------------------------------------------
def _write_random(path: Path, mib: int) -> str:
    block = os.urandom(1 << 20)
    h = hashlib.sha256()
    with path.open("wb") as fh:
        for i in range(mib):
            chunk = block[i:] + block[:i]  # no two MiB alike
            h.update(chunk)
            fh.write(chunk)
    return h.hexdigest()


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _round_trip_peaks(store: BlobStore, tmp_path: Path, mib: int) -> tuple[int, int]:
    """Store and fetch a file of ``mib`` MiB; the peak traced memory of each direction."""
    src = tmp_path / f"in-{mib}.bin"
    digest = _write_random(src, mib)
    tracemalloc.start()
    try:
        ref = store.put_file(src)
        _, put_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        dest = store.get_file(ref, tmp_path / "back" / f"out-{mib}.bin")
        _, get_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert ref == BlobRef(f"sha256:{digest}", digest, mib << 20)
    assert _file_digest(dest) == digest
    src.unlink()
    dest.unlink()
    return put_peak, get_peak


@pytest.mark.timeout(300)
def test_large_files_are_streamed_in_memory_that_does_not_grow_with_their_size(
    backend: Backend, tmp_path: Path
) -> None:
    backend.store.put_bytes(b"warm-up")  # a backend's client loads its (large) service model once: not ours to count
    small = _round_trip_peaks(backend.store, tmp_path, LARGE_MB // 4)
    large = _round_trip_peaks(backend.store, tmp_path, LARGE_MB)
    if backend.name == "memory":  # a memory "store" holds everything in memory by definition
        return
    # a store that held the whole file would peak 4 times higher for a 4 times larger file
    for direction, low, high in (("put_file", small[0], large[0]), ("get_file", small[1], large[1])):
        assert high < 1.5 * low + (2 << 20), (
            f"{direction} peaked at {high >> 20} MiB for {LARGE_MB} MiB against {low >> 20} MiB for {LARGE_MB // 4} MiB"
        )


# -- hostile references --------------------------------------------------------------------------
HEX = "ab" * 32
HOSTILE = [
    f"sha256:../../{HEX[:58]}",
    "sha256:../../../etc/passwd",
    f"sha256:{HEX}/../../x",
    "/etc/passwd",
    "../" + HEX,
    f"s3://another-bucket/sha256/ab/{HEX}",
    f"file:///etc/sha256/ab/{HEX}",
    f"gs://bucket/{HEX}",
    f"sha256:{HEX.upper()}",
    f"sha256:{HEX}\n",
    "",
]


@pytest.mark.parametrize("uri", HOSTILE)
def test_references_that_are_not_exact_digests_are_rejected_before_any_io(backend: Backend, uri: str) -> None:
    ref = BlobRef(uri, HEX, 3)
    for call in (backend.store.get_bytes, backend.store.exists, backend.store.verify):
        with pytest.raises(BlobError, match="invalid blob uri"):
            call(ref)
    with pytest.raises(BlobError, match="invalid blob uri"):
        backend.store.get_file(ref, Path("/nonexistent-dir/x"))


def test_a_reference_whose_digest_disagrees_with_its_uri_is_rejected(backend: Backend) -> None:
    ref = backend.store.put_bytes(b"abc")
    forged = BlobRef(ref.uri, _digest(b"other"), ref.size)
    with pytest.raises(BlobError, match="does not match its uri"):
        backend.store.get_bytes(forged)


# -- interchangeable stores ----------------------------------------------------------------------
def test_local_and_fsspec_file_stores_read_each_others_blobs(tmp_path: Path) -> None:
    local = LocalBlobStore(tmp_path / "blobs")
    remote = FsspecBlobStore(f"file://{tmp_path}/blobs")
    a = local.put_bytes(b"written by the local store")
    b = remote.put_bytes(b"written through fsspec")
    assert remote.get_bytes(a) == b"written by the local store"
    assert local.get_bytes(b) == b"written through fsspec"


# -- failures of remote storage ------------------------------------------------------------------
def _silent_server() -> Iterator[str]:
    """An endpoint that accepts connections and never answers (a hung load balancer)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    yield from _silent_server()


@pytest.mark.timeout(60)
def test_an_unreachable_endpoint_fails_clearly_after_bounded_retries_with_backoff() -> None:
    sleeps: list[float] = []
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    store = FsspecBlobStore(
        "s3://bucket/prefix",
        storage_options={"key": ACCESS_KEY, "secret": SECRET_KEY, "endpoint_url": endpoint},
        retries=4,
        backoff_s=0.01,
        sleep=sleeps.append,
    )
    with pytest.raises(BlobError) as err:
        store.put_bytes(b"anything")
    message = str(err.value)
    assert "s3://bucket/prefix" in message and "unreachable" in message and "after 4 attempts" in message
    assert sleeps == [0.01, 0.02, 0.04]  # three waits between four attempts, doubling
    assert SECRET_KEY not in message and ACCESS_KEY not in message and SECRET_KEY not in repr(store)


@pytest.mark.timeout(60)
def test_an_endpoint_that_never_answers_times_out(silent_endpoint: str) -> None:
    store = FsspecBlobStore(
        "s3://bucket/prefix",
        storage_options={"key": ACCESS_KEY, "secret": SECRET_KEY, "endpoint_url": silent_endpoint},
        retries=2,
        backoff_s=0.01,
        timeout_s=1.0,
    )
    with pytest.raises(BlobError, match=r"unreachable or failing after 2 attempts .*[Tt]imeout"):
        store.get_bytes(BlobRef(f"sha256:{HEX}", HEX, 3))


def test_a_missing_bucket_is_named_with_what_to_do(s3_server: S3Server) -> None:
    store = FsspecBlobStore("s3://no-such-bucket-here/prefix", storage_options=s3_server.storage_options())
    with pytest.raises(BlobError, match=r"s3://no-such-bucket-here/prefix: .*the bucket does not exist.*create it"):
        store.put_bytes(b"x")
    with pytest.raises(BlobError, match="bucket does not exist"):
        store.get_bytes(BlobRef(f"sha256:{HEX}", HEX, 3))


def test_missing_credentials_are_reported_with_where_to_set_them(
    s3_server: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no probing of instance-metadata addresses
    store = FsspecBlobStore(
        f"s3://{s3_server.new_bucket()}/p",
        storage_options={"endpoint_url": s3_server.endpoint, "client_kwargs": {"region_name": "us-east-1"}},
        retries=1,
    )
    with pytest.raises(BlobError, match=r"no credentials found .*AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"):
        store.put_bytes(b"x")
