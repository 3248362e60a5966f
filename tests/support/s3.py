"""A real S3-compatible server for the blob store tests: moto's server mode, in a process of its own.

The server speaks S3 over HTTP on a free loopback port, so s3fs, botocore and aiohttp run exactly
as they would against a cloud bucket, and task processes (which inherit the environment from
`S3Server.env`) reach it like any remote worker would. It only needs pip packages (``moto[server]``,
in the ``dev`` extra): where they are missing the tests are skipped on a developer's machine and
fail under ``CI=true``.
"""

from __future__ import annotations

import contextlib
import functools
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any, NoReturn

import pytest

REGION = "us-east-1"
# Fake keys: moto accepts any. Distinctive, so tests can check they never show up in messages.
ACCESS_KEY = "AKIASETPOINTTESTKEY0"
SECRET_KEY = "setpoint-test-secret-value-do-not-print"


def skip_or_fail(reason: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"the S3 tests are required in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class S3Server:
    endpoint: str

    def env(self) -> dict[str, str]:
        """What a process needs to reach this server through botocore's standard variables."""
        return {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_EC2_METADATA_DISABLED": "true",  # never probe an instance-metadata address
        }

    def storage_options(self) -> dict[str, Any]:
        return {
            "key": ACCESS_KEY,
            "secret": SECRET_KEY,
            "endpoint_url": self.endpoint,
            "client_kwargs": {"region_name": REGION},
        }

    def new_bucket(self) -> str:
        name = f"setpoint-{uuid.uuid4().hex[:12]}"
        _admin(self.endpoint).call_s3("create_bucket", Bucket=name)  # us-east-1 takes no location constraint
        return name


@functools.cache
def _admin(endpoint: str) -> Any:
    """One client per server for the tests' own calls (a new client costs about half a second)."""
    import s3fs

    return s3fs.S3FileSystem(skip_instance_cache=True, **S3Server(endpoint).storage_options())


@contextlib.contextmanager
def moto_server() -> Iterator[S3Server]:
    try:
        import moto.server  # noqa: F401
        import s3fs  # noqa: F401
    except ImportError as e:
        skip_or_fail(f"{e.name} is not installed (pip install -e '.[dev]')")
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    # the server logs every request: to a file, not a pipe nobody drains (a full pipe would stall it)
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            _wait_until_serving(proc, endpoint, log)
            yield S3Server(endpoint)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_until_serving(proc: subprocess.Popen[bytes], endpoint: str, log: IO[bytes]) -> None:
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            log.seek(0)
            skip_or_fail(
                f"moto's S3 server exited at start ({proc.returncode}): {log.read()[-2000:].decode(errors='replace')}"
            )
        try:
            with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1):
                return
        except (urllib.error.URLError, OSError):
            if time.monotonic() > deadline:
                skip_or_fail(f"moto's S3 server did not answer on {endpoint} within 30 s")
            time.sleep(0.1)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    with moto_server() as server:
        yield server
