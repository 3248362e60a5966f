"""Reading the logs of an execution's nodes: which attempts a request means, where their files are,
and what to say when a node has no logs of its own.

Every node a person can see (`describe --children`, `events`) can be asked for by id: declared
nodes, map elements (``fit-map.2``) and the nodes a dynamic node built. Asking for a node that
expanded (a map or dynamic node) means it and everything under it; asking for nothing means every
node. A node without attempts gets a `LogNote` that says why (a cache hit and where its outputs
came from, a recovered node and its source, a gate, a skipped node, one that has not run yet),
instead of an empty answer; an attempt that does not exist is `NotFoundError`.

The files are found through the executor that ran the attempt (`Executor.logs`) when the caller
has one, the attempt folders under the home otherwise (where the local executor writes them and
the Ray executor's driver collects them). `LogsFollower` follows several nodes at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from setpoint.core.model import AttemptRecord
from setpoint.core.phases import NodePhase
from setpoint.errors import NotFoundError
from setpoint.ports import ExecutionView
from setpoint.service.follow import LogChunk, LogFollower
from setpoint.service.inspect import InspectStore, NodeView, node_views

STREAMS = ("stdout", "stderr")


class HasLogs(Protocol):
    def logs(self, attempt_id: str) -> dict[str, Path]: ...


@dataclass(frozen=True, slots=True)
class AttemptLog:
    """One attempt whose logs were asked for."""

    node_id: str
    number: int
    attempt_id: str
    executor: str
    started_at: float | None
    finished_at: float | None


@dataclass(frozen=True, slots=True)
class LogNote:
    """Why a node asked for has no logs of its own (or where they are)."""

    node_id: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"node": self.node_id, "message": self.message}


@dataclass(frozen=True, slots=True)
class LogPlan:
    attempts: tuple[AttemptLog, ...]
    notes: tuple[LogNote, ...]

    @property
    def nodes(self) -> tuple[str, ...]:
        """The nodes that have attempts in the plan, in order."""
        return tuple(dict.fromkeys(a.node_id for a in self.attempts))


def _under(node_id: str, parent: str) -> bool:
    return node_id == parent or node_id.startswith(parent + ".")


def _source(detail: Mapping[str, object] | None) -> str:
    if not detail:
        return "an earlier execution"
    where = f"execution {detail.get('execution')}"
    if detail.get("node"):
        where += f", node {detail.get('node')}"
    if detail.get("attempt"):
        where += f", attempt {detail.get('attempt')}"
    return where


def explain(execution_id: str, v: NodeView) -> str:
    """Why node ``v`` has no attempt of its own, as a sentence that ends with where to look next."""
    r = v.record
    d = r.typed_detail
    n = f"node '{v.node_id}'"
    if d.recovered_from is not None:
        src = d.recovered_from
        return (
            f"{n} was recovered from {_source(src)}: it did not run here; "
            f"its logs: setpoint logs {src.get('execution')} {src.get('node') or v.node_id}"
        )
    if r.cache_status is not None and r.cache_status.value == "HIT":
        hit = (d.cache or {}).get("source")
        if isinstance(hit, Mapping):
            return (
                f"{n} was a cache hit from {_source(hit)}: it did not run here; "
                f"its logs: setpoint logs {hit.get('execution')} {hit.get('node')}"
            )
        return f"{n} was a cache hit: it did not run here"
    if d.child is not None:
        return f"{n} started execution {d.child}; its logs: setpoint logs {d.child}"
    if d.expanded is not None:
        return f"{n} expanded into {d.size if d.size is not None else 'its'} nodes; none of them has run yet"
    if d.gate is not None:
        waits = f"signal '{d.signal}'" if d.signal else "a timer"
        return f"{n} is a gate waiting for {waits}: it runs no code and has no logs"
    if r.phase is NodePhase.SKIPPED:
        why = " (its branch was not taken)" if d.not_taken else ""
        return f"{n} was skipped{why}: it did not run"
    if r.phase in (NodePhase.PENDING, NodePhase.QUEUED) or (r.phase is NodePhase.RUNNING and r.attempt == 0):
        return f"{n} has not run yet ({r.phase.value})"
    if r.error is not None:
        return f"{n} ran no attempt: {r.error.code}: {r.error.message}"
    return f"{n} ran no attempt ({r.phase.value})"


def select(
    store: InspectStore,
    execution_id: str,
    node_id: str | None = None,
    attempt: int | None = None,
    *,
    since: float | None = None,
) -> LogPlan:
    """The attempts ``node_id`` (default: every node) and ``attempt`` mean, and notes for the rest.

    ``since``: only attempts still running at that time or started after it.
    """
    views = node_views(store, execution_id, children=True)
    if node_id is not None:
        chosen = [v for v in views if _under(v.node_id, node_id)]
        if not chosen:
            raise NotFoundError(
                f"execution '{execution_id}' has no node '{node_id}' (see: setpoint describe {execution_id} --children)"
            )
    else:
        chosen = views
    attempts: list[AttemptLog] = []
    notes: list[LogNote] = []
    numbers: dict[str, list[int]] = {}
    for v in chosen:
        own: list[AttemptRecord] = sorted(v.attempts, key=lambda a: a.number)
        numbers[v.node_id] = [a.number for a in own]
        if attempt is not None:
            own = [a for a in own if a.number == attempt]
        if since is not None:
            own = [a for a in own if a.finished_at is None or a.finished_at >= since]
        attempts += [AttemptLog(v.node_id, a.number, a.id, a.executor, a.started_at, a.finished_at) for a in own]
        if not v.attempts and (node_id is not None or not any(x.attempts for x in chosen)):
            is_parent = any(_under(x.node_id, v.node_id) and x.node_id != v.node_id for x in chosen)
            if not (is_parent and any(x.attempts for x in chosen if _under(x.node_id, v.node_id))):
                notes.append(LogNote(v.node_id, explain(execution_id, v)))
    if attempt is not None and not attempts:
        ran = {k: ns for k, ns in numbers.items() if ns}
        if node_id is not None and len(ran) == 1:
            ((which, ns),) = ran.items()
            had = f"attempt {ns[0]}" if len(ns) == 1 else f"attempts {ns[0]} to {ns[-1]}"
            raise NotFoundError(f"node '{which}' of execution '{execution_id}' has no attempt {attempt} (it has {had})")
        if ran:
            raise NotFoundError(f"no node asked for has an attempt {attempt} in execution '{execution_id}'")
    return LogPlan(tuple(attempts), tuple(notes))


def folder_path(attempts_root: Path, aid: str, stream: str) -> Path:
    execution_id, node_id, number = aid.split("/")
    return attempts_root / execution_id / node_id / number / f"{stream}.log"


def paths_for(attempts_root: Path, executors: Mapping[str, HasLogs] | None = None) -> Callable[[AttemptLog, str], Path]:
    """Where an attempt's stream is: through its executor's `logs` when there is one, else its folder."""

    def path(a: AttemptLog, stream: str) -> Path:
        ex = (executors or {}).get(a.executor)
        if ex is not None:
            found = ex.logs(a.attempt_id).get(stream)
            if found is not None:
                return found
        return folder_path(attempts_root, a.attempt_id, stream)

    return path


def read_entries(plan: LogPlan, path: Callable[[AttemptLog, str], Path]) -> list[tuple[str, str, str]]:
    """(attempt id, stream, text) of each planned attempt's stdout and stderr, in node order."""
    out: list[tuple[str, str, str]] = []
    for a in plan.attempts:
        for stream in STREAMS:
            p = path(a, stream)
            text = p.read_bytes().decode("utf-8", errors="replace") if p.exists() else ""
            out.append((a.attempt_id, stream, text))
    return out


# -- filtering lines ----------------------------------------------------------------------------


def tail_lines(data: bytes, count: int) -> bytes:
    """The last ``count`` lines of ``data`` (a last line without a newline counts)."""
    if count <= 0:
        return b""
    end = len(data) - 1 if data.endswith(b"\n") else len(data)
    at = end
    for _ in range(count):
        at = data.rfind(b"\n", 0, at)
        if at < 0:
            return data
    return data[at + 1 :]


def read_tail(path: Path, count: int, block: int = 64 * 1024) -> bytes:
    """The last ``count`` lines of a file, reading it from its end (a large log is not read whole)."""
    try:
        with path.open("rb") as fh:
            size = fh.seek(0, 2)
            data = b""
            pos = size
            while pos > 0 and data.count(b"\n") <= count:
                step = min(block, pos)
                pos -= step
                fh.seek(pos)
                data = fh.read(step) + data
            return tail_lines(data, count)
    except FileNotFoundError:
        return b""


def filter_lines(data: bytes, pattern: re.Pattern[bytes] | None, prefix: bytes = b"") -> Iterator[bytes]:
    """Each line of ``data`` that matches ``pattern`` (all without one), with ``prefix`` before it."""
    for line in data.splitlines(keepends=True):
        if pattern is None or pattern.search(line):
            yield prefix + line if prefix else line


# -- following many nodes ------------------------------------------------------------------------


class LogsFollower:
    """The logs of every node under ``node_id`` (default: all), as they grow, until the execution ends.

    New nodes (a map's elements, a retry's attempt) are picked up as they get attempts; each node
    is read by its own `LogFollower`, so bytes come in order per node and stream.
    """

    def __init__(
        self,
        store: ExecutionView,
        attempts_root: Path,
        execution_id: str,
        node_id: str | None = None,
        attempt: int | None = None,
    ) -> None:
        self.store = store
        self.root = attempts_root
        self.execution_id = execution_id
        self.node_id = node_id
        self.attempt = attempt
        self.followers: dict[str, LogFollower] = {}
        self.ended = False

    def poll(self) -> list[tuple[str, LogChunk]]:
        """(node id, chunk) read since the last poll; ``ended`` once the execution ended and all was read."""
        if self.ended:
            return []
        finished = self.store.get_execution(self.execution_id).phase.is_terminal
        for a in self.store.load_attempts(self.execution_id):
            if a.node_id in self.followers or (self.node_id is not None and not _under(a.node_id, self.node_id)):
                continue
            self.followers[a.node_id] = LogFollower(self.store, self.root, self.execution_id, a.node_id, self.attempt)
        out = [(node, c) for node, f in self.followers.items() for c in f.poll()]
        if finished and all(f.ended for f in self.followers.values()):
            self.ended = True
        return out


__all__ = [
    "STREAMS",
    "AttemptLog",
    "LogNote",
    "LogPlan",
    "LogsFollower",
    "explain",
    "filter_lines",
    "folder_path",
    "paths_for",
    "read_entries",
    "read_tail",
    "select",
    "tail_lines",
]


class LineFilter:
    """Cuts chunks of several logs into whole lines, keeps those matching a pattern, and prefixes them.

    Chunks of one log (a ``key``) arrive in order but split anywhere; a partial line waits for the
    rest (``flush`` gives it out at the end). Without a pattern and a prefix, bytes pass as they come.
    """

    def __init__(self, pattern: re.Pattern[bytes] | None = None) -> None:
        self.pattern = pattern
        self.partial: dict[object, bytes] = {}

    def feed(self, key: object, data: bytes, prefix: bytes = b"") -> bytes:
        if self.pattern is None and not prefix:
            return data
        data = self.partial.pop(key, b"") + data
        cut = data.rfind(b"\n") + 1
        if cut < len(data):
            self.partial[key] = data[cut:]
        return b"".join(filter_lines(data[:cut], self.pattern, prefix))

    def flush(self, key: object, prefix: bytes = b"") -> bytes:
        rest = self.partial.pop(key, b"")
        if not rest:
            return b""
        return b"".join(filter_lines(rest + b"\n", self.pattern, prefix))
