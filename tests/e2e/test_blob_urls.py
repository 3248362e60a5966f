"""Whole runs whose blobs live behind a URL: ``s3://`` on a real S3-compatible server, and ``file://``.

The task processes open the store from the URL the controller sends them and find the S3 endpoint
and credentials in their environment, as workers on other machines would. Nothing may land in the
home's own blob folder: the code bundle, the offloaded list, the File and the Directory all travel
through the configured store, and the outputs read back from it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from setpoint.client.embedded import Client
from setpoint.core.phases import ExecutionPhase
from setpoint.types.files import Directory, File
from tests.e2e import wf_blobs
from tests.e2e.cli_util import setpoint, setpoint_json
from tests.e2e.conftest import fast_settings
from tests.support.s3 import S3Server
from tests.support.s3 import s3_server as s3_server  # noqa: PLC0414 (the session fixture)

pytestmark = pytest.mark.timeout(180)

N = 20_000
SHARDS = 3
EXPECTED_TOTAL = sum(i * 0.5 for i in range(N))


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """The server's endpoint and credentials in the environment that task processes inherit."""
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    return s3_server


def _blob_keys(fs: object, root: str) -> set[str]:
    fs.invalidate_cache()  # type: ignore[attr-defined]
    return {str(p)[len(root) + 1 :] for p in fs.find(root)}  # type: ignore[attr-defined]


def _run_and_check(client: Client) -> set[str]:
    """Run the workflow, check its outputs as read back from the store; the digests it references."""
    rec = client.run(wf_blobs.pipeline, {"n": N, "shards": SHARDS}, timeout=120)
    assert rec.phase is ExecutionPhase.SUCCEEDED, rec.error
    out = client.outputs(rec.id, wf_blobs.pipeline)
    assert set(out) == {"rows", "report", "shards", "total"}
    assert out["total"] == EXPECTED_TOTAL
    assert out["rows"] == [i * 0.5 for i in range(N)]
    report, shards = out["report"], out["shards"]
    assert isinstance(report, File) and isinstance(shards, Directory)
    assert len(Path(report.path).read_text().splitlines()) == N
    assert shards.files() == [f"part-{k}/rows.txt" for k in range(SHARDS)]
    plain = client.outputs(rec.id)  # plain JSON: the offloaded list is fetched and verified, too
    assert plain["rows"] == out["rows"]
    assert rec.outputs is not None
    assert "$ref" in rec.outputs["rows"], "the list should have been offloaded, not kept inline"
    assert report.ref is not None and shards.ref is not None
    return {rec.outputs["rows"]["$ref"]["sha256"], report.ref.sha256, shards.ref.sha256, rec.code_digest}


def _no_local_blobs(home: Path) -> None:
    local = home / "blobs" / "sha256"
    assert not local.exists() or not any(p.is_file() for p in local.rglob("*")), "blobs leaked into the home"


def test_a_run_on_an_s3_blob_store(s3_env: S3Server, tmp_path: Path) -> None:
    url = f"s3://{s3_env.new_bucket()}/team/setpoint"
    home = tmp_path / "home"
    with Client(fast_settings(home, blobs_url=url)) as client:
        client.start_controller()
        digests = _run_and_check(client)
        keys = _blob_keys(client.blobs.fs, client.blobs.root)  # type: ignore[attr-defined]
    assert {f"sha256/{d[:2]}/{d}" for d in digests} <= keys  # bundle, offloaded list, file, manifest
    assert not any(k.startswith("tmp/") for k in keys)
    _no_local_blobs(home)


def test_a_run_on_a_shared_file_url(tmp_path: Path) -> None:
    shared = tmp_path / "shared" / "blobs"
    home = tmp_path / "home"
    with Client(fast_settings(home, blobs_url=f"file://{shared}")) as client:
        client.start_controller()
        digests = _run_and_check(client)
    for d in digests:
        assert (shared / "sha256" / d[:2] / d).is_file()
    _no_local_blobs(home)


def test_the_cli_takes_the_blob_store_url(s3_env: S3Server, tmp_path: Path) -> None:
    url = f"s3://{s3_env.new_bucket()}/cli"
    home = tmp_path / "home"
    wf = str(Path(wf_blobs.__file__).resolve())
    done = setpoint_json(home, "--blobs", url, "run", f"{wf}:pipeline", "--n", "20000")["execution"]
    assert done["phase"] == "SUCCEEDED" and done["outputs"]["total"] == EXPECTED_TOTAL
    described = setpoint_json(home, "--blobs", url, "describe", done["id"])
    assert described["execution"]["outputs"]["rows"][:3] == [0.0, 0.5, 1.0]  # fetched from the bucket
    _no_local_blobs(home)


def test_a_missing_bucket_stops_the_run_before_it_starts(s3_env: S3Server, tmp_path: Path) -> None:
    wf = str(Path(wf_blobs.__file__).resolve())
    proc = setpoint(tmp_path / "home", "--blobs", "s3://no-such-bucket/x", "run", f"{wf}:pipeline")
    assert proc.returncode == 4, proc.stderr
    assert "s3://no-such-bucket/x" in proc.stderr and "bucket does not exist" in proc.stderr
    assert s3_env.env()["AWS_SECRET_ACCESS_KEY"] not in proc.stderr + proc.stdout


@pytest.mark.slow
def test_a_background_controller_keeps_the_blob_store_given_as_an_option(tmp_path: Path) -> None:
    """Ctrl-C, then "background": the controller started for the rest of the run uses ``--blobs`` too."""
    import os
    import pty
    import signal
    import subprocess
    import sys
    import time

    from tests.e2e.cli_util import FAST_ENV, REPO
    from tests.e2e.test_interrupt import read_until

    home, pidfile, shared = tmp_path / "home", tmp_path / "pid", tmp_path / "shared"
    url = f"file://{shared}"
    primary, secondary = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in ("SETPOINT_BLOBS", "SETPOINT_HOME")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "setpoint.cli.main", "--home", str(home), "--blobs", url, "run",
         "tests/e2e/wf_blobs.py:interrupted", "--pidfile", str(pidfile), "--seconds", "3"],
        cwd=REPO, env={**env, **FAST_ENV, "COLUMNS": "120"},
        stdin=secondary, stdout=secondary, stderr=secondary, start_new_session=True,
    )  # fmt: skip
    os.close(secondary)
    deadline = time.monotonic() + 30
    while not (pidfile.exists() and pidfile.read_text()) and time.monotonic() < deadline:
        read_until(primary, b"\0", timeout=0.1)  # keep draining the terminal
    os.killpg(proc.pid, signal.SIGINT)
    assert b"background?" in read_until(primary, b"background?")
    os.write(primary, b"background\n")
    assert b"continues in the background" in read_until(primary, b"continues in the background")
    assert proc.wait(timeout=30) == 0
    eid = setpoint_json(home, "--blobs", url, "get", "executions")["executions"][0]["id"]
    phase, deadline = "", time.monotonic() + 60
    while time.monotonic() < deadline:
        phase = setpoint_json(home, "--blobs", url, "describe", eid)["execution"]["phase"]
        if phase in ("SUCCEEDED", "FAILED", "ABORTED"):
            break
        time.sleep(0.2)
    assert phase == "SUCCEEDED", "the background controller should have sent its tasks to the --blobs store"
    assert setpoint_json(home, "--blobs", url, "describe", eid)["execution"]["outputs"] == {"o0": 2 * N}
    _no_local_blobs(home)
