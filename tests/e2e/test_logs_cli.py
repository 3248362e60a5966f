"""`setpoint logs` as a user runs it: every node's logs, byte for byte, filtered, followed, and
truthful about nodes that have none (a cache hit, a recovered node, an attempt that never ran)."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.e2e.cli_util import REPO, RemoteHome, cli_argv, cli_env, setpoint, setpoint_json

WF = "tests/e2e/wf_logs.py"


def _run(home: Path, target: str, *args: str) -> str:
    out = setpoint_json(home, "run", f"{WF}:{target}", *args)
    return str(out["execution"]["id"])


def _local_home(home: Path) -> bool:
    return (home / "attempts").is_dir()


@pytest.mark.remote
def test_map_elements_have_logs_by_id_by_parent_and_index_and_all_at_once(home: Path) -> None:
    eid = _run(home, "fanned", "--n", "3")
    one = setpoint(home, "logs", eid, "talk-map.2")
    assert one.returncode == 0, one.stderr
    assert "element 2 says [hi] on stdout" in one.stdout and "element 1" not in one.stdout
    by_index = setpoint(home, "logs", eid, "talk-map", "2")
    assert by_index.returncode == 0 and by_index.stdout == one.stdout
    under = setpoint(home, "logs", eid, "talk-map", "--stream", "stdout")
    lines = under.stdout.splitlines()
    assert sorted(lines) == [f"[talk-map.{i}/1] element {i} says [hi] on stdout" for i in range(3)]
    everything = setpoint(home, "logs", eid).stdout
    assert "[talk-map.0/1:stderr] element 0 says hi on stderr" in everything
    rows = setpoint_json(home, "logs", eid, "talk-map.1")["logs"]
    assert [(r["attempt_id"], r["stream"]) for r in rows] == [
        (f"{eid}/talk-map.1/1", "stdout"),
        (f"{eid}/talk-map.1/1", "stderr"),
    ]
    grep = setpoint(home, "logs", eid, "--grep", r"element [02] says \[hi\]").stdout
    assert sorted(grep.splitlines()) == [f"[talk-map.{i}/1] element {i} says [hi] on stdout" for i in (0, 2)]


@pytest.mark.remote
def test_truthful_answers_for_nodes_without_logs_of_their_own(home: Path) -> None:
    first = _run(home, "cached", "--x", "4")
    second = _run(home, "cached", "--x", "4")
    hit = setpoint(home, "logs", second, "remembered")
    assert hit.returncode == 0
    assert f"cache hit from execution {first}" in hit.stderr and f"setpoint logs {first} remembered" in hit.stderr
    assert "no attempts have run yet" not in hit.stderr
    notes = setpoint_json(home, "logs", second, "remembered")["notes"]
    assert any(f"cache hit from execution {first}" in n for n in notes)

    failed = setpoint(home, "run", f"{WF}:doomed", "--output", "json")
    assert failed.returncode == 1
    eid = json.loads(failed.stdout)["execution"]["id"]
    three = setpoint(home, "logs", eid, "always_fails", "--attempt", "3", "--stream", "stdout")
    assert three.returncode == 0 and three.stdout == "try for 1\n"
    nine = setpoint(home, "logs", eid, "always_fails", "--attempt", "9")
    assert nine.returncode == 3
    assert "has no attempt 9 (it has attempts 1 to 3)" in nine.stderr
    missing = setpoint(home, "logs", eid, "talk-map.7")
    assert missing.returncode == 3 and "has no node 'talk-map.7'" in missing.stderr
    tail = setpoint(home, "logs", eid, "always_fails", "--tail", "1", "--stream", "stdout")
    assert tail.stdout.count("try for 1") == 3  # the last line of each attempt, each after its header


def test_a_recovered_node_says_where_it_came_from(home: Path) -> None:
    failed = setpoint(home, "run", f"{WF}:two_steps", "--x", "5", "--output", "json")
    assert failed.returncode == 1
    source = json.loads(failed.stdout)["execution"]["id"]
    again = setpoint(home, "recover", source, "--output", "json")
    assert again.returncode == 1
    eid = json.loads(again.stdout)["execution"]["id"]
    talk = setpoint(home, "logs", eid, "talk")
    assert talk.returncode == 0 and talk.stdout == ""
    assert f"recovered from execution {source}" in talk.stderr and f"setpoint logs {source} talk" in talk.stderr


def test_logs_of_a_19_mb_log_are_the_attempts_file_byte_for_byte(home: Path, tmp_path: Path) -> None:
    eid = _run(home, "loud", "--lines", "200000")
    log = home / "attempts" / eid / "chatty" / "1" / "stdout.log"
    assert log.stat().st_size > 19_000_000
    target = tmp_path / "copy.log"
    started = time.monotonic()
    with target.open("wb") as fh:
        proc = subprocess.run(
            cli_argv(home, "logs", eid, "chatty"),
            cwd=REPO,
            env=cli_env(),
            stdout=fh,
            stderr=subprocess.PIPE,
            timeout=60,
        )
    took = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    assert target.read_bytes() == log.read_bytes()
    assert took < 30, f"logs of a 19 MB log took {took:.1f}s"
    tail = setpoint(home, "logs", eid, "chatty", "--tail", "2").stdout.splitlines()
    assert [line.split()[0] for line in tail] == ["199998", "199999"]
    grep = setpoint(home, "logs", eid, "chatty", "--grep", "^ +12345 ").stdout
    assert grep.split() == ["12345", "x" * 85]


@pytest.mark.remote
def test_follow_every_node_until_the_execution_ends(home: Path) -> None:
    proc = subprocess.Popen(
        cli_argv(home, "run", f"{WF}:ticking", "--seconds", "1.5", "--detach", "-o", "json"),
        cwd=REPO,
        env=cli_env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    out, _ = proc.communicate(timeout=60)
    eid = json.loads(out)["execution"]["id"]
    follower = subprocess.Popen(
        cli_argv(home, "logs", eid, "-f"), cwd=REPO, env=cli_env(), stdout=subprocess.PIPE, text=True
    )
    if not isinstance(home, RemoteHome):  # a server runs its own controller
        setpoint(home, "controller", "--exit-when-idle", check=True)
    followed, _ = follower.communicate(timeout=60)
    assert follower.returncode == 0
    assert followed.splitlines() == [f"[slow_talk/1] tick {i}" for i in range(3)]


@pytest.mark.remote
def test_run_logs_streams_task_output_inline(home: Path) -> None:
    proc = setpoint(home, "run", f"{WF}:fanned", "--n", "2", "--logs")
    assert proc.returncode == 0, proc.stderr
    assert "[talk-map.1/1] element 1 says [hi] on stdout" in proc.stdout


@pytest.mark.remote
def test_since_keeps_the_attempts_of_that_period(home: Path) -> None:
    eid = _run(home, "fanned", "--n", "2")
    recent = setpoint(home, "logs", eid, "talk-map", "--since", "10m", "--stream", "stdout")
    assert len(recent.stdout.splitlines()) == 2
    later = setpoint(home, "logs", eid, "talk-map", "--since", "2999-01-01T00:00")
    assert later.returncode == 0 and later.stdout == ""
    bad = setpoint(home, "logs", eid, "--since", "yesterday")
    assert bad.returncode == 2 and "is neither a duration" in bad.stderr


def test_line_filter_cuts_chunks_into_whole_prefixed_lines() -> None:
    from setpoint.service.logs import LineFilter, tail_lines

    lines = LineFilter(re.compile(b"keep"))
    assert lines.feed("a", b"keep 1\nskip 2\nke", b"[n/1] ") == b"[n/1] keep 1\n"
    assert lines.feed("a", b"ep 3\npartial keep", b"[n/1] ") == b"[n/1] keep 3\n"
    assert lines.flush("a", b"[n/1] ") == b"[n/1] partial keep\n"
    assert LineFilter().feed("b", b"as is, no newline") == b"as is, no newline"
    assert tail_lines(b"1\n2\n3\n", 2) == b"2\n3\n"
    assert tail_lines(b"1\n2\n3", 2) == b"2\n3"
    assert tail_lines(b"1\n", 5) == b"1\n"
