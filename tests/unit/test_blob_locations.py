"""Opening a blob store by location (settings, CLI, worker payloads), URL redaction, bounded retries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from setpoint.adapters.blobs import open_blob_store
from setpoint.adapters.blobs.fsspec_store import FsspecBlobStore, is_transient, redact
from setpoint.adapters.blobs.local import LocalBlobStore
from setpoint.config.settings import Settings
from setpoint.errors import BlobError


def test_paths_and_file_urls_open_the_local_store(tmp_path: Path) -> None:
    for location in (tmp_path / "a", str(tmp_path / "a"), f"file://{tmp_path}/a", f"file://localhost{tmp_path}/a"):
        store = open_blob_store(location)
        assert isinstance(store, LocalBlobStore) and store.root == tmp_path / "a", location


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("", "location is empty"),
        ("file://fileserver/share", "names a path on this machine"),
        ("file://", "names no folder"),
        ("file:///x?versionId=1", "takes no query"),
        ("nosuchprotocol://bucket/x", "nosuchprotocol"),
    ],
)
def test_bad_locations_are_refused_with_the_reason(location: str, message: str) -> None:
    with pytest.raises(BlobError, match=message):
        open_blob_store(location)


def test_other_urls_open_the_fsspec_store_without_any_io() -> None:
    store = open_blob_store("s3://bucket/prefix/", storage_options={"endpoint_url": "http://127.0.0.1:9"})
    assert isinstance(store, FsspecBlobStore)
    assert store.root == "bucket/prefix" and store.location == "s3://bucket/prefix"
    memory = open_blob_store("memory://unit")
    assert isinstance(memory, FsspecBlobStore)
    assert memory.get_bytes(memory.put_bytes(b"x")) == b"x"


def test_settings_name_the_store_by_env_or_argument(tmp_path: Path) -> None:
    default = Settings.from_env(tmp_path, env={})
    assert default.blobs_url is None and default.blob_location == str(tmp_path.resolve() / "blobs")
    from_env = Settings.from_env(tmp_path, env={"SETPOINT_BLOBS": "s3://b/p"})
    assert from_env.blob_location == "s3://b/p"
    explicit = Settings.from_env(tmp_path, env={"SETPOINT_BLOBS": "s3://b/p"}, blobs_url="gs://other/q")
    assert explicit.blob_location == "gs://other/q"


def test_urls_in_messages_carry_no_user_info_or_query() -> None:
    assert redact("s3://AKIAKEY:very-secret@bucket/p?token=abc#x") == "s3://***@bucket/p"
    assert redact("s3://bucket/prefix") == "s3://bucket/prefix"
    assert "very-secret" not in repr(FsspecBlobStore("memory://u:very-secret@x/p"))


class _Flaky:
    """Wraps a filesystem: the first ``failures`` writes raise ``error``."""

    def __init__(self, fs: Any, failures: int, error: Exception) -> None:
        self.fs, self.failures, self.error, self.calls = fs, failures, error, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.fs, name)

    def open(self, *args: Any, **kwargs: Any) -> Any:
        if len(args) > 1 and "w" in args[1]:
            self.calls += 1
            if self.calls <= self.failures:
                raise self.error
        return self.fs.open(*args, **kwargs)


def test_transient_errors_are_retried_with_doubling_backoff_then_succeed() -> None:
    sleeps: list[float] = []
    store = FsspecBlobStore("memory://retry-ok", retries=3, backoff_s=0.5, sleep=sleeps.append)
    store.fs = _Flaky(store.fs, 2, ConnectionResetError("connection reset by peer"))
    ref = store.put_bytes(b"payload")
    assert store.get_bytes(ref) == b"payload"
    assert sleeps == [0.5, 1.0]


def test_retries_are_bounded_and_the_last_error_is_reported() -> None:
    sleeps: list[float] = []
    store = FsspecBlobStore("memory://retry-out", retries=3, backoff_s=0.1, sleep=sleeps.append)
    store.fs = _Flaky(store.fs, 99, TimeoutError("timed out"))
    with pytest.raises(
        BlobError, match=r"memory://retry-out: write blob sha256:\w+: .*after 3 attempts \(TimeoutError"
    ):
        store.put_bytes(b"payload")
    assert sleeps == [0.1, 0.2]


def test_permanent_errors_are_not_retried() -> None:
    sleeps: list[float] = []
    store = FsspecBlobStore("memory://denied", retries=5, sleep=sleeps.append)
    store.fs = _Flaky(store.fs, 99, PermissionError("Access Denied"))
    with pytest.raises(BlobError, match=r"access denied .*check the credentials"):
        store.put_bytes(b"payload")
    assert sleeps == []


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (ConnectionRefusedError(), True),
        (TimeoutError(), True),
        (OSError("An error occurred (SlowDown): reduce your request rate"), True),
        (OSError(28, "No space left on device"), False),
        (FileNotFoundError("x"), False),
        (PermissionError("x"), False),
        (ValueError("x"), False),
        (type("EndpointConnectionError", (Exception,), {})(), True),
        (type("NoCredentialsError", (Exception,), {})(), False),
    ],
)
def test_which_errors_are_transient(error: Exception, transient: bool) -> None:
    assert is_transient(error) is transient


def test_warm_workers_preload_the_backend_of_a_remote_store(tmp_path: Path) -> None:
    from setpoint.adapters.blobs import preload_modules

    assert preload_modules(tmp_path) == preload_modules(str(tmp_path)) == preload_modules(f"file://{tmp_path}") == ()
    assert preload_modules("s3://b/p") == ("setpoint.adapters.blobs.fsspec_store", "fsspec", "s3fs")
    assert preload_modules("memory://x") == ("setpoint.adapters.blobs.fsspec_store", "fsspec")
