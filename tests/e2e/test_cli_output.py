"""What the CLI prints off a terminal: values and messages as they are (brackets too), whole lines,
one line per node transition, JSON errors with ``--output json``, one-line errors for a bad home,
hints that keep the user's options, and the command that releases a waiting gate."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.e2e.cli_util import REPO, cli_argv, cli_env, setpoint

WF = "tests/e2e/wf_logs.py"


def test_brackets_in_outputs_and_error_messages_print_as_they_are(home: Path) -> None:
    ok = setpoint(home, "run", f"{WF}:flags", "--n", "3")
    assert ok.returncode == 0, ok.stderr
    assert "  o0 = [true, false, true]" in ok.stdout.splitlines()
    bad = setpoint(home, "run", f"{WF}:doomed", "--x", "7")
    assert bad.returncode == 1
    assert "no luck with [x=7]" in bad.stdout


def test_long_lines_are_not_wrapped_when_piped(home: Path) -> None:
    proc = setpoint(home, "logs", "x" * 150)
    assert proc.returncode == 3
    assert proc.stderr.count("\n") == 1 and "x" * 150 in proc.stderr


def test_run_off_a_terminal_prints_one_line_per_node_transition(home: Path) -> None:
    proc = setpoint(home, "run", f"{WF}:fanned", "--n", "2")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    for node in ("numbers", "talk-map.0", "talk-map.1"):
        assert any(line.endswith(f" {node} SUCCEEDED") for line in lines), proc.stdout
    assert any(" talk-map SUCCEEDED" in line for line in lines)


def test_errors_are_json_on_stderr_with_output_json(home: Path) -> None:
    proc = setpoint(home, "describe", "nope", "--output", "json")
    assert proc.returncode == 3 and proc.stdout == ""
    assert json.loads(proc.stderr) == {"error": {"code": "not_found", "message": "execution 'nope' not found"}}
    bad = setpoint(home, "run", f"{WF}:flags", "--nope", "1", "-o", "json")
    assert bad.returncode == 2
    assert json.loads(bad.stderr)["error"]["code"] == "invalid_input"


def test_a_bad_home_is_one_line_and_exit_4(tmp_path: Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("not a folder")
    for bad in ("/proc/nope", str(a_file)):
        proc = subprocess.run(
            [sys.executable, "-m", "setpoint.cli.main", "--home", bad, "get", "executions"],
            env=cli_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 4, proc.stderr
        assert proc.stderr.startswith(f"error: cannot use {bad} as the setpoint home")
        assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_hints_after_a_failure_keep_the_home(home: Path) -> None:
    bad = setpoint(home, "run", f"{WF}:doomed")
    assert f"logs: setpoint --home {home} logs " in bad.stdout


def test_a_waiting_gate_shows_the_command_that_releases_it(home: Path) -> None:
    proc = subprocess.Popen(
        cli_argv(home, "run", "tests/e2e/wf_control.py:release", "--x", "2"),
        cwd=REPO,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            if line.startswith("  waiting for signal 'ship_it': "):
                command = line.split(": ", 1)[1].split("  (")[0].split()
                assert command[:4] == ["setpoint", "--home", str(home), "signal"] and command[5:] == ["ship_it"]
                setpoint(home, *command[3:], check=True)
                break
        rest, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    assert proc.returncode == 0
    assert "o0 = 5" in rest


def test_client_run_from_a_script_read_on_stdin(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "pipeline.py").write_text(
        textwrap.dedent(
            """
            from setpoint import task, workflow

            @task
            def add(x: int) -> int:
                return x + 1

            @workflow
            def wf(x: int = 1) -> int:
                return add(x=x)
            """
        )
    )
    script = textwrap.dedent(
        """
        from setpoint import Client
        from pipeline import wf

        with Client() as c:
            rec = c.run(wf, {"x": 41}, timeout=60)
            print(rec.phase.value, c.outputs(rec.id))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-"],
        input=script,
        cwd=project,
        env={**cli_env(), "SETPOINT_HOME": str(tmp_path / "home"), "PYTHONPATH": str(project)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "SUCCEEDED {'o0': 42}"


def test_a_busy_port_is_one_line_and_exit_6_before_anything_starts() -> None:
    import socket

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        code = (
            f"from setpoint.cli.app import ensure_port_free; ensure_port_free('127.0.0.1', {port}, 'setpoint server')"
        )
        proc = subprocess.run([sys.executable, "-c", code], env=cli_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 6
    assert proc.stderr == (
        f"error: setpoint server cannot listen on 127.0.0.1:{port}: the port is in use "
        "(stop what holds it, or choose another --port)\n"
    )


def test_tables_are_not_cut_at_80_columns_when_piped(home: Path) -> None:
    eid = json.loads(setpoint(home, "run", f"{WF}:fanned", "--n", "2", "-o", "json", check=True).stdout)["execution"][
        "id"
    ]
    table = setpoint(home, "describe", eid, "--children", check=True).stdout
    rows = [line.split()[0] for line in table.splitlines() if line.startswith("talk-map")]
    assert rows == ["talk-map", "talk-map.0", "talk-map.1"]


def test_hints_never_print_a_database_password() -> None:
    from setpoint.cli.app import Ctx, _without_password

    assert _without_password("postgresql://me:s3cret@db:5432/sp") == "postgresql://me:***@db:5432/sp"
    assert _without_password("postgresql://me@db/sp") == "postgresql://me@db/sp"
    state = Ctx("/h")
    state.given = ["--home", "/my home"]
    assert state.command("logs", "E", "n") == "setpoint --home '/my home' logs E n"
