"""Remote mode end to end: the CLI and `setpoint.connect` against real `setpoint server` processes.

Streams (events and logs arrive while the execution runs, end at its terminal phase, resume after a
given position, end when the server shuts down), code bundle upload (digest checked, hostile
archives refused, idempotent), and tokens (another project's execution is as missing as a missing
one). The CLI suite itself runs against a server too: see the tests marked ``remote``.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import setpoint as sp
from setpoint.client.remote import AuthError, parse_sse
from setpoint.errors import NotFoundError
from tests.e2e import wf_remote
from tests.e2e.cli_util import REPO, RemoteHome, cli_argv, cli_env, setpoint, setpoint_json
from tests.support.server_proc import ServerProcess, start_server

pytestmark = pytest.mark.timeout(120)

WF = "tests/e2e/wf_remote.py"


def remote_home(server: ServerProcess, tmp_path: Path, project: str) -> RemoteHome:
    home = RemoteHome(tmp_path / "client-home")
    home.server, home.project = server.url, project
    return home


def stream(url: str, params: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> Iterator[Any]:
    """(event, id, data) of an SSE response, keep-alives left out, until the server closes it."""
    with httpx.stream("GET", url, params=params, headers=headers, timeout=60) as resp:
        assert resp.status_code == 200, resp.read()
        assert resp.headers["content-type"].startswith("text/event-stream")
        for msg in parse_sse(resp.iter_lines()):
            if msg.event != "ping":
                yield msg.event, msg.id, msg.data


@pytest.fixture
def home(cli_server: ServerProcess, tmp_path: Path, request: pytest.FixtureRequest) -> RemoteHome:
    return remote_home(cli_server, tmp_path, "r-" + re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[-50:])


def flat(text: str) -> str:
    """Terminal output with the console's line wrapping undone."""
    return " ".join(text.split())


def base(home: RemoteHome) -> str:
    return f"{home.server}/api/v1/projects/{home.project}"


# -- streams ------------------------------------------------------------------------------------------


def test_events_stream_while_running_ends_at_the_terminal_phase_and_resumes(home: RemoteHome) -> None:
    eid = setpoint_json(home, "run", f"{WF}:held", "--x", "1", "--detach")["execution"]["id"]
    url = f"{base(home)}/executions/{eid}/events/stream"
    seen: list[dict[str, Any]] = []
    ended = None
    for event, mid, data in stream(url):
        if event == "end":
            ended = data
            continue
        assert event == "event" and mid == str(data["seq"])
        seen.append(data)
        if (data["node"], data["phase"]) == ("go", "RUNNING"):
            # The execution is live (waiting at the gate) and the stream is still open: approve it.
            assert setpoint_json(home, "describe", eid)["execution"]["phase"] == "RUNNING"
            setpoint(home, "signal", eid, "go", check=True)
    assert ended == {"phase": "SUCCEEDED"}, "the stream ends with the execution's terminal phase"
    assert seen[-1]["kind"] == "execution" and seen[-1]["phase"] == "SUCCEEDED"
    seqs = [e["seq"] for e in seen]
    assert seqs == sorted(set(seqs)), "each event once, in order"
    assert seqs == [e["seq"] for e in setpoint_json(home, "events", eid)["events"]]

    middle = seqs[len(seqs) // 2]
    resumed = [d["seq"] for ev, _, d in stream(url, headers={"Last-Event-ID": str(middle)}) if ev == "event"]
    assert resumed == [s for s in seqs if s > middle]
    by_param = [d["seq"] for ev, _, d in stream(url, params={"after": middle}) if ev == "event"]
    assert by_param == resumed

    # The CLI's follow mode prints the same history and returns at the end.
    followed = subprocess.run(
        cli_argv(home, "events", "-f", eid, "-o", "json"), cwd=REPO, env=cli_env(), capture_output=True, text=True
    )
    assert followed.returncode == 0, followed.stderr
    assert [json.loads(line)["seq"] for line in followed.stdout.splitlines()] == seqs


def test_logs_follow_streams_output_before_the_task_ends(home: RemoteHome, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    eid = setpoint_json(home, "run", f"{WF}:talker", "--gate", str(gate), "--detach")["execution"]["id"]
    follow = subprocess.Popen(
        cli_argv(home, "logs", "-f", eid, "talk", "--stream", "stdout"),
        cwd=REPO,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert follow.stdout is not None
    assert follow.stdout.readline() == "first line\n"  # printed while the task still waits for the gate
    assert setpoint_json(home, "describe", eid)["execution"]["phase"] == "RUNNING"
    gate.write_text("go")
    rest, err = follow.communicate(timeout=60)
    assert follow.returncode == 0, err
    assert rest == "second line — ünïcode\n"

    url = f"{base(home)}/executions/{eid}/logs/stream"
    chunks = [(mid, d) for ev, mid, d in stream(url, params={"node": "talk"}) if ev == "log"]
    text = {s: "".join(d["text"] for _, d in chunks if d["stream"] == s) for s in ("stdout", "stderr")}
    assert text == {"stdout": "first line\nsecond line — ünïcode\n", "stderr": "first error\n"}
    assert chunks[-1][0] == f"1:{len(text['stdout'].encode())}:{len(text['stderr'].encode())}"

    # Resume from a cursor (<attempt>:<stdout bytes>:<stderr bytes>): after "first line\n" on stdout.
    resumed = [d for ev, _, d in stream(url, params={"node": "talk", "after": "1:11:0"}) if ev == "log"]
    assert [(d["stream"], d["offset"], d["text"]) for d in sorted(resumed, key=lambda d: d["stream"])] == [
        ("stderr", 0, "first error\n"),
        ("stdout", 11, "second line — ünïcode\n"),
    ]
    header = [d["text"] for ev, _, d in stream(url, {"node": "talk"}, {"Last-Event-ID": "1:11:12"}) if ev == "log"]
    assert header == ["second line — ünïcode\n"]


def test_open_streams_do_not_hold_up_the_server_shutdown(tmp_path: Path) -> None:
    server = start_server(tmp_path / "server", "--no-auth")
    try:
        home = remote_home(server, tmp_path, "default")
        eid = setpoint_json(home, "run", f"{WF}:held", "--detach")["execution"]["id"]
        url = f"{server.url}/api/v1/projects/default/executions/{eid}/events/stream"
        events = stream(url)
        first = next(events)  # the stream is open; the execution will wait at its gate for good
        assert first[0] == "event"
        server.proc.terminate()
        rest = list(events)  # ends: the server closed it
        assert all(ev == "event" for ev, _, _ in rest), "no end event: the execution did not end"
    finally:
        err = server.stop(timeout=60)
    assert server.proc.returncode in (0, -15), err  # uvicorn re-raises the SIGTERM it handled
    assert "graceful shutdown exceeded" not in err, "the stream was cancelled, not ended"


# -- code bundles ----------------------------------------------------------------------------------


def zipped(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), data)
    return buf.getvalue()


def put(home: RemoteHome, digest: str, data: bytes) -> httpx.Response:
    return httpx.put(
        f"{base(home)}/bundles/{digest}", content=data, headers={"content-type": "application/octet-stream"}
    )


def test_bundle_upload_checks_the_digest_and_is_idempotent(home: RemoteHome) -> None:
    data = zipped({"pkg/__init__.py": b"", "pkg/mod.py": b"X = 1\n"})
    digest = hashlib.sha256(data).hexdigest()
    wrong = put(home, hashlib.sha256(b"other").hexdigest(), data)
    assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "digest_mismatch"
    assert httpx.get(f"{base(home)}/bundles/{digest}", params={"size": len(data)}).json() == {
        "digest": digest,
        "present": False,
    }
    first, again = put(home, digest, data), put(home, digest, data)
    assert (first.status_code, first.json()["created"]) == (200, True)
    assert (again.status_code, again.json()["created"]) == (200, False)
    assert httpx.get(f"{base(home)}/bundles/{digest}", params={"size": len(data)}).json()["present"] is True
    bad = put(home, "z" * 64, data)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_input"


@pytest.mark.parametrize("name", ["../escape.py", "/etc/cron.d/x", "pkg/../../up.py", "C:/win.py", "a\\..\\b.py"])
def test_hostile_archive_paths_are_refused_and_nothing_is_kept(home: RemoteHome, name: str) -> None:
    data = zipped({"ok.py": b"", name: b"print('pwned')\n"})
    digest = hashlib.sha256(data).hexdigest()
    resp = put(home, digest, data)
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["code"] == "invalid_bundle" and "unsafe path" in resp.json()["error"]["message"]
    assert httpx.get(f"{base(home)}/bundles/{digest}", params={"size": len(data)}).json()["present"] is False


def test_not_a_zip_is_refused(home: RemoteHome) -> None:
    data = b"certainly not a zip"
    resp = put(home, hashlib.sha256(data).hexdigest(), data)
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "invalid_bundle"


def test_run_uploads_the_code_and_the_server_runs_it(
    home: RemoteHome, tmp_path: Path, cli_server: ServerProcess
) -> None:
    proj = tmp_path / "elsewhere"
    proj.mkdir()
    (proj / "mine.py").write_text(
        "from setpoint import task, workflow\n\n@task\ndef f(x: int) -> int:\n    return x * 7\n\n"
        "@workflow\ndef wf(x: int = 1) -> int:\n    return f(x=x)\n"
    )
    out = setpoint_json(home, "run", f"{proj / 'mine.py'}:wf", "--x", "6")
    assert out["execution"]["outputs"] == {"o0": 42}
    digest = out["execution"]["code_digest"]
    assert [p.name for p in (cli_server.home / "blobs").rglob(digest)] == [digest], "the server keeps the upload"
    assert not (tmp_path / "client-home").exists(), "a remote CLI keeps no local state"


# -- the Python client and tokens ------------------------------------------------------------------


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, dict[str, str]]]:
    """A server with tokens: an editor of project 'team', a viewer of 'team', an editor of 'other'."""
    server_home = tmp_path_factory.mktemp("secured") / "home"
    tokens = {}
    for key, project, role in (("team", "team", "editor"), ("viewer", "team", "viewer"), ("other", "other", "editor")):
        made = setpoint(server_home, "token", "create", "--project", project, "--role", role, check=True)
        tokens[key] = made.stdout.strip()
    server = start_server(server_home)
    try:
        yield server, tokens
    finally:
        err = server.stop()
        assert not any(t in err for t in tokens.values()), "a token reached the server's log"


def test_python_client_runs_reads_and_streams(secured: tuple[ServerProcess, dict[str, str]]) -> None:
    server, tokens = secured
    with sp.connect(server.url, token=tokens["team"]) as client:
        assert client.project == "team"  # the token's own project
        rec = client.run(wf_remote.held, {"x": 1}, timeout=0.5)
        assert not rec.phase.is_terminal  # waiting at its gate
        client.signal(rec.id, "go")
        done = client.wait(rec.id, timeout=60)
        assert done.phase.value == "SUCCEEDED"
        assert client.outputs(rec.id) == {"o0": 3}
        assert client.outputs(rec.id, wf_remote.held) == {"o0": 3}
        assert [v.node_id for v in client.nodes(rec.id)] == [v.node_id for v in client.nodes(rec.id)]
        streamed = list(client.follow_events(rec.id))
        assert [e.seq for e in streamed] == [e.seq for e in client.events(rec.id)]
        assert tokens["team"] not in repr(client)


def test_tokens_in_remote_mode(secured: tuple[ServerProcess, dict[str, str]], tmp_path: Path) -> None:
    server, tokens = secured
    home = remote_home(server, tmp_path, "team")

    def cli(token: str | None, *args: str) -> subprocess.CompletedProcess[str]:
        env = {"SETPOINT_TOKEN": token} if token else {}
        argv = ["--home", str(home), "--server", server.url, *args]
        return subprocess.run(
            [*cli_argv(home)[:3], *argv], cwd=REPO, env={**cli_env(), **env}, capture_output=True, text=True
        )

    registered = cli(tokens["team"], "register", "tests/server/wf_registry.py", "-o", "json")
    assert registered.returncode == 0, registered.stderr
    assert {e["name"] for e in json.loads(registered.stdout)["entities"]} >= {"pipeline", "nightly"}
    again = json.loads(cli(tokens["team"], "register", "tests/server/wf_registry.py", "-o", "json").stdout)
    assert not any(e["created"] for e in again["entities"]), "registering the same content again is a no-op"
    eid = cli(tokens["team"], "launch", "pipeline", "--inputs", '{"a": 20}').stdout.strip()
    waited = cli(tokens["viewer"], "wait", eid, "-o", "json")
    assert waited.returncode == 0, waited.stderr
    assert json.loads(waited.stdout)["execution"]["outputs"] == {"o0": 44}

    # Another project's token learns nothing: an existing execution answers like a missing one.
    hidden = cli(tokens["other"], "--project", "team", "describe", eid)
    hidden_missing = cli(tokens["other"], "--project", "team", "describe", "nosuchexecution")
    assert hidden.returncode == hidden_missing.returncode == 3
    assert hidden.stderr == hidden_missing.stderr == "error: project 'team' not found\n"
    foreign = cli(tokens["other"], "describe", eid)  # in its own project
    missing = cli(tokens["team"], "describe", "nosuchexecution")
    assert foreign.returncode == missing.returncode == 3
    assert f"execution '{eid}' not found" in foreign.stderr
    assert "execution 'nosuchexecution' not found" in missing.stderr

    denied = cli(tokens["viewer"], "terminate", eid)
    assert denied.returncode == 5 and "needs the editor role" in flat(denied.stderr)
    anonymous = cli(None, "describe", eid)
    assert anonymous.returncode == 5 and "--token or SETPOINT_TOKEN" in flat(anonymous.stderr)
    wrong = cli("sp_not-a-token", "describe", eid)
    assert wrong.returncode == 5 and "sp_not-a-token" not in wrong.stderr + wrong.stdout
    for proc in (registered, hidden, denied, waited):
        assert not any(t in proc.stdout + proc.stderr for t in tokens.values())

    with (
        sp.connect(server.url, token=tokens["other"], project="team") as outsider,
        pytest.raises(NotFoundError, match="not found"),
    ):
        outsider.get(eid)
    with sp.connect(server.url) as nobody, pytest.raises(AuthError):
        nobody.get(eid)


def test_unreachable_server_exits_4_naming_the_url(tmp_path: Path) -> None:
    from tests.support.server_proc import free_port

    url = f"http://127.0.0.1:{free_port()}"
    proc = subprocess.run(
        [*cli_argv(tmp_path / "h")[:3], "--server", url, "get", "executions"],
        cwd=REPO,
        env=cli_env(),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 4
    assert f"cannot reach the setpoint server at {url}" in flat(proc.stderr)
    assert "Traceback" not in proc.stderr


def test_commands_that_need_a_local_store_say_so(home: RemoteHome) -> None:
    proc = setpoint(home, "controller", "--exit-when-idle")
    assert proc.returncode == 2 and "works on a local store only" in flat(proc.stderr)
