"""The on-disk protocol of one local attempt: which file means what, and how to read it safely.

Everything the local executor knows about an attempt after a crash comes from these files, so
each has exactly one writer and is created atomically (write a temporary file, then
``os.replace`` or ``os.link``). Readers never see half a file; a file that fails to parse or to
match its checksum is reported as corrupt rather than trusted.

    root/launch.log                  one "<attempt id> <pid>" line per process that ran an attempt
    root/<execution>/<node>/<n>/
        launch.json   the at-most-once guard, created O_EXCL by the executor before anything runs
        request.json  the LaunchRequest, written by the executor
        pid           {"pid", "start", "started_at"} claimed (os.link) by the attempt process,
                      or {"lost": reason} claimed by an observer who gave up on a launch
        aborted       written by abort() before it signals the process group
        outputs.json  {"sha256", "body", "started_at", "finished_at"}, written by the attempt
        error.json    {"type", "message", "traceback", "retryable", ...}, written by the attempt
        exit.json     {"returncode", "signal", "finished_at"}, written by whoever reaped it
        stdout.log / stderr.log

A pid alone does not identify a process (pids are recycled), so the claim also records the
process's start time as the kernel keeps it: clock ticks since boot from ``/proc/<pid>/stat`` on
Linux, which no wall-clock step can change, and psutil's create time elsewhere.

This module is imported inside every attempt process, so it stays on the standard library plus
`setpoint.core` and `setpoint.spec` (psutil only off Linux, and only when asked).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import signal
import sys
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from setpoint.core.model import AttemptObservation, ErrorInfo, Observed
from setpoint.core.phases import ErrorKind
from setpoint.spec.canonical import canonical_json, digest

LAUNCH_LOG = "launch.log"
MARKER = "launch.json"
REQUEST = "request.json"
PID = "pid"
ABORTED = "aborted"
OUTPUTS = "outputs.json"
ERROR = "error.json"
EXIT = "exit.json"
STDOUT = "stdout.log"
STDERR = "stderr.log"

# Exit codes of an attempt process that could record neither its outputs nor its error (every
# write failed, so the exit code is the only channel left); a task's own sys.exit(73) reads the same.
EXIT_NO_SPACE = 73  # no space left on the attempt's file system (ENOSPC, EDQUOT)
EXIT_UNRECORDED = 74  # another I/O error

# One path component of an attempt id. A leading dot is refused too: it excludes "." and ".."
# and keeps attempt directories apart from the temporary files written next to them.
_COMPONENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}")


def attempt_path(root: Path, attempt_id: str) -> Path:
    """The directory of ``<execution>/<node>/<n>`` under ``root``; ValueError for anything else.

    The check is purely lexical (no ``resolve()``), so it is cheap enough for every call, and no
    accepted id can name a path outside ``root``.
    """
    parts = attempt_id.split("/") if isinstance(attempt_id, str) else []
    if (
        len(parts) != 3
        or not all(_COMPONENT.fullmatch(p) for p in parts)
        or not parts[2].isdigit()
        or parts[0] == LAUNCH_LOG
    ):
        raise ValueError(f"not a valid attempt id (want '<execution>/<node>/<number>'): {attempt_id!r}")
    return root / parts[0] / parts[1] / parts[2]


# -- writing ---------------------------------------------------------------------------------------


def write_atomic(path: Path, data: bytes, *, durable: bool = False) -> None:
    """Replace ``path`` with ``data`` so readers see the old file or the new one, never a mix."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        try:
            _write_all(fd, data)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):  # a half-written file must not keep a full disk full
            os.unlink(tmp)
        raise


def create_exclusive(path: Path, data: bytes, *, durable: bool = False) -> bool:
    """Create ``path`` holding ``data`` unless it exists; True if this call created it.

    Uses link(2) of a complete temporary file, so the winner's content is whole the moment the
    name appears: a reader can never catch an empty or half-written claim.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.claim")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        try:
            _write_all(fd, data)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        os.unlink(tmp)
    return True


def create_marker(path: Path, data: bytes) -> bool:
    """The launch guard: O_CREAT|O_EXCL, fsynced; False if someone already created it."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    try:
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        # Ours (O_EXCL) and nothing was started from it: take it back, so the attempt reads as
        # never launched rather than as a launch whose process went missing.
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    return True


def append_line(path: Path, line: str) -> None:
    """One O_APPEND write: concurrent writers' lines never interleave (they are far below PIPE_BUF)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        _write_all(fd, line.encode())
    finally:
        os.close(fd)


def dump(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def encode_outputs(body: dict[str, Any], started_at: float, finished_at: float) -> bytes:
    """The outputs file: the body plus the SHA-256 of its canonical JSON, checked on every read."""
    canonical_json(body)  # raises TypeError/ValueError now, inside the task, for non-JSON values
    return dump({"sha256": digest(body), "body": body, "started_at": started_at, "finished_at": finished_at})


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


# -- reading ---------------------------------------------------------------------------------------


class Corrupt(Exception):
    """A file exists but cannot be trusted (does not parse, wrong shape, checksum mismatch)."""


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``; None if there is no such file; Corrupt if it is not an object."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        obj = json.loads(data)
    except ValueError as exc:
        raise Corrupt(f"{path.name} is not valid JSON") from exc
    if not isinstance(obj, dict):
        raise Corrupt(f"{path.name} does not hold a JSON object")
    return obj


def read_outputs(attempt_dir: Path) -> dict[str, Any] | None:
    """The verified outputs record, None if absent; Corrupt on a checksum mismatch."""
    rec = read_json(attempt_dir / OUTPUTS)
    if rec is None:
        return None
    body = rec.get("body")
    if not isinstance(body, dict) or rec.get("sha256") != digest(body):
        raise Corrupt("outputs.json does not match its SHA-256 checksum")
    return rec


def read_launch_log(root: Path) -> list[tuple[str, int]]:
    """Every ``(attempt id, pid)`` that ever ran under ``root``, in the order they started."""
    try:
        text = (root / LAUNCH_LOG).read_text()
    except FileNotFoundError:
        return []
    out: list[tuple[str, int]] = []
    for line in text.splitlines():
        aid, _, pid = line.rpartition(" ")
        if aid and pid.isdigit():
            out.append((aid, int(pid)))
    return out


def record_exit(attempt_dir: Path, pid: int, returncode: int) -> None:
    """Write exit.json for the process that reaped ``pid`` — only if ``pid`` owns the attempt.

    A process that lost the pid claim (a LaunchLost fence won first) must not leave an exit
    record that could be mistaken for the attempt's own.
    """
    try:
        claim = read_json(attempt_dir / PID)
    except Corrupt:
        return
    if claim is None or claim.get("pid") != pid:
        return
    record = {
        "pid": pid,
        "returncode": returncode if returncode >= 0 else None,
        "signal": -returncode if returncode < 0 else None,
        "finished_at": time.time(),
    }
    write_atomic(attempt_dir / EXIT, dump(record))


# -- what the files say ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProcessClaim:
    """The attempt process as it identified itself: a pid is only trusted with its start time."""

    pid: int
    start: float  # see process_state
    started_at: float  # wall clock, for people and for the observation


@dataclass(frozen=True, slots=True)
class ProcessState:
    start: float
    zombie: bool  # exited but not reaped: as good as gone (nobody may ever reap it)


_LINUX = sys.platform.startswith("linux")
_START_SLACK = 0.5 if _LINUX else 0.05  # whole clock ticks on Linux; float seconds elsewhere


def process_state(pid: int) -> ProcessState | None:
    """The start time and zombie-ness of process ``pid``; None if there is no such process."""
    if _LINUX:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            return None
        # Fields after the command name, which may itself contain spaces and parentheses.
        fields = stat[stat.rindex(b")") + 2 :].split()
        return ProcessState(float(fields[19]), fields[0] in (b"Z", b"X"))
    import psutil

    try:
        proc = psutil.Process(pid)
        return ProcessState(proc.create_time(), proc.status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return None


def is_claimant(claim: ProcessClaim, state: ProcessState) -> bool:
    """Is ``state`` (of the process with the claimed pid) the claimant, not a recycled pid?"""
    return abs(state.start - claim.start) < _START_SLACK


def is_running(claim: ProcessClaim) -> bool:
    """Is the claimed process still running (same pid *and* start time, not a zombie)?"""
    state = process_state(claim.pid)
    return state is not None and not state.zombie and is_claimant(claim, state)


def own_process_claim(started_at: float) -> bytes:
    """The pid file body for the calling process."""
    pid = os.getpid()
    state = process_state(pid)
    assert state is not None  # we are running
    return dump({"pid": pid, "start": state.start, "started_at": started_at})


def read_claim(attempt_dir: Path) -> ProcessClaim | str | None:
    """The pid claim; a string (the reason) if an observer fenced the attempt as lost; None if unclaimed."""
    try:
        rec = read_json(attempt_dir / PID)
    except Corrupt:
        return "the pid file is corrupt"
    if rec is None:
        return None
    if "lost" in rec:
        return str(rec["lost"])
    try:
        return ProcessClaim(int(rec["pid"]), float(rec["start"]), float(rec["started_at"]))
    except (KeyError, TypeError, ValueError):
        return "the pid file is corrupt"


def claim_lost(attempt_dir: Path, reason: str) -> bool:
    """Fence a launch that never started: any attempt process that comes later finds the claim taken."""
    return create_exclusive(attempt_dir / PID, dump({"lost": reason}))


def no_space(attempt_dir: Path, started_at: float | None, finished_at: float) -> AttemptObservation:
    """An attempt process that ran out of room in its folder before it could record an outcome."""
    reason = (
        f"no space left on device (ENOSPC) under {attempt_dir}: the attempt process could not record "
        "its outputs or its error; free space there, then recover or relaunch"
    )
    info = ErrorInfo(ErrorKind.SYSTEM, "NoSpace", reason)
    return AttemptObservation(Observed.FAILED, started_at, finished_at, error=info)


def launch_lost(reason: str) -> AttemptObservation:
    return AttemptObservation(Observed.FAILED, error=ErrorInfo(ErrorKind.SYSTEM, "LaunchLost", reason))


def aborted_before_start() -> AttemptObservation:
    return AttemptObservation(
        Observed.FAILED, error=ErrorInfo(ErrorKind.SYSTEM, "Aborted", "aborted before the attempt started")
    )


def finished(
    attempt_dir: Path, claim: ProcessClaim, returncode: int | None, now: float
) -> AttemptObservation:
    """The outcome of an attempt whose process is known to be gone.

    ``returncode`` is the reaped status when the caller has it (Popen convention: negative means
    killed by that signal); None means "read exit.json", which is absent if nobody reaped it.
    Valid outputs win over everything: the task finished its work even if something raced it.
    """

    def failed(kind: ErrorKind, code: str, message: str, retryable: bool = True) -> AttemptObservation:
        info = ErrorInfo(kind, code, message, retryable)
        return AttemptObservation(Observed.FAILED, claim.started_at, finished_at, error=info)

    finished_at = now
    corrupt: str | None = None
    try:
        out = read_outputs(attempt_dir)
    except Corrupt as exc:
        out, corrupt = None, str(exc)
    if out is not None:
        body = out["body"]
        outputs = body.get("outputs", {})
        return AttemptObservation(
            Observed.SUCCEEDED,
            _float(out.get("started_at"), claim.started_at),
            _float(out.get("finished_at"), now),
            outputs=outputs if isinstance(outputs, dict) else {},
        )
    if (attempt_dir / ABORTED).exists():
        return failed(ErrorKind.SYSTEM, "Aborted", "aborted by request: the process group was killed")
    if corrupt is not None:
        return failed(ErrorKind.SYSTEM, "CorruptOutputs", corrupt)
    try:
        err = read_json(attempt_dir / ERROR)
    except Corrupt:
        err = None
    if err is not None:
        finished_at = _float(err.get("finished_at"), now)
        message = f"{err.get('type', 'Exception')}: {err.get('message', '')}"
        if err.get("no_space"):
            # A full disk is the environment's failure, not the task's: a system error, retried
            # under the system budget (the space may be back by then).
            return failed(ErrorKind.SYSTEM, "NoSpace", f"no space left on device: {message}")
        return failed(ErrorKind.USER, "TaskRaised", message, bool(err.get("retryable", True)))
    if returncode is None:
        try:
            rec = read_json(attempt_dir / EXIT)
        except Corrupt:
            rec = None
        if rec is not None and rec.get("pid") == claim.pid:
            finished_at = _float(rec.get("finished_at"), now)
            sig = rec.get("signal")
            returncode = -int(sig) if sig else int(rec.get("returncode") or 0)
    if returncode is None:
        return failed(
            ErrorKind.SYSTEM,
            "ProcessLost",
            f"the attempt process (pid {claim.pid}) disappeared without an exit record "
            "(killed while the executor was down, or the machine restarted)",
        )
    if returncode < 0:
        return failed(
            ErrorKind.SYSTEM, "ProcessLost", f"the attempt process was killed by {_signal_name(-returncode)}"
        )
    if returncode == 0:
        return failed(
            ErrorKind.USER, "NoOutputs", "the attempt process exited 0 without writing valid outputs"
        )
    if returncode == EXIT_NO_SPACE:
        return no_space(attempt_dir, claim.started_at, finished_at)
    if returncode == EXIT_UNRECORDED:
        return failed(
            ErrorKind.SYSTEM,
            "Unrecorded",
            f"the attempt could record neither its outputs nor its error: an I/O error under {attempt_dir}",
        )
    return failed(
        ErrorKind.USER,
        "NonZeroExit",
        f"the attempt process exited with code {returncode} without reporting an error",
    )


class Outcomes:
    """An executor's memory of terminal observations: the first one recorded for an attempt stands.

    Bounded: the oldest are forgotten past ``limit`` (the attempt's folder still holds the truth,
    and is re-read). Not locked: callers hold their executor's lock.
    """

    def __init__(self, limit: int = 100_000) -> None:
        self._limit = limit
        self._done: OrderedDict[str, AttemptObservation] = OrderedDict()

    def get(self, attempt_id: str) -> AttemptObservation | None:
        return self._done.get(attempt_id)

    def __contains__(self, attempt_id: object) -> bool:
        return attempt_id in self._done

    def remember(self, attempt_id: str, outcome: AttemptObservation) -> AttemptObservation:
        """Keep ``outcome`` unless one is already known; returns the one that stands."""
        known = self._done.get(attempt_id)
        if known is not None:
            return known
        self._done[attempt_id] = outcome
        if len(self._done) > self._limit:
            self._done.popitem(last=False)
        return outcome


def notify(listener: Callable[[str], None] | None, attempt_id: str, log: logging.Logger) -> None:
    """Tell an executor's listener (the controller) that an attempt changed; it must not raise here."""
    if listener is None:
        return
    try:
        listener(attempt_id)
    except Exception:
        log.exception("the executor listener raised for %s", attempt_id)


def _float(value: Any, default: float) -> float:
    return float(value) if isinstance(value, int | float) else default


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"
