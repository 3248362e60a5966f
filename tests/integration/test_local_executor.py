"""The local executor against real processes: outcomes, faults, at-most-once launches, re-adoption.

No mocks and no timing assertions: long-running tasks wait for a ``release`` file the test
creates, and every wait is a poll with a generous deadline.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from setpoint.adapters.executor import attempt_dir as files
from setpoint.adapters.executor.local import LocalExecutor, read_launch_log
from setpoint.adapters.executor.worker import ATTEMPT_DIR_ENV, EXIT_NOT_CLAIMED
from setpoint.core.model import AttemptObservation, Observed
from setpoint.core.phases import ErrorKind
from setpoint.ports import LaunchRequest

pytestmark = pytest.mark.timeout(60)

REPO = Path(__file__).resolve().parents[2]
TERMINAL = (Observed.SUCCEEDED, Observed.FAILED)


def request(aid: str, entry: str, payload: dict[str, Any] | None = None, **kw: Any) -> LaunchRequest:
    return LaunchRequest(aid, f"tests.helpers.entries:{entry}", payload or {}, sys_path=(str(REPO),), **kw)


def wait_for(ex: LocalExecutor, aid: str, statuses: tuple[str, ...] = TERMINAL) -> AttemptObservation:
    deadline = time.monotonic() + 30
    while True:
        obs = ex.observe(aid)
        if obs.status in statuses:
            return obs
        assert time.monotonic() < deadline, f"{aid} stayed {obs.status}, wanted one of {statuses}"
        time.sleep(0.005)


def wait_until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def failure(obs: AttemptObservation) -> tuple[ErrorKind, str]:
    """(kind, code) of a FAILED observation."""
    assert obs.status == Observed.FAILED, obs
    assert obs.error is not None
    return obs.error.kind, obs.error.code


def wait_for_claim(root: Path, aid: str) -> int:
    """The pid of the attempt process, once it has claimed the attempt."""
    pid_file = files.attempt_path(root, aid) / files.PID
    wait_until(pid_file.exists, f"{aid} to be claimed")
    return claimed_pid(root, aid)


def claimed_pid(root: Path, aid: str) -> int:
    claim = files.read_claim(files.attempt_path(root, aid))
    assert isinstance(claim, files.ProcessClaim)
    return claim.pid


def release(root: Path, aid: str) -> None:
    (files.attempt_path(root, aid) / "release").write_text("")


def gone(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


@pytest.fixture
def root(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "attempts"
    yield root
    # Leave no attempt process behind, whatever the test did (they carry their directory in env).
    for proc in psutil.process_iter():
        try:
            if proc.environ().get(ATTEMPT_DIR_ENV, "").startswith(str(root)):
                proc.kill()
        except psutil.Error:
            continue


@pytest.fixture(params=["fork", "spawn"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def executor(root: Path, mode: str) -> Iterator[LocalExecutor]:
    ex = LocalExecutor(root, mode=mode)
    yield ex
    ex.close()


# -- outcomes --------------------------------------------------------------------------------------


def test_success_records_outputs_and_one_launch(executor: LocalExecutor, root: Path) -> None:
    executor.launch(request("ex-1/train/1", "echo", {"x": 1, "s": "é"}))
    obs = wait_for(executor, "ex-1/train/1")
    assert obs.status == Observed.SUCCEEDED, obs
    assert obs.outputs is not None
    assert obs.outputs["echo"] == {"x": 1, "s": "é"}
    assert obs.outputs["pid"] != os.getpid()
    assert obs.outputs["cwd"] == str(files.attempt_path(root, "ex-1/train/1"))
    assert obs.started_at is not None
    assert obs.finished_at is not None
    assert obs.started_at <= obs.finished_at
    assert read_launch_log(root) == [("ex-1/train/1", obs.outputs["pid"])]
    assert executor.launch_log_path == root / "launch.log"


def test_task_raising_is_a_user_failure_with_its_message(executor: LocalExecutor, root: Path) -> None:
    executor.launch(request("ex-1/n/1", "raise_value_error", {"x": 7}))
    obs = wait_for(executor, "ex-1/n/1")
    assert obs.status == Observed.FAILED
    assert obs.error is not None
    assert (obs.error.kind, obs.error.code, obs.error.retryable) == (ErrorKind.USER, "TaskRaised", True)
    assert obs.error.message == "ValueError: bad value: 7"
    record = json.loads((files.attempt_path(root, "ex-1/n/1") / files.ERROR).read_text())
    assert "raise_value_error" in record["traceback"]


def test_non_retryable_task_error_is_reported_as_such(executor: LocalExecutor) -> None:
    executor.launch(request("ex-1/n/1", "raise_non_retryable"))
    obs = wait_for(executor, "ex-1/n/1")
    assert obs.error is not None
    assert obs.error.retryable is False
    assert obs.error.message == "setpoint.errors.NonRetryableError: the input file is empty"


def test_exit_zero_without_outputs_is_no_outputs(executor: LocalExecutor) -> None:
    executor.launch(request("ex-1/n/1", "exit_zero"))
    obs = wait_for(executor, "ex-1/n/1")
    assert failure(obs) == (ErrorKind.USER, "NoOutputs")


def test_nonzero_exit_without_error_record(executor: LocalExecutor) -> None:
    executor.launch(request("ex-1/n/1", "exit_three"))
    obs = wait_for(executor, "ex-1/n/1")
    assert obs.error is not None
    assert (obs.error.kind, obs.error.code) == (ErrorKind.USER, "NonZeroExit")
    assert "code 3" in obs.error.message


def test_sigkill_from_outside_is_a_lost_process(executor: LocalExecutor, root: Path) -> None:
    executor.launch(request("ex-1/n/1", "wait_for_release"))
    wait_for(executor, "ex-1/n/1", (Observed.RUNNING,))
    os.kill(wait_for_claim(root, "ex-1/n/1"), signal.SIGKILL)
    obs = wait_for(executor, "ex-1/n/1")
    assert failure(obs) == (ErrorKind.SYSTEM, "ProcessLost")
    assert obs.error is not None
    assert "SIGKILL" in obs.error.message


def test_segfault_is_a_lost_process(executor: LocalExecutor) -> None:
    executor.launch(request("ex-1/n/1", "segfault"))
    obs = wait_for(executor, "ex-1/n/1")
    assert obs.error is not None
    assert (obs.error.kind, obs.error.code) == (ErrorKind.SYSTEM, "ProcessLost")
    assert "SIGSEGV" in obs.error.message


def test_stdout_and_stderr_are_captured(executor: LocalExecutor) -> None:
    executor.launch(request("ex-1/n/1", "chatty"))
    assert wait_for(executor, "ex-1/n/1").status == Observed.SUCCEEDED
    logs = executor.logs("ex-1/n/1")
    stdout = logs["stdout"].read_text()
    assert "hello on stdout" in stdout
    assert "from a child process" in stdout
    assert "hello on stderr" in logs["stderr"].read_text()


def test_env_is_applied_and_the_attempt_is_tagged(executor: LocalExecutor, root: Path) -> None:
    names = ["SP_TEST_FOO", "SETPOINT_ATTEMPT_ID", ATTEMPT_DIR_ENV]
    executor.launch(request("ex-1/n/1", "environment", {"names": names}, env=(("SP_TEST_FOO", "bar"),)))
    obs = wait_for(executor, "ex-1/n/1")
    assert obs.outputs == {
        "SP_TEST_FOO": "bar",
        "SETPOINT_ATTEMPT_ID": "ex-1/n/1",
        ATTEMPT_DIR_ENV: str(files.attempt_path(root, "ex-1/n/1")),
    }


def test_corrupt_outputs_are_a_system_failure(root: Path, mode: str) -> None:
    with_outputs = LocalExecutor(root, mode=mode)
    with_outputs.launch(request("ex-1/n/1", "echo", {"x": 1}))
    assert wait_for(with_outputs, "ex-1/n/1").status == Observed.SUCCEEDED
    with_outputs.close()
    path = files.attempt_path(root, "ex-1/n/1") / files.OUTPUTS
    record = json.loads(path.read_text())
    record["body"]["outputs"]["echo"]["x"] = 2  # the checksum no longer matches
    path.write_text(json.dumps(record))
    fresh = LocalExecutor(root, mode=mode)
    try:
        obs = fresh.observe("ex-1/n/1")
        assert failure(obs) == (ErrorKind.SYSTEM, "CorruptOutputs")
    finally:
        fresh.close()


def test_listener_is_called_when_an_attempt_ends(executor: LocalExecutor) -> None:
    ended = threading.Event()
    calls: list[str] = []

    def listener(aid: str) -> None:
        calls.append(aid)
        if executor.observe(aid).status in TERMINAL:
            ended.set()

    executor.set_listener(listener)
    executor.launch(request("ex-1/n/1", "noop"))
    assert ended.wait(30)
    assert set(calls) == {"ex-1/n/1"}


# -- abort -----------------------------------------------------------------------------------------


def test_abort_kills_the_whole_process_group(executor: LocalExecutor, root: Path) -> None:
    executor.launch(request("ex-1/n/1", "grandchild_then_wait"))
    marker = files.attempt_path(root, "ex-1/n/1") / "grandchild.pid"
    wait_until(marker.exists, "the grandchild to start")
    grandchild = int(marker.read_text())
    assert not gone(grandchild)
    executor.abort("ex-1/n/1")
    executor.abort("ex-1/n/1")  # idempotent
    obs = wait_for(executor, "ex-1/n/1")
    assert failure(obs) == (ErrorKind.SYSTEM, "Aborted")
    wait_until(lambda: gone(grandchild), "the grandchild to die")


def test_abort_escalates_to_sigkill(root: Path, mode: str) -> None:
    ex = LocalExecutor(root, mode=mode, kill_grace=0.2)
    try:
        ex.launch(request("ex-1/n/1", "ignore_sigterm"))
        wait_until((files.attempt_path(root, "ex-1/n/1") / "ready").exists, "SIGTERM to be ignored")
        ex.abort("ex-1/n/1")
        obs = wait_for(ex, "ex-1/n/1")
        assert obs.error is not None
        assert obs.error.code == "Aborted"
    finally:
        ex.close()


def test_abort_also_kills_descendants_that_left_the_process_group(root: Path, mode: str) -> None:
    ex = LocalExecutor(root, mode=mode, kill_grace=0.2)
    try:
        ex.launch(request("ex-1/n/1", "daemon_then_wait"))
        marker = files.attempt_path(root, "ex-1/n/1") / "daemon.pid"
        wait_until(marker.exists, "the daemon to start")
        daemon = int(marker.read_text())
        ex.abort("ex-1/n/1")
        assert failure(wait_for(ex, "ex-1/n/1")) == (ErrorKind.SYSTEM, "Aborted")
        wait_until(lambda: gone(daemon), "the escaped daemon to be swept")
    finally:
        ex.close()


def test_abort_of_a_queued_attempt_means_it_never_runs(root: Path, mode: str) -> None:
    ex = LocalExecutor(root, mode=mode, max_workers=1)
    try:
        ex.launch(request("ex-1/a/1", "wait_for_release"))
        ex.launch(request("ex-1/b/1", "noop"))
        assert ex.observe("ex-1/b/1").status == Observed.PENDING
        ex.abort("ex-1/b/1")
        obs = ex.observe("ex-1/b/1")
        assert obs.error is not None
        assert (obs.status, obs.error.code) == (Observed.FAILED, "Aborted")
        release(root, "ex-1/a/1")
        assert wait_for(ex, "ex-1/a/1").status == Observed.SUCCEEDED
        ex.launch(request("ex-1/b/1", "noop"))  # fenced: a no-op
        assert ex.observe("ex-1/b/1").error == obs.error
    finally:
        ex.close()
    assert [aid for aid, _ in read_launch_log(root)] == ["ex-1/a/1"]
    fresh = LocalExecutor(root, mode=mode)
    assert fresh.observe("ex-1/b/1").status == Observed.FAILED
    fresh.close()


def test_abort_of_an_unknown_attempt_fences_it(executor: LocalExecutor, root: Path) -> None:
    executor.abort("ex-1/n/1")
    executor.launch(request("ex-1/n/1", "noop"))
    obs = executor.observe("ex-1/n/1")
    assert obs.error is not None
    assert (obs.status, obs.error.code) == (Observed.FAILED, "Aborted")
    assert read_launch_log(root) == []


# -- at most once ----------------------------------------------------------------------------------


def test_launching_twice_runs_one_process(executor: LocalExecutor, root: Path, mode: str) -> None:
    req = request("ex-1/n/1", "wait_for_release")
    executor.launch(req)
    executor.launch(req)
    wait_for(executor, "ex-1/n/1", (Observed.RUNNING,))
    executor.launch(req)
    other = LocalExecutor(root, mode=mode)
    other.launch(req)  # a second executor on the same root sees the marker
    other.close()
    release(root, "ex-1/n/1")
    assert wait_for(executor, "ex-1/n/1").status == Observed.SUCCEEDED
    executor.launch(req)
    assert [aid for aid, _ in read_launch_log(root)] == ["ex-1/n/1"]


def test_racing_launches_from_two_executors_run_each_attempt_once(root: Path, mode: str) -> None:
    executors = [LocalExecutor(root, mode=mode) for _ in range(2)]
    aids = [f"ex-1/n{i}/1" for i in range(12)]
    barrier = threading.Barrier(4)

    def launch_all(ex: LocalExecutor) -> None:
        barrier.wait()
        for aid in aids:
            ex.launch(request(aid, "noop"))

    threads = [threading.Thread(target=launch_all, args=(ex,)) for ex in executors for _ in range(2)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for aid in aids:
            assert all(wait_for(ex, aid).status == Observed.SUCCEEDED for ex in executors)
    finally:
        for ex in executors:
            ex.close()
    assert sorted(aid for aid, _ in read_launch_log(root)) == sorted(aids)


def test_concurrency_limit_is_respected(root: Path, mode: str) -> None:
    ex = LocalExecutor(root, mode=mode, max_workers=2)
    aids = [f"ex-1/n{i}/1" for i in range(5)]
    try:
        for aid in aids:
            ex.launch(request(aid, "wait_for_release"))

        def statuses() -> list[str]:
            return [ex.observe(aid).status for aid in aids]

        wait_until(lambda: statuses().count(Observed.RUNNING) == 2, "two attempts to run")
        assert statuses().count(Observed.PENDING) == 3
        while (current := statuses()).count(Observed.SUCCEEDED) < len(aids):
            assert current.count(Observed.RUNNING) <= 2, current
            for aid, status in zip(aids, current, strict=True):
                if status == Observed.RUNNING:
                    release(root, aid)
            time.sleep(0.005)
        intervals = []
        for aid in aids:
            outputs = ex.observe(aid).outputs
            assert outputs is not None
            intervals.append((outputs["started"], outputs["finished"]))
    finally:
        ex.close()
    # As the processes themselves saw it: no instant at which three of them were running.
    for start, _ in intervals:
        assert sum(1 for s, f in intervals if s <= start <= f) <= 2


# -- re-adoption and crashes -----------------------------------------------------------------------


def test_a_new_executor_re_adopts_a_running_attempt(root: Path, mode: str) -> None:
    first = LocalExecutor(root, mode=mode)
    req = request("ex-1/n/1", "wait_for_release")
    first.launch(req)
    wait_for(first, "ex-1/n/1", (Observed.RUNNING,))
    wait_for_claim(root, "ex-1/n/1")
    first.close()

    second = LocalExecutor(root, mode=mode)
    ended = threading.Event()
    second.set_listener(lambda aid: ended.set())
    try:
        assert second.observe("ex-1/n/1").status == Observed.RUNNING
        second.launch(req)  # the marker exists: never relaunched
        release(root, "ex-1/n/1")
        assert ended.wait(30)
        obs = second.observe("ex-1/n/1")
        assert obs.status == Observed.SUCCEEDED
        assert obs.outputs is not None
        assert read_launch_log(root) == [("ex-1/n/1", obs.outputs["pid"])]
    finally:
        second.close()


def test_death_while_the_executor_is_down_is_a_lost_process(root: Path, mode: str) -> None:
    first = LocalExecutor(root, mode=mode)
    first.launch(request("ex-1/n/1", "wait_for_release"))
    wait_for(first, "ex-1/n/1", (Observed.RUNNING,))
    pid = wait_for_claim(root, "ex-1/n/1")
    first.close()
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: gone(pid), "the attempt process to die")

    second = LocalExecutor(root, mode=mode)
    try:
        obs = wait_for(second, "ex-1/n/1")
        assert failure(obs) == (ErrorKind.SYSTEM, "ProcessLost")
    finally:
        second.close()


def _mark_launched(root: Path, aid: str, age: float) -> Path:
    path = files.attempt_path(root, aid)
    path.mkdir(parents=True)
    assert files.create_marker(path / files.MARKER, b"{}")
    req = request(aid, "noop")
    body = {"entrypoint": req.entrypoint, "sys_path": [str(REPO)]}
    files.write_atomic(path / files.REQUEST, files.dump(body))
    then = time.time() - age
    os.utime(path / files.MARKER, (then, then))
    return path


def test_a_marker_without_a_process_becomes_launch_lost(root: Path, mode: str) -> None:
    young = _mark_launched(root, "ex-1/young/1", age=0)
    old = _mark_launched(root, "ex-1/old/1", age=60)
    ex = LocalExecutor(root, mode=mode, launch_grace=10)
    try:
        assert ex.observe("ex-1/young/1").status == Observed.PENDING
        obs = ex.observe("ex-1/old/1")
        assert failure(obs) == (ErrorKind.SYSTEM, "LaunchLost")
        ex.launch(request("ex-1/old/1", "noop"))
        assert ex.observe("ex-1/old/1") == obs
    finally:
        ex.close()
    # A process that starts after the fence (the launch was slow, not lost) must not run the task.
    late = subprocess.run([sys.executable, "-m", "setpoint.adapters.executor.worker", str(old)], check=False)
    assert late.returncode == EXIT_NOT_CLAIMED
    assert not (old / files.OUTPUTS).exists()
    assert read_launch_log(root) == []
    assert young.exists()


@pytest.mark.parametrize(
    "aid",
    [
        *("../x/1", "a/b/c/d", "/abs/x/1", "a/../1", "a/./1", "a//1", "a/b/x", "a/b/-1", "", "a/b/1\n"),
        *(".h/n/1", "a b/n/1", "launch.log/n/1", "x" * 129 + "/n/1"),
    ],
)
def test_hostile_attempt_ids_are_rejected(root: Path, aid: str) -> None:
    ex = LocalExecutor(root, mode="spawn")
    try:
        with pytest.raises(ValueError, match="attempt id"):
            ex.launch(request(aid, "noop"))
        for call in (ex.observe, ex.abort, ex.logs):
            with pytest.raises(ValueError, match="attempt id"):
                call(aid)
    finally:
        ex.close()
    assert list(root.iterdir()) == []
    assert not (root.parent / "x").exists()


def test_a_payload_that_is_not_json_is_refused_at_launch(root: Path) -> None:
    ex = LocalExecutor(root, mode="spawn")
    try:
        with pytest.raises(TypeError):
            ex.launch(LaunchRequest("ex-1/n/1", "tests.helpers.entries:noop", {"x": object()}))
        assert ex.observe("ex-1/n/1").status == Observed.UNKNOWN
    finally:
        ex.close()


# -- the fork server -------------------------------------------------------------------------------


def _fork_servers() -> list[psutil.Process]:
    module = "setpoint.adapters.executor.forkserver"
    return [p for p in psutil.Process().children() if module in " ".join(p.cmdline())]


def test_fork_server_death_neither_loses_running_attempts_nor_blocks_new_ones(root: Path) -> None:
    ex = LocalExecutor(root, mode="fork")
    try:
        ex.launch(request("ex-1/a/1", "wait_for_release"))
        wait_for(ex, "ex-1/a/1", (Observed.RUNNING,))
        servers = _fork_servers()
        assert len(servers) == 1
        servers[0].kill()
        servers[0].wait(10)
        ex.launch(request("ex-1/b/1", "noop"))  # on a new fork server
        assert wait_for(ex, "ex-1/b/1").status == Observed.SUCCEEDED
        assert ex.observe("ex-1/a/1").status == Observed.RUNNING  # the orphan is watched
        release(root, "ex-1/a/1")
        assert wait_for(ex, "ex-1/a/1").status == Observed.SUCCEEDED
    finally:
        ex.close()
    assert _fork_servers() == []


def test_preload_failures_are_reported_by_the_attempt_not_the_server(root: Path) -> None:
    ex = LocalExecutor(root, mode="fork")
    try:
        ex.launch(request("ex-1/ok/1", "noop", preload=("tests.helpers.entries", "no_such_module_sp")))
        assert wait_for(ex, "ex-1/ok/1").status == Observed.SUCCEEDED
        bad = LaunchRequest("ex-1/bad/1", "no_such_module_sp:f", {}, preload=("no_such_module_sp",))
        ex.launch(bad)
        obs = wait_for(ex, "ex-1/bad/1")
        assert obs.error is not None
        assert obs.error.code == "TaskRaised"
        assert "ModuleNotFoundError" in obs.error.message
    finally:
        ex.close()
