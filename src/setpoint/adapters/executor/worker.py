"""The harness inside an attempt's own process: claim the attempt, run the entrypoint, leave a record.

It runs either as ``python -m setpoint.adapters.executor.worker <attempt_dir>`` (spawn mode) or
as a function called in a child just forked from the warm fork server. Either way the process
tells the executor everything through files in its attempt directory (see `attempt_dir`), so
the outcome survives the controller going away while the attempt runs.

The first thing the process does is claim the ``pid`` file with link(2). Exactly one process can
win it, and an observer that gave up on a launch ("LaunchLost") claims it first, so a process
that starts late never runs an attempt already declared lost. The winner then appends its line
to ``launch.log``: one line per attempt process that really ran, which is what the at-most-once
tests count.
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import io
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from setpoint.adapters.executor import attempt_dir as files

EXIT_OK = 0
EXIT_TASK_FAILED = 1
EXIT_ABORTED = 2  # the attempt was aborted before the entrypoint was called
EXIT_NOT_CLAIMED = 75  # another process (or a LaunchLost fence) owns this attempt

# Set in every attempt process and inherited by whatever it starts: the id is for people and
# tasks, the directory (unique across roots) is what abort() sweeps for.
ATTEMPT_ID_ENV = "SETPOINT_ATTEMPT_ID"
ATTEMPT_DIR_ENV = "SETPOINT_ATTEMPT_DIR"


def run_attempt(attempt_dir: Path, *, redirect_stdio: bool) -> int:
    """Run the attempt described in ``attempt_dir``; return the process exit code.

    ``redirect_stdio``: point fds 0/1/2 at /dev/null and the attempt's log files (the fork path;
    in spawn mode Popen has already done it).
    """
    if redirect_stdio:
        _redirect_stdio(attempt_dir)
    try:
        return _run_claimed(attempt_dir, started_at=time.time())
    except OSError as exc:  # the attempt folder's file system is full (or failing) before the task ran
        return files.EXIT_NO_SPACE if exc.errno in (errno.ENOSPC, errno.EDQUOT) else files.EXIT_UNRECORDED


def _run_claimed(attempt_dir: Path, *, started_at: float) -> int:
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(line_buffering=True)  # logs readable while the task runs
    try:
        if not _claim(attempt_dir, started_at):
            return EXIT_NOT_CLAIMED
        attempt_id = "/".join(attempt_dir.parts[-3:])
        files.append_line(attempt_dir.parent.parent.parent / files.LAUNCH_LOG, f"{attempt_id} {os.getpid()}\n")
        if (attempt_dir / files.ABORTED).exists():
            return EXIT_ABORTED
        return _call_entrypoint(attempt_dir, attempt_id, started_at)
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()


def _call_entrypoint(attempt_dir: Path, attempt_id: str, started_at: float) -> int:
    try:
        request = files.read_json(attempt_dir / files.REQUEST)
        if request is None:
            raise FileNotFoundError(f"{attempt_dir / files.REQUEST} is missing")
        sys.path[:0] = [str(p) for p in request.get("sys_path", ())]
        os.environ.update({str(k): str(v) for k, v in request.get("env", ())})
        os.environ[ATTEMPT_ID_ENV] = attempt_id
        os.environ[ATTEMPT_DIR_ENV] = str(attempt_dir)
        function = _load(str(request["entrypoint"]))
        result = function(request.get("payload", {}), attempt_dir)
        if not isinstance(result, dict):
            raise TypeError(f"entrypoint {request['entrypoint']} returned {type(result).__name__}, expected a dict")
        files.write_atomic(
            attempt_dir / files.OUTPUTS, files.encode_outputs(result, started_at, time.time()), durable=True
        )
    except SystemExit as exc:  # sys.exit() in a task: its code decides (0 without outputs is NoOutputs)
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else EXIT_TASK_FAILED)
    except BaseException as exc:
        try:
            _record_error(attempt_dir, exc, started_at)
        except OSError as unrecorded:  # the disk is full (or gone): the exit code says which
            full = unrecorded.errno in (errno.ENOSPC, errno.EDQUOT)
            return files.EXIT_NO_SPACE if full else files.EXIT_UNRECORDED
        return EXIT_TASK_FAILED
    return EXIT_OK


def _no_space(exc: BaseException) -> bool:
    """Whether a full disk (ENOSPC, EDQUOT) caused ``exc``, directly or down its chain of causes."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, OSError) and cur.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        cur = cur.__cause__ or cur.__context__
    return False


def _record_error(attempt_dir: Path, exc: BaseException, started_at: float) -> None:
    kind = type(exc)
    name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    tb, message = _scrub("".join(traceback.format_exception(exc))), _scrub(str(exc))
    with contextlib.suppress(OSError, ValueError):  # stderr.log may sit on a full disk too
        sys.stderr.write(tb)
    record = {
        "type": name,
        "message": message,
        "traceback": tb,
        "retryable": bool(getattr(exc, "retryable", True)),
        "no_space": _no_space(exc),
        "started_at": started_at,
        "finished_at": time.time(),
    }
    try:
        files.write_atomic(attempt_dir / files.ERROR, files.dump(record), durable=True)
    except OSError:  # short of space: the record without its traceback may still fit
        del record["traceback"]
        record["message"] = message[:2000]
        files.write_atomic(attempt_dir / files.ERROR, files.dump(record), durable=True)


def _scrub(text: str) -> str:
    """``text`` without the values of any secret the task was given (a message may quote one)."""
    current = sys.modules.get("setpoint.sdk.current")  # loaded only if the attempt ran a task
    return text if current is None else str(current.redact(text))


def _load(entrypoint: str) -> Callable[[dict[str, Any], Path], Any]:
    module_name, sep, attr = entrypoint.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"entrypoint must look like 'module:function', got {entrypoint!r}")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    if not callable(obj):
        raise TypeError(f"entrypoint {entrypoint} is not callable")
    return obj  # type: ignore[no-any-return]


def _claim(attempt_dir: Path, started_at: float) -> bool:
    return files.create_exclusive(attempt_dir / files.PID, files.own_process_claim(started_at))


def _redirect_stdio(attempt_dir: Path) -> None:
    for fd, path, flags in (
        (0, Path(os.devnull), os.O_RDONLY),
        (1, attempt_dir / files.STDOUT, os.O_WRONLY | os.O_CREAT | os.O_APPEND),
        (2, attempt_dir / files.STDERR, os.O_WRONLY | os.O_CREAT | os.O_APPEND),
    ):
        try:
            new = os.open(path, flags, 0o644)
        except OSError:  # no room for the log file: run without its output rather than not at all
            new = os.open(os.devnull, os.O_WRONLY if fd else os.O_RDONLY)
        os.dup2(new, fd)
        os.close(new)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.stderr.write("usage: python -m setpoint.adapters.executor.worker <attempt_dir>\n")
        return 64
    return run_attempt(Path(args[0]), redirect_stdio=False)


if __name__ == "__main__":
    sys.exit(main())
