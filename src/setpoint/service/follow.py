"""Following a live execution: its new events, and the growing logs of a node's attempts.

Both followers are polled: each ``poll()`` reads what is new since the last one from the store
(and the attempt folders) and says when there will be nothing more. The embedded client polls them
in a loop; the API server polls them from its event loop and streams what they return (Server-Sent
Events, see docs/server.md). A follower's position is a small cursor — an event sequence number,
or an attempt number and two byte offsets — so a client that lost its connection resumes exactly
where it stopped.

The end is decided from recorded state only, in an order that loses nothing: the execution's phase
(or the attempt's) is read *before* the last events (or log bytes), and the terminal phase is
committed in the same transaction as its events, so once a terminal phase has been seen, one more
read returns everything there will ever be.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from setpoint.core.model import Event, attempt_id
from setpoint.core.phases import ExecutionPhase
from setpoint.errors import InputError
from setpoint.ports import ExecutionView

EVENT_BATCH = 1000
LOG_CHUNK = 256 * 1024  # bytes read from one log file per poll
STREAMS = ("stdout", "stderr")


class EventFollower:
    """New events of one execution, from ``after`` on, until it ends."""

    def __init__(self, store: ExecutionView, execution_id: str, after: int = 0) -> None:
        self.store = store
        self.execution_id = execution_id
        self.after = after
        self.ended: ExecutionPhase | None = None

    def poll(self) -> list[Event]:
        """Events recorded since the last poll; sets ``ended`` once the execution ended and all were read."""
        if self.ended is not None:
            return []
        evs = self.store.events(self.execution_id, self.after, EVENT_BATCH)
        if len(evs) == EVENT_BATCH:
            self.after = evs[-1].seq
            return evs
        phase = self.store.get_execution(self.execution_id).phase
        if phase.is_terminal:
            # The terminal phase and its events are committed together: this read gets the rest.
            evs += self.store.events(self.execution_id, evs[-1].seq if evs else self.after, EVENT_BATCH)
            if len(evs) < EVENT_BATCH:
                self.ended = phase
        if evs:
            self.after = evs[-1].seq
        return evs


@dataclass(frozen=True, slots=True)
class LogChunk:
    attempt_id: str
    stream: str  # stdout | stderr
    offset: int  # byte offset of ``text`` in the attempt's log file
    text: str
    cursor: str  # where a resumed follow starts: after this chunk


_CURSOR_RE = re.compile(r"^(\d{1,9}):(\d{1,15}):(\d{1,15})$")


def parse_log_cursor(cursor: str) -> tuple[int, int, int]:
    """``"<attempt>:<stdout offset>:<stderr offset>"`` as numbers; `InputError` if it is not one."""
    m = _CURSOR_RE.match(cursor.strip())
    if m is None:
        raise InputError(f"log cursor {cursor[:60]!r} is not <attempt>:<stdout offset>:<stderr offset>")
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def _complete_utf8(data: bytes) -> int:
    """How many leading bytes of ``data`` end on a UTF-8 character boundary."""
    for back in range(1, min(4, len(data)) + 1):
        b = data[-back]
        if b & 0xC0 != 0x80:  # a lead byte (or ASCII): is its sequence complete?
            need = 1 if b < 0x80 else 2 if b >> 5 == 0b110 else 3 if b >> 4 == 0b1110 else 4 if b >> 3 == 0b11110 else 1
            return len(data) if back >= need else len(data) - back
    return len(data)


class LogFollower:
    """The stdout and stderr of one node's attempts, in attempt order, as they grow.

    ``attempt`` restricts it to one attempt; otherwise a retry's attempt follows the previous one.
    It ends once the execution ended, or the node (or the chosen attempt) finished, and every byte
    was read.
    """

    def __init__(
        self,
        store: ExecutionView,
        attempts_root: Path,
        execution_id: str,
        node_id: str,
        attempt: int | None = None,
        cursor: str | None = None,
    ) -> None:
        self.store = store
        self.root = attempts_root
        self.execution_id = execution_id
        self.node_id = node_id
        self.only = attempt
        number, out, err = parse_log_cursor(cursor) if cursor else (attempt or 1, 0, 0)
        self.number = number
        self.offsets = {"stdout": out, "stderr": err}
        self.ended = False

    @property
    def cursor(self) -> str:
        return f"{self.number}:{self.offsets['stdout']}:{self.offsets['stderr']}"

    def _read(self, number: int, stream: str, final: bool) -> tuple[LogChunk | None, bool]:
        """New bytes of one file (whole characters only, unless ``final``); and whether more are waiting."""
        path = self.root / self.execution_id / self.node_id / str(number) / f"{stream}.log"
        start = self.offsets[stream]
        try:
            with path.open("rb") as fh:
                fh.seek(start)
                data = fh.read(LOG_CHUNK + 1)
        except FileNotFoundError:
            return None, False
        more = len(data) > LOG_CHUNK
        data = data[:LOG_CHUNK]
        usable = len(data) if (final and not more) else _complete_utf8(data)
        if usable == 0:
            return None, more
        self.offsets[stream] = start + usable
        text = data[:usable].decode("utf-8", errors="replace")
        aid = attempt_id(self.execution_id, self.node_id, number)
        return LogChunk(aid, stream, start, text, self.cursor), more

    def poll(self) -> list[LogChunk]:
        if self.ended:
            return []
        execution_ended = self.store.get_execution(self.execution_id).phase.is_terminal
        attempts = sorted(self.store.load_attempts(self.execution_id, node_id=self.node_id), key=lambda a: a.number)
        if self.only is not None:
            attempts = [a for a in attempts if a.number == self.only]
        chunks: list[LogChunk] = []
        caught_up = True
        for a in attempts:
            if a.number < self.number:
                continue
            if a.number > self.number:
                self.number = a.number
                self.offsets = {"stdout": 0, "stderr": 0}
            # The attempt's phase was read before its files: once terminal, the files are complete.
            final = a.phase.is_terminal or execution_ended
            waiting = False
            for stream in STREAMS:
                chunk, more = self._read(a.number, stream, final)
                if chunk is not None:
                    chunks.append(chunk)
                waiting = waiting or more
            if waiting or not final:
                caught_up = False
                break
        if caught_up:
            if execution_ended or (self.only is not None and attempts):
                self.ended = True
            elif attempts or self.only is None:
                node = next((n for n in self.store.load_nodes(self.execution_id) if n.node_id == self.node_id), None)
                # A finished node starts no more attempts; what it had is read (the loop above ran
                # over every attempt recorded before the node's phase was read).
                if node is not None and node.phase.is_terminal and node.attempt <= self.number:
                    self.ended = True
        return chunks
