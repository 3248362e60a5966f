"""The blob store on any fsspec URL: ``s3://bucket/prefix``, ``gs://...``, ``file:///shared/path``.

Shared storage is what lets a worker on another machine (a Ray node) read the inputs and the code
bundle that a controller elsewhere wrote, and write outputs the controller can read back. The
contract is the local store's, on the same layout (``<root>/sha256/<hex[:2]>/<hex>``), so a folder
written by one can be read by the other and a reference (``sha256:<hex>``) means the same bytes
wherever the store lives: references name content, the store's location comes from settings.

Atomicity depends on what the backend offers:

- on filesystems with a rename (``file://``, and ``memory://`` for unit tests), bytes go to a
  temporary name under ``<root>/tmp`` and are renamed into place once complete;
- on object stores (S3, GCS, Azure, ...), an object becomes visible only when its single PUT (or
  its multipart upload) completes, and a rename would be a copy. So the bytes go straight to the
  final, content-addressed key, and only once they are known to be complete and to hash to that
  key: a streamed upload whose source changed on the way is discarded (the multipart upload is
  aborted) instead of being completed. A reader never sees a partial object under a blob's key.

Every read is checked against the reference's SHA-256 (a damaged object is a `BlobError` naming
it), and writing content that is already stored intact costs one read instead of a write, while a
damaged copy is replaced. References are checked for shape before any path is built: only
``sha256:`` and 64 hex digits are accepted, so no reference can name another path or bucket.
Transient failures (connection refused or reset, timeouts, throttling, 5xx) are retried a bounded
number of times with exponential backoff; everything else (no credentials, access denied, no such
bucket) is reported at once with what to fix. Credentials come from the backend's usual sources
(for S3 the ``AWS_*`` environment variables, profiles or instance roles; fsspec's own
configuration) and never appear in messages; a URL's user-info and query are redacted.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from setpoint.adapters.blobs.local import hex_of
from setpoint.errors import BlobError
from setpoint.ports import BlobRef

T = TypeVar("T")

CHUNK = 8 << 20  # streamed uploads and downloads move this much at a time (S3 parts must be >= 5 MiB)
RENAME_PROTOCOLS = frozenset({"file", "local", "memory"})
S3_PROTOCOLS = frozenset({"s3", "s3a"})

# Exception classes (by name, so no backend library is imported here) that mean "try again".
_TRANSIENT_NAMES = frozenset(
    {
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ConnectionClosedError",
        "ProxyConnectionError",
        "HTTPClientError",
        "ResponseStreamingError",
        "IncompleteRead",
        "IncompleteReadError",
        "ServerDisconnectedError",
        "ClientOSError",
        "ClientConnectorError",
        "ClientPayloadError",
        "FSTimeoutError",
        "ResponseParserError",
    }
)
_TRANSIENT_TEXT = ("SlowDown", "Throttl", "ServiceUnavailable", "InternalError", "RequestTimeout", " 500", " 503")
_CREDENTIAL_NAMES = frozenset(
    {"NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError", "DefaultCredentialsError"}
)
_NOT_TRANSIENT_OS = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError, FileExistsError)


def redact(url: str) -> str:
    """A URL fit for messages and logs: no user-info (``key:secret@``) and no query string."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable blob store URL>"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def is_transient(exc: BaseException) -> bool:
    """Whether an error from a storage backend is worth retrying (the network, not the request)."""
    names = {c.__name__ for c in type(exc).__mro__}
    if names & _TRANSIENT_NAMES:
        return True
    if names & _CREDENTIAL_NAMES or isinstance(exc, _NOT_TRANSIENT_OS):
        return False
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    return isinstance(exc, OSError) and any(s in str(exc) for s in _TRANSIENT_TEXT)


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _fsync(fh: Any) -> None:
    # Best effort: makes a renamed file durable where the backend hands out a real descriptor.
    with contextlib.suppress(AttributeError, OSError, ValueError, io.UnsupportedOperation):
        fh.flush()
        os.fsync(fh.fileno())


class FsspecBlobStore:
    """`setpoint.ports.BlobStore` on an fsspec URL; see the module docstring for the guarantees.

    ``storage_options`` go to the fsspec filesystem (over fsspec's own configuration for the
    protocol). For S3, timeouts are bounded (``timeout_s``) and the backend's own retries are off:
    this store retries whole operations ``retries`` times, sleeping ``backoff_s``, then twice that,
    and so on (at most 5 s).
    """

    def __init__(
        self,
        url: str,
        *,
        storage_options: Mapping[str, Any] | None = None,
        retries: int = 3,
        backoff_s: float = 0.2,
        timeout_s: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if retries < 1:
            raise ValueError("retries must be at least 1")
        self.url = url.rstrip("/")
        self.location = redact(self.url)
        self.protocol = urlsplit(self.url).scheme.lower()
        self.retries = retries
        self.backoff_s = backoff_s
        self._sleep = sleep
        try:
            import fsspec
            import fsspec.config
        except ImportError:
            raise BlobError(f"blob store {self.location}: URLs need fsspec (pip install fsspec)") from None
        options = _options(self.protocol, dict(fsspec.config.conf.get(self.protocol, {})), storage_options, timeout_s)
        try:
            self.fs, root = fsspec.core.url_to_fs(self.url, skip_instance_cache=True, **options)
        except ImportError as e:  # the protocol is known but its backend package is missing
            hint = "; pip install 'setpoint[s3]'" if self.protocol in S3_PROTOCOLS else ""
            raise BlobError(f"blob store {self.location}: {_short(e)}{hint}") from None
        except ValueError as e:  # an unknown protocol, or a malformed URL
            raise BlobError(f"blob store {self.location}: {_short(e)}") from None
        if self.protocol in S3_PROTOCOLS and hasattr(self.fs, "retries"):
            self.fs.retries = 1  # s3fs's own retry loop would multiply ours (and every timeout)
        self.root = str(root).rstrip("/")
        self._rename = self.protocol in RENAME_PROTOCOLS or not self.protocol

    def __repr__(self) -> str:
        return f"FsspecBlobStore({self.location!r})"

    # -- paths --------------------------------------------------------------------------------
    def _key(self, hex_digest: str) -> str:
        return f"{self.root}/sha256/{hex_digest[:2]}/{hex_digest}"

    def _tmp_key(self) -> str:
        return f"{self.root}/tmp/.tmp-{uuid.uuid4().hex}"

    # -- error handling -----------------------------------------------------------------------
    def _call(self, what: str, fn: Callable[[], T]) -> T:
        """Run ``fn`` with bounded retries on transient errors; translate the rest into `BlobError`.

        A plain `FileNotFoundError` (an absent object) is passed through for the caller to word;
        one that says the bucket itself is missing is not.
        """
        for attempt in range(1, self.retries + 1):
            try:
                return fn()
            except BlobError:
                raise
            except FileNotFoundError as e:
                if _bucket_missing(e):
                    raise BlobError(
                        f"blob store {self.location}: {what}: the bucket does not exist ({_short(e)}); "
                        "create it or fix the blob store URL"
                    ) from e
                raise
            except Exception as e:
                if is_transient(e) and attempt < self.retries:
                    self._sleep(min(self.backoff_s * 2 ** (attempt - 1), 5.0))
                    continue
                raise self._translate(e, what, attempt) from e
        raise AssertionError("unreachable")  # pragma: no cover

    def _translate(self, e: Exception, what: str, attempts: int) -> BlobError:
        names = {c.__name__ for c in type(e).__mro__}
        if names & _CREDENTIAL_NAMES:
            hint = (
                "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) in the environment"
                if self.protocol in S3_PROTOCOLS
                else "configure the backend's credentials in the environment or in fsspec's configuration"
            )
            return BlobError(f"blob store {self.location}: {what}: no credentials found ({_short(e)}); {hint}")
        if isinstance(e, PermissionError):
            return BlobError(
                f"blob store {self.location}: {what}: access denied ({_short(e)}); "
                "check the credentials and the bucket's permissions"
            )
        if is_transient(e):
            return BlobError(
                f"blob store {self.location}: {what}: the storage is unreachable or failing after "
                f"{attempts} attempt{'s' if attempts > 1 else ''} ({type(e).__name__}: {_short(e)})"
            )
        return BlobError(f"blob store {self.location}: {what}: {type(e).__name__}: {_short(e)}")

    def _missing(self, ref: BlobRef) -> BlobError:
        return BlobError(f"blob {ref.uri} is missing from {self.location}")

    def _corrupt(self, ref: BlobRef, size: int) -> BlobError:
        return BlobError(
            f"blob {ref.uri} in {self.location} is corrupt: its content does not match its checksum "
            f"({size} bytes, expected {ref.size}); writing the content again repairs it"
        )

    # -- writing ------------------------------------------------------------------------------
    def put_bytes(self, data: bytes) -> BlobRef:
        hex_digest = hashlib.sha256(data).hexdigest()
        ref = BlobRef(f"sha256:{hex_digest}", hex_digest, len(data))
        if self._stored_intact(ref):
            return ref
        key = self._key(hex_digest)
        if self._rename:
            self._call(f"write blob {ref.uri}", lambda: self._write_renamed(key, [data]))
        else:  # one PUT: the object appears whole or not at all
            self._call(f"write blob {ref.uri}", lambda: self.fs.pipe_file(key, data))
        return ref

    def put_file(self, path: Path) -> BlobRef:
        """Store a file's content, streaming: it is read twice (hash, then upload), never whole."""
        path = Path(path)
        h = hashlib.sha256()
        size = 0
        try:
            with open(path, "rb") as src:
                while chunk := src.read(CHUNK):
                    h.update(chunk)
                    size += len(chunk)
        except OSError as e:
            raise BlobError(f"cannot store file {str(path)!r} in {self.location}: {e}") from e
        ref = BlobRef(f"sha256:{h.hexdigest()}", h.hexdigest(), size)
        if self._stored_intact(ref):
            return ref
        self._call(f"write blob {ref.uri} from {str(path)!r}", lambda: self._upload(path, ref))
        return ref

    def _upload(self, path: Path, ref: BlobRef) -> None:
        key = self._key(ref.sha256)
        try:
            src = open(path, "rb")  # noqa: SIM115 (closed below; the chunk iterator reads it lazily)
        except OSError as e:
            raise BlobError(f"cannot store file {str(path)!r} in {self.location}: {e}") from e
        with src:
            chunks = _checked_chunks(src, ref, path)
            if self._rename:
                self._write_renamed(key, chunks)
                return
            out = self.fs.open(key, "wb", block_size=CHUNK)
            try:
                for chunk in chunks:
                    out.write(chunk)
            except BaseException:
                # never complete a partial or changed upload: abort it (S3: abort the multipart upload)
                with contextlib.suppress(Exception):
                    discard = getattr(out, "discard", None)
                    if callable(discard):
                        discard()
                    out.closed = True
                raise
            out.close()

    def _write_renamed(self, key: str, chunks: Iterator[bytes] | list[bytes]) -> None:
        tmp = self._tmp_key()
        self.fs.makedirs(tmp.rsplit("/", 1)[0], exist_ok=True)
        try:
            with self.fs.open(tmp, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
                _fsync(out)
            self.fs.makedirs(key.rsplit("/", 1)[0], exist_ok=True)
            self.fs.mv(tmp, key)
        finally:
            with contextlib.suppress(Exception):
                if self.fs.exists(tmp):
                    self.fs.rm_file(tmp)

    def _stored_intact(self, ref: BlobRef) -> bool:
        """Already stored with the right bytes (a cheap size check first, then the full hash)."""
        return self._size(ref) == ref.size and self.verify(ref)

    # -- reading ------------------------------------------------------------------------------
    def get_bytes(self, ref: BlobRef) -> bytes:
        key = self._key(hex_of(ref))
        try:
            data: bytes = self._call(f"read blob {ref.uri}", lambda: self.fs.cat_file(key))
        except FileNotFoundError:
            raise self._missing(ref) from None
        if (ref.size >= 0 and len(data) != ref.size) or hashlib.sha256(data).hexdigest() != ref.sha256:
            raise self._corrupt(ref, len(data))
        return data

    def get_file(self, ref: BlobRef, dest: Path) -> Path:
        """Download a blob to ``dest`` (streaming, atomically), verifying its checksum on the way."""
        key = self._key(hex_of(ref))
        dest = Path(dest)

        def download() -> None:
            dest.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=dest.parent, prefix=".tmp-")
            tmp = Path(name)
            try:
                h = hashlib.sha256()
                size = 0
                with os.fdopen(fd, "wb") as out, self.fs.open(key, "rb", block_size=CHUNK, cache_type="none") as src:
                    while chunk := src.read(CHUNK):
                        h.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
                if (ref.size >= 0 and size != ref.size) or h.hexdigest() != ref.sha256:
                    raise self._corrupt(ref, size)
                os.replace(tmp, dest)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()

        try:
            self._call(f"download blob {ref.uri} to {str(dest)!r}", download)
        except FileNotFoundError:
            raise self._missing(ref) from None
        return dest

    # -- checks -------------------------------------------------------------------------------
    def _size(self, ref: BlobRef) -> int | None:
        key = self._key(hex_of(ref))

        def info() -> int:
            self.fs.invalidate_cache(key)
            return int(self.fs.info(key)["size"])

        try:
            return self._call(f"look up blob {ref.uri}", info)
        except FileNotFoundError:
            return None

    def exists(self, ref: BlobRef) -> bool:
        """Present with the right size (one metadata request; `verify` does the full hash)."""
        size = self._size(ref)
        return size is not None and (ref.size < 0 or size == ref.size)

    def verify(self, ref: BlobRef) -> bool:
        """Present and its bytes hash to the reference's digest (streamed, never whole in memory)."""
        key = self._key(hex_of(ref))

        def digest() -> tuple[str, int]:
            h = hashlib.sha256()
            size = 0
            with self.fs.open(key, "rb", block_size=CHUNK, cache_type="none") as src:
                while chunk := src.read(CHUNK):
                    h.update(chunk)
                    size += len(chunk)
            return h.hexdigest(), size

        try:
            hex_digest, size = self._call(f"verify blob {ref.uri}", digest)
        except FileNotFoundError:
            return False
        return (ref.size < 0 or size == ref.size) and hex_digest == ref.sha256

    def delete(self, ref: BlobRef) -> None:
        """Remove a blob (garbage collection and tests); a missing blob is not an error."""
        key = self._key(hex_of(ref))
        with contextlib.suppress(FileNotFoundError):
            self._call(f"delete blob {ref.uri}", lambda: self.fs.rm_file(key))


def _checked_chunks(src: IO[bytes], ref: BlobRef, path: Path) -> Iterator[bytes]:
    """The file's chunks, re-hashed on the way; raises before the end if it changed since hashing."""
    h = hashlib.sha256()
    size = 0
    while chunk := src.read(CHUNK):
        h.update(chunk)
        size += len(chunk)
        if size > ref.size:
            break
        yield chunk
    if size != ref.size or h.hexdigest() != ref.sha256:
        raise BlobError(f"file {str(path)!r} changed while it was being stored as blob {ref.uri}; store it again")


def _bucket_missing(e: FileNotFoundError) -> bool:
    text = str(e)
    return "bucket does not exist" in text or "NoSuchBucket" in text


def _options(
    protocol: str, configured: dict[str, Any], given: Mapping[str, Any] | None, timeout_s: float
) -> dict[str, Any]:
    """Storage options: bounded timeouts by default for S3, then fsspec's configuration, then ``given``."""
    options = {**configured, **(given or {})}
    if protocol in S3_PROTOCOLS:
        config = {
            "connect_timeout": min(timeout_s, 10.0),
            "read_timeout": timeout_s,
            "retries": {"max_attempts": 1, "mode": "standard"},  # retried here, not in botocore
        }
        config.update(configured.get("config_kwargs") or {})
        config.update((given or {}).get("config_kwargs") or {})
        options["config_kwargs"] = config
    return options
