"""A secret's value never lands in anything setpoint writes: run workflows that use one (and one
that quotes it in an error), then search every byte under the home and every command's output."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest

from setpoint.client.embedded import Client
from setpoint.core.phases import ExecutionPhase
from tests.e2e import wf_flyte_context as wfc
from tests.e2e.cli_util import setpoint, setpoint_json
from tests.e2e.conftest import fast_settings

pytestmark = pytest.mark.timeout(180)

WF = "tests/e2e/wf_flyte_context.py"


def files_holding(root: Path, value: str) -> list[Path]:
    needle = value.encode()
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_a_secret_value_is_nowhere_under_the_home_after_cli_runs(home: Path, tmp_path: Path) -> None:
    canary = "canary-" + secrets.token_hex(16)
    env = {wfc.SECRET_ENV: canary, "SETPOINT_SECRET_OTHER_TOKEN": "other-" + secrets.token_hex(8)}
    outputs: list[str] = []

    ok = setpoint_json(home, "run", f"{WF}:secret_wf", "--user", "ada", env=env)
    eid = ok["execution"]["id"]
    got = ok["execution"]["outputs"]["o0"]
    assert got.split(":")[2:] == [str(len(canary)), "visible=none"]  # the task had it; saw no other secret

    leak = setpoint(home, "run", f"{WF}:leaky_wf", "--output", "json", env=env)
    assert leak.returncode == 1
    outputs += [leak.stdout, leak.stderr]
    assert "with password '[secret]'" in leak.stdout  # the error is kept, the value scrubbed

    for args in (("describe", eid), ("logs", eid), ("events", eid), ("describe", _id(leak.stdout))):
        proc = setpoint(home, *args, "--output", "json")
        outputs += [proc.stdout, proc.stderr]

    assert (home / "setpoint.db").exists() and any((home / "attempts").rglob("stderr.log"))
    assert files_holding(home, canary) == []
    assert not any(canary in text for text in outputs)


def test_secrets_from_files_and_a_missing_secret(home: Path, tmp_path: Path) -> None:
    canary = "filecanary-" + secrets.token_hex(16)
    folder = tmp_path / "secret-files"
    (folder / "db").mkdir(parents=True)
    (folder / "db" / "password").write_text(canary)
    out = setpoint_json(home, "run", f"{WF}:secret_wf", env={"SETPOINT_SECRETS_DIR": str(folder)})
    assert out["execution"]["outputs"]["o0"].split(":")[2] == str(len(canary))
    assert files_holding(home, canary) == []

    missing = setpoint(home, "run", f"{WF}:secret_wf", "--output", "json")
    assert missing.returncode == 1
    assert "secret 'db/password' not found: set SETPOINT_SECRET_DB_PASSWORD" in missing.stdout


def test_a_secret_value_is_nowhere_under_the_home_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    canary = "inproc-" + secrets.token_hex(16)
    monkeypatch.setenv(wfc.SECRET_ENV, canary)
    home = tmp_path / "home"
    with Client(fast_settings(home)) as client:
        ok = client.run(wfc.secret_wf, {"user": "bo"}, timeout=60)
        assert ok.phase == ExecutionPhase.SUCCEEDED
        bad = client.run(wfc.leaky_wf, {"user": "bo"}, timeout=60)
        assert bad.phase == ExecutionPhase.FAILED
        messages = [str(e) for e in client.events(bad.id)]
    assert files_holding(home, canary) == []
    assert not any(canary in m for m in messages)


def _id(stdout: str) -> str:
    return str(json.loads(stdout)["execution"]["id"])
