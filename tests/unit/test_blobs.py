"""LocalBlobStore: content addressing, atomic and idempotent writes, verified reads, no path escapes."""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from pathlib import Path

import pytest

from setpoint.adapters.blobs.local import LocalBlobStore
from setpoint.errors import BlobError
from setpoint.ports import BlobRef, BlobStore


@pytest.fixture
def store(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs")


def _blob_files(root: Path) -> list[Path]:
    return sorted(p for p in (root / "sha256").rglob("*") if p.is_file())


def _make_writable_and_write(path: Path, data: bytes) -> None:
    os.chmod(path, stat.S_IWUSR | stat.S_IRUSR)
    path.write_bytes(data)


def test_satisfies_the_blob_store_protocol(store: LocalBlobStore) -> None:
    as_port: BlobStore = store  # checked by mypy on the tests
    assert as_port.exists(as_port.put_bytes(b"x"))


def test_put_bytes_is_content_addressed_under_sha256_prefix_dirs(store: LocalBlobStore) -> None:
    data = b"hello setpoint"
    hex_digest = hashlib.sha256(data).hexdigest()
    ref = store.put_bytes(data)
    assert ref == BlobRef(f"sha256:{hex_digest}", hex_digest, len(data))
    assert (store.root / "sha256" / hex_digest[:2] / hex_digest).read_bytes() == data
    assert store.get_bytes(ref) == data


def test_writing_the_same_content_twice_stores_one_blob_and_leaves_no_temp_files(
    store: LocalBlobStore, tmp_path: Path
) -> None:
    src = tmp_path / "same.bin"
    src.write_bytes(b"abc")
    refs = {store.put_bytes(b"abc"), store.put_bytes(b"abc"), store.put_file(src)}
    assert len(refs) == 1
    assert len(_blob_files(store.root)) == 1
    assert list((store.root / "tmp").iterdir()) == []


def test_blobs_are_read_only_on_disk(store: LocalBlobStore) -> None:
    ref = store.put_bytes(b"immutable")
    mode = store.local_path(ref).stat().st_mode
    assert not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)


def test_put_file_and_get_file_stream_large_files(store: LocalBlobStore, tmp_path: Path) -> None:
    data = os.urandom(3 * (1 << 20) + 17)  # more than a few chunks
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    ref = store.put_file(src)
    assert ref.sha256 == hashlib.sha256(data).hexdigest()
    assert ref.size == len(data)
    dest = store.get_file(ref, tmp_path / "out" / "nested" / "copy.bin")
    assert dest.read_bytes() == data
    assert store.verify(ref)


def test_put_json_is_canonical(store: LocalBlobStore) -> None:
    a = store.put_json({"b": [1, 2.5], "a": "x"})
    b = store.put_json({"a": "x", "b": [1, 2.5]})
    assert a == b
    assert store.get_bytes(a) == b'{"a":"x","b":[1,2.5]}'
    assert store.get_json(a) == {"a": "x", "b": [1, 2.5]}


def test_missing_blob_raises_blob_error_naming_the_uri(store: LocalBlobStore, tmp_path: Path) -> None:
    ref = store.put_bytes(b"soon gone")
    store.delete(ref)
    assert not store.exists(ref)
    assert not store.verify(ref)
    with pytest.raises(BlobError, match=rf"blob {ref.uri} is missing"):
        store.get_bytes(ref)
    with pytest.raises(BlobError, match=rf"blob {ref.uri} is missing"):
        store.get_file(ref, tmp_path / "x")


def test_corrupt_blob_is_detected_on_read(store: LocalBlobStore, tmp_path: Path) -> None:
    ref = store.put_bytes(b"original content")
    _make_writable_and_write(store.local_path(ref), b"tampered content")  # same size
    assert store.exists(ref)  # exists() only checks presence and size
    assert not store.verify(ref)
    with pytest.raises(BlobError, match=rf"blob {ref.uri} is corrupt"):
        store.get_bytes(ref)
    dest = tmp_path / "dest.bin"
    with pytest.raises(BlobError, match="corrupt"):
        store.get_file(ref, dest)
    assert not dest.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp-")] == []


def test_truncated_blob_is_not_reported_as_existing(store: LocalBlobStore) -> None:
    ref = store.put_bytes(b"0123456789")
    _make_writable_and_write(store.local_path(ref), b"01234")
    assert not store.exists(ref)
    with pytest.raises(BlobError, match="corrupt"):
        store.get_bytes(ref)


def test_rewriting_a_corrupt_blob_heals_it(store: LocalBlobStore) -> None:
    ref = store.put_bytes(b"heal me")
    _make_writable_and_write(store.local_path(ref), b"x")
    assert store.put_bytes(b"heal me") == ref
    assert store.get_bytes(ref) == b"heal me"


@pytest.mark.parametrize(
    "uri",
    [
        "sha256:../../etc/passwd",
        "sha256:" + "A" * 64,
        "sha256:" + "a" * 63,
        "sha256:" + "a" * 64 + "/../../x",
        "file:///etc/passwd",
        "/etc/passwd",
        "",
    ],
)
def test_uris_that_are_not_exact_sha256_digests_are_rejected(store: LocalBlobStore, uri: str) -> None:
    ref = BlobRef(uri, "a" * 64, 1)
    for call in (store.get_bytes, store.exists, store.verify, store.local_path):
        with pytest.raises(BlobError, match="invalid blob uri"):
            call(ref)


def test_a_reference_whose_sha_disagrees_with_its_uri_is_rejected(store: LocalBlobStore) -> None:
    ref = store.put_bytes(b"data")
    with pytest.raises(BlobError, match="does not match its uri"):
        store.get_bytes(BlobRef(ref.uri, "b" * 64, ref.size))


def test_a_failed_write_leaves_neither_a_blob_nor_a_temp_file(
    store: LocalBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(BlobError, match="cannot write blob sha256:"):
        store.put_bytes(b"never lands")
    monkeypatch.undo()
    assert _blob_files(store.root) == []
    assert list((store.root / "tmp").iterdir()) == []


def test_concurrent_writers_of_the_same_content_agree(store: LocalBlobStore) -> None:
    data = os.urandom(256 * 1024)
    refs: list[BlobRef] = []
    errors: list[BaseException] = []

    def write() -> None:
        try:
            refs.append(store.put_bytes(data))
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=write) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(set(refs)) == 1
    assert store.get_bytes(refs[0]) == data


def test_putting_the_same_content_repairs_a_damaged_blob(tmp_path: Path) -> None:
    from setpoint.adapters.blobs.local import LocalBlobStore

    store = LocalBlobStore(tmp_path / "blobs")
    ref = store.put_bytes(b"x" * 1000)
    path = store.local_path(ref)
    path.chmod(0o644)
    path.write_bytes(b"y" * 1000)  # same size, wrong bytes
    assert not store.verify(ref)
    assert store.put_bytes(b"x" * 1000) == ref
    assert store.verify(ref)
    assert store.get_bytes(ref) == b"x" * 1000
